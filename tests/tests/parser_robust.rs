//! The scenario parser is robust: whatever it is given, it answers a
//! scenario or an error that points into the file, and never panics.

use kmodel::scenario::{ParseError, Scenario, parse};
use quickcheck::{Arbitrary, Gen, QuickCheck};

const FILE: &str = "robust.scn";

/// A valid scenario that uses every verb, flag and operand form.
const VALID: &str = "# every verb, once or more
buffer buf 4
pipe p
pipe q
file f 2 'z'
tcp t

fill buf[0..2p] 'B'   # a comment
fill buf[2p..4p]\t'\\x41'\r
vmsplice p.w buf[0..4k] buf[4k..2p] gift nonblock
tee p.r q.w 4096 nonblock
splice p.r f@4096 1p move more
splice q.r t.tx 4k nonblock
advance 50ms
recv t.rx 4096
sendfile t.tx f@0 100
pwrite f 0 10 '\\x00'
write p.w 10 ' ' nonblock
read p.r 10
fcntl p.w setpipe_sz 16p
fcntl p.w getpipe_sz
fcntl q.r getpsz
fcntl q.r setpsz 4
refs buf[0..8192]
expect busy buf
expect reusable buf[3p..4p]
advance 1s
advance 250us
advance 7
close q.w
mkdir /etc 755
create /etc/passwd
open pw /etc/passwd rw
read pw 10
link /etc/passwd /etc/p2
symlink ../etc/passwd rel
rename /etc/p2 /etc/p3
unlink /etc/p3
stat /etc
chmod /etc/passwd 0644
chown /etc/passwd 0 0
truncate /etc/passwd 1p
rmdir /etc
chdir /
bind /etc /mnt
unshare mount
chroot /jail
setuid 1000 1000
hooks 2006
policy apparmor x.profile
restorecon /etc
label /etc/passwd
label
audit
process other
exec /usr/bin/x
container box pages=16 pipes=32 sockets=4 files=8
host far link rtt=2ms bw=1gbit
in box
buffer inner 2
fill inner 'i'
end
beancounters box
ps box
migrate box to far hybrid dirty=1k into=inner
";

/// Characters a mutation may put in: the format's own punctuation, digits,
/// suffixes, blanks, line breaks, and a few that do not belong.
const ALPHABET: &[char] = &[
    '\'', '\\', 'x', '#', '[', ']', '.', '@', ' ', '\t', '\n', '\r', '0', '1', '9', 'k', 'p', 'r', 'w', 's', 'm', 'u',
    'b', 'f', 't', 'q', 'A', '_', '-', '\0', '\u{7f}', 'é', '\u{feff}',
];

/// Check what `parse` answered for `text`: a scenario whose steps lie in
/// the file, or an error that does and whose message names the file.
fn answer_is_sound(text: &str) -> bool {
    let lines: Vec<&str> = text.split('\n').collect();
    match parse(FILE, text) {
        Ok(s) => scenario_is_sound(&s, lines.len()),
        Err(e) => error_is_sound(&e, &lines),
    }
}

fn scenario_is_sound(s: &Scenario, lines: usize) -> bool {
    s.path == FILE
        && s.steps.iter().all(|st| (1..=lines).contains(&st.line))
        && s.steps.windows(2).all(|w| w[0].line < w[1].line)
        && reparses_from_its_text(s)
}

/// The printed form of a scenario (each step's folded text on its line)
/// parses back to the same scenario.
fn reparses_from_its_text(s: &Scenario) -> bool {
    let mut text = String::new();
    let mut line = 1;
    let mut within: Option<&str> = None;
    for st in &s.steps {
        // An `in NAME` block's lines are not steps: put them back on the
        // lines between the steps (they had lines of their own).
        if within != st.within.as_deref() {
            if within.is_some() {
                text.push('\n');
                line += 1;
                text.push_str("end");
            }
            if let Some(c) = &st.within {
                while line < st.line - 1 {
                    text.push('\n');
                    line += 1;
                }
                text.push_str(&format!("in {c}"));
            }
            within = st.within.as_deref();
        }
        while line < st.line {
            text.push('\n');
            line += 1;
        }
        text.push_str(&st.text);
    }
    if within.is_some() {
        text.push_str("\nend");
    }
    parse(FILE, &text).is_ok_and(|again| again == *s)
}

fn error_is_sound(e: &ParseError, lines: &[&str]) -> bool {
    let Some(line) = e.line.checked_sub(1).and_then(|i| lines.get(i)) else {
        return false;
    };
    let line = line.strip_suffix('\r').unwrap_or(line);
    let prefix = format!("{FILE}:{}:{}: ", e.line, e.column);
    e.file == FILE
        && (1..=line.len() + 1).contains(&e.column)
        && !e.message.is_empty()
        && e.to_string().starts_with(&prefix)
}

fn below(g: &mut Gen, n: usize) -> usize {
    if n == 0 { 0 } else { usize::arbitrary(g) % n }
}

/// A valid scenario after a few random edits.
#[derive(Clone, Debug)]
struct Mutated(String);

impl Arbitrary for Mutated {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut lines: Vec<Vec<String>> =
            VALID.split('\n').map(|l| l.split([' ', '\t']).map(str::to_owned).collect()).collect();
        let edits = 1 + below(g, 4);
        for _ in 0..edits {
            let li = below(g, lines.len());
            let ti = below(g, lines[li].len());
            match below(g, 8) {
                // Drop a token.
                0 => {
                    if !lines[li].is_empty() {
                        lines[li].remove(ti);
                    }
                }
                // Duplicate a token.
                1 => {
                    if let Some(t) = lines[li].get(ti).cloned() {
                        lines[li].insert(ti, t);
                    }
                }
                // Swap two tokens, maybe across lines.
                2 => {
                    let lj = below(g, lines.len());
                    let tj = below(g, lines[lj].len());
                    if ti < lines[li].len() && tj < lines[lj].len() {
                        let a = std::mem::take(&mut lines[li][ti]);
                        let b = std::mem::replace(&mut lines[lj][tj], a);
                        lines[li][ti] = b;
                    }
                }
                // Change, insert or delete a character.
                3..=5 => {
                    if let Some(t) = lines[li].get_mut(ti) {
                        let mut chars: Vec<char> = t.chars().collect();
                        let at = below(g, chars.len() + 1);
                        let c = *g.choose(ALPHABET).unwrap_or(&'x');
                        match below(g, 3) {
                            0 if at < chars.len() => chars[at] = c,
                            1 if at < chars.len() => {
                                chars.remove(at);
                            }
                            _ => chars.insert(at, c),
                        }
                        *t = chars.into_iter().collect();
                    }
                }
                // Duplicate or drop a whole line.
                6 => {
                    if below(g, 2) == 0 {
                        let l = lines[li].clone();
                        lines.insert(li, l);
                    } else if lines.len() > 1 {
                        lines.remove(li);
                    }
                }
                // Swap two lines (a use before its declaration, ...).
                _ => {
                    let lj = below(g, lines.len());
                    lines.swap(li, lj);
                }
            }
        }
        let mut text: String = lines.iter().map(|l| l.join(" ")).collect::<Vec<_>>().join("\n");
        // Sometimes cut the file short, anywhere.
        if below(g, 4) == 0 {
            let cut = below(g, text.chars().count() + 1);
            text = text.chars().take(cut).collect();
        }
        Mutated(text)
    }
}

/// Tokens and separators of the format, thrown together at random.
#[derive(Clone, Debug)]
struct Soup(String);

impl Arbitrary for Soup {
    fn arbitrary(g: &mut Gen) -> Self {
        const WORDS: &[&str] = &[
            "buffer",
            "pipe",
            "file",
            "tcp",
            "fill",
            "write",
            "read",
            "recv",
            "container",
            "in",
            "end",
            "host",
            "migrate",
            "to",
            "precopy",
            "postcopy",
            "beancounters",
            "ps",
            "pages=4",
            "files=2",
            "dirty=10",
            "local",
            "vmsplice",
            "splice",
            "tee",
            "sendfile",
            "pwrite",
            "fcntl",
            "close",
            "refs",
            "expect",
            "advance",
            "b",
            "p",
            "t",
            "f",
            "b[0..1p]",
            "b[4k..0]",
            "p.r",
            "p.w",
            "t.tx",
            "t.rx",
            "f@0",
            "p.r@1k",
            "1",
            "4k",
            "2p",
            "9223372036854775807",
            "9223372036854775808",
            "'A'",
            "' '",
            "'''",
            "'\\x41'",
            "'#'",
            "gift",
            "nonblock",
            "move",
            "more",
            "reusable",
            "busy",
            "getpipe_sz",
            "setpipe_sz",
            "getpsz",
            "setpsz",
            "50ms",
            "1s",
            "250us",
            "#",
            " ",
            "\t",
            "\n",
            "\r\n",
            "'",
        ];
        let n = below(g, 3 * g.size());
        let mut text = String::new();
        for _ in 0..n {
            text.push_str(g.choose(WORDS).unwrap_or(&" "));
            if below(g, 3) != 0 {
                text.push(' ');
            }
        }
        Soup(text)
    }
}

#[test]
fn the_valid_scenario_parses() {
    let s = parse(FILE, VALID).unwrap_or_else(|e| panic!("{e}"));
    // The objects, plus the descriptor `open` declares.
    assert_eq!(s.objects.len(), 7);
    assert_eq!(s.steps.len(), 61);
    assert!(scenario_is_sound(&s, VALID.split('\n').count()));
}

#[test]
fn random_bytes_never_panic() {
    fn prop(bytes: Vec<u8>) -> bool {
        answer_is_sound(&String::from_utf8_lossy(&bytes))
    }
    QuickCheck::new().tests(2000).rng(Gen::new(200)).quickcheck(prop as fn(Vec<u8>) -> bool);
}

#[test]
fn mutated_scenarios_never_panic_and_errors_point_into_the_file() {
    fn prop(m: Mutated) -> bool {
        answer_is_sound(&m.0)
    }
    QuickCheck::new().tests(3000).quickcheck(prop as fn(Mutated) -> bool);
}

#[test]
fn token_soup_never_panics() {
    fn prop(s: Soup) -> bool {
        answer_is_sound(&s.0)
    }
    QuickCheck::new().tests(2000).rng(Gen::new(30)).quickcheck(prop as fn(Soup) -> bool);
}
