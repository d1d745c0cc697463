//! `kmodel quiz`: exercises in the spirit of the OSTEP simulators.
//!
//! [`generate`] draws a small scenario from a seed (a `StdRng`, so the same
//! seed gives the same quiz on every machine) for one topic: `pipes`
//! (write, read, vmsplice, fill, F_SETPIPE_SZ), `tee` (two pipes, tee and
//! splice between them), `tcp` (a loopback pair fed by vmsplice and
//! splice, or send), `lsm` (a pathname profile against hard links,
//! renames and bind mounts). Some operation lines are marked: the student
//! says what each returns, and which of the buffer's pages are busy at the
//! end and who holds them.
//!
//! [`Quiz::answer`] runs the scenario on the model (invariants checked
//! after every step, teardown checked at the end) and gives each marked
//! line's result with its reason (the pipes' slots and the pages'
//! holders after the line), and the buffer's `refs` at the end. In reverse
//! mode the student sees the final state ([`Answers::final_state`]) and
//! names the operations that produced it. Nothing in an answer is written
//! by hand: it is what the model says, and the `pipes` and `tee` quizzes
//! run unchanged on the Linux backend (the tests compare them).

use std::fmt::Write as _;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::kernel::KernelConfig;
use crate::model::ModelBackend;
use crate::scenario::{self, Backend, Op, Scenario, StepResult};

/// What a quiz is about.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum QuizTopic {
    /// One pipe: write, read, vmsplice, fill, F_SETPIPE_SZ.
    Pipes,
    /// Two pipes: tee and splice between them.
    Tee,
    /// A loopback TCP pair fed from a pipe or by send.
    Tcp,
    /// A pathname profile against other names for the same file.
    Lsm,
}

impl QuizTopic {
    /// Every topic.
    pub const ALL: [QuizTopic; 4] = [QuizTopic::Pipes, QuizTopic::Tee, QuizTopic::Tcp, QuizTopic::Lsm];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            QuizTopic::Pipes => "pipes",
            QuizTopic::Tee => "tee",
            QuizTopic::Tcp => "tcp",
            QuizTopic::Lsm => "lsm",
        }
    }
}

impl FromStr for QuizTopic {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        QuizTopic::ALL.into_iter().find(|t| t.name() == s).ok_or_else(|| {
            let names: Vec<&str> = QuizTopic::ALL.iter().map(|t| t.name()).collect();
            format!("unknown quiz topic '{s}': expected one of {}", names.join(", "))
        })
    }
}

/// The profile file name an `lsm` quiz's scenario loads.
pub const PROFILE_FILE: &str = "quiz.profile";

/// A generated exercise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quiz {
    /// The seed it was drawn from.
    pub seed: u64,
    /// Its topic.
    pub topic: QuizTopic,
    /// The scenario text, one operation per line (line numbers from 1).
    pub text: String,
    /// The profile an `lsm` quiz loads (as [`PROFILE_FILE`]).
    pub profile: Option<String>,
    /// The marked lines: what does each return?
    pub marked: Vec<usize>,
    /// The buffer whose pages the last question is about (none for lsm).
    pub buffer: Option<String>,
}

/// One marked line's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineAnswer {
    /// The line number.
    pub line: usize,
    /// The operation.
    pub text: String,
    /// What it returned (the contract's notation).
    pub result: String,
    /// Why: the pipes' slots and the pages' holders after it.
    pub reasons: Vec<String>,
}

/// The answers, from a run of the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answers {
    /// Each marked line.
    pub lines: Vec<LineAnswer>,
    /// Every line's result, in order (`LINE: OP => RESULT`).
    pub all: Vec<String>,
    /// The buffer's pages at the end (`refs`), if the quiz has a buffer.
    pub busy: Option<String>,
    /// The pipes and the buffer after the last line (the reverse question).
    pub final_state: Vec<String>,
}

impl Quiz {
    /// The scenario, parsed, with the profile in place.
    ///
    /// # Errors
    /// A generated line that does not parse (a bug of the generator).
    pub fn scenario(&self) -> Result<Scenario, String> {
        let mut sc = scenario::parse(&format!("quiz-{}-{}", self.topic.name(), self.seed), &self.text)
            .map_err(|e| format!("generated quiz does not parse: {e}"))?;
        for step in &mut sc.steps {
            if let Op::Policy { text, .. } = &mut step.op {
                *text = self.profile.clone().unwrap_or_default();
            }
        }
        Ok(sc)
    }

    /// The operation lines that may be asked about in reverse mode: every
    /// line after the declarations.
    pub fn operations(&self) -> Vec<(usize, &str)> {
        self.text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !is_declaration(l)).collect()
    }

    /// Run the quiz on the model and collect the answers.
    ///
    /// # Errors
    /// A model failure (broken invariant, leak at teardown), or a line
    /// that blocked (a bug of the generator).
    pub fn answer(&self, config: KernelConfig) -> Result<Answers, String> {
        let sc = self.scenario()?;
        let mut model = ModelBackend::new(config);
        let mut all = Vec::new();
        let mut lines = Vec::new();
        for step in &sc.steps {
            let outcome = match model.step(&sc, step).map_err(|e| e.to_string())? {
                StepResult::Done(o) => o,
                StepResult::Blocked => return Err(format!("{}: line {} blocks", sc.path, step.line)),
            };
            all.push(format!("{}: {} => {outcome}", step.line, step.text));
            if self.marked.contains(&step.line) {
                let mut reasons = model.pipe_contents(&sc);
                for lane in model.lanes(&sc) {
                    let pages = if lane.first == lane.last {
                        format!("page {}", lane.first)
                    } else {
                        format!("pages {}-{}", lane.first, lane.last)
                    };
                    reasons.push(format!("{} {pages}: {}", lane.buffer, lane.state));
                }
                lines.push(LineAnswer {
                    line: step.line,
                    text: step.text.clone(),
                    result: outcome.to_string(),
                    reasons,
                });
            }
        }
        let busy = match &self.buffer {
            Some(b) => {
                let id = sc.objects.iter().position(|o| o.name == *b).ok_or("quiz buffer missing")?;
                let end = match sc.objects[id].kind {
                    scenario::ObjKind::Buffer { pages } => pages * page_refs::PAGE_SIZE as u64,
                    _ => 0,
                };
                let step = scenario::Step {
                    line: sc.steps.len() + 1,
                    text: format!("refs {b}"),
                    op: Op::Refs { range: scenario::Range { buffer: scenario::ObjId(id), start: 0, end } },
                    after_model_only_change: false,
                    within: None,
                };
                match model.step(&sc, &step).map_err(|e| e.to_string())? {
                    StepResult::Done(o) => Some(o.to_string()),
                    StepResult::Blocked => None,
                }
            }
            None => None,
        };
        let mut final_state = model.pipe_contents(&sc);
        final_state.extend(busy.clone());
        model.finish().map_err(|e| e.to_string())?;
        Ok(Answers { lines, all, busy, final_state })
    }
}

fn is_declaration(line: &str) -> bool {
    let verb = line.split_whitespace().next().unwrap_or("");
    matches!(verb, "pipe" | "buffer" | "tcp" | "file" | "mkdir" | "create" | "chmod" | "policy")
}

/// Generate the quiz for `seed` and `topic`: the same pair, the same quiz.
pub fn generate(seed: u64, topic: QuizTopic) -> Quiz {
    // Mix the topic into the seed so each topic's quiz 1 differs in shape.
    let mut rng = StdRng::seed_from_u64(seed ^ (topic as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut g = Gen { rng: &mut rng, lines: Vec::new(), marked: Vec::new() };
    let (buffer, profile) = match topic {
        QuizTopic::Pipes => (Some(g.pipes()), None),
        QuizTopic::Tee => (Some(g.tee()), None),
        QuizTopic::Tcp => (Some(g.tcp()), None),
        QuizTopic::Lsm => (None, Some(g.lsm())),
    };
    let text = g.lines.iter().map(|l| format!("{l}\n")).collect();
    Quiz { seed, topic, text, profile, marked: g.marked, buffer }
}

struct Gen<'a> {
    rng: &'a mut StdRng,
    lines: Vec<String>,
    marked: Vec<usize>,
}

const BYTES: [char; 6] = ['A', 'B', 'C', 'x', 'y', 'z'];

impl Gen<'_> {
    fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }

    fn push(&mut self, line: String) {
        self.lines.push(line);
    }

    /// An operation the student is asked about.
    fn ask(&mut self, line: String) {
        self.lines.push(line);
        self.marked.push(self.lines.len());
    }

    /// A range of `buf` (`pages` pages): whole pages mostly, sometimes bytes.
    fn range(&mut self, pages: usize) -> String {
        if self.below(4) == 0 {
            let start = self.pick(&[0usize, 100, 4000]);
            let len = self.pick(&[100usize, 1000, 4096, 5000]);
            let end = (start + len).min(pages * 4096);
            return format!("buf[{start}..{end}]");
        }
        let first = self.below(pages);
        let last = first + 1 + self.below(pages - first);
        if first == 0 && last == pages { "buf".to_string() } else { format!("buf[{first}p..{last}p]") }
    }

    fn byte(&mut self) -> char {
        self.pick(&BYTES)
    }

    fn len(&mut self) -> String {
        self.pick(&["100", "4096", "5000", "2p", "64k"]).to_string()
    }

    /// One pipe `p`, the buffer `buf`; a mix of fills, vmsplices, writes,
    /// reads and a resize. Every pipe call is nonblocking: none can hang.
    fn pipes(&mut self) -> String {
        let pages = 2 + self.below(3);
        self.push("pipe p".into());
        self.push(format!("buffer buf {pages}"));
        let b = self.byte();
        self.push(format!("fill buf '{b}'"));
        let n = 5 + self.below(3);
        for i in 0..n {
            let op = match self.below(10) {
                0..=2 => {
                    let r = self.range(pages);
                    format!("vmsplice p.w {r} nonblock")
                }
                3 | 4 => {
                    let (l, b) = (self.len(), self.byte());
                    format!("write p.w {l} '{b}' nonblock")
                }
                5..=7 => {
                    let l = self.len();
                    format!("read p.r {l} nonblock")
                }
                8 => {
                    let (r, b) = (self.range(pages), self.byte());
                    self.push(format!("fill {r} '{b}'"));
                    continue;
                }
                _ => {
                    let size = self.pick(&["1p", "2p", "4p", "16p"]);
                    format!("fcntl p.w setpipe_sz {size}")
                }
            };
            if i % 2 == 0 || self.below(2) == 0 { self.ask(op) } else { self.push(op) }
        }
        "buf".into()
    }

    /// Pipes `p` and `q`: data into `p`, then tees and splices into `q`,
    /// reads from both.
    fn tee(&mut self) -> String {
        let pages = 2 + self.below(2);
        self.push("pipe p".into());
        self.push("pipe q".into());
        self.push(format!("buffer buf {pages}"));
        let b = self.byte();
        self.push(format!("fill buf '{b}'"));
        let r = self.range(pages);
        self.push(format!("vmsplice p.w {r} nonblock"));
        let n = 4 + self.below(3);
        for _ in 0..n {
            let op = match self.below(9) {
                0..=2 => {
                    let l = self.len();
                    format!("tee p.r q.w {l} nonblock")
                }
                3 | 4 => {
                    let l = self.len();
                    format!("splice p.r q.w {l} nonblock")
                }
                5 => {
                    let (l, b) = (self.len(), self.byte());
                    format!("write p.w {l} '{b}' nonblock")
                }
                6 => {
                    let r = self.range(pages);
                    format!("vmsplice p.w {r} nonblock")
                }
                _ => {
                    let (end, l) = (self.pick(&["p.r", "q.r"]), self.len());
                    format!("read {end} {l} nonblock")
                }
            };
            self.ask(op);
        }
        "buf".into()
    }

    /// A loopback pair `t` fed from pipe `p` (vmsplice, splice) or by send.
    fn tcp(&mut self) -> String {
        let pages = 2 + self.below(2);
        self.push("tcp t".into());
        self.push("pipe p".into());
        self.push(format!("buffer buf {pages}"));
        let b = self.byte();
        self.push(format!("fill buf '{b}'"));
        let n = 4 + self.below(3);
        for _ in 0..n {
            let op = match self.below(8) {
                0 | 1 => {
                    let r = self.range(pages);
                    format!("vmsplice p.w {r} nonblock")
                }
                2 | 3 => {
                    let l = self.pick(&["100", "4096", "2p", "64k"]);
                    format!("splice p.r t.tx {l} nonblock")
                }
                4 => {
                    let r = self.range(pages);
                    format!("send t.tx {r} nonblock")
                }
                5 => {
                    let (r, b) = (self.range(pages), self.byte());
                    self.push(format!("fill {r} '{b}'"));
                    continue;
                }
                _ => {
                    let l = self.pick(&["100", "4096", "2p", "64k"]);
                    format!("read t.rx {l} nonblock")
                }
            };
            self.ask(op);
        }
        "buf".into()
    }

    /// A secret, a profile that denies it by name, other names for it, and
    /// the confined reader's opens.
    fn lsm(&mut self) -> String {
        for l in ["mkdir /etc", "create /etc/secret", "mkdir /tmp", "mkdir /mnt", "mkdir /usr", "mkdir /usr/bin"] {
            self.push(l.into());
        }
        self.push("create /usr/bin/reader".into());
        self.push("chmod /usr/bin/reader 755".into());
        self.push(format!("policy apparmor {PROFILE_FILE}"));
        let mut names = vec!["/etc/secret".to_string()];
        let n = 1 + self.below(3);
        let mut used = Vec::new();
        for _ in 0..n {
            match self.pick(&[0, 1, 2]) {
                0 if !used.contains(&0) => {
                    used.push(0);
                    self.push("link /etc/secret /tmp/alias".into());
                    names.push("/tmp/alias".into());
                }
                1 if !used.contains(&1) => {
                    used.push(1);
                    self.push("bind /etc /mnt".into());
                    names.push("/mnt/secret".into());
                }
                2 if !used.contains(&2) => {
                    used.push(2);
                    self.push("symlink /etc/secret /tmp/link".into());
                    names.push("/tmp/link".into());
                }
                _ => {}
            }
        }
        self.push("process reader".into());
        self.push("exec /usr/bin/reader".into());
        for (i, name) in names.iter().enumerate() {
            self.ask(format!("open s{i} {name} r"));
        }
        let denied = self.pick(&["/etc/secret", "/etc/*"]);
        let allowed = self.pick(&["/** r,", "/tmp/** r,\n  /etc/** r,\n  /mnt/** r,"]);
        format!(
            "# The reader may read, but not the secret (by name).\nprofile reader /usr/bin/reader {{\n  {allowed}\n  deny {denied} rw,\n}}\n"
        )
    }
}

/// The quiz as the student sees it. `reverse`: the final state, asking
/// for the operations.
pub fn question(quiz: &Quiz, answers: &Answers, reverse: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "kmodel quiz --seed {} --topic {}{}",
        quiz.seed,
        quiz.topic.name(),
        if reverse { " --reverse" } else { "" }
    );
    let _ = writeln!(out, "seed {}", quiz.seed);
    out.push('\n');
    if reverse {
        let ops = quiz.operations();
        out.push_str("A program declared these objects:\n\n");
        for (i, l) in quiz.text.lines().enumerate().filter(|(_, l)| is_declaration(l)) {
            let _ = writeln!(out, "  {:>3}  {l}", i + 1);
        }
        let verbs: std::collections::BTreeSet<&str> =
            ops.iter().filter_map(|(_, l)| l.split_whitespace().next()).collect();
        let _ = writeln!(
            out,
            "\nthen ran {} operations ({}), and ended in this state:\n",
            ops.len(),
            verbs.into_iter().collect::<Vec<_>>().join(", ")
        );
        for s in &answers.final_state {
            let _ = writeln!(out, "  {s}");
        }
        out.push_str("\nWhich operations, in which order, produced it? (--answers shows them)\n");
        return out;
    }
    if let Some(p) = &quiz.profile {
        let _ = writeln!(out, "The profile {PROFILE_FILE}:\n");
        for l in p.lines() {
            let _ = writeln!(out, "    {l}");
        }
        out.push('\n');
    }
    out.push_str("The scenario (each marked line: what does it return?):\n\n");
    let mut letter = b'a';
    let mut questions = Vec::new();
    for (i, l) in quiz.text.lines().enumerate() {
        if quiz.marked.contains(&(i + 1)) {
            let _ = writeln!(out, "  {:>3}  {l:<36} # ({}) ?", i + 1, letter as char);
            questions.push(format!("({}) line {}: what does '{l}' return?", letter as char, i + 1));
            letter += 1;
        } else {
            let _ = writeln!(out, "  {:>3}  {l}", i + 1);
        }
    }
    out.push('\n');
    for q in questions {
        let _ = writeln!(out, "{q}");
    }
    if let Some(b) = &quiz.buffer {
        let _ =
            writeln!(out, "({}) after the last line, which pages of {b} are busy, and who holds them?", letter as char);
    }
    out
}

/// The answers with their reasons.
pub fn answer_text(quiz: &Quiz, answers: &Answers, reverse: bool) -> String {
    let mut out = String::new();
    if reverse {
        out.push_str("The operations:\n\n");
        let ops: Vec<usize> = quiz.operations().iter().map(|(l, _)| *l).collect();
        for l in answers
            .all
            .iter()
            .filter(|l| l.split(':').next().and_then(|n| n.parse::<usize>().ok()).is_some_and(|n| ops.contains(&n)))
        {
            let _ = writeln!(out, "  {l}");
        }
        return out;
    }
    out.push_str("Answers (from a run of the model):\n\n");
    let mut letter = b'a';
    for a in &answers.lines {
        let _ = writeln!(out, "({}) line {}: {} => {}", letter as char, a.line, a.text, a.result);
        for r in &a.reasons {
            let _ = writeln!(out, "      {r}");
        }
        letter += 1;
    }
    if let Some(busy) = &answers.busy {
        let _ = writeln!(out, "({}) at the end: {busy}", letter as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_round_trip() {
        for t in QuizTopic::ALL {
            assert_eq!(t.name().parse::<QuizTopic>(), Ok(t));
        }
        assert!("ipc".parse::<QuizTopic>().unwrap_err().contains("pipes, tee, tcp, lsm"));
    }

    #[test]
    fn generate_same_seed_same_quiz() {
        for t in QuizTopic::ALL {
            assert_eq!(generate(7, t), generate(7, t));
            assert_ne!(generate(7, t).text, generate(8, t).text, "{t:?}");
        }
    }
}
