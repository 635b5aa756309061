//! Statistics that add up: a run's totals are the sum of its shards' stats, field by field.
//!
//! Declare a stats struct inside [`tally!`](crate::tally!) and it gets a [`Tally`] impl that adds
//! every field (numbers add, maps add per key, `Option`s take the other side when empty), so a new
//! field can never be forgotten in the sum.

use std::collections::BTreeMap;

/// Something that can absorb another value of its kind.
pub trait Tally {
    fn tally(&mut self, other: &Self);
}

macro_rules! tally_numbers {
    ($($t:ty),*) => {$(
        impl Tally for $t {
            fn tally(&mut self, other: &Self) {
                *self += *other;
            }
        }
    )*};
}
tally_numbers!(u8, u16, u32, u64, u128, usize, i32, i64, f32, f64);

impl<K: Ord + Clone, V: Tally + Default> Tally for BTreeMap<K, V> {
    fn tally(&mut self, other: &Self) {
        for (k, v) in other {
            self.entry(k.clone()).or_default().tally(v);
        }
    }
}

/// Lists concatenate (e.g. the first errors of each shard).
impl<T: Clone> Tally for Vec<T> {
    fn tally(&mut self, other: &Self) {
        self.extend(other.iter().cloned());
    }
}

impl<T: Tally + Clone> Tally for Option<T> {
    fn tally(&mut self, other: &Self) {
        match (self.as_mut(), other) {
            (Some(a), Some(b)) => a.tally(b),
            (None, Some(b)) => *self = Some(b.clone()),
            (_, None) => {}
        }
    }
}

/// Sums an iterator of stats into one (the run's totals).
pub fn sum<'a, T: Tally + Default + 'a>(items: impl IntoIterator<Item = &'a T>) -> T {
    let mut total = T::default();
    for item in items {
        total.tally(item);
    }
    total
}

/// Declares a struct whose every field adds up ([`Tally`]); attributes and doc comments pass
/// through:
///
/// ```
/// lmrepro_stage::tally! {
///     #[derive(Debug, Default, Clone, PartialEq)]
///     pub struct Counts {
///         /// Records read.
///         pub read: u64,
///         pub skipped: std::collections::BTreeMap<String, u64>,
///     }
/// }
/// use lmrepro_stage::Tally;
/// let mut a = Counts { read: 1, ..Default::default() };
/// a.tally(&Counts { read: 2, skipped: [("x".to_string(), 1)].into() });
/// assert_eq!(a.read, 3);
/// assert_eq!(a.skipped["x"], 1);
/// ```
#[macro_export]
macro_rules! tally {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$fmeta])* $fvis $field : $ty ),*
        }

        impl $crate::tally::Tally for $name {
            fn tally(&mut self, other: &Self) {
                $( $crate::tally::Tally::tally(&mut self.$field, &other.$field); )*
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::tally! {
        #[derive(Debug, Default, Clone, PartialEq)]
        struct Inner {
            n: u64,
            by: BTreeMap<String, u64>,
        }
    }

    crate::tally! {
        #[derive(Debug, Default, Clone, PartialEq)]
        struct Outer {
            inner: Inner,
            seconds: f64,
            first: Option<u32>,
        }
    }

    proptest::proptest! {
        /// Summing in any grouping gives the same totals (what resume relies on).
        #[test]
        fn sums_are_associative(xs in proptest::collection::vec((0u64..1000, 0usize..3), 0..20), cut in 0usize..20) {
            let parts: Vec<Outer> = xs.iter().map(|&(n, k)| Outer {
                inner: Inner { n, by: [(format!("k{k}"), n)].into() },
                seconds: 0.0,
                first: None,
            }).collect();
            let cut = cut.min(parts.len());
            let mut left = sum(&parts[..cut]);
            left.tally(&sum(&parts[cut..]));
            proptest::prop_assert_eq!(&left, &sum(&parts));
            proptest::prop_assert_eq!(left.inner.n, xs.iter().map(|x| x.0).sum::<u64>());
            proptest::prop_assert_eq!(left.inner.by.values().sum::<u64>(), left.inner.n);
        }
    }

    #[test]
    fn options_take_the_first_present_value_and_add() {
        let mut a = Outer::default();
        a.tally(&Outer {
            first: Some(2),
            ..Default::default()
        });
        a.tally(&Outer {
            first: Some(3),
            ..Default::default()
        });
        assert_eq!(a.first, Some(5));
    }
}
