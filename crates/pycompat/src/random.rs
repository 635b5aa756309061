//! CPython's `random.Random` (int seeds) and `set` of small ints, bit-exact.
//!
//! llm-foundry draws few-shot examples with `random.Random(seed).sample(...)`, puts them into a
//! Python `set` and iterates it, so both the Mersenne Twister stream (`sample` / `choice` /
//! `_randbelow_with_getrandbits`) and the hash-table layout of `setobject.c` decide a prompt.
//! The generator itself is `rand_mt` (CPython seeds with `init_by_array`).

use rand_mt::Mt;

/// `random.Random(seed)` for a non-negative integer seed.
pub struct PyRandom {
    mt: Mt,
}

impl PyRandom {
    /// CPython seeds an int by splitting `abs(seed)` into 32-bit words (least significant first)
    /// and calling `init_by_array`; zero becomes the key `[0]`.
    pub fn new(seed: u64) -> Self {
        let mut key = Vec::new();
        let mut s = seed;
        while s > 0 {
            key.push(s as u32);
            s >>= 32;
        }
        if key.is_empty() {
            key.push(0);
        }
        PyRandom {
            mt: Mt::new_with_key(key),
        }
    }

    /// `getrandbits(k)` for `1 <= k <= 64`: 32-bit words, least significant first, the last one
    /// keeping its *most* significant bits.
    pub fn getrandbits(&mut self, k: u32) -> u64 {
        assert!((1..=64).contains(&k), "getrandbits({k}) out of range");
        let mut out = 0u64;
        let mut left = k;
        let mut shift = 0;
        while left > 0 {
            let mut r = self.mt.next_u32();
            if left < 32 {
                r >>= 32 - left;
            }
            out |= (r as u64) << shift;
            shift += 32;
            left = left.saturating_sub(32);
        }
        out
    }

    /// `_randbelow_with_getrandbits(n)`: rejection sampling with `n.bit_length()` bits.
    pub fn randbelow(&mut self, n: u64) -> u64 {
        assert!(n > 0, "randbelow(0)");
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }

    /// `choice(range(n))`.
    pub fn choice_range(&mut self, n: usize) -> usize {
        self.randbelow(n as u64) as usize
    }

    /// `sample(range(n), k)`: CPython's two strategies (pool for small populations, a
    /// rejection set otherwise), selected by the same `setsize` heuristic.
    pub fn sample_range(&mut self, n: usize, k: usize) -> Vec<usize> {
        assert!(k <= n, "sample larger than population");
        let mut setsize = 21usize;
        if k > 5 {
            // `_ceil(_log(k * 3, 4))`: math.log(x, base) is log(x) / log(base) in doubles.
            let e = (((k * 3) as f64).ln() / 4f64.ln()).ceil() as u32;
            setsize += 4usize.pow(e);
        }
        let mut result = Vec::with_capacity(k);
        if n <= setsize {
            let mut pool: Vec<usize> = (0..n).collect();
            for i in 0..k {
                let j = self.randbelow((n - i) as u64) as usize;
                result.push(pool[j]);
                pool[j] = pool[n - i - 1];
            }
        } else {
            let mut selected = std::collections::HashSet::new();
            for _ in 0..k {
                let mut j = self.randbelow(n as u64) as usize;
                while selected.contains(&j) {
                    j = self.randbelow(n as u64) as usize;
                }
                selected.insert(j);
                result.push(j);
            }
        }
        result
    }
}

const LINEAR_PROBES: usize = 9;
const PERTURB_SHIFT: u32 = 5;
const MINSIZE: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Empty,
    Dummy,
    Key(usize),
}

/// A CPython `set` of small non-negative ints (`hash(i) == i`), reproducing `setobject.c`'s
/// open addressing (linear probes of 9, then perturbation), growth (`fill*5 >= mask*3` →
/// resize to `used*4`), dummy entries left by `remove`, and slot-order iteration.
pub struct PySet {
    table: Vec<Slot>,
    fill: usize,
    used: usize,
}

impl Default for PySet {
    fn default() -> Self {
        Self::new()
    }
}

impl PySet {
    pub fn new() -> Self {
        PySet {
            table: vec![Slot::Empty; MINSIZE],
            fill: 0,
            used: 0,
        }
    }

    /// `set(list)`: keys added one by one in list order.
    pub fn from_keys(keys: &[usize]) -> Self {
        let mut s = PySet::new();
        for &k in keys {
            s.add(k);
        }
        s
    }

    pub fn len(&self) -> usize {
        self.used
    }

    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    pub fn contains(&self, key: usize) -> bool {
        self.table.contains(&Slot::Key(key))
    }

    /// `set_add_entry`: probe for the key or the first never-used slot. Dummies are skipped,
    /// not reused (CPython >= 3.7 dropped the `freeslot` reuse in `set_add_entry`).
    pub fn add(&mut self, key: usize) {
        let mask = self.table.len() - 1;
        let mut i = key & mask;
        let mut perturb = key;
        loop {
            let probes = if i + LINEAR_PROBES <= mask {
                LINEAR_PROBES
            } else {
                0
            };
            for j in 0..=probes {
                match self.table[i + j] {
                    Slot::Empty => {
                        self.table[i + j] = Slot::Key(key);
                        self.fill += 1;
                        self.used += 1;
                        if self.fill * 5 >= mask * 3 {
                            let minused = if self.used > 50000 {
                                self.used * 2
                            } else {
                                self.used * 4
                            };
                            self.resize(minused);
                        }
                        return;
                    }
                    Slot::Key(k) if k == key => return,
                    _ => {}
                }
            }
            perturb >>= PERTURB_SHIFT;
            i = (i.wrapping_mul(5).wrapping_add(1).wrapping_add(perturb)) & mask;
        }
    }

    /// `set.remove`: the slot becomes a dummy (fill is unchanged).
    pub fn remove(&mut self, key: usize) -> bool {
        match self.table.iter().position(|s| *s == Slot::Key(key)) {
            Some(p) => {
                self.table[p] = Slot::Dummy;
                self.used -= 1;
                true
            }
            None => false,
        }
    }

    /// `set_table_resize` + `set_insert_clean`: re-insert active keys in old slot order.
    fn resize(&mut self, minused: usize) {
        let mut newsize = MINSIZE;
        while newsize <= minused {
            newsize <<= 1;
        }
        let old = std::mem::replace(&mut self.table, vec![Slot::Empty; newsize]);
        let mask = newsize - 1;
        for slot in old {
            if let Slot::Key(key) = slot {
                let mut i = key & mask;
                let mut perturb = key;
                'probe: loop {
                    if self.table[i] == Slot::Empty {
                        self.table[i] = Slot::Key(key);
                        break 'probe;
                    }
                    if i + LINEAR_PROBES <= mask {
                        for j in 1..=LINEAR_PROBES {
                            if self.table[i + j] == Slot::Empty {
                                self.table[i + j] = Slot::Key(key);
                                break 'probe;
                            }
                        }
                    }
                    perturb >>= PERTURB_SHIFT;
                    i = (i.wrapping_mul(5).wrapping_add(1).wrapping_add(perturb)) & mask;
                }
            }
        }
        self.fill = self.used;
    }

    /// Iteration order (`for x in s`): table slot order.
    pub fn iter_order(&self) -> Vec<usize> {
        self.table
            .iter()
            .filter_map(|s| match s {
                Slot::Key(k) => Some(*k),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mersenne_twister_matches_cpython_seed_1234() {
        // python3 -c "import random; r=random.Random(1234); print(r.getrandbits(32), r.getrandbits(5))"
        let mut r = PyRandom::new(1234);
        assert_eq!(r.getrandbits(32), 4150886329);
        assert_eq!(r.getrandbits(5), 24);
    }

    #[test]
    fn sample_matches_cpython() {
        // python3 -c "import random; r=random.Random(7); print(r.sample(range(100), 5), r.sample(range(10), 4))"
        let mut r = PyRandom::new(7);
        assert_eq!(r.sample_range(100, 5), vec![41, 19, 50, 83, 6]);
        assert_eq!(r.sample_range(10, 4), vec![1, 8, 9, 2]);
    }

    #[test]
    fn set_iteration_is_slot_order() {
        // python3 -c "print(list(set([9,1])), list(set([3,1,2])))" -> [9, 1] [1, 2, 3]
        // (1 collides with 9 in slot 1; no linear probes near the end, so it is perturbed to 6).
        assert_eq!(PySet::from_keys(&[9, 1]).iter_order(), vec![9, 1]);
        assert_eq!(PySet::from_keys(&[3, 1, 2]).iter_order(), vec![1, 2, 3]);
    }
}
