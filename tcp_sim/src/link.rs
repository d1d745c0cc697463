//! What connects two endpoints: loopback, or a simulated link with delay,
//! bandwidth, loss, reordering and an MSS.
//!
//! A link is two independent directions. Each has a transmitter that
//! serializes one packet at a time (`bytes * 8 / bandwidth`, headers
//! included), then the packet flies for the one-way delay (`rtt / 2`).
//! Each packet, data or ACK, is lost with probability `loss`; with
//! probability `reorder` it is held back by an extra random delay of up to
//! one one-way delay (at least a millisecond), so later packets overtake
//! it. All draws come from the link's own seeded generator.

use crate::rng::PPM;
use crate::time::Duration;

/// Bytes of IP and TCP header (with timestamps) that every packet adds on
/// the wire: 20 + 20 + 12.
pub const HEADER_BYTES: u64 = 52;

/// The loopback MSS: MTU 65536 minus IP, TCP and timestamp headers.
pub const LOOPBACK_MSS: u32 = 65483;

/// The largest MSS a link may have (an IPv4 datagram's size limit minus
/// headers).
pub const MAX_MSS: u32 = 65483;

/// How a connection's two endpoints are joined.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// What Linux does on 127.0.0.1: the receiver's queue holds the very
    /// same page fragments the sender queued, and the ACK comes back at
    /// once. No delay, no loss, no timers.
    Loopback,
    /// A network link with these parameters: the bytes on the wire are read
    /// from the pages at each (re)transmission, and the sender holds its
    /// pages until the cumulative ACK covers them.
    Link(LinkParams),
}

/// The parameters of a simulated link (`tcp NAME link rtt=50ms loss=2%
/// reorder=1% bw=1gbit mss=1448 seed=7 delack=40ms`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LinkParams {
    /// Round-trip propagation time; each direction takes half.
    pub rtt: Duration,
    /// Probability that a packet is lost, in parts per million.
    pub loss_ppm: u32,
    /// Probability that a packet is held back (reordered), in parts per
    /// million.
    pub reorder_ppm: u32,
    /// Bits per second; 0 means no serialization delay.
    pub bandwidth: u64,
    /// Maximum segment size: payload bytes per segment.
    pub mss: u32,
    /// Seed of the link's random generator.
    pub seed: u64,
    /// How long a receiver may delay an ACK (Linux: 40 ms minimum ATO).
    pub delack: Duration,
}

impl Default for LinkParams {
    /// 10 ms RTT, no loss, no reordering, 1 gbit/s, MSS 1448 (Ethernet),
    /// seed 1, delayed ACK 40 ms.
    fn default() -> Self {
        LinkParams {
            rtt: Duration::from_millis(10),
            loss_ppm: 0,
            reorder_ppm: 0,
            bandwidth: 1_000_000_000,
            mss: 1448,
            seed: 1,
            delack: Duration::from_millis(40),
        }
    }
}

/// The option names, in the order the issue writes them.
pub const OPTIONS: [&str; 7] = ["rtt", "loss", "reorder", "bw", "mss", "seed", "delack"];

impl LinkParams {
    /// Set option `name` from its text `value` (`rtt` and `delack`: a time
    /// like `50ms`; `loss` and `reorder`: a percentage like `2%` or `0.5%`;
    /// `bw`: a rate like `100mbit`; `mss`: bytes; `seed`: a number).
    ///
    /// # Errors
    /// A message naming the option and what was expected.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "rtt" => self.rtt = time_option(name, value)?,
            "delack" => self.delack = time_option(name, value)?,
            "loss" => self.loss_ppm = percent_option(name, value)?,
            "reorder" => self.reorder_ppm = percent_option(name, value)?,
            "bw" => self.bandwidth = rate_option(value)?,
            "mss" => {
                let mss: u64 = value.parse().map_err(|_| {
                    if value.starts_with('-') {
                        format!("link option mss={value}: the MSS must be positive")
                    } else {
                        format!("link option mss={value}: expected a number of bytes like 1448")
                    }
                })?;
                if mss == 0 {
                    return Err("link option mss=0: the MSS must be at least 1 byte".into());
                }
                if mss > u64::from(MAX_MSS) {
                    return Err(format!("link option mss={value}: the MSS can be at most {MAX_MSS} bytes"));
                }
                self.mss = mss as u32;
            }
            "seed" => {
                self.seed = value
                    .parse()
                    .map_err(|_| format!("link option seed={value}: expected a number like 7 (0 to 2^64-1)"))?;
            }
            _ => return Err(format!("unknown link option '{name}': expected one of {}", OPTIONS.join(", "))),
        }
        Ok(())
    }

    /// The one-way delay.
    pub fn one_way(&self) -> Duration {
        Duration(self.rtt.0 / 2)
    }

    /// Time to put `payload` bytes (plus headers) on the wire.
    #[inline]
    pub fn serialization(&self, payload: usize) -> Duration {
        if self.bandwidth == 0 {
            return Duration(0);
        }
        // At most (65483 + 52) * 8 bits: times 10^9 fits a u64.
        let bits = (payload as u64 + HEADER_BYTES) * 8;
        Duration(bits.saturating_mul(1_000_000_000) / self.bandwidth)
    }
}

/// A time option: `50ms`, `250us`, `1s`, or bare milliseconds.
fn time_option(name: &str, value: &str) -> Result<Duration, String> {
    if value.starts_with('-') {
        return Err(format!("link option {name}={value}: a time cannot be negative"));
    }
    Duration::parse(value).map_err(|e| format!("link option {name}={value}: {e}"))
}

/// A percentage `2%`, `0.5%` (up to four decimals) as parts per million,
/// at most 100%.
fn percent_option(name: &str, value: &str) -> Result<u32, String> {
    let expected = || format!("link option {name}={value}: expected a percentage like 2% or 0.5%");
    if value.starts_with('-') {
        return Err(format!("link option {name}={value}: a probability cannot be negative"));
    }
    let digits = value.strip_suffix('%').ok_or_else(expected)?;
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !all_digits(int) || !all_digits(frac) || frac.len() > 4 {
        return Err(expected());
    }
    let int: u64 = if int.len() > 6 { u64::MAX } else { int.parse().map_err(|_| expected())? };
    let mut frac_ppm = 0u64;
    for (i, b) in frac.bytes().enumerate() {
        frac_ppm += u64::from(b - b'0') * [1000, 100, 10, 1][i];
    }
    let ppm = int.saturating_mul(10_000).saturating_add(frac_ppm);
    if ppm > u64::from(PPM) {
        return Err(format!("link option {name}={value}: a probability cannot be above 100%"));
    }
    Ok(ppm as u32)
}

/// A rate `1gbit`, `100mbit`, `64kbit` in bits per second.
fn rate_option(value: &str) -> Result<u64, String> {
    let expected = || format!("link option bw={value}: expected a rate like 64kbit, 100mbit or 1gbit");
    if value.starts_with('-') {
        return Err(format!("link option bw={value}: a bandwidth cannot be negative"));
    }
    let (digits, scale) = [("kbit", 1_000u64), ("mbit", 1_000_000), ("gbit", 1_000_000_000)]
        .iter()
        .find_map(|&(unit, scale)| value.strip_suffix(unit).map(|d| (d, scale)))
        .ok_or_else(expected)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(expected());
    }
    let n: u64 = digits.parse().map_err(|_| format!("link option bw={value}: the rate is too large"))?;
    if n == 0 {
        return Err(format!("link option bw={value}: a bandwidth must be above 0"));
    }
    n.checked_mul(scale).ok_or_else(|| format!("link option bw={value}: the rate is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: &str, value: &str) -> Result<LinkParams, String> {
        let mut p = LinkParams::default();
        p.set(name, value).map(|()| p)
    }

    #[test]
    fn every_option_parses_its_units() {
        assert_eq!(with("rtt", "50ms").unwrap().rtt, Duration::from_millis(50));
        assert_eq!(with("rtt", "250us").unwrap().rtt, Duration::from_micros(250));
        assert_eq!(with("delack", "1s").unwrap().delack, Duration::from_millis(1000));
        assert_eq!(with("loss", "2%").unwrap().loss_ppm, 20_000);
        assert_eq!(with("loss", "0.5%").unwrap().loss_ppm, 5_000);
        assert_eq!(with("reorder", "100%").unwrap().reorder_ppm, PPM);
        assert_eq!(with("bw", "1gbit").unwrap().bandwidth, 1_000_000_000);
        assert_eq!(with("bw", "64kbit").unwrap().bandwidth, 64_000);
        assert_eq!(with("mss", "1448").unwrap().mss, 1448);
        assert_eq!(with("seed", "7").unwrap().seed, 7);
    }

    #[test]
    fn impossible_values_are_rejected_naming_the_option() {
        for (name, value, want) in [
            ("rtt", "-5ms", "rtt=-5ms: a time cannot be negative"),
            ("loss", "101%", "loss=101%: a probability cannot be above 100%"),
            ("loss", "-1%", "loss=-1%: a probability cannot be negative"),
            ("loss", "2", "loss=2: expected a percentage"),
            ("mss", "0", "mss=0: the MSS must be at least 1 byte"),
            ("mss", "70000", "mss=70000: the MSS can be at most"),
            ("bw", "0gbit", "bw=0gbit: a bandwidth must be above 0"),
            ("bw", "fast", "bw=fast: expected a rate"),
            ("delack", "5m", "delack=5m: unknown time unit"),
            ("seed", "x", "seed=x: expected a number"),
            ("jitter", "1ms", "unknown link option 'jitter'"),
        ] {
            let err = with(name, value).unwrap_err();
            assert!(err.contains(want), "{name}={value}: got {err:?}, want {want:?}");
        }
    }

    #[test]
    fn serialization_counts_headers() {
        let p = LinkParams { bandwidth: 8_000_000, ..LinkParams::default() };
        // (1448 + 52) bytes * 8 bits at 8 Mbit/s = 1.5 ms.
        assert_eq!(p.serialization(1448), Duration(1_500_000));
        assert_eq!(LinkParams { bandwidth: 0, ..p }.serialization(1448), Duration(0));
    }
}
