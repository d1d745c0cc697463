//! The data both renderers draw: a run of the model recorded as lanes of
//! pages with their holders over the steps, the user's writes, the hazards,
//! and the page event log as trace records (`--trace-json`, and the JSON
//! inside `--html`; schema: `docs/trace-schema.md`).
//!
//! A lane is one page frame, or several frames that "move together": pages
//! of the same buffer (or file) with consecutive indices whose holders
//! changed at the same steps in the same way. A frame's life is cut into
//! spans of steps with the same holders; a span says which rows (kinds of
//! holder: user, pipe, page cache, socket unsent / on the wire / unacked,
//! receiver queue) hold it, and who, in the words `refs` uses.
//!
//! The recorder is a [`Backend`] around [`ModelBackend`], so the run is the
//! one `kmodel run` makes (threads, blocked steps and all) and its
//! [`Report`] is the same.

use std::collections::HashMap;

use page_refs::{EventKind, Holder, HolderKind, PageId};
use serde::{Deserialize, Serialize};
use tcp_sim::FragState;

use crate::kernel::KernelConfig;
use crate::model::ModelBackend;
use crate::scenario::{self, Backend, BackendError, Op, Report, Scenario, Step, StepResult};

/// The version of the JSON schema (`docs/trace-schema.md`).
pub const SCHEMA_VERSION: u32 = 1;

/// A kind of holder: one row of a lane.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Row {
    /// The program's page table.
    User,
    /// A `pipe_buffer` slot.
    Pipe,
    /// A file's page cache.
    PageCache,
    /// A socket's send queue, not yet transmitted.
    Unsent,
    /// A socket's send queue, a copy in flight on the link.
    OnTheWire,
    /// A socket's send queue, sent and waiting for its ACK.
    Unacked,
    /// A loopback receiver's queue, not yet read.
    Receiver,
    /// The kernel's own permanent reference (the zero page).
    Kernel,
}

impl Row {
    /// Every row, in drawing order.
    pub const ALL: [Row; 8] =
        [Row::User, Row::Pipe, Row::PageCache, Row::Unsent, Row::OnTheWire, Row::Unacked, Row::Receiver, Row::Kernel];

    /// Whether holding a page in this row keeps it busy (not reusable).
    pub fn is_busy(self) -> bool {
        !matches!(self, Row::User | Row::Kernel)
    }

    /// The row's name for people.
    pub fn title(self) -> &'static str {
        match self {
            Row::User => "user",
            Row::Pipe => "pipe slots",
            Row::PageCache => "page cache",
            Row::Unsent => "socket unsent",
            Row::OnTheWire => "on the wire",
            Row::Unacked => "socket unacked",
            Row::Receiver => "receiver queue",
            Row::Kernel => "kernel",
        }
    }
}

/// One operation of the run, in the order it ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepView {
    /// The scenario line (1-based).
    pub line: usize,
    /// The operation's text.
    pub text: String,
    /// The result as the contract prints it, or `BLOCKED`.
    pub result: String,
    /// The step blocked (it may run again later in a threaded run).
    pub blocked: bool,
    /// Simulated nanoseconds after the step.
    pub time_ns: u64,
    /// A store into pages a kernel object held: which pages and who held them.
    pub hazard: Option<String>,
}

/// A run of steps `from..to` with the same holders.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// First step index.
    pub from: usize,
    /// One past the last step index.
    pub to: usize,
    /// The kinds of holder, in [`Row::ALL`] order.
    pub rows: Vec<Row>,
    /// Who holds the page(s): `user + pipe p, pipe log`.
    pub holders: String,
}

/// What a step stored into a lane's pages.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkKind {
    /// The program stored into pages only it held.
    UserWrite,
    /// The program stored into pages a kernel object held: the hazard.
    Hazard,
    /// The kernel copied bytes into the pages (a pipe write, a pwrite...).
    KernelWrite,
}

/// A write into a lane's pages at a step.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// The step index.
    pub step: usize,
    /// What kind of write.
    pub kind: MarkKind,
}

/// One lane: a page frame, or frames that moved together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaneView {
    /// `buf pages 0-15`, `file f page 2`, `pipe page (pfn 40)`.
    pub label: String,
    /// The frames (`pfn 33`), one per page of the lane.
    pub frames: Vec<String>,
    /// The rows this lane ever uses, in [`Row::ALL`] order.
    pub rows: Vec<Row>,
    /// The holders over time; gaps are steps where the frames did not exist.
    pub spans: Vec<Span>,
    /// Writes into the lane's pages.
    pub marks: Vec<Mark>,
}

/// A page reference holder in a trace record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderRef {
    /// `user`, `pipe`, `page_cache`, `socket`, `kernel`.
    pub kind: String,
    /// The holder's object id in the model.
    pub object: u32,
    /// The page, slot or sequence number within the object.
    pub index: u32,
    /// The scenario's name for the object (`buf`, `p`, `t.tx`).
    pub name: String,
}

/// When a page event happened relative to the scenario's steps.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Before the first step (the zero page).
    Setup,
    /// During a step.
    Step,
    /// At teardown, after the last step: every process exits.
    Teardown,
}

/// One record of the trace: a syscall (scenario step) or a page event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TraceEvent {
    /// A scenario step; its page events follow it.
    Syscall {
        /// Position in the trace.
        seq: usize,
        /// Index into the run's steps.
        step: usize,
        /// Scenario line.
        line: usize,
        /// The operation's verb (`vmsplice`).
        op: String,
        /// The operation's text.
        text: String,
        /// The result as the contract prints it, or `BLOCKED`.
        result: String,
        /// Simulated nanoseconds after the step.
        time_ns: u64,
    },
    /// A page event of `page_refs`' log.
    Page {
        /// Position in the trace.
        seq: usize,
        /// Setup, step or teardown.
        phase: Phase,
        /// Index into the run's steps (`null` outside steps).
        step: Option<usize>,
        /// Scenario line of the step (0 at setup).
        line: usize,
        /// Simulated nanoseconds when it happened.
        time_ns: u64,
        /// `alloc`, `get`, `put`, `write`, `free`.
        event: String,
        /// The frame: `pfn 33`.
        page: String,
        /// Arena slot.
        pfn: u32,
        /// Slot generation.
        generation: u32,
        /// Whose reference (`null` for a write).
        holder: Option<HolderRef>,
        /// First byte written (writes only).
        offset: Option<u16>,
        /// Bytes written (writes only).
        len: Option<u16>,
        /// Index into the run's lanes (`null` for the zero page when no
        /// lane shows it).
        lane: Option<usize>,
    },
}

impl TraceEvent {
    /// Whether this is a page event.
    pub fn is_page(&self) -> bool {
        matches!(self, TraceEvent::Page { .. })
    }
}

/// A recorded run: what the renderers draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    /// The scenario file.
    pub path: String,
    /// The scenario's text, one entry per line.
    pub source: Vec<String>,
    /// `ms` when the network is involved (time passed or TCP objects), else `steps`.
    pub time_axis: String,
    /// The steps in the order they ran.
    pub steps: Vec<StepView>,
    /// The lanes, in order of first appearance.
    pub lanes: Vec<LaneView>,
    /// Syscalls and page events.
    pub events: Vec<TraceEvent>,
    /// The contract's report of the same run (not serialized).
    #[serde(skip)]
    pub report: Report,
}

impl RunView {
    /// Hazard marks over all lanes.
    pub fn hazard_marks(&self) -> usize {
        self.lanes.iter().map(|l| l.marks.iter().filter(|m| m.kind == MarkKind::Hazard).count()).sum()
    }

    /// Page events in the trace.
    pub fn page_events(&self) -> usize {
        self.events.iter().filter(|e| e.is_page()).count()
    }

    /// The trace as JSON lines, one record per line.
    pub fn trace_json_lines(&self) -> String {
        let mut out = String::with_capacity(self.events.len() * 160);
        for e in &self.events {
            out.push_str(&serde_json::to_string(e).expect("trace records serialize"));
            out.push('\n');
        }
        out
    }
}

/// The holders of one frame at the end of a step.
#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    rows: Vec<Row>,
    holders: String,
    /// The holder objects without page indices: frames with equal keys
    /// "move together".
    key: String,
}

/// A frame being recorded.
struct Frame {
    id: PageId,
    /// `(object, page)` of its first user or page cache holder.
    home: Option<(String, &'static str, u32)>,
    /// What first held it, if it never had a home.
    first_holder: String,
    spans: Vec<(Span, String)>,
    open: Option<(usize, State)>,
    marks: Vec<Mark>,
    zero: bool,
}

/// The recording backend.
struct Recorder<'a> {
    model: ModelBackend,
    source: &'a str,
    steps: Vec<StepView>,
    frames: Vec<Frame>,
    by_page: HashMap<PageId, usize>,
    /// Frames a socket holds: their state changes without page events.
    socket_held: Vec<usize>,
    events: Vec<TraceEvent>,
    logged: usize,
    network: bool,
}

fn kind_name(k: HolderKind) -> &'static str {
    match k {
        HolderKind::User => "user",
        HolderKind::Pipe => "pipe",
        HolderKind::PageCache => "page_cache",
        HolderKind::Socket => "socket",
        HolderKind::Kernel => "kernel",
    }
}

fn event_name(k: EventKind) -> &'static str {
    match k {
        EventKind::Alloc => "alloc",
        EventKind::Get => "get",
        EventKind::Put => "put",
        EventKind::Write { .. } => "write",
        EventKind::Free => "free",
    }
}

fn op_verb(text: &str) -> String {
    text.split_whitespace().next().unwrap_or("").to_string()
}

impl Recorder<'_> {
    /// The state of live frame `p` now.
    fn state(&self, scenario: &Scenario, p: PageId) -> State {
        let pages = self.model.kernel().pages();
        let mut rows = Vec::new();
        let mut names: Vec<(String, usize)> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        for &h in pages.holders(p) {
            let row = match h.kind {
                HolderKind::User => Row::User,
                HolderKind::Pipe => Row::Pipe,
                HolderKind::PageCache => Row::PageCache,
                HolderKind::Kernel => Row::Kernel,
                HolderKind::Socket => match self.model.kernel().network().holder_info(h).map(|i| i.state) {
                    Some(FragState::Unsent) => Row::Unsent,
                    Some(FragState::OnTheWire) => Row::OnTheWire,
                    Some(FragState::QueuedAtReceiver) => Row::Receiver,
                    Some(FragState::Unacked) | None => Row::Unacked,
                },
            };
            if !rows.contains(&row) {
                rows.push(row);
            }
            let label = self.model.holder_label(scenario, h);
            let name = match h.kind {
                HolderKind::User => "user".to_string(),
                HolderKind::Kernel => "kernel".to_string(),
                HolderKind::Pipe => format!("pipe {}", label.object),
                HolderKind::PageCache => format!("page cache of {}", label.object),
                HolderKind::Socket => format!("{} {}", label.object, row.title()),
            };
            keys.push(name.clone());
            match names.iter_mut().find(|(n, _)| *n == name) {
                Some((_, c)) => *c += 1,
                None => names.push((name, 1)),
            }
        }
        rows.sort();
        keys.sort();
        let holders =
            names.into_iter().map(|(n, c)| if c > 1 { format!("{n} x{c}") } else { n }).collect::<Vec<_>>().join(", ");
        State { rows, holders, key: keys.join(",") }
    }

    fn frame_of(&mut self, scenario: &Scenario, p: PageId, holder: Holder) -> usize {
        if let Some(&i) = self.by_page.get(&p) {
            return i;
        }
        let zero = self.model.kernel().pages().is_zero_page(p);
        let label = self.model.holder_label(scenario, holder);
        self.frames.push(Frame {
            id: p,
            home: None,
            first_holder: match holder.kind {
                HolderKind::Kernel => "kernel".into(),
                HolderKind::Pipe => format!("pipe {}", label.object),
                _ => label.object,
            },
            spans: Vec::new(),
            open: None,
            marks: Vec::new(),
            zero,
        });
        self.by_page.insert(p, self.frames.len() - 1);
        self.frames.len() - 1
    }

    /// Turn the log's new events into trace records and frame updates.
    fn absorb(&mut self, scenario: &Scenario, phase: Phase, step: Option<usize>, op: Option<&Op>) {
        let log_len = self.model.kernel().pages().events().len();
        let user_store = matches!(op, Some(Op::Fill { .. }));
        let mut touched: Vec<usize> = Vec::new();
        for k in self.logged..log_len {
            let e = self.model.kernel().pages().events()[k];
            let f = self.frame_of(scenario, e.page, e.holder);
            if !touched.contains(&f) {
                touched.push(f);
            }
            // A page the kernel made for an object (a copy it then handed
            // to a pipe) is named for the first object that held it.
            if self.frames[f].first_holder == "kernel"
                && !self.frames[f].zero
                && matches!(e.holder.kind, HolderKind::Pipe | HolderKind::Socket)
                && matches!(e.kind, EventKind::Get | EventKind::Alloc)
            {
                let l = self.model.holder_label(scenario, e.holder);
                self.frames[f].first_holder =
                    if e.holder.kind == HolderKind::Pipe { format!("pipe {}", l.object) } else { l.object };
            }
            if self.frames[f].home.is_none() {
                match e.holder.kind {
                    HolderKind::User | HolderKind::PageCache if !matches!(e.kind, EventKind::Write { .. }) => {
                        let l = self.model.holder_label(scenario, e.holder);
                        let what = if e.holder.kind == HolderKind::User { "" } else { "file " };
                        self.frames[f].home = Some((l.object, what, l.page.unwrap_or(0)));
                    }
                    _ => {}
                }
            }
            if let (EventKind::Write { .. }, Some(s)) = (e.kind, step) {
                let busy_before =
                    self.frames[f].open.as_ref().is_some_and(|(_, st)| st.rows.iter().any(|r| r.is_busy()));
                let kind = match (user_store || self.steps[s].hazard.is_some(), busy_before) {
                    (true, true) => MarkKind::Hazard,
                    (true, false) => MarkKind::UserWrite,
                    (false, _) => MarkKind::KernelWrite,
                };
                let marks = &mut self.frames[f].marks;
                if !marks.iter().any(|m| m.step == s && m.kind == kind) {
                    marks.push(Mark { step: s, kind });
                }
            }
            let holder = match e.kind {
                EventKind::Write { .. } => None,
                _ => Some(HolderRef {
                    kind: kind_name(e.holder.kind).into(),
                    object: e.holder.object,
                    index: e.holder.index,
                    name: self.model.holder_label(scenario, e.holder).object,
                }),
            };
            let (offset, len) = match e.kind {
                EventKind::Write { offset, len } => (Some(offset), Some(len)),
                _ => (None, None),
            };
            self.events.push(TraceEvent::Page {
                seq: self.events.len(),
                phase,
                step,
                line: e.stamp.step as usize,
                time_ns: e.stamp.time_ns,
                event: event_name(e.kind).into(),
                page: e.page.to_string(),
                pfn: e.page.index,
                generation: e.page.generation,
                holder,
                offset,
                len,
                lane: Some(f),
            });
        }
        self.logged = log_len;
        // Frames whose holders may have changed: those with events, and
        // those a socket holds (their packets move without page events).
        for &f in &self.socket_held.clone() {
            if !touched.contains(&f) {
                touched.push(f);
            }
        }
        self.socket_held.clear();
        for f in touched {
            let id = self.frames[f].id;
            let live = self.model.kernel().pages().is_live(id);
            let new = live.then(|| self.state(scenario, id));
            if let Some(s) = &new
                && s.rows.iter().any(|r| matches!(r, Row::Unsent | Row::OnTheWire | Row::Unacked | Row::Receiver))
            {
                self.socket_held.push(f);
            }
            let frame = &mut self.frames[f];
            if frame.open.as_ref().map(|(_, s)| s) == new.as_ref() {
                continue;
            }
            // The step's index is where the new state starts (the state
            // after step s shows from column s on).
            let start = step.unwrap_or(0);
            if let Some((from, st)) = frame.open.take()
                && start > from
            {
                frame.spans.push((Span { from, to: start, rows: st.rows, holders: st.holders }, st.key));
            }
            frame.open = new.map(|s| (start, s));
        }
    }
}

impl Backend for Recorder<'_> {
    fn name(&self) -> &'static str {
        "model"
    }

    fn step(&mut self, scenario: &Scenario, step: &Step) -> Result<StepResult, BackendError> {
        let hazard = self.model.hazard(scenario, &step.op);
        let result = self.model.step(scenario, step)?;
        let time_ns = self.model.kernel().now().0;
        if time_ns > 0 || matches!(step.op, Op::Advance { .. }) {
            self.network = true;
        }
        let index = self.steps.len();
        let text = match &result {
            StepResult::Done(o) => o.to_string(),
            StepResult::Blocked => "BLOCKED".to_string(),
        };
        self.events.push(TraceEvent::Syscall {
            seq: self.events.len(),
            step: index,
            line: step.line,
            op: op_verb(&step.text),
            text: step.text.clone(),
            result: text.clone(),
            time_ns,
        });
        self.steps.push(StepView {
            line: step.line,
            text: step.text.clone(),
            result: text,
            blocked: result == StepResult::Blocked,
            time_ns,
            hazard,
        });
        self.absorb(scenario, Phase::Step, Some(index), Some(&step.op));
        Ok(result)
    }

    fn supports_threads(&self) -> bool {
        true
    }

    fn finish(&mut self) -> Result<(), BackendError> {
        Ok(())
    }
}

/// Run `scenario` (whose text is `source`) on the model and record it.
///
/// # Errors
/// A broken model invariant, or a leak at teardown.
pub fn record(scenario: &Scenario, source: &str, config: KernelConfig) -> Result<RunView, BackendError> {
    let config = KernelConfig { event_log: true, ..config };
    let mut rec = Recorder {
        model: ModelBackend::new(config),
        source,
        steps: Vec::new(),
        frames: Vec::new(),
        by_page: HashMap::new(),
        socket_held: Vec::new(),
        events: Vec::new(),
        logged: 0,
        network: scenario.objects.iter().any(|o| matches!(o.kind, scenario::ObjKind::Tcp { .. })),
    };
    rec.absorb(scenario, Phase::Setup, None, None);
    let report = scenario::run(scenario, &mut rec, |_| {})?;
    rec.model.finish()?;
    let end = rec.steps.len();
    // Teardown: the events are traced, the lanes end with the last step.
    let frames_before = rec.frames.len();
    let open: Vec<Option<(usize, State)>> = rec.frames.iter_mut().map(|f| f.open.take()).collect();
    rec.absorb(scenario, Phase::Teardown, None, None);
    for (f, o) in rec.frames.iter_mut().zip(open) {
        f.open = o;
    }
    for f in &mut rec.frames[..frames_before] {
        if let Some((from, st)) = f.open.take()
            && end > from
        {
            f.spans.push((Span { from, to: end, rows: st.rows, holders: st.holders }, st.key));
        }
    }
    let lanes = group_lanes(&mut rec.frames, &mut rec.events);
    let time_axis = if rec.network { "ms" } else { "steps" }.to_string();
    Ok(RunView {
        version: SCHEMA_VERSION,
        path: scenario.path.clone(),
        source: rec.source.lines().map(str::to_string).collect(),
        time_axis,
        steps: rec.steps,
        lanes,
        events: rec.events,
        report,
    })
}

/// A frame's spans without page indices: `(from, to, rows, holder objects)`.
type Signature = Vec<(usize, usize, Vec<Row>, String)>;

/// What a lane with a home (buffer or file) needs to take the next frame:
/// `(object, "file " or "", last page index, signature)`.
type LaneKey = (String, &'static str, u32, Signature);

/// Merge frames that moved together into lanes; renumber the trace's
/// `lane` fields from frames to lanes.
fn group_lanes(frames: &mut [Frame], events: &mut [TraceEvent]) -> Vec<LaneView> {
    let mut lanes: Vec<LaneView> = Vec::new();
    // Per lane: (home object, kind, last page index, span signature).
    let mut keys: Vec<Option<LaneKey>> = Vec::new();
    let mut lane_of: Vec<Option<usize>> = vec![None; frames.len()];
    let mut latest: HashMap<(String, &'static str), usize> = HashMap::new();
    let mut anon: HashMap<String, Vec<usize>> = HashMap::new();
    // Per lane: the signature an anonymous frame must have to join it as
    // moving together (none once frames joined it in turn), and how its
    // frames joined.
    let mut anon_sig: Vec<Option<Signature>> = Vec::new();
    let (mut together, mut in_turn) = (Vec::new(), Vec::new());
    for (fi, f) in frames.iter_mut().enumerate() {
        // The zero page is drawn only when something besides the kernel
        // held it.
        if f.spans.is_empty() || (f.zero && f.spans.iter().all(|(s, _)| s.rows == [Row::Kernel])) {
            continue;
        }
        let sig: Signature = f.spans.iter().map(|(s, k)| (s.from, s.to, s.rows.clone(), k.clone())).collect();
        if let Some((obj, what, page)) = &f.home
            && let Some(&li) = latest.get(&(obj.clone(), *what))
            && let Some((_, _, last, lsig)) = &keys[li]
            && *last + 1 == *page
            && *lsig == sig
            && lanes[li].marks == f.marks
        {
            keys[li].as_mut().expect("keyed lane").2 = *page;
            lanes[li].frames.push(f.id.to_string());
            lane_of[fi] = Some(li);
            continue;
        }
        // A page the program cannot name (a pipe's own data page, a copy)
        // joins the lane of an earlier such page of the same owner whose
        // life ended before it began: one lane per owner draws a pipe's
        // stream of short-lived pages.
        if f.home.is_none() && !f.zero {
            let first = f.spans.first().map_or(0, |(s, _)| s.from);
            let mine = anon.get(&f.first_holder).map(Vec::as_slice).unwrap_or_default();
            // Pages that moved together (the same spans and writes).
            if let Some(&li) =
                mine.iter().find(|&&li| anon_sig[li].as_ref() == Some(&sig) && lanes[li].marks == f.marks)
            {
                lanes[li].frames.push(f.id.to_string());
                together[li] = true;
                lane_of[fi] = Some(li);
                continue;
            }
            let free = mine.iter().copied().find(|&li| lanes[li].spans.last().is_none_or(|s: &Span| s.to <= first));
            if let Some(li) = free {
                anon_sig[li] = None;
                in_turn[li] = true;
                let lane = &mut lanes[li];
                lane.frames.push(f.id.to_string());
                lane.spans.extend(f.spans.iter().map(|(s, _)| s.clone()));
                lane.marks.extend(f.marks.iter().copied());
                lane.rows.extend(f.spans.iter().flat_map(|(s, _)| s.rows.iter().copied()));
                lane.rows.sort();
                lane.rows.dedup();
                lane_of[fi] = Some(li);
                continue;
            }
            anon.entry(f.first_holder.clone()).or_default().push(lanes.len());
        }
        anon_sig.push((f.home.is_none() && !f.zero).then(|| sig.clone()));
        together.push(false);
        in_turn.push(false);
        let li = lanes.len();
        let mut rows: Vec<Row> = f.spans.iter().flat_map(|(s, _)| s.rows.iter().copied()).collect();
        rows.sort();
        rows.dedup();
        lanes.push(LaneView {
            label: String::new(),
            frames: vec![f.id.to_string()],
            rows,
            spans: f.spans.iter().map(|(s, _)| s.clone()).collect(),
            marks: f.marks.clone(),
        });
        match &f.home {
            Some((obj, what, page)) => {
                latest.insert((obj.clone(), what), li);
                keys.push(Some((obj.clone(), what, *page, sig)));
            }
            None => keys.push(None),
        }
        lane_of[fi] = Some(li);
    }
    for (li, lane) in lanes.iter_mut().enumerate() {
        let first = lane_of.iter().position(|l| *l == Some(li)).expect("a lane has a frame");
        let f = &frames[first];
        lane.label = match (&f.home, &keys[li]) {
            (Some((obj, what, first_page)), Some((_, _, last_page, _))) => {
                if first_page == last_page {
                    format!("{what}{obj} page {first_page}")
                } else {
                    format!("{what}{obj} pages {first_page}-{last_page}")
                }
            }
            _ if f.zero => "zero page".to_string(),
            _ if lane.frames.len() > 1 => {
                let how = match (together[li], in_turn[li]) {
                    (true, false) => "together",
                    (false, true) => "in turn",
                    _ => "frames",
                };
                format!("{} pages ({} {how})", f.first_holder, lane.frames.len())
            }
            _ => format!("{} page ({})", f.first_holder, f.id),
        };
        lane.marks.sort_by_key(|m| m.step);
    }
    for e in events.iter_mut() {
        if let TraceEvent::Page { lane, .. } = e {
            *lane = lane.and_then(|f| lane_of.get(f).copied().flatten());
        }
    }
    lanes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    fn rec(text: &str) -> RunView {
        let s = parse("t.scenario", text).unwrap();
        record(&s, text, KernelConfig::default()).unwrap()
    }

    #[test]
    fn vmspliced_page_spans_user_then_pipe_then_user() {
        let v = rec("buffer b 1\npipe p\nfill b 'x'\nvmsplice p.w b\nread p.r 4096\n");
        assert_eq!(v.lanes.len(), 1);
        let l = &v.lanes[0];
        assert_eq!(l.label, "b page 0");
        let rows: Vec<(usize, usize, Vec<Row>)> = l.spans.iter().map(|s| (s.from, s.to, s.rows.clone())).collect();
        assert_eq!(
            rows,
            [(2, 3, vec![Row::User]), (3, 4, vec![Row::User, Row::Pipe]), (4, 5, vec![Row::User])],
            "fill at step 2, vmsplice at 3, read at 4"
        );
        assert_eq!(l.spans[1].holders, "user, pipe p");
        assert_eq!(l.marks, [Mark { step: 2, kind: MarkKind::UserWrite }]);
        assert_eq!(v.time_axis, "steps");
    }

    #[test]
    fn pages_that_move_together_share_a_lane_and_split_when_they_differ() {
        let v = rec("buffer b 4\npipe p\nfill b 'x'\nvmsplice p.w b[0..2p]\n");
        let labels: Vec<&str> = v.lanes.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["b pages 0-1", "b pages 2-3"]);
        assert_eq!(v.lanes[0].frames.len(), 2);
    }

    #[test]
    fn store_into_busy_page_is_a_hazard_and_into_free_page_a_user_write() {
        let v = rec("buffer b 2\npipe p\nfill b 'x'\nvmsplice p.w b[0..1p]\nfill b 'y'\n");
        let marks: Vec<(&str, Vec<MarkKind>)> =
            v.lanes.iter().map(|l| (l.label.as_str(), l.marks.iter().map(|m| m.kind).collect())).collect();
        assert_eq!(
            marks,
            [("b page 0", vec![MarkKind::UserWrite, MarkKind::Hazard]), ("b page 1", vec![MarkKind::UserWrite; 2])]
        );
        assert_eq!(v.hazard_marks(), 1);
        assert!(v.steps[4].hazard.as_deref().unwrap().contains("held by pipe p"));
    }

    #[test]
    fn trace_has_one_record_per_logged_page_event_including_teardown() {
        let text = "buffer b 2\npipe p\npipe q\nfill b 'x'\nvmsplice p.w b\ntee p.r q.w 8192\nwrite p.w 10 'z'\n";
        let s = parse("t.scenario", text).unwrap();
        let v = record(&s, text, KernelConfig::default()).unwrap();
        let mut model = ModelBackend::new(KernelConfig::default());
        let report = scenario::run(&s, &mut model, |_| {}).unwrap();
        assert_eq!(report, v.report, "the same run as kmodel run");
        model.finish().unwrap();
        assert_eq!(v.page_events(), model.kernel().pages().events().len());
        let syscalls = v.events.iter().filter(|e| matches!(e, TraceEvent::Syscall { .. })).count();
        assert_eq!(syscalls, s.steps.len());
        assert!(v.events.iter().any(|e| matches!(e, TraceEvent::Page { phase: Phase::Teardown, .. })));
        for line in v.trace_json_lines().lines() {
            let back: TraceEvent = serde_json::from_str(line).unwrap();
            assert!(v.events.contains(&back));
        }
    }

    #[test]
    fn a_pipes_successive_data_pages_share_one_lane() {
        let v = rec("pipe p\nwrite p.w 10 'a'\nread p.r 10\nwrite p.w 10 'b'\nread p.r 10\n");
        assert_eq!(v.lanes.len(), 1, "{:?}", v.lanes);
        assert_eq!(v.lanes[0].label, "pipe p pages (2 in turn)");
        let spans: Vec<(usize, usize)> = v.lanes[0].spans.iter().map(|s| (s.from, s.to)).collect();
        assert_eq!(spans, [(1, 2), (3, 4)]);
        let v = rec("pipe p\nwrite p.w 4096 'a'\nwrite p.w 10 'b'\n");
        assert_eq!(v.lanes.len(), 2, "two pages alive at once need two lanes");
    }

    #[test]
    fn tcp_run_has_socket_rows_and_a_millisecond_axis() {
        let text = "tcp t link rtt=50ms\nbuffer b 1\npipe p\nfill b 'A'\nvmsplice p.w b\nsplice p.r t.tx 4096\n\
                    advance 26ms\nadvance 30ms\n";
        let v = rec(text);
        assert_eq!(v.time_axis, "ms");
        assert_eq!(v.steps.last().unwrap().time_ns, 56_000_000);
        let rows = &v.lanes[0].rows;
        assert!(rows.contains(&Row::OnTheWire) && rows.contains(&Row::Unacked), "{rows:?}");
        assert!(v.lanes[0].spans.last().unwrap().rows == [Row::User], "acknowledged by 56 ms");
    }

    #[test]
    fn threaded_run_is_recorded_in_the_runners_schedule() {
        let text = "buffer b 1\npipe p\nthread w\nfill b 'a'\nvmsplice p.w b\nend\nthread r\nread p.r 4096\nend\n";
        let s = parse("t.scenario", text).unwrap();
        let v = record(&s, text, KernelConfig::default()).unwrap();
        let report = scenario::run(&s, &mut ModelBackend::new(KernelConfig::default()), |_| {}).unwrap();
        assert_eq!(v.report, report);
        let lines: Vec<usize> = v.steps.iter().filter(|s| !s.blocked).map(|s| s.line).collect();
        assert_eq!(lines, report.lines.iter().map(|l| l.line).collect::<Vec<_>>());
    }
}
