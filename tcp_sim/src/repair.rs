//! TCP repair: an endpoint's and the network's whole state as plain data,
//! to save it and to build a network that goes on exactly where the saved
//! one was (Linux's `TCP_REPAIR` mode, which CRIU uses, exposes the
//! sequence numbers, the queues and the window the same way).
//!
//! [`Network::repair_dump`](crate::Network::repair_dump) takes the parts
//! between two calls; [`Network::from_repair`](crate::Network::from_repair)
//! builds a network from them, checking every id they name. Pages are
//! [`PageId`]s of the caller's arena: the caller (the checkpoint) maps them
//! to and from its own frame table and restores the references they hold
//! (`Holder::socket`), as the arena's holders record them.

use page_refs::{Content, PageId};

use crate::link::LinkParams;
use crate::net::NetStats;
use crate::socket::{Altered, Completion, SockError, SockId, SockStats};
use crate::time::{Duration, Instant};

/// The network: endpoints, connections, packets in flight, events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetParts {
    /// Simulated time.
    pub now: Instant,
    /// Endpoints by id; `None` for one destroyed.
    pub socks: Vec<Option<SockParts>>,
    /// Connection of every endpoint ever made.
    pub sock_conn: Vec<u32>,
    /// The connections.
    pub conns: Vec<ConnParts>,
    /// Packets on the links, by key.
    pub wire: Vec<(u32, PacketParts)>,
    /// Pending events, in the order they will run.
    pub events: Vec<EventParts>,
    /// The next event's schedule number.
    pub event_seq: u64,
    /// Counters.
    pub stats: NetStats,
    /// Operation number stamped on page events.
    pub step: u32,
    /// Deterministic drops to come: (sender, data segments).
    pub drops: Vec<(SockId, u32)>,
    /// The host whose memory the calls pass.
    pub local: u32,
    /// Whether endpoints live on several hosts.
    pub multi_host: bool,
}

/// A connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnParts {
    /// `None` for loopback.
    pub link: Option<LinkParams>,
    /// Its endpoints.
    pub ends: [SockId; 2],
    /// The link generator's state.
    pub rng: [u64; 4],
    /// When each direction's transmitter is free.
    pub wire_free: [Instant; 2],
}

/// A pending event.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct EventParts {
    /// When.
    pub at: Instant,
    /// Schedule order.
    pub order: u64,
    /// What.
    pub kind: EventKind,
}

/// What an event does.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The packet with this wire key arrives.
    Arrive(u32),
    /// A timer (0 RTO, 1 delayed ACK, 2 persist) of an endpoint, scheduled
    /// for this deadline.
    Timer(SockId, u8, Instant),
}

/// A packet on a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketParts {
    /// Sender.
    pub from: SockId,
    /// Receiver.
    pub to: SockId,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Window.
    pub wnd: u32,
    /// FIN 1, RST 2, probe 4.
    pub flags: u8,
    /// Payload.
    pub payload: PayloadParts,
    /// Altered payload bytes.
    pub altered: u32,
}

/// A packet's payload on a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadParts {
    /// None.
    Empty,
    /// Bytes.
    Bytes(Vec<u8>),
    /// `(byte, count)` runs.
    Runs(Vec<(u8, u32)>),
}

/// One endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SockParts {
    /// Its peer.
    pub peer: SockId,
    /// Loopback.
    pub loopback: bool,
    /// MSS.
    pub mss: u32,
    /// Delayed-ACK timeout.
    pub delack: Duration,
    /// `SO_SNDBUF`.
    pub sndbuf: usize,
    /// `tcp_retries2`.
    pub max_retries: u32,
    /// Unanswered window probes.
    pub probes_out: u32,
    /// Send side.
    pub snd: SendParts,
    /// Peer's window.
    pub snd_wnd: u32,
    /// Congestion state.
    pub cc: CongestionParts,
    /// RTO estimator.
    pub rto: RtoParts,
    /// Receive side.
    pub rcv: RecvParts,
    /// Right edge last advertised.
    pub adv_edge: u32,
    /// In-order bytes since the last ACK.
    pub unacked: usize,
    /// Quick ACKs left.
    pub quickack: u32,
    /// Peer's FIN.
    pub peer_fin: Option<u32>,
    /// FIN queued.
    pub fin_queued: bool,
    /// FIN acknowledged.
    pub fin_acked: bool,
    /// FIN received.
    pub fin_rcvd: bool,
    /// Dead.
    pub reset: bool,
    /// Pending error.
    pub err: Option<SockError>,
    /// No descriptor.
    pub orphan: bool,
    /// Corked.
    pub corked: bool,
    /// `snd_sml`.
    pub snd_sml: u32,
    /// Zerocopy.
    pub zc: ZeroCopyParts,
    /// Timers (RTO, delayed ACK, persist): deadline, scheduled event.
    pub timers: [(Option<Instant>, Option<Instant>); 3],
    /// Persist backoff.
    pub persist_backoff: u32,
    /// Counters.
    pub stats: SockStats,
    /// Bytes acknowledged in all.
    pub acked_total: u64,
    /// Host.
    pub host: u32,
    /// Frozen.
    pub frozen: bool,
}

/// The send queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendParts {
    /// First sequence number ever queued.
    pub isn: u32,
    /// Fragments released so far.
    pub popped: u64,
    /// `snd_una`.
    pub snd_una: u32,
    /// `snd_nxt`.
    pub snd_nxt: u32,
    /// `snd_max`.
    pub snd_max: u32,
    /// `write_seq`.
    pub write_seq: u32,
    /// Fragments, oldest first.
    pub frags: Vec<FragParts>,
}

/// A send-queue fragment (its page reference is
/// `Holder::socket(sock.send_object(), seq)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragParts {
    /// Page.
    pub page: PageId,
    /// Offset.
    pub off: u16,
    /// Length.
    pub len: u16,
    /// First sequence number.
    pub seq: u32,
    /// Zerocopy send.
    pub zc: Option<u32>,
    /// The socket's own page.
    pub own: bool,
    /// Bytes meant.
    pub meant: Option<Content>,
    /// Page version when queued.
    pub version: u32,
}

/// Reno state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CongestionParts {
    /// `snd_cwnd`.
    pub cwnd: u64,
    /// `snd_ssthresh`.
    pub ssthresh: u64,
    /// Duplicate ACKs.
    pub dupacks: u32,
    /// Recovery point.
    pub recover: Option<u32>,
    /// MSS.
    pub mss: u64,
}

/// RTO estimator.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RtoParts {
    /// `srtt`.
    pub srtt: Option<Duration>,
    /// `rttvar`.
    pub rttvar: Duration,
    /// Base RTO.
    pub base: Duration,
    /// Backoff.
    pub backoff: u32,
    /// Retries.
    pub retries: u32,
    /// Segment timed.
    pub timing: Option<(u32, Instant)>,
}

/// Receive side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecvParts {
    /// Peer's ISN.
    pub irs: u32,
    /// `rcv_nxt`.
    pub rcv_nxt: u32,
    /// In-order data not read.
    pub queue: Vec<SegParts>,
    /// Out-of-order segments.
    pub ooo: Vec<SegParts>,
    /// `SO_RCVBUF`.
    pub rcvbuf: usize,
    /// Delivered.
    pub delivered: u64,
    /// Read.
    pub read: u64,
    /// Altered bytes.
    pub altered: Altered,
}

/// Received data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegParts {
    /// First sequence number.
    pub seq: u32,
    /// Data.
    pub data: SegData,
}

/// Received bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegData {
    /// Bytes.
    Bytes(Vec<u8>),
    /// A run of one byte.
    Fill {
        /// Value.
        byte: u8,
        /// Count.
        len: usize,
    },
    /// A loopback page fragment (reference held for
    /// `Holder::socket(sock.recv_object(), holder)`).
    Page {
        /// Page.
        page: PageId,
        /// Offset.
        off: usize,
        /// Length.
        len: usize,
        /// Holder index.
        holder: u32,
        /// Meant bytes, offset, version.
        meant: Option<(Content, usize, u32)>,
    },
}

/// Zerocopy state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZeroCopyParts {
    /// `SO_ZEROCOPY`.
    pub enabled: bool,
    /// Next id.
    pub next_id: u32,
    /// Pending: id, references, copied, any fragment.
    pub pending: Vec<(u32, u32, bool, bool)>,
    /// Error queue.
    pub errqueue: Vec<Completion>,
}
