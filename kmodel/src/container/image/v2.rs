//! Format version 2: the records of version 1, unchanged, plus three new
//! sections: the network (TCP endpoints as repair mode exposes them, and
//! the simulated network around them), the security modules, and the
//! containers.
//!
//! Decision recorded (ARCHITECTURE.md, "Checkpoint images"): every v1
//! record keeps its meaning and its bytes, so v2 re-exports them from the
//! frozen `v1.rs` instead of copying them; what changes is the set of
//! sections. A v1 image migrates to v2 with empty new sections
//! (`migrate::migrate_v1`). Like v1, these types ARE the format: never edit
//! them in place once released; `tests/images/v2-schema.golden` holds a
//! golden encoding of every record.
//!
//! The TCP records follow what Linux's `TCP_REPAIR` and CRIU save per
//! socket (`tcp_repair_opt`, `TCP_QUEUE_SEQ`, the send and receive queues,
//! the window clamp, `TCP_REPAIR_WINDOW`), extended with what the model
//! needs to run on bit for bit: congestion and RTO state, timers as
//! absolute deadlines, and the simulated network itself (links, their
//! generators, packets in flight, the event queue). The send queue's
//! fragments name frames of the image's frame table, so a page shared with
//! a user buffer, a pipe or the page cache stays shared after a restore.

use serde::{Deserialize, Serialize};

pub use super::v1::{
    ArenaRec, BindingsRec, BufferRec, ConfigRec, ContentRec, DentryRec, FdRec, FileKindRec, FrameRec, HandleRec,
    HolderRec, InodeKindRec, InodeRec, Meta, MountRec, NamespaceRec, PathRec, PipeBufRec, PipeRec, ProcessRec, PteRec,
    VInodeRec, VfsRec,
};

// ---- the network ----------------------------------------------------------

/// The simulated network: every endpoint ever made, the connections, what
/// is in flight, and the event queue, so that running on after a restore
/// gives what running on without it would.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetRec {
    /// Simulated time, in nanoseconds.
    pub now_ns: u64,
    /// Endpoints by id (`SockId`); `None` for one destroyed.
    pub socks: Vec<Option<SockRec>>,
    /// Connection index of every endpoint ever made.
    pub sock_conn: Vec<u32>,
    /// The connections.
    pub conns: Vec<ConnRec>,
    /// Packets on the links: (key, packet).
    pub wire: Vec<(u32, PacketRec)>,
    /// Pending events, in the order they will run.
    pub events: Vec<EventRec>,
    /// The event queue's schedule counter (ties run in schedule order).
    pub event_seq: u64,
    /// The network's counters.
    pub stats: NetStatsRec,
    /// The operation number stamped on page events.
    pub step: u32,
    /// Deterministic drops still to come: (sender, data segments).
    pub drops: Vec<(u32, u32)>,
    /// The host whose memory the calls pass.
    pub local: u32,
    /// Whether endpoints live on several hosts.
    pub multi_host: bool,
}

/// A link's parameters ([`tcp_sim::LinkParams`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRec {
    /// Round-trip time, ns.
    pub rtt_ns: u64,
    /// Loss, parts per million.
    pub loss_ppm: u32,
    /// Reordering, parts per million.
    pub reorder_ppm: u32,
    /// Bytes per second (0: unlimited).
    pub bandwidth: u64,
    /// Maximum segment size.
    pub mss: u32,
    /// The generator's seed.
    pub seed: u64,
    /// Delayed-ACK timeout, ns.
    pub delack_ns: u64,
}

/// A connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnRec {
    /// `None` for loopback.
    pub link: Option<LinkRec>,
    /// Its two endpoints.
    pub ends: (u32, u32),
    /// The link generator's state (Xoshiro256++), mid-stream.
    pub rng: [u64; 4],
    /// When each direction's transmitter is free again, ns.
    pub wire_free: (u64, u64),
}

/// [`tcp_sim::NetStats`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetStatsRec {
    /// Packets put on a link.
    pub packets: u64,
    /// Data segments sent.
    pub segments: u64,
    /// Packets lost.
    pub lost: u64,
    /// Packets reordered.
    pub reordered: u64,
    /// Events processed.
    pub events: u64,
    /// Packets dropped at a frozen endpoint.
    pub dropped_frozen: u64,
}

/// One pending event.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRec {
    /// When, ns.
    pub at_ns: u64,
    /// Its schedule order.
    pub order: u64,
    /// What.
    pub kind: EventKindRec,
}

/// What an event does.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKindRec {
    /// The packet with this wire key arrives.
    Arrive(u32),
    /// A timer of an endpoint may be due: (socket, 0 RTO / 1 delayed ACK /
    /// 2 persist, the deadline it was scheduled for, ns).
    Timer(u32, u8, u64),
}

/// A segment on a link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketRec {
    /// Sender.
    pub from: u32,
    /// Receiver.
    pub to: u32,
    /// `seq`.
    pub seq: u32,
    /// `ack_seq`.
    pub ack: u32,
    /// Advertised window.
    pub wnd: u32,
    /// FIN 1, RST 2, window probe 4.
    pub flags: u8,
    /// Payload bytes.
    pub payload: PayloadRec,
    /// Payload bytes that differ from what the sender's program meant.
    pub altered: u32,
}

/// A packet's payload (on a link: bytes, never page references).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PayloadRec {
    /// None.
    Empty,
    /// Bytes.
    Bytes(Vec<u8>),
    /// `(byte, count)` runs.
    Runs(Vec<(u8, u32)>),
}

/// A page's bytes kept by value (what a sender meant to send).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BytesRec {
    /// Every byte this value.
    Uniform(u8),
    /// `PAGE_SIZE` bytes.
    Page(Vec<u8>),
}

/// One endpoint in repair mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SockRec {
    /// Its peer.
    pub peer: u32,
    /// Loopback (pages handed over) or a link.
    pub loopback: bool,
    /// `mss_cache`.
    pub mss: u32,
    /// Delayed-ACK timeout, ns.
    pub delack_ns: u64,
    /// `SO_SNDBUF`, payload bytes.
    pub sndbuf: u64,
    /// `tcp_retries2`.
    pub max_retries: u32,
    /// Unanswered window probes.
    pub probes_out: u32,
    /// The send side.
    pub snd: SendRec,
    /// The peer's last advertised window (`snd_wnd`).
    pub snd_wnd: u32,
    /// Congestion state.
    pub cc: CongestionRec,
    /// Retransmission timeout state.
    pub rto: RtoRec,
    /// The receive side.
    pub rcv: RecvRec,
    /// Right edge of the window last advertised (`rcv_wup + rcv_wnd`).
    pub adv_edge: u32,
    /// In-order bytes received since the last ACK.
    pub unacked: u64,
    /// Quick ACKs left.
    pub quickack: u32,
    /// The peer's FIN sequence number, once seen.
    pub peer_fin: Option<u32>,
    /// A FIN follows the queued data.
    pub fin_queued: bool,
    /// Our FIN was acknowledged.
    pub fin_acked: bool,
    /// The peer's FIN was received in order.
    pub fin_rcvd: bool,
    /// The connection is over.
    pub reset: bool,
    /// Pending error: 0 none, 1 EPIPE, 2 ECONNRESET, 3 ETIMEDOUT.
    pub err: u8,
    /// No descriptor refers to it.
    pub orphan: bool,
    /// `MSG_MORE` corking.
    pub corked: bool,
    /// `snd_sml`.
    pub snd_sml: u32,
    /// `MSG_ZEROCOPY` state.
    pub zc: ZeroCopyRec,
    /// Timers as absolute deadlines, ns (RTO, delayed ACK, persist): the
    /// deadline and the event scheduled for it.
    pub timers: [(Option<u64>, Option<u64>); 3],
    /// Persist backoff.
    pub persist_backoff: u32,
    /// Counters: segments, retransmits, timeouts, fast retransmits, ACKs.
    pub stats: [u64; 5],
    /// Our bytes the peer acknowledged.
    pub acked_total: u64,
    /// The host whose memory holds its pages.
    pub host: u32,
    /// Frozen (checkpoint or migration in progress).
    pub frozen: bool,
}

/// The send queue (`TCP_SEND_QUEUE` in repair mode) and its sequence
/// numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRec {
    /// First sequence number ever queued.
    pub isn: u32,
    /// Fragments released so far.
    pub popped: u64,
    /// `snd_una`.
    pub snd_una: u32,
    /// `snd_nxt`.
    pub snd_nxt: u32,
    /// Highest sent plus one.
    pub snd_max: u32,
    /// `write_seq`.
    pub write_seq: u32,
    /// The unacknowledged and unsent data, oldest first.
    pub frags: Vec<FragRec>,
}

/// A send-queue fragment: bytes of a frame of the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FragRec {
    /// Frame N of the frame table.
    pub frame: u32,
    /// First byte in the page.
    pub off: u16,
    /// Bytes.
    pub len: u16,
    /// First sequence number.
    pub seq: u32,
    /// The zerocopy send it belongs to.
    pub zc: Option<u32>,
    /// A page the socket allocated (the tail may grow into it).
    pub own: bool,
    /// The page's bytes when queued, for a page the program can write.
    pub meant: Option<BytesRec>,
    /// The page's write version when queued.
    pub version: u32,
}

/// Reno/NewReno state.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CongestionRec {
    /// `snd_cwnd`, bytes.
    pub cwnd: u64,
    /// `snd_ssthresh`, bytes.
    pub ssthresh: u64,
    /// Duplicate ACKs counted.
    pub dupacks: u32,
    /// NewReno's recovery point.
    pub recover: Option<u32>,
    /// The MSS it counts in.
    pub mss: u64,
}

/// The RFC 6298 estimator.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RtoRec {
    /// `srtt`, ns.
    pub srtt_ns: Option<u64>,
    /// `rttvar`, ns.
    pub rttvar_ns: u64,
    /// RTO before backoff, ns.
    pub base_ns: u64,
    /// `icsk_backoff`.
    pub backoff: u32,
    /// Consecutive timeouts.
    pub retries: u32,
    /// The segment being timed: (end sequence, sent at ns).
    pub timing: Option<(u32, u64)>,
}

/// The receive side: `rcv_nxt`, the receive queue, the out-of-order queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecvRec {
    /// The peer's initial sequence number.
    pub irs: u32,
    /// `rcv_nxt`.
    pub rcv_nxt: u32,
    /// In-order data not yet read.
    pub queue: Vec<SegRec>,
    /// Out-of-order segments, sorted.
    pub ooo: Vec<SegRec>,
    /// `SO_RCVBUF`, payload bytes.
    pub rcvbuf: u64,
    /// Bytes delivered in order.
    pub delivered: u64,
    /// Bytes read.
    pub read: u64,
    /// Altered bytes: (count, first, end) stream offsets.
    pub altered: (u64, u64, u64),
}

/// Received data at `seq`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegRec {
    /// First sequence number.
    pub seq: u32,
    /// The data.
    pub data: SegDataRec,
}

/// Received bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SegDataRec {
    /// Bytes that crossed a link.
    Bytes(Vec<u8>),
    /// `len` bytes of one value.
    Fill {
        /// The value.
        byte: u8,
        /// How many.
        len: u64,
    },
    /// A fragment shared with the sender (loopback).
    Page {
        /// Frame N of the frame table.
        frame: u32,
        /// First byte.
        off: u32,
        /// Bytes.
        len: u32,
        /// Its holder index.
        holder: u32,
        /// What the sender meant: bytes, offset, version.
        meant: Option<(BytesRec, u32, u32)>,
    },
}

/// `MSG_ZEROCOPY` state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZeroCopyRec {
    /// `SO_ZEROCOPY`.
    pub enabled: bool,
    /// Next notification id.
    pub next_id: u32,
    /// Sends not completed: (id, fragments held, ended, copied).
    pub pending: Vec<(u32, u32, bool, bool)>,
    /// The error queue: (lo, hi, copied).
    pub errqueue: Vec<(u32, u32, bool)>,
}

// ---- security modules -----------------------------------------------------

/// The security modules, in registration order, and the stack's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LsmRec {
    /// 0 ask every module, 1 stop at the first denial.
    pub mode: u8,
    /// The modules.
    pub modules: Vec<ModuleRec>,
    /// The audit log.
    pub audit: Vec<String>,
}

/// One module: its loaded policies, as text in load order (what a policy
/// reload would feed it), and the labels attached to objects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleRec {
    /// `apparmor`, `selinux`, `landlock`, `deny_all`.
    pub name: String,
    /// Policies loaded: (file name, text, the process it confines, for a
    /// Landlock ruleset).
    pub policies: Vec<PolicyRec>,
    /// Labels attached to objects.
    pub labels: Vec<LabelRec>,
    /// Complain (audit only) instead of enforce.
    pub complain: bool,
}

/// A policy as loaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRec {
    /// Its file name.
    pub file: String,
    /// Its text.
    pub text: String,
    /// The process it was loaded for (Landlock), if any.
    pub pid: Option<u32>,
}

/// A label (security context, profile name, ruleset layers) on an object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelRec {
    /// What carries it.
    pub object: LabelObjectRec,
    /// The label's text.
    pub label: String,
}

/// What a label is attached to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LabelObjectRec {
    /// An inode (`i_security`).
    Inode(u32),
    /// A task (`cred->security`).
    Task(u32),
    /// An open file (`f_security`): (pid, fd).
    File(u32, i32),
}

// ---- containers -----------------------------------------------------------

/// A container: its PID namespace, its beancounters, its mount namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRec {
    /// Its id on the writing host.
    pub id: u32,
    /// Its name.
    pub name: String,
    /// Virtual pid → pid, ascending by virtual pid.
    pub vpids: Vec<(u32, u32)>,
    /// The next virtual pid.
    pub next_vpid: u32,
    /// Pages, pipes, sockets, files, in that order.
    pub counters: Vec<BeanCounterRec>,
    /// The mount namespace of its init (virtual pid 1), if it is alive.
    pub mnt_ns: Option<u32>,
}

/// One beancounter.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeanCounterRec {
    /// Held.
    pub held: u64,
    /// The most ever held.
    pub maxheld: u64,
    /// The limit (`u64::MAX`: none).
    pub limit: u64,
    /// Refusals.
    pub failcnt: u64,
}

// ---- the scenario runner --------------------------------------------------

/// The scenario runner's state that version 2 adds to [`BindingsRec`]
/// (whose v1 record is frozen): its containers and the process that ran
/// last outside them, so a scenario goes on inside its containers after
/// `restore FILE`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerRec {
    /// The scenario's containers.
    pub containers: Vec<RunnerCtRec>,
    /// The process outside every container that ran last.
    pub outside_pid: Option<u32>,
    /// The container each scenario object was declared in: (object
    /// index, container name).
    pub owner: Vec<(u64, String)>,
}

/// One of the runner's containers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerCtRec {
    /// Its name in the scenario.
    pub name: String,
    /// Its id in the kernel ([`ContainerRec::id`]).
    pub ve: u32,
    /// The process inside that ran last.
    pub pid: u32,
}
