//! numpy's legacy `RandomState(int)`: MT19937 seeded with `init_genrand` (what `rand_mt::Mt::new`
//! does), 64-bit draws as `(next_u32 << 32) | next_u32`, and `randint` by masked rejection.

use rand_mt::Mt;

/// `numpy.random.RandomState(seed)` for a 32-bit seed.
pub struct RandomState {
    mt: Mt,
}

impl RandomState {
    pub fn new(seed: u32) -> RandomState {
        RandomState { mt: Mt::new(seed) }
    }

    pub fn next_u32(&mut self) -> u32 {
        self.mt.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        let hi = self.mt.next_u32() as u64;
        let lo = self.mt.next_u32() as u64;
        (hi << 32) | lo
    }

    /// `randint(low, high, dtype=np.uint64)` (one value) for a range wider than 32 bits: numpy's
    /// legacy masked rejection sampling on 64-bit draws. Narrower ranges draw 32-bit words in
    /// numpy, which no caller needs, so they are refused rather than silently wrong.
    pub fn randint_u64(&mut self, low: u64, high: u64) -> u64 {
        assert!(high > low, "randint: empty range");
        let rng = high - low - 1;
        assert!(
            rng > u32::MAX as u64,
            "randint_u64 implements numpy's wide-range path only"
        );
        let mut mask = rng;
        for s in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> s;
        }
        loop {
            let v = self.next_u64() & mask;
            if v <= rng {
                return low + v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_stream_of_init_genrand_5489() {
        let mut g = RandomState::new(5489);
        assert_eq!(g.next_u32(), 3_499_211_612);
        assert_eq!(g.next_u32(), 581_869_302);
    }

    #[test]
    fn randint_matches_numpy() {
        // r = np.random.RandomState(1)
        // r.randint(1, (1<<61)-1, size=3, dtype=np.uint64), r.randint(0, (1<<61)-1, size=2, dtype=np.uint64)
        let p = (1u64 << 61) - 1;
        let mut r = RandomState::new(1);
        let a: Vec<u64> = (0..3).map(|_| r.randint_u64(1, p)).collect();
        let b: Vec<u64> = (0..2).map(|_| r.randint_u64(0, p)).collect();
        assert_eq!(
            a,
            [775169054918279404, 1758426461858698313, 2109959069025162]
        );
        assert_eq!(b, [965365488286768773, 401325382989534144]);
    }
}
