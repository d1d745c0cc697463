//! Simulated time: nanoseconds since the simulation started.

use std::fmt;
use std::ops::{Add, Sub};

/// A point in simulated time. Passed in, never read from a wall clock.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub u64);

/// A span of simulated time in nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub u64);

impl Duration {
    /// `n` microseconds.
    pub const fn from_micros(n: u64) -> Self {
        Duration(n * 1_000)
    }

    /// `n` milliseconds.
    pub const fn from_millis(n: u64) -> Self {
        Duration(n * 1_000_000)
    }

    /// Parse `250us`, `50ms`, `1s` or a bare number of milliseconds.
    ///
    /// # Errors
    /// A message naming what was expected.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => s.split_at(i),
            None => (s, "ms"),
        };
        let n: u64 = digits.parse().map_err(|_| format!("expected a time like 50ms, 250us or 1s, found '{s}'"))?;
        let scale = match unit {
            "us" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            _ => return Err(format!("unknown time unit '{unit}' in '{s}': use us, ms or s")),
        };
        n.checked_mul(scale).map(Duration).ok_or_else(|| format!("time '{s}' is too large"))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }
}

impl Sub for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}ms", self.0 / 1_000_000, (self.0 / 1_000) % 1_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_bare_milliseconds() {
        assert_eq!(Duration::parse("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(Duration::parse("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(Duration::parse("2s"), Ok(Duration(2_000_000_000)));
        assert_eq!(Duration::parse("7"), Ok(Duration::from_millis(7)));
        assert!(Duration::parse("5m").unwrap_err().contains("unit"));
        assert!(Duration::parse("-5ms").is_err());
        assert!(Duration::parse("99999999999999999s").unwrap_err().contains("too large"));
    }

    #[test]
    fn instant_arithmetic_saturates() {
        assert_eq!(Instant(u64::MAX) + Duration(1), Instant(u64::MAX));
        assert_eq!(Instant(5) - Instant(9), Duration(0));
        assert_eq!(Instant(1_500_000).to_string(), "1.500ms");
    }
}
