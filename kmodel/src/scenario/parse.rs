//! The scenario parser: the contract's text (`shared/spec/scenario-format.md`)
//! to a checked [`Scenario`].
//!
//! Parsing is line by line: strip the comment (`#` starts one anywhere,
//! inside quotes too), split the rest into tokens at runs of spaces and tabs
//! (a quoted blank `' '` is one token), then read the verb and its operands
//! left to right. Names are resolved against the objects declared on earlier
//! lines, so every operand in the result is known to exist and to be of the
//! right kind; ranges are checked against their buffer's size.
//!
//! The parser never panics: every slice is taken at an ASCII boundary it
//! found, and every piece of arithmetic on a number from the file is checked.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::lsm::PolicyModule;

use super::ast::{
    Access, Column, End, Expectation, FcntlCmd, Fd, FdArg, HookEra, ObjId, ObjKind, Object, Op, Range, Scenario, Step,
    Thread,
};

/// Bytes per page, as the contract counts them (the `p` suffix, buffer and
/// file sizes).
const PAGE_SIZE: u64 = 4096;

/// The largest number a scenario may write: 2^63-1.
const MAX_NUMBER: u64 = i64::MAX as u64;

/// The most pages a buffer or file may have: its size in bytes must itself
/// be a number the contract can write.
const MAX_PAGES: u64 = MAX_NUMBER / PAGE_SIZE;

/// Every verb, in the order the error for an unknown verb lists them.
const VERBS: [&str; 56] = [
    "buffer",
    "pipe",
    "file",
    "tcp",
    "fill",
    "write",
    "read",
    "recv",
    "vmsplice",
    "splice",
    "tee",
    "sendfile",
    "pwrite",
    "fcntl",
    "close",
    "send",
    "setsockopt",
    "errqueue",
    "refs",
    "expect",
    "advance",
    "wait",
    "thread",
    "end",
    "mkdir",
    "rmdir",
    "create",
    "link",
    "symlink",
    "rename",
    "unlink",
    "open",
    "stat",
    "chmod",
    "chown",
    "chdir",
    "bind",
    "unshare",
    "chroot",
    "process",
    "setuid",
    "exec",
    "hooks",
    "audit",
    "policy",
    "restorecon",
    "label",
    "truncate",
    "checkpoint",
    "restore",
    "container",
    "in",
    "beancounters",
    "ps",
    "host",
    "migrate",
];

// What each kind of operand looks like, for "expected ..." messages.
const NAME: &str = "a name like buf or p1 ([a-z][a-z0-9_]*)";
const PAGES: &str = "a number of pages like 4";
const LEN: &str = "a length like 4096, 4k or 2p";
const OFFSET: &str = "an offset like 0, 4096 or 1p";
const BYTE: &str = r"a byte value like 'A' or '\x41'";
const RANGE: &str = "a range like buf[0..4096] or buf";
const FD: &str = "a file descriptor like p.r, p.w, t.tx, t.rx or a file name";
const PATH: &str = "a path like /etc/passwd";
const MODE: &str = "an octal mode like 755 or 1777";
const ID: &str = "a numeric id like 0 or 1000";
const ACCESS: &str = "'r', 'w' or 'rw'";
const TIME: &str = "a time like 50ms, 250us or 1s (a bare number is milliseconds)";
const IMAGE_FILE: &str = "an image file name like mid.img";
const CONTAINER: &str = "a container declared by 'container NAME'";
const HOST: &str = "a host declared by 'host NAME', or local";
const LIMIT: &str = "a limit like pages=16 (pages=, pipes=, sockets=, files=)";
const MIGRATE_OPT: &str = "'precopy', 'postcopy', 'hybrid', dirty=N, into=BUF or end of line";

/// The scenario's own machine, as `migrate NAME to local` names it.
const LOCAL_HOST: &str = "local";

/// A scenario that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// File name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What was expected (and what was found).
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parse a scenario.
///
/// `file` names the scenario in error messages and becomes
/// [`Scenario::path`].
///
/// # Errors
/// The first problem found, with its line and column.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ParseError> {
    let mut parser = Parser::default();
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        parser.line(line, raw).map_err(|p| ParseError {
            file: file.to_owned(),
            line,
            column: p.column,
            message: p.message,
        })?;
    }
    if let Some((name, line)) = parser.open_in {
        return Err(ParseError {
            file: file.to_owned(),
            line,
            column: 1,
            message: format!("'in {name}' has no 'end': expected a line 'end' after its operations"),
        });
    }
    if let Some(open) = parser.open_thread {
        let t = &parser.threads[open];
        return Err(ParseError {
            file: file.to_owned(),
            line: t.line,
            column: 1,
            message: format!("thread '{}' has no 'end': expected a line 'end' after its operations", t.name),
        });
    }
    Ok(Scenario { path: file.to_owned(), objects: parser.objects, steps: parser.steps, threads: parser.threads })
}

/// A problem on the current line: where and what.
#[derive(Debug)]
struct Problem {
    column: usize,
    message: String,
}

type PResult<T> = Result<T, Problem>;

fn problem<T>(column: usize, message: impl Into<String>) -> PResult<T> {
    Err(Problem { column, message: message.into() })
}

/// One token of a line: its text, verbatim, and its 1-based byte column.
#[derive(Copy, Clone, Debug)]
struct Tok<'a> {
    text: &'a str,
    column: usize,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Split a comment-free line into tokens at runs of blanks.
///
/// A token that starts with a quote runs to its closing quote before it may
/// end: the character right after the opening quote is always inside (so
/// `' '` and `'''` are one token each), and the closing quote is the next
/// `'` before a blank.
fn tokenize(content: &str, had_comment: bool) -> PResult<Vec<Tok<'_>>> {
    let bytes = content.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if is_blank(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        if bytes[i] == b'\'' {
            i = closing_quote(content, start).ok_or_else(|| unterminated(content, start, had_comment))?;
        }
        while i < bytes.len() && !is_blank(bytes[i]) {
            i += 1;
        }
        toks.push(Tok { text: &content[start..i], column: start + 1 });
    }
    Ok(toks)
}

/// The index just past the quote that closes the one at `open`, if any.
fn closing_quote(content: &str, open: usize) -> Option<usize> {
    let bytes = content.as_bytes();
    let first = content.get(open + 1..)?.chars().next()?;
    let mut j = open + 1 + first.len_utf8();
    while j < bytes.len() && !is_blank(bytes[j]) {
        if bytes[j] == b'\'' {
            return Some(j + 1);
        }
        j += 1;
    }
    None
}

fn unterminated(content: &str, start: usize, had_comment: bool) -> Problem {
    let bytes = content.as_bytes();
    let mut end = start + 1;
    while end < bytes.len() && !is_blank(bytes[end]) {
        end += 1;
    }
    let mut message = format!("unterminated quote: expected {BYTE}, found {}", show(&content[start..end]));
    if had_comment {
        message.push_str(r" ('#' starts a comment, even inside quotes: write '#' as '\x23')");
    }
    Problem { column: start + 1, message }
}

/// A token as messages show it: in quotes (unless it is itself quoted, like
/// a byte value), see [`escape`].
fn show(text: &str) -> String {
    if text.starts_with('\'') { escape(text) } else { format!("'{}'", escape(text)) }
}

/// A token's text made safe to print: unprintable characters escaped, cut
/// short if very long.
fn escape(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    let mut s = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == MAX_CHARS {
            s.push_str("...");
            break;
        }
        if (' '..='~').contains(&c) {
            s.push(c);
        } else {
            s.extend(c.escape_debug());
        }
    }
    s
}

/// Whether `text` is a name: `[a-z][a-z0-9_]*`.
fn is_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A number: decimal digits with an optional suffix `k` (x 1024) or `p`
/// (x 4096), at most 2^63-1. `what` describes the operand for the message.
fn number(text: &str, what: &str) -> Result<u64, String> {
    let (digits, scale) = if let Some(d) = text.strip_suffix('k') {
        (d, 1024)
    } else if let Some(d) = text.strip_suffix('p') {
        (d, PAGE_SIZE)
    } else {
        (text, 1)
    };
    let value = digits_value(digits).ok_or_else(|| format!("expected {what}, found {}", show(text)))?;
    value.checked_mul(scale).filter(|&v| v <= MAX_NUMBER).ok_or_else(|| too_large(text))
}

/// The value of a string of decimal digits, `None` if it is not one;
/// a value too large for a `u64` saturates at `u64::MAX` (which is larger
/// than any number the contract allows).
fn digits_value(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.bytes().fold(0u64, |v, b| v.saturating_mul(10).saturating_add(u64::from(b - b'0'))))
}

fn too_large(text: &str) -> String {
    format!("number {} is larger than 2^63-1", escape(text))
}

/// A byte value: `'c'` with `c` printable ASCII, or `'\xHH'`.
fn byte_value(tok: Tok<'_>) -> PResult<u8> {
    let b = tok.text.as_bytes();
    let value = match *b {
        [b'\'', c, b'\''] if (0x20..=0x7e).contains(&c) => Some(c),
        [b'\'', b'\\', b'x', h, l, b'\''] => hex_digit(h).zip(hex_digit(l)).map(|(h, l)| h << 4 | l),
        _ => None,
    };
    value.map_or_else(|| problem(tok.column, format!("expected {BYTE}, found {}", show(tok.text))), Ok)
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn plural_pages(pages: u64) -> &'static str {
    if pages == 1 { "page" } else { "pages" }
}

/// The tokens of one line, read left to right.
struct Cursor<'t, 'a> {
    toks: &'t [Tok<'a>],
    pos: usize,
    /// Where a missing operand would have started: just past the last token.
    end_column: usize,
}

impl<'a> Cursor<'_, 'a> {
    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos).copied()
    }

    /// The next operand, which must be there: `what` says what it should be.
    fn next(&mut self, what: &str) -> PResult<Tok<'a>> {
        let tok = self.peek();
        match tok {
            Some(tok) => {
                self.pos += 1;
                Ok(tok)
            }
            None => problem(self.end_column, format!("expected {what}, found end of line")),
        }
    }

    /// The end of the line: nothing may follow.
    fn finish(&self) -> PResult<()> {
        self.flags([]).map(|[]| ())
    }

    /// The rest of the line: flags from `names`, in any order, each at most
    /// once. The answer says, for each of `names`, whether it was given.
    fn flags<const N: usize>(&self, names: [&str; N]) -> PResult<[bool; N]> {
        let mut given = [false; N];
        for tok in &self.toks[self.pos.min(self.toks.len())..] {
            match names.iter().position(|&n| n == tok.text) {
                Some(i) if given[i] => {
                    return problem(tok.column, format!("flag '{}' given twice", names[i]));
                }
                Some(i) => given[i] = true,
                None => {
                    let expected = if N == 0 {
                        "end of line".to_owned()
                    } else {
                        format!("{} or end of line", names.map(|n| format!("'{n}'")).join(", "))
                    };
                    return problem(tok.column, format!("expected {expected}, found {}", show(tok.text)));
                }
            }
        }
        Ok(given)
    }
}

/// What the lines read so far have declared, and the steps they made.
#[derive(Default)]
struct Parser {
    objects: Vec<Object>,
    by_name: HashMap<String, ObjId>,
    steps: Vec<Step>,
    threads: Vec<Thread>,
    /// The thread whose `end` has not been seen yet.
    open_thread: Option<usize>,
    /// A line changed what Linux would see: later lines are model-only.
    diverged: bool,
    /// Processes started so far (besides `init`).
    processes: HashSet<String>,
    /// Containers declared so far, and their lines.
    containers: HashMap<String, usize>,
    /// Hosts declared so far, and their lines.
    hosts: HashMap<String, usize>,
    /// The `in NAME` block whose `end` has not been seen yet: the
    /// container and the line.
    open_in: Option<(String, usize)>,
}

impl Parser {
    /// Parse one line (without its line ending) and record its step, if it
    /// has one.
    fn line(&mut self, line: usize, raw: &str) -> PResult<()> {
        let (content, had_comment) = match raw.find('#') {
            Some(at) => (&raw[..at], true),
            None => (raw, false),
        };
        let toks = tokenize(content, had_comment)?;
        let Some(last) = toks.last() else {
            return Ok(());
        };
        let mut cur = Cursor { toks: &toks, pos: 1, end_column: last.column + last.text.len() };
        if let Some((name, at)) = &self.open_in
            && (matches!(toks[0].text, "thread" | "in" | "container" | "host" | "migrate")
                || (matches!(toks[0].text, "checkpoint" | "restore")
                    && toks.get(2).is_some_and(|t| matches!(t.text, "to" | "into"))))
        {
            return problem(
                toks[0].column,
                format!("'{}' inside 'in {name}' (line {at}): close the block with 'end' first", escape(toks[0].text)),
            );
        }
        match toks[0].text {
            "thread" => return self.thread(line, &mut cur),
            "in" => return self.in_block(line, &mut cur),
            "end" if self.open_in.is_some() => {
                cur.finish()?;
                self.open_in = None;
                return Ok(());
            }
            "end" => return self.end(toks[0], &mut cur),
            "buffer" | "pipe" | "file" | "tcp" if !self.threads.is_empty() => {
                return problem(
                    toks[0].column,
                    format!(
                        "objects are declared before the first thread (line {}): move this declaration up",
                        self.threads[0].line
                    ),
                );
            }
            _ => {}
        }
        let op = self.op(line, toks[0], &mut cur)?;
        let text = toks.iter().map(|t| t.text).collect::<Vec<_>>().join(" ");
        if let Some(t) = self.open_thread {
            self.threads[t].steps.push(self.steps.len());
        }
        let changes = op.changes_what_linux_sees();
        let within = self.open_in.as_ref().map(|(name, _)| name.clone());
        // A change inside a container stays inside it: the lines outside
        // still run on Linux.
        let changes = changes && within.is_none();
        self.steps.push(Step { line, text, op, after_model_only_change: self.diverged, within });
        self.diverged |= changes;
        Ok(())
    }

    /// `thread NAME`: the operations up to `end` belong to a new thread.
    fn thread(&mut self, line: usize, cur: &mut Cursor<'_, '_>) -> PResult<()> {
        let tok = cur.next(NAME)?;
        if self.containers.contains_key(tok.text) || self.hosts.contains_key(tok.text) {
            return problem(tok.column, format!("name '{}' is already a container or a host", tok.text));
        }
        if let Some(open) = self.open_thread {
            let t = &self.threads[open];
            return problem(
                1,
                format!("thread inside thread '{}' (line {}): close it with 'end' first", t.name, t.line),
            );
        }
        let name = self.new_name(tok)?;
        if let Some(t) = self.threads.iter().find(|t| t.name == name) {
            return problem(tok.column, format!("thread '{name}' is already declared on line {}", t.line));
        }
        cur.finish()?;
        self.threads.push(Thread { name: name.to_owned(), line, steps: Vec::new() });
        self.open_thread = Some(self.threads.len() - 1);
        Ok(())
    }

    /// `in NAME`: the operations up to `end` run inside container NAME.
    fn in_block(&mut self, line: usize, cur: &mut Cursor<'_, '_>) -> PResult<()> {
        let tok = cur.next(CONTAINER)?;
        if let Some(open) = self.open_thread {
            let t = &self.threads[open];
            return problem(1, format!("'in' inside thread '{}' (line {}): close it with 'end' first", t.name, t.line));
        }
        let name = self.container(tok)?;
        cur.finish()?;
        self.open_in = Some((name, line));
        Ok(())
    }

    /// A declared container's name.
    fn container(&self, tok: Tok<'_>) -> PResult<String> {
        if self.containers.contains_key(tok.text) {
            Ok(tok.text.to_owned())
        } else if is_name(tok.text) {
            problem(tok.column, format!("unknown container '{}' (declare it with 'container NAME' first)", tok.text))
        } else {
            problem(tok.column, format!("expected {CONTAINER}, found {}", show(tok.text)))
        }
    }

    /// `container NAME [RESOURCE=N ...]`.
    fn container_decl(&mut self, line: usize, cur: &mut Cursor<'_, '_>) -> PResult<Op> {
        use crate::container::Resource;
        let name = self.new_name(cur.next(NAME)?)?.to_owned();
        let mut limits: Vec<(Resource, u64)> = Vec::new();
        while let Some(tok) = cur.peek() {
            cur.pos += 1;
            let Some((key, value)) = tok.text.split_once('=') else {
                return problem(tok.column, format!("expected {LIMIT} or end of line, found {}", show(tok.text)));
            };
            let Some(r) = Resource::from_name(key) else {
                return problem(
                    tok.column,
                    format!("unknown resource {}: expected pages, pipes, sockets or files", show(key)),
                );
            };
            if limits.iter().any(|(x, _)| *x == r) {
                return problem(tok.column, format!("limit '{key}' given twice"));
            }
            let n = number(value, "a limit like 16").map_err(|m| Problem { column: tok.column, message: m })?;
            limits.push((r, n));
        }
        self.containers.insert(name.clone(), line);
        Ok(Op::Container { name, limits })
    }

    /// `migrate NAME to HOST [precopy|postcopy|hybrid] [dirty=N]`.
    fn migrate(&mut self, cur: &mut Cursor<'_, '_>) -> PResult<Op> {
        use crate::container::Strategy;
        let name = self.container(cur.next(CONTAINER)?)?;
        let to = cur.next("'to'")?;
        if to.text != "to" {
            return problem(to.column, format!("expected 'to', found {}", show(to.text)));
        }
        let h = cur.next(HOST)?;
        if h.text != LOCAL_HOST && !self.hosts.contains_key(h.text) {
            return problem(
                h.column,
                if is_name(h.text) {
                    format!("unknown host '{}' (declare it with 'host NAME' first, or use local)", h.text)
                } else {
                    format!("expected {HOST}, found {}", show(h.text))
                },
            );
        }
        let (mut strategy, mut dirty, mut into) = (None, None, None);
        while let Some(tok) = cur.peek() {
            cur.pos += 1;
            let s = match tok.text {
                "precopy" => Some(Strategy::PreCopy),
                "postcopy" => Some(Strategy::PostCopy),
                "hybrid" => Some(Strategy::Hybrid),
                _ => None,
            };
            if let Some(s) = s {
                if strategy.replace(s).is_some() {
                    return problem(tok.column, "the strategy is given twice");
                }
            } else if let Some(v) = tok.text.strip_prefix("dirty=") {
                let n = number(v, "a number of page writes per second like 5000 or 10k")
                    .map_err(|m| Problem { column: tok.column, message: m })?;
                if dirty.replace(n).is_some() {
                    return problem(tok.column, "'dirty=' given twice");
                }
            } else if let Some(b) = tok.text.strip_prefix("into=") {
                let (id, obj) = self.lookup(b, tok)?;
                if !matches!(obj.kind, ObjKind::Buffer { .. }) {
                    return problem(
                        tok.column,
                        format!("'{b}' is {}, not a buffer: expected into=BUF", kind_phrase(&obj.kind)),
                    );
                }
                if into.replace(id).is_some() {
                    return problem(tok.column, "'into=' given twice");
                }
            } else {
                return problem(tok.column, format!("expected {MIGRATE_OPT}, found {}", show(tok.text)));
            }
        }
        Ok(Op::Migrate {
            name,
            host: h.text.to_owned(),
            strategy: strategy.unwrap_or(Strategy::PreCopy),
            dirty: dirty.unwrap_or(0),
            into,
        })
    }

    /// `end`: closes the open thread.
    fn end(&mut self, tok: Tok<'_>, cur: &mut Cursor<'_, '_>) -> PResult<()> {
        if self.open_thread.is_none() {
            return problem(tok.column, "'end' without a 'thread NAME' line to close");
        }
        cur.finish()?;
        self.open_thread = None;
        Ok(())
    }

    /// The operation of a line whose first token is `verb`.
    fn op(&mut self, line: usize, verb: Tok<'_>, cur: &mut Cursor<'_, '_>) -> PResult<Op> {
        let op = match verb.text {
            "buffer" => {
                let name = self.new_name(cur.next(NAME)?)?;
                let pages = Self::pages(cur.next(PAGES)?, "buffer", name)?;
                cur.finish()?;
                self.declare(line, name, ObjKind::Buffer { pages })
            }
            "pipe" => {
                let name = self.new_name(cur.next(NAME)?)?;
                cur.finish()?;
                self.declare(line, name, ObjKind::Pipe)
            }
            "file" => {
                let name = self.new_name(cur.next(NAME)?)?;
                let pages = Self::pages(cur.next(PAGES)?, "file", name)?;
                let byte = byte_value(cur.next(BYTE)?)?;
                cur.finish()?;
                self.declare(line, name, ObjKind::File { pages, byte })
            }
            "tcp" => {
                let name = self.new_name(cur.next(NAME)?)?;
                let link = link_options(cur)?;
                self.declare(line, name, ObjKind::Tcp { link })
            }
            "send" => {
                let fd = self.fd(cur.next(FD)?)?;
                let range = self.range(cur.next(RANGE)?, RANGE)?;
                let [zerocopy, more, nonblock] = cur.flags(["zerocopy", "more", "nonblock"])?;
                Op::Send { fd, range, zerocopy, more, nonblock }
            }
            "setsockopt" => {
                const OPT: &str = "a socket option: zerocopy";
                let fd = self.fd(cur.next(FD)?)?;
                let tok = cur.next(OPT)?;
                if tok.text != "zerocopy" {
                    return problem(tok.column, format!("expected {OPT}, found {}", show(tok.text)));
                }
                cur.finish()?;
                Op::SetZerocopy { fd }
            }
            "errqueue" => {
                let fd = self.fd(cur.next(FD)?)?;
                cur.finish()?;
                Op::Errqueue { fd }
            }
            "fill" => {
                let range = self.range(cur.next(RANGE)?, RANGE)?;
                let byte = byte_value(cur.next(BYTE)?)?;
                cur.finish()?;
                Op::Fill { range, byte }
            }
            "write" => {
                let fd = self.fd(cur.next(FD)?)?;
                let len = num(cur.next(LEN)?, LEN)?;
                let byte = byte_value(cur.next(BYTE)?)?;
                let [nonblock] = cur.flags(["nonblock"])?;
                Op::Write { fd, len, byte, nonblock }
            }
            "read" => {
                let fd = self.fd(cur.next(FD)?)?;
                let len = num(cur.next(LEN)?, LEN)?;
                let [nonblock] = cur.flags(["nonblock"])?;
                Op::Read { fd, len, nonblock }
            }
            "recv" => {
                let fd = self.fd(cur.next(FD)?)?;
                let len = num(cur.next(LEN)?, LEN)?;
                cur.finish()?;
                Op::Recv { fd, len }
            }
            "vmsplice" => {
                const FLAGS: [&str; 2] = ["gift", "nonblock"];
                const MORE: &str = "a range like buf[0..4096] or buf, 'gift', 'nonblock' or end of line";
                let fd = self.fd(cur.next(FD)?)?;
                let mut ranges = vec![self.range(cur.next(RANGE)?, RANGE)?];
                // After the first range, a flag word is a flag (even if a
                // buffer has that name: write `gift[0..N]` for that buffer).
                while let Some(tok) = cur.peek().filter(|t| !FLAGS.contains(&t.text)) {
                    ranges.push(self.range(tok, MORE)?);
                    cur.pos += 1;
                }
                let [gift, nonblock] = cur.flags(FLAGS)?;
                Op::Vmsplice { fd, ranges, gift, nonblock }
            }
            "splice" => {
                let input = self.fd_arg(cur.next(FD)?, true)?;
                let output = self.fd_arg(cur.next(FD)?, true)?;
                let len = num(cur.next(LEN)?, LEN)?;
                let [nonblock, mov, more] = cur.flags(["nonblock", "move", "more"])?;
                Op::Splice { input, output, len, nonblock, mov, more }
            }
            "tee" => {
                let input = self.fd(cur.next(FD)?)?;
                let output = self.fd(cur.next(FD)?)?;
                let len = num(cur.next(LEN)?, LEN)?;
                let [nonblock] = cur.flags(["nonblock"])?;
                Op::Tee { input, output, len, nonblock }
            }
            "sendfile" => {
                let output = self.fd(cur.next(FD)?)?;
                let input = self.fd_arg(cur.next(FD)?, true)?;
                let len = num(cur.next(LEN)?, LEN)?;
                cur.finish()?;
                Op::Sendfile { output, input, len }
            }
            "pwrite" => {
                let fd = self.fd(cur.next(FD)?)?;
                let offset = num(cur.next(OFFSET)?, OFFSET)?;
                let len = num(cur.next(LEN)?, LEN)?;
                let byte = byte_value(cur.next(BYTE)?)?;
                cur.finish()?;
                Op::Pwrite { fd, offset, len, byte }
            }
            "fcntl" => {
                const CMD: &str = "getpipe_sz, setpipe_sz N, getpsz or setpsz N";
                const SIZE: &str = "a pipe size in bytes like 65536 or 16p";
                const SLOTS: &str = "a number of pages like 16";
                let fd = self.fd(cur.next(FD)?)?;
                let tok = cur.next(CMD)?;
                let cmd = match tok.text {
                    "getpipe_sz" => FcntlCmd::GetPipeSz,
                    "setpipe_sz" => FcntlCmd::SetPipeSz(num(cur.next(SIZE)?, SIZE)?),
                    "getpsz" => FcntlCmd::GetPsz,
                    "setpsz" => FcntlCmd::SetPsz(num(cur.next(SLOTS)?, SLOTS)?),
                    _ => {
                        return problem(tok.column, format!("expected {CMD}, found {}", show(tok.text)));
                    }
                };
                cur.finish()?;
                Op::Fcntl { fd, cmd }
            }
            "close" => {
                let fd = self.fd(cur.next(FD)?)?;
                cur.finish()?;
                Op::Close { fd }
            }
            "refs" => {
                let range = self.range(cur.next(RANGE)?, RANGE)?;
                cur.finish()?;
                Op::Refs { range }
            }
            "expect" => {
                const WHAT: &str = "'reusable', 'busy' or 'intact'";
                let tok = cur.next(WHAT)?;
                let what = match tok.text {
                    "reusable" => Expectation::Reusable,
                    "busy" => Expectation::Busy,
                    "intact" => {
                        let fd = self.fd(cur.next(FD)?)?;
                        cur.finish()?;
                        return Ok(Op::ExpectIntact { fd });
                    }
                    _ => {
                        return problem(tok.column, format!("expected {WHAT}, found {}", show(tok.text)));
                    }
                };
                let range = self.range(cur.next(RANGE)?, RANGE)?;
                cur.finish()?;
                Op::Expect { what, range }
            }
            "wait" => {
                const WHAT: &str = "'reusable'";
                let tok = cur.next(WHAT)?;
                if tok.text != "reusable" {
                    return problem(tok.column, format!("expected {WHAT}, found {}", show(tok.text)));
                }
                let range = self.range(cur.next(RANGE)?, RANGE)?;
                cur.finish()?;
                Op::WaitReusable { range }
            }
            "advance" => {
                let ns = time(cur.next(TIME)?)?;
                cur.finish()?;
                Op::Advance { ns }
            }
            "checkpoint" | "restore" => {
                let first = cur.next(IMAGE_FILE)?;
                match (verb.text, cur.peek().map(|t| t.text)) {
                    // `checkpoint NAME to FILE`: one container.
                    ("checkpoint", Some("to")) => {
                        let name = self.container(first)?;
                        cur.next("'to'")?;
                        let file = path(cur.next(IMAGE_FILE)?);
                        cur.finish()?;
                        Op::CheckpointContainer { name, file }
                    }
                    // `restore FILE into HOST`: graft a container's image.
                    ("restore", Some("into")) => {
                        let file = path(first);
                        cur.next("'into'")?;
                        let h = cur.next(HOST)?;
                        if h.text != LOCAL_HOST && !self.hosts.contains_key(h.text) {
                            return problem(
                                h.column,
                                format!("unknown host '{}' (declare it with 'host NAME' first, or use local)", h.text),
                            );
                        }
                        cur.finish()?;
                        Op::RestoreInto { file, host: h.text.to_owned() }
                    }
                    _ => {
                        let file = path(first);
                        cur.finish()?;
                        if verb.text == "checkpoint" { Op::Checkpoint { file } } else { Op::Restore { file } }
                    }
                }
            }
            "mkdir" => {
                let path = path(cur.next(PATH)?);
                let mode = match cur.peek() {
                    Some(tok) => {
                        cur.pos += 1;
                        octal(tok)?
                    }
                    None => 0o777,
                };
                cur.finish()?;
                Op::Mkdir { path, mode }
            }
            "rmdir" | "create" | "unlink" | "stat" | "chdir" | "chroot" | "exec" => {
                let path = path(cur.next(PATH)?);
                cur.finish()?;
                match verb.text {
                    "rmdir" => Op::Rmdir { path },
                    "create" => Op::Create { path },
                    "unlink" => Op::Unlink { path },
                    "stat" => Op::Stat { path },
                    "chdir" => Op::Chdir { path },
                    "chroot" => Op::Chroot { path },
                    _ => Op::Exec { path },
                }
            }
            "link" | "symlink" | "rename" | "bind" => {
                let a = path(cur.next(PATH)?);
                let b = path(cur.next(PATH)?);
                cur.finish()?;
                match verb.text {
                    "link" => Op::Link { old: a, new: b },
                    "symlink" => Op::Symlink { target: a, new: b },
                    "rename" => Op::Rename { old: a, new: b },
                    _ => Op::Bind { src: a, dst: b },
                }
            }
            "open" => {
                let name = self.new_name(cur.next(NAME)?)?;
                let path = path(cur.next(PATH)?);
                let tok = cur.next(ACCESS)?;
                let access = match tok.text {
                    "r" => Access::Read,
                    "w" => Access::Write,
                    "rw" => Access::ReadWrite,
                    _ => return problem(tok.column, format!("expected {ACCESS}, found {}", show(tok.text))),
                };
                cur.finish()?;
                let Op::Declare(id) = self.declare(line, name, ObjKind::Opened) else {
                    unreachable!("declare answers Declare")
                };
                Op::Open { name: id, path, access }
            }
            "truncate" => {
                let path = path(cur.next(PATH)?);
                let len = num(cur.next(LEN)?, LEN)?;
                cur.finish()?;
                Op::Truncate { path, len }
            }
            "chmod" => {
                let path = path(cur.next(PATH)?);
                let mode = octal(cur.next(MODE)?)?;
                cur.finish()?;
                Op::Chmod { path, mode }
            }
            "chown" | "setuid" => {
                let path = if verb.text == "chown" { Some(path(cur.next(PATH)?)) } else { None };
                let uid = id(cur.next(ID)?)?;
                let gid = id(cur.next(ID)?)?;
                cur.finish()?;
                match path {
                    Some(path) => Op::Chown { path, uid, gid },
                    None => Op::Setuid { uid, gid },
                }
            }
            "unshare" => {
                let tok = cur.next("'mount'")?;
                if tok.text != "mount" {
                    return problem(tok.column, format!("expected 'mount', found {}", show(tok.text)));
                }
                cur.finish()?;
                Op::Unshare
            }
            "process" => {
                let tok = cur.next(NAME)?;
                if !is_name(tok.text) {
                    return problem(tok.column, format!("expected {NAME}, found {}", show(tok.text)));
                }
                cur.finish()?;
                if tok.text != "init" {
                    self.processes.insert(tok.text.to_owned());
                }
                Op::Process { name: tok.text.to_owned() }
            }
            "hooks" => {
                let tok = cur.next("'2006' or 'today'")?;
                let era = match tok.text {
                    "2006" => HookEra::Y2006,
                    "today" => HookEra::Today,
                    _ => return problem(tok.column, format!("expected '2006' or 'today', found {}", show(tok.text))),
                };
                cur.finish()?;
                Op::Hooks { era }
            }
            "audit" => {
                cur.finish()?;
                Op::Audit
            }
            "policy" => {
                const MODULE: &str = "'apparmor', 'selinux' or 'landlock'";
                let tok = cur.next(MODULE)?;
                let module = match tok.text {
                    "apparmor" => PolicyModule::AppArmor,
                    "selinux" => PolicyModule::SeLinux,
                    "landlock" => PolicyModule::Landlock,
                    _ => return problem(tok.column, format!("expected {MODULE}, found {}", show(tok.text))),
                };
                let file = cur.next("a policy file like passwd.profile")?;
                cur.finish()?;
                Op::Policy { module, file: file.text.to_owned(), column: Column(file.column), text: String::new() }
            }
            "restorecon" => {
                let path = path(cur.next(PATH)?);
                cur.finish()?;
                Op::Restorecon { path }
            }
            "container" => self.container_decl(line, cur)?,
            "beancounters" | "ps" => {
                let name = self.container(cur.next(CONTAINER)?)?;
                cur.finish()?;
                if verb.text == "ps" { Op::Ps { name } } else { Op::Beancounters { name } }
            }
            "host" => {
                let tok = cur.next(NAME)?;
                if tok.text == LOCAL_HOST {
                    return problem(tok.column, "host 'local' is the scenario's own machine: choose another name");
                }
                let name = self.new_name(tok)?.to_owned();
                let link = link_options(cur)?.unwrap_or_default();
                self.hosts.insert(name.clone(), line);
                Op::Host { name, link }
            }
            "migrate" => self.migrate(cur)?,
            "label" => {
                let path = cur.peek().map(path);
                if path.is_some() {
                    cur.pos += 1;
                }
                cur.finish()?;
                Op::Label { path }
            }
            _ => {
                return problem(
                    verb.column,
                    format!("unknown verb {}: expected one of {}", show(verb.text), VERBS.join(", ")),
                );
            }
        };
        Ok(op)
    }

    /// A name being declared: well formed and not taken.
    fn new_name<'a>(&self, tok: Tok<'a>) -> PResult<&'a str> {
        if !is_name(tok.text) {
            return problem(tok.column, format!("expected {NAME}, found {}", show(tok.text)));
        }
        if let Some(&id) = self.by_name.get(tok.text) {
            return problem(
                tok.column,
                format!("name '{}' is already declared on line {}", tok.text, self.objects[id.0].line),
            );
        }
        if let Some(line) = self.containers.get(tok.text).or_else(|| self.hosts.get(tok.text)) {
            return problem(tok.column, format!("name '{}' is already declared on line {line}", tok.text));
        }
        if let Some(t) = self.threads.iter().find(|t| t.name == tok.text) {
            return problem(tok.column, format!("thread '{}' is already declared on line {}", tok.text, t.line));
        }
        Ok(tok.text)
    }

    /// The size of a new buffer or file, in pages: its size in bytes must
    /// be representable too.
    fn pages(tok: Tok<'_>, kind: &str, name: &str) -> PResult<u64> {
        let pages = num(tok, PAGES)?;
        if pages > MAX_PAGES {
            return problem(
                tok.column,
                format!(
                    "{kind} '{name}' of {pages} pages is too large: its size in bytes \
                     ({pages} x {PAGE_SIZE}) is larger than 2^63-1 (at most {MAX_PAGES} pages)"
                ),
            );
        }
        Ok(pages)
    }

    fn declare(&mut self, line: usize, name: &str, kind: ObjKind) -> Op {
        let id = ObjId(self.objects.len());
        self.objects.push(Object { name: name.to_owned(), kind, line });
        self.by_name.insert(name.to_owned(), id);
        Op::Declare(id)
    }

    /// A declared object, by the name at `tok`.
    fn lookup(&self, name: &str, tok: Tok<'_>) -> PResult<(ObjId, &Object)> {
        match self.by_name.get(name) {
            Some(&id) => Ok((id, &self.objects[id.0])),
            None => problem(tok.column, format!("unknown name '{name}' (declare it before use)")),
        }
    }

    /// A range `BUF[START..END]` or a whole buffer `BUF`; `what` is what the
    /// message says was expected if the token is not shaped like a range.
    fn range(&self, tok: Tok<'_>, what: &str) -> PResult<Range> {
        let malformed = || problem(tok.column, format!("expected {what}, found {}", show(tok.text)));
        let (name, bounds) = match tok.text.split_once('[') {
            None => (tok.text, None),
            Some((name, rest)) => {
                let Some((start, end)) = rest.strip_suffix(']').and_then(|r| r.split_once("..")) else {
                    return malformed();
                };
                (name, Some((start, end)))
            }
        };
        if !is_name(name) {
            return malformed();
        }
        let (buffer, object) = self.lookup(name, tok)?;
        let ObjKind::Buffer { pages } = object.kind else {
            return problem(
                tok.column,
                format!("'{name}' is {}, not a buffer: expected {RANGE}", kind_phrase(&object.kind)),
            );
        };
        // Cannot overflow: declarations keep `pages <= MAX_PAGES`.
        let size = pages * PAGE_SIZE;
        let (start, end) = match bounds {
            None => (0, size),
            Some((start, end)) => {
                const BOUND: &str = "a range bound like 0, 4096 or 2p";
                let bound = |text| {
                    number(text, BOUND).map_err(|m| Problem {
                        column: tok.column,
                        message: format!("in range {}: {m}", show(tok.text)),
                    })
                };
                (bound(start)?, bound(end)?)
            }
        };
        if start > end {
            return problem(tok.column, format!("range {} starts after its end ({start} > {end})", escape(tok.text)));
        }
        if end > size {
            return problem(
                tok.column,
                format!(
                    "range {} ends past the end of buffer '{name}' ({pages} {} = {size} bytes)",
                    escape(tok.text),
                    plural_pages(pages)
                ),
            );
        }
        Ok(Range { buffer, start, end })
    }

    /// A descriptor operand without an offset.
    fn fd(&self, tok: Tok<'_>) -> PResult<Fd> {
        self.fd_arg(tok, false).map(|arg| arg.fd)
    }

    /// A descriptor operand, `FD` or (where `offset_ok`) `FD@OFF`.
    fn fd_arg(&self, tok: Tok<'_>, offset_ok: bool) -> PResult<FdArg> {
        let (fd_text, offset) = match tok.text.split_once('@') {
            None => (tok.text, None),
            Some(_) if !offset_ok => {
                return problem(
                    tok.column,
                    format!(
                        "an explicit offset (FD@OFF) is allowed only on splice's operands \
                         and on sendfile's input: expected {FD}, found {}",
                        show(tok.text)
                    ),
                );
            }
            Some((fd_text, off)) => {
                let off = number(off, OFFSET).map_err(|m| Problem {
                    column: tok.column,
                    message: format!("after '@' in {}: {m}", show(tok.text)),
                })?;
                (fd_text, Some(off))
            }
        };
        let (name, end) = match fd_text.split_once('.') {
            None => (fd_text, None),
            Some((name, end)) => (name, Some(end)),
        };
        if !is_name(name) {
            return problem(tok.column, format!("expected {FD}, found {}", show(tok.text)));
        }
        let (object, obj) = self.lookup(name, tok)?;
        let end = match (&obj.kind, end) {
            (ObjKind::Pipe, Some("r")) => End::Read,
            (ObjKind::Pipe, Some("w")) => End::Write,
            (ObjKind::Tcp { .. }, Some("tx")) => End::Tx,
            (ObjKind::Tcp { .. }, Some("rx")) => End::Rx,
            (ObjKind::File { .. } | ObjKind::Opened, None) => End::File,
            (ObjKind::Opened, Some(end)) => {
                return problem(
                    tok.column,
                    format!("'{name}' (an open file) has no end {}: use its bare name {name}", show(end)),
                );
            }
            (ObjKind::Pipe, None) => {
                return problem(tok.column, format!("'{name}' is a pipe: use {name}.r or {name}.w"));
            }
            (ObjKind::Pipe, Some(end)) => {
                return problem(
                    tok.column,
                    format!("pipe '{name}' has no end {}: use {name}.r or {name}.w", show(end)),
                );
            }
            (ObjKind::Tcp { .. }, None) => {
                return problem(tok.column, format!("'{name}' is a tcp pair: use {name}.tx or {name}.rx"));
            }
            (ObjKind::Tcp { .. }, Some(end)) => {
                return problem(
                    tok.column,
                    format!("tcp pair '{name}' has no end {}: use {name}.tx or {name}.rx", show(end)),
                );
            }
            (ObjKind::File { .. }, Some(end)) => {
                return problem(
                    tok.column,
                    format!("file '{name}' has no end {}: use its bare name {name}", show(end)),
                );
            }
            (ObjKind::Buffer { .. }, _) => {
                return problem(tok.column, format!("'{name}' is a buffer, not a file descriptor: expected {FD}"));
            }
        };
        Ok(FdArg { fd: Fd { object, end }, offset })
    }
}

/// "a pipe", "a file", ... for messages.
fn kind_phrase(kind: &ObjKind) -> &'static str {
    match kind {
        ObjKind::Buffer { .. } => "a buffer",
        ObjKind::Pipe => "a pipe",
        ObjKind::File { .. } => "a file",
        ObjKind::Tcp { .. } => "a tcp pair",
        ObjKind::Opened => "an open file",
    }
}

/// A path operand: the token as written (the kernel checks it).
fn path(tok: Tok<'_>) -> String {
    tok.text.to_owned()
}

/// An octal mode, `0` to `7777`.
fn octal(tok: Tok<'_>) -> PResult<u32> {
    let t = tok.text;
    if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return problem(tok.column, format!("expected {MODE}, found {}", show(t)));
    }
    Ok(t.bytes().fold(0u32, |v, b| v * 8 + u32::from(b - b'0')))
}

/// A uid or gid: decimal, below 2^32 - 1 (which means "no change").
fn id(tok: Tok<'_>) -> PResult<u32> {
    match digits_value(tok.text) {
        Some(v) if v < u64::from(u32::MAX) => Ok(v as u32),
        Some(_) => problem(tok.column, format!("id {} is too large (at most 4294967294)", escape(tok.text))),
        None => problem(tok.column, format!("expected {ID}, found {}", show(tok.text))),
    }
}

/// What may follow `tcp NAME`: nothing (loopback), or `link` and the
/// model-only link options `rtt=50ms loss=2% reorder=1% bw=1gbit mss=1448
/// seed=7 delack=40ms`, each optional, in any order, each at most once.
fn link_options(cur: &mut Cursor<'_, '_>) -> PResult<Option<tcp_sim::LinkParams>> {
    const LINK: &str = "'link' or end of line";
    let Some(tok) = cur.peek() else {
        return Ok(None);
    };
    if tok.text != "link" {
        return problem(tok.column, format!("expected {LINK}, found {}", show(tok.text)));
    }
    cur.pos += 1;
    let mut params = tcp_sim::LinkParams::default();
    let mut given: Vec<&str> = Vec::new();
    while let Some(tok) = cur.peek() {
        cur.pos += 1;
        let options = tcp_sim::link::OPTIONS.join("=, ");
        let Some((name, value)) = tok.text.split_once('=') else {
            return problem(
                tok.column,
                format!("expected a link option like rtt=50ms ({options}=), found {}", show(tok.text)),
            );
        };
        if given.contains(&name) {
            return problem(tok.column, format!("link option '{name}' given twice"));
        }
        params.set(name, value).map_err(|message| Problem { column: tok.column, message })?;
        given.push(tcp_sim::link::OPTIONS.iter().copied().find(|o| *o == name).unwrap_or("?"));
    }
    Ok(Some(params))
}

/// A number operand; `what` describes it for the message.
fn num(tok: Tok<'_>, what: &str) -> PResult<u64> {
    number(tok.text, what).map_err(|message| Problem { column: tok.column, message })
}

/// `advance`'s operand in nanoseconds: a number of milliseconds (with the
/// usual `k`/`p` suffixes), or decimal digits with a unit `us`, `ms` or `s`.
fn time(tok: Tok<'_>) -> PResult<u64> {
    const UNITS: [(&str, u64); 3] = [("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000)];
    let t = tok.text;
    let value = match UNITS.iter().find_map(|&(unit, ns)| Some((t.strip_suffix(unit)?, ns))) {
        Some((digits, unit_ns)) => match digits_value(digits) {
            None => Err(format!("expected {TIME}, found {}", show(t))),
            Some(v) if v > MAX_NUMBER => Err(too_large(digits)),
            Some(v) => Ok((v, unit_ns)),
        },
        None => number(t, TIME).map(|v| (v, 1_000_000)),
    };
    let (value, unit_ns) = value.map_err(|message| Problem { column: tok.column, message })?;
    match value.checked_mul(unit_ns).filter(|&ns| ns <= MAX_NUMBER) {
        Some(ns) => Ok(ns),
        None => problem(tok.column, format!("time {} is too long: in nanoseconds it is larger than 2^63-1", escape(t))),
    }
}

/// Read every policy file a scenario names (relative to `dir`, the
/// scenario's directory) into its `policy` step, and check them all in order
/// as the kernel will load them.
///
/// # Errors
/// A file that cannot be read (at the scenario's line), or the first policy
/// error (in the policy file, with its line and column).
pub fn load_policies(scenario: &mut Scenario, dir: &std::path::Path) -> Result<(), ParseError> {
    let mut files: Vec<(PolicyModule, String, String)> = Vec::new();
    for step in &mut scenario.steps {
        if let Op::Policy { module, file, column, text } = &mut step.op {
            let path = dir.join(&*file);
            *text = std::fs::read_to_string(&path).map_err(|e| ParseError {
                file: scenario.path.clone(),
                line: step.line,
                column: column.0,
                message: format!("cannot read policy file {}: {e}", path.display()),
            })?;
            files.push((*module, path.display().to_string(), text.clone()));
        }
    }
    crate::lsm::check_policies(files.iter().map(|(m, f, t)| (*m, f.as_str(), t.as_str())))
        .map_err(|(i, e)| ParseError { file: files[i].1.clone(), line: e.line, column: e.column, message: e.message })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECLS: &str = "buffer buf 4\npipe p\nfile f 2 'z'\ntcp t\n";

    fn ok(text: &str) -> Scenario {
        match parse("t.scn", text) {
            Ok(s) => s,
            Err(e) => panic!("unexpected parse error: {e}"),
        }
    }

    fn err(text: &str) -> ParseError {
        match parse("t.scn", text) {
            Ok(s) => panic!("parsed, expected an error: {} steps", s.steps.len()),
            Err(e) => e,
        }
    }

    /// The op of the one line `line` after the standard declarations.
    fn op(line: &str) -> Op {
        let s = ok(&format!("{DECLS}{line}\n"));
        assert_eq!(s.steps.len(), 5, "{line}");
        s.steps[4].op.clone()
    }

    /// The error of the one line `line` after the standard declarations:
    /// (column, message); the line must be line 5.
    fn line_err(line: &str) -> (usize, String) {
        let e = err(&format!("{DECLS}{line}\n"));
        assert_eq!(e.line, 5, "{e}");
        (e.column, e.message)
    }

    const BUF: ObjId = ObjId(0);
    const P: ObjId = ObjId(1);
    const F: ObjId = ObjId(2);
    const T: ObjId = ObjId(3);

    fn fd(object: ObjId, end: End) -> Fd {
        Fd { object, end }
    }

    fn arg(object: ObjId, end: End, offset: Option<u64>) -> FdArg {
        FdArg { fd: fd(object, end), offset }
    }

    fn range(start: u64, end: u64) -> Range {
        Range { buffer: BUF, start, end }
    }

    #[test]
    fn declarations_make_objects_and_steps() {
        let s = ok(DECLS);
        assert_eq!(s.path, "t.scn");
        assert_eq!(
            s.objects,
            vec![
                Object { name: "buf".into(), kind: ObjKind::Buffer { pages: 4 }, line: 1 },
                Object { name: "p".into(), kind: ObjKind::Pipe, line: 2 },
                Object { name: "f".into(), kind: ObjKind::File { pages: 2, byte: b'z' }, line: 3 },
                Object { name: "t".into(), kind: ObjKind::Tcp { link: None }, line: 4 },
            ]
        );
        let ops: Vec<_> = s.steps.iter().map(|st| st.op.clone()).collect();
        assert_eq!(ops, (0..4).map(|i| Op::Declare(ObjId(i))).collect::<Vec<_>>());
        assert_eq!(s.steps[2].text, "file f 2 'z'");
        assert_eq!(s.name(F), "f");
    }

    #[test]
    fn fill_parses_range_and_byte() {
        assert_eq!(op("fill buf[0..2p] 'B'"), Op::Fill { range: range(0, 8192), byte: b'B' });
        assert_eq!(op("fill buf '\\x00'"), Op::Fill { range: range(0, 16384), byte: 0 });
    }

    #[test]
    fn write_and_read_parse_with_and_without_nonblock() {
        assert_eq!(op("write p.w 4k 'x'"), Op::Write { fd: fd(P, End::Write), len: 4096, byte: b'x', nonblock: false });
        assert_eq!(
            op("write t.tx 1 'x' nonblock"),
            Op::Write { fd: fd(T, End::Tx), len: 1, byte: b'x', nonblock: true }
        );
        assert_eq!(op("read p.r 4096"), Op::Read { fd: fd(P, End::Read), len: 4096, nonblock: false });
        assert_eq!(op("read f 1p nonblock"), Op::Read { fd: fd(F, End::File), len: 4096, nonblock: true });
        assert_eq!(op("recv t.rx 100"), Op::Recv { fd: fd(T, End::Rx), len: 100 });
        // recv on a non-socket parses: the syscall answers -ENOTSOCK.
        assert_eq!(op("recv p.r 1"), Op::Recv { fd: fd(P, End::Read), len: 1 });
    }

    #[test]
    fn vmsplice_takes_ranges_then_flags_in_any_order() {
        assert_eq!(
            op("vmsplice p.w buf[0..4p]"),
            Op::Vmsplice { fd: fd(P, End::Write), ranges: vec![range(0, 16384)], gift: false, nonblock: false }
        );
        assert_eq!(
            op("vmsplice p.w buf[0..100] buf[200..300] buf nonblock gift"),
            Op::Vmsplice {
                fd: fd(P, End::Write),
                ranges: vec![range(0, 100), range(200, 300), range(0, 16384)],
                gift: true,
                nonblock: true
            }
        );
        assert_eq!(
            op("vmsplice p.w buf gift"),
            Op::Vmsplice { fd: fd(P, End::Write), ranges: vec![range(0, 16384)], gift: true, nonblock: false }
        );
    }

    #[test]
    fn vmsplice_needs_a_range_and_flags_come_last() {
        let (col, msg) = line_err("vmsplice p.w");
        assert_eq!(col, 13);
        assert_eq!(msg, "expected a range like buf[0..4096] or buf, found end of line");
        let (col, msg) = line_err("vmsplice p.w gift");
        assert_eq!(col, 14);
        assert_eq!(msg, "unknown name 'gift' (declare it before use)");
        let (col, msg) = line_err("vmsplice p.w buf gift buf");
        assert_eq!(col, 23);
        assert_eq!(msg, "expected 'gift', 'nonblock' or end of line, found 'buf'");
        let (col, msg) = line_err("vmsplice p.w buf gift gift");
        assert_eq!(col, 23);
        assert_eq!(msg, "flag 'gift' given twice");
        let (col, msg) = line_err("vmsplice p.w buf 12");
        assert_eq!(col, 18);
        assert_eq!(
            msg,
            "expected a range like buf[0..4096] or buf, 'gift', 'nonblock' or end of line, \
             found '12'"
        );
    }

    #[test]
    fn a_buffer_named_like_a_flag_is_a_range_first_and_a_flag_after() {
        let s = ok("buffer gift 1\npipe p\nvmsplice p.w gift gift\nvmsplice p.w gift gift[0..1]\n");
        let Op::Vmsplice { ranges, gift, .. } = &s.steps[2].op else { panic!("{:?}", s.steps[2].op) };
        assert_eq!(ranges.len(), 1);
        assert!(gift);
        let Op::Vmsplice { ranges, gift, .. } = &s.steps[3].op else { panic!("{:?}", s.steps[3].op) };
        assert_eq!(ranges.len(), 2);
        assert!(!gift);
    }

    #[test]
    fn splice_takes_offsets_on_both_operands_and_flags_in_any_order() {
        assert_eq!(
            op("splice f@4k p.w 2p more nonblock move"),
            Op::Splice {
                input: arg(F, End::File, Some(4096)),
                output: arg(P, End::Write, None),
                len: 8192,
                nonblock: true,
                mov: true,
                more: true
            }
        );
        assert_eq!(
            op("splice p.r f@0 10"),
            Op::Splice {
                input: arg(P, End::Read, None),
                output: arg(F, End::File, Some(0)),
                len: 10,
                nonblock: false,
                mov: false,
                more: false
            }
        );
        // An offset on a pipe parses: the syscall answers -ESPIPE.
        assert_eq!(
            op("splice p.r@0 t.tx 1 move"),
            Op::Splice {
                input: arg(P, End::Read, Some(0)),
                output: arg(T, End::Tx, None),
                len: 1,
                nonblock: false,
                mov: true,
                more: false
            }
        );
    }

    #[test]
    fn splice_rejects_repeated_and_unknown_flags() {
        let (col, msg) = line_err("splice p.r f 1 move more move");
        assert_eq!(col, 26);
        assert_eq!(msg, "flag 'move' given twice");
        let (col, msg) = line_err("splice p.r f 1 gift");
        assert_eq!(col, 16);
        assert_eq!(msg, "expected 'nonblock', 'move', 'more' or end of line, found 'gift'");
    }

    #[test]
    fn tee_sendfile_pwrite_close_parse() {
        assert_eq!(
            op("tee p.r p.w 100 nonblock"),
            Op::Tee { input: fd(P, End::Read), output: fd(P, End::Write), len: 100, nonblock: true }
        );
        assert_eq!(
            op("sendfile t.tx f@1p 4096"),
            Op::Sendfile { output: fd(T, End::Tx), input: arg(F, End::File, Some(4096)), len: 4096 }
        );
        assert_eq!(
            op("sendfile p.w f 1"),
            Op::Sendfile { output: fd(P, End::Write), input: arg(F, End::File, None), len: 1 }
        );
        assert_eq!(op("pwrite f 100 4k 'q'"), Op::Pwrite { fd: fd(F, End::File), offset: 100, len: 4096, byte: b'q' });
        // pwrite to a pipe parses: the syscall answers -ESPIPE.
        assert_eq!(op("pwrite p.w 0 1 'q'"), Op::Pwrite { fd: fd(P, End::Write), offset: 0, len: 1, byte: b'q' });
        assert_eq!(op("close p.w"), Op::Close { fd: fd(P, End::Write) });
        assert_eq!(op("close f"), Op::Close { fd: fd(F, End::File) });
    }

    #[test]
    fn fcntl_commands_parse() {
        let cases = [
            ("fcntl p.w getpipe_sz", FcntlCmd::GetPipeSz),
            ("fcntl p.w setpipe_sz 16p", FcntlCmd::SetPipeSz(65536)),
            ("fcntl p.r getpsz", FcntlCmd::GetPsz),
            ("fcntl p.r setpsz 16", FcntlCmd::SetPsz(16)),
        ];
        for (line, cmd) in cases {
            let o = op(line);
            assert_eq!(o, Op::Fcntl { fd: o_fd(&o), cmd }, "{line}");
        }
        assert!(!op("fcntl p.w getpipe_sz").is_model_only());
        assert!(op("fcntl p.w getpsz").is_model_only());
        let (col, msg) = line_err("fcntl p.w getsz");
        assert_eq!(col, 11);
        assert_eq!(msg, "expected getpipe_sz, setpipe_sz N, getpsz or setpsz N, found 'getsz'");
        let (col, msg) = line_err("fcntl p.w setpipe_sz");
        assert_eq!(col, 21);
        assert_eq!(msg, "expected a pipe size in bytes like 65536 or 16p, found end of line");
        let (col, msg) = line_err("fcntl p.w getpipe_sz 5");
        assert_eq!(col, 22);
        assert_eq!(msg, "expected end of line, found '5'");
    }

    fn o_fd(o: &Op) -> Fd {
        match o {
            Op::Fcntl { fd, .. } => *fd,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn model_only_operations_parse() {
        assert_eq!(op("refs buf[0..1]"), Op::Refs { range: range(0, 1) });
        assert_eq!(op("expect reusable buf"), Op::Expect { what: Expectation::Reusable, range: range(0, 16384) });
        assert_eq!(op("expect busy buf[4k..8k]"), Op::Expect { what: Expectation::Busy, range: range(4096, 8192) });
        let (col, msg) = line_err("expect free buf");
        assert_eq!(col, 8);
        assert_eq!(msg, "expected 'reusable', 'busy' or 'intact', found 'free'");
        assert_eq!(op("expect intact t.rx"), Op::ExpectIntact { fd: Fd { object: ObjId(3), end: End::Rx } });
    }

    #[test]
    fn tcp_link_options_parse_in_any_order() {
        let s = ok("tcp a\ntcp b link\ntcp c link seed=7 rtt=50ms loss=2% reorder=1% bw=1gbit mss=1448 delack=40ms\n");
        assert_eq!(s.objects[0].kind, ObjKind::Tcp { link: None });
        assert_eq!(s.objects[1].kind, ObjKind::Tcp { link: Some(tcp_sim::LinkParams::default()) });
        let ObjKind::Tcp { link: Some(p) } = s.objects[2].kind else { panic!("not a link") };
        assert_eq!(
            (p.rtt.0, p.loss_ppm, p.reorder_ppm, p.bandwidth, p.mss, p.seed, p.delack.0),
            (50_000_000, 20_000, 10_000, 1_000_000_000, 1448, 7, 40_000_000)
        );
        assert!(s.is_model_only(&s.steps[1]) && !s.is_model_only(&s.steps[0]));
    }

    #[test]
    fn impossible_link_options_are_rejected_naming_the_option() {
        for (line, col, want) in [
            ("tcp u link rtt=-5ms", 12, "link option rtt=-5ms: a time cannot be negative"),
            ("tcp u link loss=150%", 12, "link option loss=150%: a probability cannot be above 100%"),
            ("tcp u link mss=0", 12, "link option mss=0: the MSS must be at least 1 byte"),
            ("tcp u link bw=0kbit", 12, "link option bw=0kbit: a bandwidth must be above 0"),
            ("tcp u link rtt=5ms rtt=6ms", 20, "link option 'rtt' given twice"),
            ("tcp u link jitter=3ms", 12, "unknown link option 'jitter': expected one of rtt, loss"),
            ("tcp u link 50ms", 12, "expected a link option like rtt=50ms"),
            ("tcp u fast", 7, "expected 'link' or end of line, found 'fast'"),
        ] {
            let (c, m) = line_err(line);
            assert!(c == col && m.contains(want), "{line}: got ({c}, {m:?}), want ({col}, {want:?})");
        }
    }

    #[test]
    fn socket_verbs_parse() {
        let t = |end| Fd { object: ObjId(3), end };
        assert_eq!(
            op("send t.tx buf[0..10] more zerocopy"),
            Op::Send { fd: t(End::Tx), range: range(0, 10), zerocopy: true, more: true, nonblock: false }
        );
        assert_eq!(op("setsockopt t.tx zerocopy"), Op::SetZerocopy { fd: t(End::Tx) });
        assert_eq!(op("errqueue t.tx"), Op::Errqueue { fd: t(End::Tx) });
        assert_eq!(line_err("setsockopt t.tx nodelay").1, "expected a socket option: zerocopy, found 'nodelay'");
    }

    #[test]
    fn advance_takes_milliseconds_or_a_unit() {
        let cases = [
            ("advance 50ms", 50_000_000),
            ("advance 1s", 1_000_000_000),
            ("advance 250us", 250_000),
            ("advance 7", 7_000_000),
            ("advance 0", 0),
            ("advance 1k", 1_024_000_000),
        ];
        for (line, ns) in cases {
            assert_eq!(op(line), Op::Advance { ns }, "{line}");
        }
        let (col, msg) = line_err("advance 5ns");
        assert_eq!(col, 9);
        assert_eq!(msg, "expected a time like 50ms, 250us or 1s (a bare number is milliseconds), found '5ns'");
        let (_, msg) = line_err("advance 9223372036854775s");
        assert_eq!(msg, "time 9223372036854775s is too long: in nanoseconds it is larger than 2^63-1");
        let (_, msg) = line_err("advance 9223372036854775808us");
        assert_eq!(msg, "number 9223372036854775808 is larger than 2^63-1");
        assert_eq!(op("advance 9223372036854775us"), Op::Advance { ns: 9_223_372_036_854_775_000 });
    }

    #[test]
    fn checkpoint_and_restore_take_one_file_name() {
        assert_eq!(op("checkpoint mid.img"), Op::Checkpoint { file: "mid.img".into() });
        assert_eq!(op("restore /tmp/a.img"), Op::Restore { file: "/tmp/a.img".into() });
        assert_eq!(op("restore web.img into local"), Op::RestoreInto { file: "web.img".into(), host: "local".into() });
        let (col, msg) = line_err("checkpoint");
        assert_eq!(col, 11);
        assert_eq!(msg, "expected an image file name like mid.img, found end of line");
        let (_, msg) = line_err("restore");
        assert_eq!(msg, "expected an image file name like mid.img, found end of line");
        let (col, _) = line_err("restore a.img b.img");
        assert_eq!(col, 15);
    }

    #[test]
    fn unknown_verb_lists_the_verbs() {
        let e = err("\n  frob p\n");
        assert_eq!((e.line, e.column), (2, 3));
        assert_eq!(
            e.message,
            "unknown verb 'frob': expected one of buffer, pipe, file, tcp, fill, write, read, \
             recv, vmsplice, splice, tee, sendfile, pwrite, fcntl, close, send, setsockopt, errqueue, refs, \
             expect, advance, wait, thread, end, mkdir, rmdir, create, link, symlink, rename, unlink, open, stat, \
             chmod, chown, chdir, bind, unshare, chroot, process, setuid, exec, hooks, audit, policy, restorecon, \
             label, truncate, checkpoint, restore, container, in, beancounters, ps, host, migrate"
        );
    }

    #[test]
    fn name_verbs_take_paths_modes_and_ids() {
        assert_eq!(op("mkdir /etc"), Op::Mkdir { path: "/etc".into(), mode: 0o777 });
        assert_eq!(op("mkdir /tmp 1777"), Op::Mkdir { path: "/tmp".into(), mode: 0o1777 });
        assert_eq!(op("link /a b/c"), Op::Link { old: "/a".into(), new: "b/c".into() });
        assert_eq!(op("chown /a 1000 100"), Op::Chown { path: "/a".into(), uid: 1000, gid: 100 });
        assert_eq!(op("setuid 1000 100"), Op::Setuid { uid: 1000, gid: 100 });
        assert_eq!(op("unshare mount"), Op::Unshare);
        assert_eq!(op("hooks 2006"), Op::Hooks { era: HookEra::Y2006 });
        for (line, col, want) in [
            ("mkdir /a 8", 10, "expected an octal mode like 755 or 1777, found '8'"),
            ("mkdir /a 17777", 10, "expected an octal mode like 755 or 1777, found '17777'"),
            ("chmod /a", 9, "expected an octal mode like 755 or 1777, found end of line"),
            ("chown /a x 0", 10, "expected a numeric id like 0 or 1000, found 'x'"),
            ("setuid 4294967295 0", 8, "id 4294967295 is too large (at most 4294967294)"),
            ("unshare net", 9, "expected 'mount', found 'net'"),
            ("hooks 2007", 7, "expected '2006' or 'today', found '2007'"),
            ("rename /a", 10, "expected a path like /etc/passwd, found end of line"),
            ("process P", 9, "expected a name like buf or p1 ([a-z][a-z0-9_]*), found 'P'"),
        ] {
            let (c, msg) = line_err(line);
            assert_eq!((c, msg.as_str()), (col, want), "{line}");
        }
    }

    #[test]
    fn open_declares_a_descriptor_name() {
        let s = ok("open f /etc/passwd rw\nread f 10\nclose f\n");
        assert_eq!(s.objects[0].kind, ObjKind::Opened);
        assert_eq!(s.steps[0].op, Op::Open { name: ObjId(0), path: "/etc/passwd".into(), access: Access::ReadWrite });
        assert_eq!(s.steps[1].op, Op::Read { fd: Fd { object: ObjId(0), end: End::File }, len: 10, nonblock: false });
        let e = err("open f /a x\n");
        assert_eq!((e.column, e.message.as_str()), (11, "expected 'r', 'w' or 'rw', found 'x'"));
        let e = err("open f /a r\nread f.r 1\n");
        assert_eq!(e.message, "'f' (an open file) has no end 'r': use its bare name f");
    }

    #[test]
    fn lines_after_a_model_only_change_are_model_only() {
        let s = ok("mkdir /a\nstat /a\nexec /a\nstat /\naudit\n");
        let only: Vec<bool> = s.steps.iter().map(Step::model_only).collect();
        assert_eq!(only, [false, false, true, true, true]);
        let s = ok("mkdir /a\nhooks 2006\nstat /a\n");
        let only: Vec<bool> = s.steps.iter().map(Step::model_only).collect();
        assert_eq!(only, [false, true, false]);
    }

    #[test]
    fn display_is_file_line_column_message() {
        let e = err("pipe p\nread q.r 1\n");
        assert_eq!(e.to_string(), "t.scn:2:6: unknown name 'q' (declare it before use)");
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.to_string().starts_with("t.scn:2:6: "));
    }

    #[test]
    fn names_are_declared_once_and_before_use() {
        let e = err("pipe p\n# again\npipe p\n");
        assert_eq!((e.line, e.column), (3, 6));
        assert_eq!(e.message, "name 'p' is already declared on line 1");
        let e = err("buffer p 1\ntcp p\n");
        assert_eq!(e.message, "name 'p' is already declared on line 1");
        let e = err("read p.r 1\npipe p\n");
        assert_eq!((e.line, e.column), (1, 6));
        assert_eq!(e.message, "unknown name 'p' (declare it before use)");
        for bad in ["P", "1p", "_x", "p-q", "p.r", "é"] {
            let e = err(&format!("pipe {bad}\n"));
            assert_eq!(e.column, 6, "{bad}");
            assert_eq!(e.message, format!("expected a name like buf or p1 ([a-z][a-z0-9_]*), found '{bad}'"));
        }
        let s = ok("pipe a_1\nbuffer z9 0\nread a_1.r 0\n");
        assert_eq!(s.objects.len(), 2);
    }

    #[test]
    fn fd_operands_must_name_the_right_end() {
        let cases = [
            ("read p 1", "'p' is a pipe: use p.r or p.w"),
            ("read p.tx 1", "pipe 'p' has no end 'tx': use p.r or p.w"),
            ("read p. 1", "pipe 'p' has no end '': use p.r or p.w"),
            ("read t 1", "'t' is a tcp pair: use t.tx or t.rx"),
            ("read t.r 1", "tcp pair 't' has no end 'r': use t.tx or t.rx"),
            ("read f.r 1", "file 'f' has no end 'r': use its bare name f"),
            (
                "read buf 1",
                "'buf' is a buffer, not a file descriptor: expected a file descriptor like \
                 p.r, p.w, t.tx, t.rx or a file name",
            ),
            (
                "read P.r 1",
                "expected a file descriptor like p.r, p.w, t.tx, t.rx or a file name, \
                 found 'P.r'",
            ),
            ("read q.r 1", "unknown name 'q' (declare it before use)"),
        ];
        for (line, want) in cases {
            let (col, msg) = line_err(line);
            assert_eq!(col, 6, "{line}");
            assert_eq!(msg, want, "{line}");
        }
    }

    #[test]
    fn offsets_are_allowed_only_on_splice_and_sendfile_input() {
        let rejected = [
            ("write f@0 1 'a'", 7),
            ("read f@0 1", 6),
            ("recv t.rx@0 1", 6),
            ("vmsplice p.w@0 buf", 10),
            ("tee p.r@0 p.w 1", 5),
            ("tee p.r p.w@0 1", 9),
            ("sendfile p.w@0 f 1", 10),
            ("pwrite f@0 0 1 'a'", 8),
            ("fcntl p.w@0 getpipe_sz", 7),
            ("close f@0", 7),
        ];
        for (line, col) in rejected {
            let (c, msg) = line_err(line);
            assert_eq!(c, col, "{line}");
            assert!(
                msg.starts_with(
                    "an explicit offset (FD@OFF) is allowed only on splice's operands and on \
                     sendfile's input"
                ),
                "{line}: {msg}"
            );
        }
        let (col, msg) = line_err("splice f@x p.w 1");
        assert_eq!(col, 8);
        assert_eq!(msg, "after '@' in 'f@x': expected an offset like 0, 4096 or 1p, found 'x'");
    }

    #[test]
    fn ranges_are_checked_against_their_buffer() {
        let cases = [
            ("fill buf[0..5p] 'a'", "range buf[0..5p] ends past the end of buffer 'buf' (4 pages = 16384 bytes)"),
            ("fill buf[0..16385] 'a'", "range buf[0..16385] ends past the end of buffer 'buf' (4 pages = 16384 bytes)"),
            ("fill buf[5..3] 'a'", "range buf[5..3] starts after its end (5 > 3)"),
            ("fill p 'a'", "'p' is a pipe, not a buffer: expected a range like buf[0..4096] or buf"),
            ("fill f[0..1] 'a'", "'f' is a file, not a buffer: expected a range like buf[0..4096] or buf"),
            ("fill t 'a'", "'t' is a tcp pair, not a buffer: expected a range like buf[0..4096] or buf"),
            ("fill nope 'a'", "unknown name 'nope' (declare it before use)"),
            ("fill buf[0..1 'a'", "expected a range like buf[0..4096] or buf, found 'buf[0..1'"),
            ("fill buf[0-1] 'a'", "expected a range like buf[0..4096] or buf, found 'buf[0-1]'"),
            ("fill buf[..1] 'a'", "in range 'buf[..1]': expected a range bound like 0, 4096 or 2p, found ''"),
            (
                "fill buf[0x0..1] 'a'",
                "in range 'buf[0x0..1]': expected a range bound like 0, 4096 or 2p, \
                 found '0x0'",
            ),
            (
                "fill buf[0..1..2] 'a'",
                "in range 'buf[0..1..2]': expected a range bound like 0, 4096 or 2p, \
                 found '1..2'",
            ),
            ("fill p.r 'a'", "expected a range like buf[0..4096] or buf, found 'p.r'"),
        ];
        for (line, want) in cases {
            let (col, msg) = line_err(line);
            assert_eq!(col, 6, "{line}");
            assert_eq!(msg, want, "{line}");
        }
        let e = err("buffer one 1\nrefs one[0..2p]\n");
        assert_eq!(e.message, "range one[0..2p] ends past the end of buffer 'one' (1 page = 4096 bytes)");
        // Empty ranges, and ranges that end exactly at the end, are fine.
        assert_eq!(op("refs buf[4p..4p]"), Op::Refs { range: range(16384, 16384) });
        assert_eq!(op("refs buf[0..0]"), Op::Refs { range: range(0, 0) });
    }

    #[test]
    fn numbers_take_k_and_p_suffixes_up_to_2_pow_63_minus_1() {
        assert_eq!(
            op("read p.r 9223372036854775807"),
            Op::Read { fd: fd(P, End::Read), len: i64::MAX as u64, nonblock: false }
        );
        assert_eq!(op("read p.r 0003k"), Op::Read { fd: fd(P, End::Read), len: 3072, nonblock: false });
        let (col, msg) = line_err("read p.r 9223372036854775808");
        assert_eq!(col, 10);
        assert_eq!(msg, "number 9223372036854775808 is larger than 2^63-1");
        let (_, msg) = line_err("read p.r 99999999999999999999999999");
        assert_eq!(msg, "number 99999999999999999999999999 is larger than 2^63-1");
        // 2^53 k = 2^63, 2^51 p = 2^63.
        let (_, msg) = line_err("read p.r 9007199254740992k");
        assert_eq!(msg, "number 9007199254740992k is larger than 2^63-1");
        let (_, msg) = line_err("read p.r 2251799813685248p");
        assert_eq!(msg, "number 2251799813685248p is larger than 2^63-1");
        assert_eq!(
            op("read p.r 2251799813685247p"),
            Op::Read { fd: fd(P, End::Read), len: 2_251_799_813_685_247 * 4096, nonblock: false }
        );
        for bad in ["-1", "+1", "0x10", "1K", "1kp", "k", "1.5", "1_000"] {
            let (col, msg) = line_err(&format!("read p.r {bad}"));
            assert_eq!(col, 10);
            assert_eq!(msg, format!("expected a length like 4096, 4k or 2p, found '{bad}'"));
        }
    }

    #[test]
    fn huge_buffers_and_files_are_rejected_at_declaration() {
        let s = ok("buffer b 2251799813685247\nrefs b[0..9223372036854771712]\n");
        assert_eq!(
            s.steps[1].op,
            Op::Refs { range: Range { buffer: ObjId(0), start: 0, end: 9_223_372_036_854_771_712 } }
        );
        let e = err("buffer b 2251799813685248\n");
        assert_eq!((e.line, e.column), (1, 10));
        assert_eq!(
            e.message,
            "buffer 'b' of 2251799813685248 pages is too large: its size in bytes \
             (2251799813685248 x 4096) is larger than 2^63-1 (at most 2251799813685247 pages)"
        );
        let e = err("file f 9223372036854775807 'a'\n");
        assert_eq!(e.column, 8);
        assert!(e.message.starts_with("file 'f' of 9223372036854775807 pages is too large"));
        let e = err("buffer b 9223372036854775808\n");
        assert_eq!(e.message, "number 9223372036854775808 is larger than 2^63-1");
    }

    #[test]
    fn byte_values() {
        let cases = [
            ("'A'", b'A'),
            ("' '", b' '),
            ("'''", b'\''),
            ("'\\'", b'\\'),
            ("'~'", b'~'),
            ("'\\x00'", 0),
            ("'\\xfF'", 0xff),
            ("'\\x23'", b'#'),
        ];
        for (tok, byte) in cases {
            let s = ok(&format!("file f 1 {tok}\n"));
            assert_eq!(s.objects[0].kind, ObjKind::File { pages: 1, byte }, "{tok}");
            assert_eq!(s.steps[0].text, format!("file f 1 {tok}"));
        }
        for bad in ["'AB'", "A", "'\\x4'", "'\\xg0'", "'\\x410'", "'A'x", "'\\''", "'é'", "'\t'", "\"A\""] {
            let e = err(&format!("file f 1 {bad}\n"));
            assert_eq!(e.column, 10, "{bad}");
            assert!(e.message.starts_with("expected a byte value like 'A' or '\\x41', found "), "{bad}: {}", e.message);
        }
        let e = err("file f 1 'AB'\n");
        assert_eq!(e.message, "expected a byte value like 'A' or '\\x41', found 'AB'");
        let e = err("file f 1 '\t'\n");
        assert_eq!(e.message, "expected a byte value like 'A' or '\\x41', found '\\t'");
        let e = err("file f 1 'A' x\n");
        assert_eq!(e.column, 14);
        assert_eq!(e.message, "expected end of line, found 'x'");
    }

    #[test]
    fn comments_run_to_the_end_of_the_line_even_inside_quotes() {
        let s = ok("# a scenario\n\npipe p # the pipe\n   # indented comment\nwrite p.w 1 '\\x23'#c\n");
        assert_eq!(s.steps.len(), 2);
        assert_eq!((s.steps[0].line, s.steps[0].text.as_str()), (3, "pipe p"));
        assert_eq!((s.steps[1].line, s.steps[1].text.as_str()), (5, "write p.w 1 '\\x23'"));
        let e = err("pipe p\nwrite p.w 1 '#'\n");
        assert_eq!((e.line, e.column), (2, 13));
        assert_eq!(
            e.message,
            "unterminated quote: expected a byte value like 'A' or '\\x41', found ' \
             ('#' starts a comment, even inside quotes: write '#' as '\\x23')"
        );
        let e = err("pipe p\nwrite p.w 1 'A\n");
        assert_eq!((e.line, e.column), (2, 13));
        assert_eq!(e.message, "unterminated quote: expected a byte value like 'A' or '\\x41', found 'A");
        // A comment glued to a token ends it.
        let s = ok("pipe p#x\n");
        assert_eq!(s.objects[0].name, "p");
    }

    #[test]
    fn blanks_fold_and_a_quoted_blank_is_one_token() {
        let s = ok(&(DECLS.to_owned() + " \t write\t\tp.w   1  ' '\t nonblock \t\n"));
        assert_eq!(s.steps[4].text, "write p.w 1 ' ' nonblock");
        assert_eq!(s.steps[4].op, Op::Write { fd: fd(P, End::Write), len: 1, byte: b' ', nonblock: true });
        let s = ok(&(DECLS.to_owned() + "fill buf '''\nfill buf ' '  # blank\n"));
        assert_eq!(s.steps[4].text, "fill buf '''");
        assert_eq!(s.steps[5].text, "fill buf ' '");
        assert_eq!(s.steps[5].op, Op::Fill { range: range(0, 16384), byte: b' ' });
        // Columns count bytes, tabs included.
        let e = err("\tpipe\t\tP\n");
        assert_eq!(e.column, 8);
    }

    #[test]
    fn crlf_line_endings_are_accepted() {
        let s = ok("pipe p\r\n\r\nwrite p.w 1 'a'\r\nread p.r 1 # c\r\nclose p.r");
        assert_eq!(s.steps.len(), 4);
        assert_eq!(s.steps[1].line, 3);
        assert_eq!(s.steps[1].text, "write p.w 1 'a'");
        assert_eq!(s.steps[2].text, "read p.r 1");
        assert_eq!(s.steps[3].line, 5);
        let e = err("pipe p\r\nread p.r\r\n");
        assert_eq!((e.line, e.column), (2, 9));
    }

    #[test]
    fn missing_and_extra_operands_say_what_was_expected_where() {
        let cases = [
            ("write p.w", 10, "expected a length like 4096, 4k or 2p, found end of line"),
            ("write p.w 1", 12, "expected a byte value like 'A' or '\\x41', found end of line"),
            (
                "write",
                6,
                "expected a file descriptor like p.r, p.w, t.tx, t.rx or a file name, \
                 found end of line",
            ),
            ("write p.w 1 'a' blocking", 17, "expected 'nonblock' or end of line, found 'blocking'"),
            ("read p.r 1 nonblock nonblock", 21, "flag 'nonblock' given twice"),
            ("recv t.rx 1 nonblock", 13, "expected end of line, found 'nonblock'"),
            ("close p.r p.w", 11, "expected end of line, found 'p.w'"),
            ("sendfile t.tx f 1 more", 19, "expected end of line, found 'more'"),
            ("pwrite f 0 1", 13, "expected a byte value like 'A' or '\\x41', found end of line"),
            ("tee p.r p.w", 12, "expected a length like 4096, 4k or 2p, found end of line"),
            ("tee p.r p.w 1 move", 15, "expected 'nonblock' or end of line, found 'move'"),
            ("refs", 5, "expected a range like buf[0..4096] or buf, found end of line"),
            ("expect", 7, "expected 'reusable', 'busy' or 'intact', found end of line"),
            (
                "advance",
                8,
                "expected a time like 50ms, 250us or 1s (a bare number is milliseconds), \
                 found end of line",
            ),
            ("advance 1 2", 11, "expected end of line, found '2'"),
        ];
        for (line, col, want) in cases {
            let (c, msg) = line_err(line);
            assert_eq!((c, msg.as_str()), (col, want), "{line}");
        }
        let e = err("pipe\n");
        assert_eq!(e.column, 5);
        assert_eq!(e.message, "expected a name like buf or p1 ([a-z][a-z0-9_]*), found end of line");
        let e = err("pipe p q\n");
        assert_eq!(e.column, 8);
        assert_eq!(e.message, "expected end of line, found 'q'");
        let e = err("buffer b\n");
        assert_eq!(e.message, "expected a number of pages like 4, found end of line");
    }

    #[test]
    fn blank_and_empty_inputs_have_no_steps() {
        for text in ["", "\n", "\n\n \t\n", "# only\n  # comments", "\r\n"] {
            let s = ok(text);
            assert!(s.steps.is_empty() && s.objects.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn strange_input_is_an_error_not_a_panic() {
        let long = "x".repeat(100_000);
        let digits = "9".repeat(100_000);
        let inputs = [
            "'".to_owned(),
            "''".to_owned(),
            "' ".to_owned(),
            "pipe p\nwrite p.w 1 '".to_owned(),
            "pipe p\nwrite p.w 1 'é".to_owned(),
            "pipe p\nwrite p.w 1 'é'".to_owned(),
            "\0\u{1}\u{7f}".to_owned(),
            "\u{feff}pipe p".to_owned(),
            "pipe p\r\r\n".to_owned(),
            "buffer b 1\nfill b[\u{1F600}..1] 'a'".to_owned(),
            "buffer b 1\nfill b[0..1]] 'a'".to_owned(),
            "buffer b 1\nfill b[[0..1] 'a'".to_owned(),
            "pipe p\nsplice p.r@@1 p.w 1".to_owned(),
            "pipe p\nsplice p.r.r p.w 1".to_owned(),
            "pipe p\nsplice @1 p.w 1".to_owned(),
            long.clone(),
            format!("pipe {long}X"),
            format!("pipe p\nread p.r {digits}"),
            format!("advance {digits}s"),
            format!("pipe p\nread p.r 1 {}", "'a' ".repeat(10_000)),
        ];
        for text in &inputs {
            let e = err(text);
            assert!(e.line >= 1 && e.column >= 1, "{e}");
            // Bounded: the input is cut short; the list of verbs is the
            // longest part.
            assert!(e.message.len() < 600, "{}", e.message);
        }
        let e = err(&format!("pipe p\nread p.r {digits}"));
        assert_eq!(e.message, format!("number {}... is larger than 2^63-1", "9".repeat(40)));
        let e = err("\u{feff}pipe p");
        assert!(e.message.starts_with("unknown verb '\\u{feff}pipe'"), "{}", e.message);
    }
}
