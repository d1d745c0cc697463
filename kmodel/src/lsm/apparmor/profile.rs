//! AppArmor profiles, a subset of AppArmor's own syntax, and its globs.
//!
//! ```text
//! # comment
//! profile passwd /usr/bin/passwd flags=(complain) {
//!   /etc/shadow rw,
//!   /etc/** r,
//!   deny /etc/gshadow rw,
//!   owner /home/*/** rw,
//!   /usr/bin/* ix,
//! }
//! /usr/bin/cat {            # a profile named by its attachment
//!   /etc/{passwd,group} r,
//! }
//! ```
//!
//! Globs: `*` (any characters but `/`), `**` (any characters), `?` (one
//! character but `/`), `{a,b}` (alternatives), `[abc]` (a class).
//! Permissions: `r w a l k m` and the exec modes `ix px ux` (`Px Ux` as
//! their environment-scrubbing twins); a bare `x` only in `deny` rules;
//! `w` and `a` together are a conflict, as in `apparmor_parser`. Rule
//! qualifiers: `audit`, `deny`, `owner`.

use regex::Regex;

use crate::lsm::policy::{Cursor, PolicyError, Tok, TokKind, err};

/// Permission bits.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Perms(pub u16);

impl Perms {
    /// `r`.
    pub const READ: Perms = Perms(1);
    /// `w` (also create, delete, setattr).
    pub const WRITE: Perms = Perms(2);
    /// `a`.
    pub const APPEND: Perms = Perms(4);
    /// `l`.
    pub const LINK: Perms = Perms(8);
    /// `k`.
    pub const LOCK: Perms = Perms(16);
    /// `m`.
    pub const MMAP: Perms = Perms(32);
    /// `x` (any exec mode).
    pub const EXEC: Perms = Perms(64);
    /// Create (requested as `c`; granted by `w` or `a`).
    pub const CREATE: Perms = Perms(128);
    /// Delete (requested as `d`; granted by `w`).
    pub const DELETE: Perms = Perms(256);

    /// Every bit of `o` is set.
    pub fn contains(self, o: Perms) -> bool {
        self.0 & o.0 == o.0
    }

    /// Union.
    pub fn or(self, o: Perms) -> Perms {
        Perms(self.0 | o.0)
    }

    /// Difference.
    pub fn minus(self, o: Perms) -> Perms {
        Perms(self.0 & !o.0)
    }

    /// Whether no bit is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// What granted permissions allow: `w` creates, deletes and appends,
    /// `a` appends and creates.
    pub fn granted(self) -> Perms {
        let mut g = self;
        if self.contains(Perms::WRITE) {
            g = g.or(Perms::CREATE).or(Perms::DELETE).or(Perms::APPEND);
        }
        if self.contains(Perms::APPEND) {
            g = g.or(Perms::CREATE);
        }
        g
    }

    /// AppArmor's mask letters: `rwacdlkmx`.
    pub fn letters(self) -> String {
        let mut s = String::new();
        for (p, c) in [
            (Perms::READ, 'r'),
            (Perms::WRITE, 'w'),
            (Perms::APPEND, 'a'),
            (Perms::CREATE, 'c'),
            (Perms::DELETE, 'd'),
            (Perms::LINK, 'l'),
            (Perms::LOCK, 'k'),
            (Perms::MMAP, 'm'),
            (Perms::EXEC, 'x'),
        ] {
            if self.contains(p) {
                s.push(c);
            }
        }
        s
    }
}

/// What an exec rule does.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ExecMode {
    /// `ix`: stay in this profile.
    Inherit,
    /// `px`: the profile attached to the program.
    Profile,
    /// `ux`: unconfined.
    Unconfined,
}

/// One file rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// `deny`.
    pub deny: bool,
    /// `owner`: only files the task owns.
    pub owner: bool,
    /// `audit`: log even when allowed.
    pub audit: bool,
    /// The glob as written.
    pub glob: String,
    matcher: Regex,
    /// What it grants (or denies).
    pub perms: Perms,
    /// For an exec rule, what exec does.
    pub exec: Option<ExecMode>,
}

impl Rule {
    /// Whether the rule's glob matches `name`.
    pub fn matches(&self, name: &str) -> bool {
        self.matcher.is_match(name)
    }
}

/// A profile.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Its name (the attachment if it has no other).
    pub name: String,
    /// The programs it attaches to at exec.
    pub attach: Option<(String, Regex)>,
    /// `flags=(complain)`: log instead of deny.
    pub complain: bool,
    /// The rules, in order.
    pub rules: Vec<Rule>,
}

/// A glob as an anchored regular expression.
pub fn glob_regex(glob: &str) -> Result<Regex, String> {
    let mut re = String::from("^");
    let b: Vec<char> = glob.chars().collect();
    let mut i = 0;
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            '*' if b.get(i + 1) == Some(&'*') => {
                re.push_str(".*");
                i += 1;
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '{' => {
                depth += 1;
                re.push_str("(?:");
            }
            '}' if depth > 0 => {
                depth -= 1;
                re.push(')');
            }
            ',' if depth > 0 => re.push('|'),
            '[' => {
                let end = b[i..].iter().position(|&c| c == ']').ok_or("unterminated '[' class")? + i;
                re.push('[');
                let mut j = i + 1;
                if b.get(j) == Some(&'^') {
                    re.push('^');
                    j += 1;
                }
                for &c in &b[j..end] {
                    if c == '\\' || c == '[' {
                        re.push('\\');
                    }
                    re.push(c);
                }
                re.push(']');
                i = end;
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    if depth > 0 {
        return Err("unbalanced '{' in glob".into());
    }
    re.push('$');
    Regex::new(&re).map_err(|e| format!("bad glob: {e}"))
}

/// Parse a profile file.
///
/// # Errors
/// The first problem, with its line and column.
pub fn parse(text: &str) -> Result<Vec<Profile>, PolicyError> {
    let mut cur = Cursor::new(text)?;
    let mut profiles: Vec<Profile> = Vec::new();
    while !cur.at_end() {
        let t = cur.next();
        let (name, attach) = match t.word() {
            Some("profile") => {
                let (name, nt) = cur.word("a profile name")?;
                let attach = if cur.peek().word().is_some_and(|w| w.starts_with('/')) {
                    let (a, at) = cur.word("an attachment path")?;
                    Some(attachment(&a, &at)?)
                } else {
                    None
                };
                if name.starts_with('/') { (name.clone(), Some(attachment(&name, &nt)?)) } else { (name, attach) }
            }
            Some(w) if w.starts_with('/') => (w.to_owned(), Some(attachment(w, &t)?)),
            _ => {
                return err(
                    &t,
                    format!("expected 'profile NAME' or an attachment path like /usr/bin/foo, found {}", t.show()),
                );
            }
        };
        if profiles.iter().any(|p| p.name == name) {
            return err(&t, format!("profile '{name}' is defined twice"));
        }
        let mut complain = false;
        if cur.peek().word() == Some("flags") {
            cur.next();
            cur.expect('=', "after 'flags'")?;
            cur.expect('(', "after 'flags='")?;
            loop {
                let (f, ft) = cur.word("a flag like complain or enforce")?;
                match f.as_str() {
                    "complain" => complain = true,
                    "enforce" => complain = false,
                    _ => return err(&ft, format!("unknown profile flag '{f}' (expected complain or enforce)")),
                }
                if cur.peek().is(',') {
                    cur.next();
                } else {
                    break;
                }
            }
            cur.expect(')', "closing the flags")?;
        }
        cur.expect('{', "opening the profile")?;
        let mut rules = Vec::new();
        loop {
            let t = cur.peek().clone();
            if t.is('}') {
                cur.next();
                break;
            }
            if t.kind == TokKind::End {
                return err(&t, format!("expected '}}' closing profile '{name}', found end of file"));
            }
            rules.push(rule(&mut cur)?);
        }
        profiles.push(Profile { name, attach, complain, rules });
    }
    Ok(profiles)
}

fn attachment(path: &str, tok: &Tok) -> Result<(String, Regex), PolicyError> {
    match glob_regex(path) {
        Ok(r) => Ok((path.to_owned(), r)),
        Err(e) => err(tok, e),
    }
}

/// `[audit] [deny] [owner] GLOB PERMS,`
fn rule(cur: &mut Cursor) -> Result<Rule, PolicyError> {
    let (mut deny, mut owner, mut audit) = (false, false, false);
    loop {
        match cur.peek().word() {
            Some("deny") => deny = true,
            Some("owner") => owner = true,
            Some("audit") => audit = true,
            _ => break,
        }
        cur.next();
    }
    let gt = cur.next();
    let glob = match gt.word() {
        Some(w) if w.starts_with('/') => w.to_owned(),
        _ => return err(&gt, format!("expected a file rule like '/etc/passwd r,', found {}", gt.show())),
    };
    let matcher = match glob_regex(&glob) {
        Ok(m) => m,
        Err(e) => return err(&gt, e),
    };
    let (p, pt) = cur.word("permissions like r, rw or ix")?;
    let (perms, exec) = perms(&p, &pt, deny)?;
    cur.expect(',', "ending the rule")?;
    Ok(Rule { deny, owner, audit, glob, matcher, perms, exec })
}

/// `rwalkm` and at most one exec mode.
fn perms(p: &str, t: &Tok, deny: bool) -> Result<(Perms, Option<ExecMode>), PolicyError> {
    let mut perms = Perms::default();
    let mut exec = None;
    let c: Vec<char> = p.chars().collect();
    let mut i = 0;
    let at = |i: usize| Tok { column: t.column + i, ..t.clone() };
    while i < c.len() {
        let bit = match c[i] {
            'r' => Perms::READ,
            'w' => Perms::WRITE,
            'a' => Perms::APPEND,
            'l' => Perms::LINK,
            'k' => Perms::LOCK,
            'm' => Perms::MMAP,
            'i' | 'p' | 'u' | 'P' | 'U' => {
                if c.get(i + 1) != Some(&'x') {
                    return err(&at(i), format!("exec qualifier '{}' must be followed by 'x'", c[i]));
                }
                if exec.is_some() {
                    return err(&at(i), "more than one exec mode in one rule");
                }
                exec = Some(match c[i] {
                    'i' => ExecMode::Inherit,
                    'p' | 'P' => ExecMode::Profile,
                    _ => ExecMode::Unconfined,
                });
                i += 1;
                Perms::EXEC
            }
            'x' if deny => Perms::EXEC,
            'x' => return err(&at(i), "invalid mode 'x': it must be preceded by an exec qualifier 'i', 'p' or 'u'"),
            other => {
                return err(&at(i), format!("unknown permission '{other}' (expected r, w, a, l, k, m, ix, px or ux)"));
            }
        };
        perms = perms.or(bit);
        i += 1;
    }
    if perms.contains(Perms::WRITE) && perms.contains(Perms::APPEND) {
        return err(t, "conflicting permissions 'w' and 'a' in one rule");
    }
    if perms.is_empty() {
        return err(t, "a rule needs permissions");
    }
    Ok((perms, exec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_apparmor() {
        let m = |g: &str, s: &str| glob_regex(g).unwrap().is_match(s);
        assert!(m("/etc/*", "/etc/shadow"));
        assert!(!m("/etc/*", "/etc/ssh/key"));
        assert!(m("/etc/**", "/etc/ssh/key"));
        assert!(m("/etc/{passwd,group}", "/etc/group"));
        assert!(!m("/etc/{passwd,group}", "/etc/shadow"));
        assert!(m("/tmp/?x", "/tmp/ax"));
        assert!(!m("/tmp/?x", "/tmp//x"));
        assert!(m("/dev/tty[0-9]", "/dev/tty3"));
        assert!(m("/a.b", "/a.b") && !m("/a.b", "/aXb"));
    }

    #[test]
    fn profiles_parse_and_errors_point_at_the_column() {
        let p = parse("profile passwd /usr/bin/passwd flags=(complain) {\n  /etc/shadow rw,\n  deny /etc/gshadow x,\n  /usr/bin/* ix,\n}\n/usr/bin/cat {\n owner /home/** r,\n}\n").unwrap();
        assert_eq!(p.len(), 2);
        assert!(p[0].complain);
        assert_eq!(p[0].rules[2].exec, Some(ExecMode::Inherit));
        assert_eq!(p[1].name, "/usr/bin/cat");
        assert!(p[1].rules[0].owner);
        for (text, line, col, msg) in [
            ("/a {\n  /etc/shadow rz,\n}\n", 2, 16, "unknown permission 'z'"),
            ("/a {\n  /etc/shadow r\n}\n", 3, 1, "expected ',' ending the rule, found '}'"),
            ("/a {\n  /etc/shadow x,\n}\n", 2, 15, "invalid mode 'x'"),
            ("/a {\n  /etc/shadow wa,\n}\n", 2, 15, "conflicting permissions"),
            ("/a {\n  /etc/shadow r,\n", 3, 1, "expected '}' closing profile '/a'"),
            ("/a flags=(loud) {\n}\n", 1, 11, "unknown profile flag 'loud'"),
            ("include foo\n", 1, 1, "expected 'profile NAME'"),
            ("/a {\n}\n/a {\n}\n", 3, 1, "profile '/a' is defined twice"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!((e.line, e.column), (line, col), "{text}: {e}");
            assert!(e.message.starts_with(msg), "{text}: {}", e.message);
        }
    }
}
