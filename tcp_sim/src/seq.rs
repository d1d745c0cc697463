//! 32-bit TCP sequence numbers, compared modulo 2^32 (`before()` /
//! `after()` in include/net/tcp.h).
//!
//! Sequence numbers are free running and wrap; two of them compare by the
//! sign of their wrapping difference, which is right as long as they are
//! less than 2^31 apart (a window is far smaller).

/// `before(a, b)`: `a` comes strictly before `b`.
#[inline]
pub fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// `after(a, b)`: `a` comes strictly after `b`.
#[inline]
pub fn after(a: u32, b: u32) -> bool {
    before(b, a)
}

/// `!after(a, b)`: `a` is at or before `b`.
#[inline]
pub fn before_eq(a: u32, b: u32) -> bool {
    !after(a, b)
}

/// The later of two sequence numbers.
#[inline]
pub fn max_seq(a: u32, b: u32) -> u32 {
    if after(a, b) { a } else { b }
}

/// Bytes from `from` to `to` (`to - from` modulo 2^32).
#[inline]
pub fn dist(from: u32, to: u32) -> usize {
    to.wrapping_sub(from) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_work_across_the_wrap() {
        assert!(before(u32::MAX - 5, 3));
        assert!(after(3, u32::MAX - 5));
        assert!(before_eq(7, 7));
        assert_eq!(max_seq(u32::MAX, 1), 1);
        assert_eq!(dist(u32::MAX - 1, 2), 4);
    }
}
