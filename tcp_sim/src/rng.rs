//! The one source of randomness of a link: a seeded generator.
//!
//! Loss and reordering decisions come from here and nowhere else, so a run
//! is a function of its inputs and its seed (smoltcp's fault injector does
//! the same). The generator is `rand`'s Xoshiro256++: small, fast, and
//! the same sequence for the same seed on every platform.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng as _, SeedableRng};

/// Parts per million: the unit of the loss and reorder probabilities.
pub const PPM: u32 = 1_000_000;

/// A seeded random generator.
#[derive(Clone, Debug)]
pub struct SimRng {
    inner: Xoshiro256PlusPlus,
}

impl SimRng {
    /// The generator for `seed`.
    pub fn new(seed: u64) -> Self {
        SimRng { inner: Xoshiro256PlusPlus::seed_from_u64(seed) }
    }

    /// True with probability `ppm` / 1,000,000 (0 never draws a number,
    /// so a lossless link consumes no randomness).
    #[inline]
    pub fn chance(&mut self, ppm: u32) -> bool {
        match ppm {
            0 => false,
            p if p >= PPM => true,
            p => (self.inner.next_u32() % PPM) < p,
        }
    }

    /// A number in `1..=max` (`max` ≥ 1).
    #[inline]
    pub fn up_to(&mut self, max: u64) -> u64 {
        1 + self.inner.next_u64() % max.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let (mut a, mut b) = (SimRng::new(7), SimRng::new(7));
        let xs: Vec<bool> = (0..100).map(|_| a.chance(500_000)).collect();
        let ys: Vec<bool> = (0..100).map(|_| b.chance(500_000)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().any(|&x| x) && xs.iter().any(|&x| !x));
    }

    #[test]
    fn zero_and_certain_chances() {
        let mut r = SimRng::new(1);
        assert!((0..50).all(|_| !r.chance(0)));
        assert!((0..50).all(|_| r.chance(PPM)));
        assert!((0..50).all(|_| (1..=3).contains(&r.up_to(3))));
    }
}
