//! Congestion control (Reno with NewReno's partial ACKs, RFC 5681/6582)
//! and the retransmission timer (RFC 6298 with Karn's rule).

use crate::time::{Duration, Instant};

/// Linux's initial congestion window, in segments (`TCP_INIT_CWND`).
pub const INIT_CWND: u32 = 10;

/// The first retransmission timeout before any RTT sample (`TCP_TIMEOUT_INIT`).
pub const RTO_INIT: Duration = Duration::from_millis(1000);
/// The smallest retransmission timeout (`TCP_RTO_MIN`).
pub const RTO_MIN: Duration = Duration::from_millis(200);
/// The largest retransmission timeout (`TCP_RTO_MAX`).
pub const RTO_MAX: Duration = Duration::from_millis(120_000);
/// Consecutive timeouts after which the connection is given up
/// (`tcp_retries2`).
pub const MAX_RETRIES: u32 = 15;

/// Reno's state: the congestion window, the slow-start threshold and the
/// duplicate-ACK count of fast retransmit.
#[derive(Clone, Debug)]
pub(crate) struct Reno {
    /// `snd_cwnd`, in bytes.
    pub cwnd: u64,
    /// `snd_ssthresh`, in bytes.
    pub ssthresh: u64,
    /// Duplicate ACKs in a row.
    pub dupacks: u32,
    /// In fast recovery until this sequence number is acknowledged
    /// (`high_seq`).
    pub recover: Option<u32>,
    pub(crate) mss: u64,
}

impl Reno {
    /// Slow start from the initial window; `unlimited` for loopback,
    /// where the window never limits.
    pub fn new(mss: u32, unlimited: bool) -> Self {
        let mss = u64::from(mss);
        let cwnd = if unlimited { u64::MAX / 2 } else { mss * u64::from(INIT_CWND) };
        Reno { cwnd, ssthresh: u64::MAX / 2, dupacks: 0, recover: None, mss }
    }

    /// New data acknowledged outside recovery: slow start below
    /// `ssthresh` (one MSS per ACKed MSS), then congestion avoidance (about
    /// one MSS per window).
    pub fn on_ack(&mut self, acked: u64) {
        if self.cwnd < self.ssthresh {
            self.cwnd += acked.min(self.mss);
        } else {
            self.cwnd += (self.mss * self.mss / self.cwnd).max(1);
        }
    }

    /// The third duplicate ACK: halve, and inflate by the three segments
    /// that left the network.
    pub fn enter_recovery(&mut self, flight: u64, high: u32) {
        self.ssthresh = (flight / 2).max(2 * self.mss);
        self.cwnd = self.ssthresh + 3 * self.mss;
        self.recover = Some(high);
    }

    /// A further duplicate ACK in recovery: one more segment left.
    pub fn inflate(&mut self) {
        self.cwnd += self.mss;
    }

    /// A partial ACK in recovery (NewReno): deflate by what was ACKed, add
    /// back one segment.
    pub fn partial_ack(&mut self, acked: u64) {
        self.cwnd = self.cwnd.saturating_sub(acked).max(self.mss) + self.mss;
    }

    /// Recovery is over: back to `ssthresh`.
    pub fn exit_recovery(&mut self) {
        self.cwnd = self.ssthresh;
        self.recover = None;
        self.dupacks = 0;
    }

    /// A retransmission timeout: one segment, threshold at half the flight.
    pub fn on_timeout(&mut self, flight: u64) {
        self.ssthresh = (flight / 2).max(2 * self.mss);
        self.cwnd = self.mss;
        self.recover = None;
        self.dupacks = 0;
    }
}

/// The retransmission timer's estimator (RFC 6298) with exponential backoff.
#[derive(Clone, Debug)]
pub(crate) struct RtoEstimator {
    /// Smoothed RTT, once sampled.
    pub srtt: Option<Duration>,
    /// RTT variation.
    pub rttvar: Duration,
    /// The timeout without backoff.
    pub base: Duration,
    /// Doublings since the last valid sample.
    pub backoff: u32,
    /// Consecutive timeouts without progress.
    pub retries: u32,
    /// The segment being timed: its end sequence number and when it was
    /// sent. Karn's rule: cleared by any retransmission, so a retransmitted
    /// segment never gives a sample.
    pub timing: Option<(u32, Instant)>,
}

impl Default for RtoEstimator {
    fn default() -> Self {
        RtoEstimator { srtt: None, rttvar: Duration(0), base: RTO_INIT, backoff: 0, retries: 0, timing: None }
    }
}

impl RtoEstimator {
    /// The current timeout: the base doubled per backoff, at most `RTO_MAX`.
    pub fn rto(&self) -> Duration {
        let d = self.base.0.saturating_mul(1u64 << self.backoff.min(20));
        Duration(d.min(RTO_MAX.0))
    }

    /// A valid RTT sample: update the estimate (alpha 1/8, beta 1/4),
    /// clamp to `RTO_MIN..RTO_MAX` and end any backoff.
    pub fn sample(&mut self, rtt: Duration) {
        let r = rtt.0;
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = Duration(r / 2);
            }
            Some(s) => {
                let err = s.0.abs_diff(r);
                self.rttvar = Duration((3 * self.rttvar.0 + err) / 4);
                self.srtt = Some(Duration((7 * s.0 + r) / 8));
            }
        }
        let srtt = self.srtt.expect("just set").0;
        let rto = srtt + (4 * self.rttvar.0).max(1_000_000);
        self.base = Duration(rto.clamp(RTO_MIN.0, RTO_MAX.0));
        self.backoff = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_doubles_then_avoidance_is_linear() {
        let mut r = Reno::new(1000, false);
        assert_eq!(r.cwnd, 10_000);
        for _ in 0..10 {
            r.on_ack(1000);
        }
        assert_eq!(r.cwnd, 20_000, "one window of ACKs doubles it");
        r.ssthresh = 20_000;
        for _ in 0..20 {
            r.on_ack(1000);
        }
        assert!((20_900..=21_000).contains(&r.cwnd), "about one MSS per window: {}", r.cwnd);
    }

    #[test]
    fn recovery_halves_and_timeout_collapses() {
        let mut r = Reno::new(1000, false);
        r.enter_recovery(20_000, 5);
        assert_eq!((r.ssthresh, r.cwnd), (10_000, 13_000));
        r.exit_recovery();
        assert_eq!(r.cwnd, 10_000);
        r.on_timeout(8_000);
        assert_eq!((r.ssthresh, r.cwnd), (4_000, 1_000));
    }

    #[test]
    fn rto_backs_off_and_a_sample_resets_it() {
        let mut e = RtoEstimator::default();
        assert_eq!(e.rto(), RTO_INIT);
        e.backoff = 3;
        assert_eq!(e.rto(), Duration::from_millis(8000));
        e.sample(Duration::from_millis(100));
        assert_eq!(e.backoff, 0);
        // srtt 100ms + 4 * 50ms = 300ms
        assert_eq!(e.rto(), Duration::from_millis(300));
        e.sample(Duration::from_millis(1));
        assert!(e.rto() >= RTO_MIN);
        e.backoff = 40;
        assert_eq!(e.rto(), RTO_MAX);
    }
}
