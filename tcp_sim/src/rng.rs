//! The one source of randomness of a link: a seeded generator.
//!
//! Loss and reordering decisions come from here and nowhere else, so a run
//! is a function of its inputs and its seed (smoltcp's fault injector does
//! the same). The generator is `rand`'s Xoshiro256++: small, fast, and
//! the same sequence for the same seed on every platform.
//!
//! The generator is written out here (ten lines, the reference algorithm,
//! seeded with SplitMix64 as `rand` seeds it) rather than taken from `rand`
//! because a checkpoint must save its state mid-stream and `rand`'s type
//! does not expose it; `same_sequence_as_rand` checks the two agree.

/// Parts per million: the unit of the loss and reorder probabilities.
pub const PPM: u32 = 1_000_000;

/// A seeded random generator.
#[derive(Clone, Debug)]
pub struct SimRng {
    s: [u64; 4],
}

impl SimRng {
    /// The generator for `seed` (`rand`'s `seed_from_u64`: SplitMix64).
    pub fn new(seed: u64) -> Self {
        const PHI: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut state = seed;
        let mut s = [0; 4];
        for w in &mut s {
            state = state.wrapping_add(PHI);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            *w = z ^ (z >> 31);
        }
        SimRng { s }
    }

    /// The generator's state, to save it mid-stream (TCP repair).
    pub fn state(&self) -> [u64; 4] {
        self.s
    }

    /// A generator that goes on from a saved [`state`](Self::state);
    /// `None` for the all-zero state, which xoshiro never reaches.
    pub fn from_state(s: [u64; 4]) -> Option<Self> {
        (s != [0; 4]).then_some(SimRng { s })
    }

    /// xoshiro256++ (Blackman and Vigna's reference).
    #[inline]
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let res = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        res
    }

    /// The upper half of a 64-bit draw (the lower bits are weaker).
    #[inline]
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// True with probability `ppm` / 1,000,000 (0 never draws a number,
    /// so a lossless link consumes no randomness).
    #[inline]
    pub fn chance(&mut self, ppm: u32) -> bool {
        match ppm {
            0 => false,
            p if p >= PPM => true,
            p => (self.next_u32() % PPM) < p,
        }
    }

    /// A number in `1..=max` (`max` ≥ 1).
    #[inline]
    pub fn up_to(&mut self, max: u64) -> u64 {
        1 + self.next_u64() % max.max(1)
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
    fn same_sequence_as_rand() {
        use rand::rngs::Xoshiro256PlusPlus;
        use rand::{Rng as _, SeedableRng};
        for seed in [0, 1, 42, u64::MAX] {
            let mut ours = SimRng::new(seed);
            let mut theirs = Xoshiro256PlusPlus::seed_from_u64(seed);
            for _ in 0..1000 {
                assert_eq!(ours.next_u64(), theirs.next_u64());
                assert_eq!(ours.next_u32(), theirs.next_u32());
            }
        }
    }

    #[test]
    fn from_state_goes_on_where_state_was_taken() {
        let mut a = SimRng::new(9);
        a.up_to(100);
        let mut b = SimRng::from_state(a.state()).unwrap();
        assert!((0..100).all(|_| a.up_to(1 << 40) == b.up_to(1 << 40)));
        assert!(SimRng::from_state([0; 4]).is_none());
    }

    #[test]
    fn zero_and_certain_chances() {
        let mut r = SimRng::new(1);
        assert!((0..50).all(|_| !r.chance(0)));
        assert!((0..50).all(|_| r.chance(PPM)));
        assert!((0..50).all(|_| (1..=3).contains(&r.up_to(3))));
    }
}
