//! A subset of SELinux's policy languages: type enforcement rules (the
//! `.te` kernel policy language) and `file_contexts` (the `.fc` list that
//! `restorecon` applies).
//!
//! ```text
//! type passwd_t;
//! type shadow_t, file_type;          # a type with attributes
//! attribute file_type;
//! typeattribute etc_t file_type;
//! allow passwd_t shadow_t:file { read write open getattr };
//! allow passwd_t etc_t:dir { search write add_name remove_name };
//! allow passwd_t file_type:{ file dir } *;
//! type_transition passwd_t etc_t:file shadow_t "nshadow";
//! type_transition unconfined_t passwd_exec_t:process passwd_t;
//! permissive passwd_t;
//! unconfined_domain(admin_t)
//! ```
//!
//! ```text
//! # file_contexts: a regular expression over the whole path, an optional
//! # file type (-- file, -d directory, -l symlink), a context or <<none>>
//! /etc(/.*)?          system_u:object_r:etc_t:s0
//! /etc/shadow    --   system_u:object_r:shadow_t:s0
//! ```
//!
//! Built in, as in every real policy: the process type `unconfined_t`
//! (allowed everything) and the type of unlabeled files, `unlabeled_t`.
//! Unknown types, attributes, classes and permissions are errors.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use regex::Regex;

use crate::lsm::policy::{Cursor, PolicyError, Tok, TokKind, err, is_ident};

/// The object classes the model knows, with their permissions.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// `file`.
    File,
    /// `dir`.
    Dir,
    /// `lnk_file`.
    LnkFile,
    /// `process`.
    Process,
}

const FILE_PERMS: &[&str] = &[
    "read",
    "write",
    "append",
    "create",
    "unlink",
    "link",
    "rename",
    "getattr",
    "setattr",
    "open",
    "execute",
    "entrypoint",
    "relabelfrom",
    "relabelto",
    "mounton",
];
const DIR_PERMS: &[&str] = &[
    "read",
    "write",
    "search",
    "add_name",
    "remove_name",
    "reparent",
    "rmdir",
    "create",
    "getattr",
    "setattr",
    "open",
    "mounton",
    "relabelfrom",
    "relabelto",
    "rename",
    "link",
    "unlink",
];
/// `lnk_file` has the common file permissions (all of `file`'s but
/// `entrypoint`).
const LNK_PERMS: &[&str] = &[
    "read",
    "write",
    "append",
    "create",
    "unlink",
    "link",
    "rename",
    "getattr",
    "setattr",
    "open",
    "execute",
    "relabelfrom",
    "relabelto",
    "mounton",
];
const PROCESS_PERMS: &[&str] = &["transition"];

impl Class {
    /// Its name in policy.
    pub fn name(self) -> &'static str {
        match self {
            Class::File => "file",
            Class::Dir => "dir",
            Class::LnkFile => "lnk_file",
            Class::Process => "process",
        }
    }

    fn from_name(s: &str) -> Option<Class> {
        Some(match s {
            "file" => Class::File,
            "dir" => Class::Dir,
            "lnk_file" => Class::LnkFile,
            "process" => Class::Process,
            _ => return None,
        })
    }

    /// Its permissions, in bit order.
    pub fn perms(self) -> &'static [&'static str] {
        match self {
            Class::File => FILE_PERMS,
            Class::Dir => DIR_PERMS,
            Class::LnkFile => LNK_PERMS,
            Class::Process => PROCESS_PERMS,
        }
    }

    /// The bit of permission `p`.
    pub fn bit(self, p: &str) -> Option<u32> {
        self.perms().iter().position(|x| *x == p).map(|i| 1 << i)
    }

    /// The names of the bits in `mask`.
    pub fn names(self, mask: u32) -> Vec<&'static str> {
        self.perms().iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, p)| *p).collect()
    }
}

/// A security context `user:role:type:level`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Context {
    /// SELinux user.
    pub user: String,
    /// Role.
    pub role: String,
    /// Type (the part type enforcement looks at).
    pub ty: String,
    /// MLS level (carried, not checked).
    pub level: String,
}

impl Context {
    /// Parse `user:role:type:level`.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn parse(s: &str) -> Result<Context, String> {
        let mut it = s.splitn(4, ':');
        let (Some(user), Some(role), Some(ty), Some(level)) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(format!("expected a context like system_u:object_r:etc_t:s0, found '{s}'"));
        };
        for part in [user, role, ty] {
            if !is_ident(part) {
                return Err(format!("bad context '{s}': '{part}' is not a name"));
            }
        }
        Ok(Context { user: user.into(), role: role.into(), ty: ty.into(), level: level.into() })
    }

    /// The context of files nothing has labeled.
    pub fn unlabeled() -> Context {
        Context { user: "system_u".into(), role: "object_r".into(), ty: "unlabeled_t".into(), level: "s0".into() }
    }

    /// The context processes start in.
    pub fn initial_process() -> Context {
        Context {
            user: "unconfined_u".into(),
            role: "unconfined_r".into(),
            ty: "unconfined_t".into(),
            level: "s0".into(),
        }
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}:{}", self.user, self.role, self.ty, self.level)
    }
}

/// A file type selector of `file_contexts`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `--`.
    Regular,
    /// `-d`.
    Dir,
    /// `-l`.
    Symlink,
}

/// One `file_contexts` line.
#[derive(Clone, Debug)]
pub struct FileContext {
    /// The expression as written.
    pub spec: String,
    re: Regex,
    /// Only this kind of file, if given.
    pub kind: Option<FileKind>,
    /// The label, or `None` for `<<none>>` (leave alone).
    pub context: Option<Context>,
}

#[derive(Clone, Debug)]
struct AllowRule {
    src: Vec<String>,
    tgt: Vec<String>,
    classes: Vec<Class>,
    perms: Vec<Option<u32>>,
}

/// A loaded policy.
#[derive(Clone, Debug)]
pub struct Policy {
    types: BTreeSet<String>,
    attributes: BTreeMap<String, BTreeSet<String>>,
    rules: Vec<AllowRule>,
    /// `(source, target, class, name)` → new type.
    transitions: Vec<(String, String, Class, Option<String>, String)>,
    unconfined: BTreeSet<String>,
    permissive: BTreeSet<String>,
    /// `file_contexts`, in order (later lines win).
    pub file_contexts: Vec<FileContext>,
    /// Every type's number (the model's SIDs), for cheap lookups.
    ids: HashMap<String, u32>,
    /// `(source, target, class)` → allowed bits, after attribute expansion.
    access: HashMap<(u32, u32, Class), u32>,
}

impl Default for Policy {
    fn default() -> Self {
        let mut p = Policy {
            types: BTreeSet::new(),
            attributes: BTreeMap::new(),
            rules: Vec::new(),
            transitions: Vec::new(),
            unconfined: BTreeSet::new(),
            permissive: BTreeSet::new(),
            file_contexts: Vec::new(),
            ids: HashMap::new(),
            access: HashMap::new(),
        };
        for t in ["unconfined_t", "unlabeled_t"] {
            p.types.insert(t.into());
        }
        p.unconfined.insert("unconfined_t".into());
        p
    }
}

impl Policy {
    /// Whether `t` is a declared type.
    pub fn has_type(&self, t: &str) -> bool {
        self.types.contains(t)
    }

    /// Whether domain `t` may do anything.
    pub fn is_unconfined(&self, t: &str) -> bool {
        self.unconfined.contains(t)
    }

    /// Whether domain `t` only logs what it would deny.
    pub fn is_permissive(&self, t: &str) -> bool {
        self.permissive.contains(t)
    }

    /// The bits of `class` that `src` may use on `tgt`.
    pub fn allowed(&self, src: &str, tgt: &str, class: Class) -> u32 {
        if self.is_unconfined(src) {
            return u32::MAX;
        }
        let (Some(&s), Some(&t)) = (self.ids.get(src), self.ids.get(tgt)) else { return 0 };
        self.access.get(&(s, t, class)).copied().unwrap_or(0)
    }

    /// `type_transition`: the type of a new object of `class` named `name`
    /// made by `src` in (or, for a process, from) `tgt`; a rule with a name
    /// wins over one without.
    pub fn transition(&self, src: &str, tgt: &str, class: Class, name: &str) -> Option<&str> {
        let matches = |s: &String, t: &String| self.expand(s).contains(src) && self.expand(t).contains(tgt);
        let named =
            self.transitions.iter().find(|(s, t, c, n, _)| *c == class && n.as_deref() == Some(name) && matches(s, t));
        named
            .or_else(|| self.transitions.iter().find(|(s, t, c, n, _)| *c == class && n.is_none() && matches(s, t)))
            .map(|(_, _, _, _, new)| new.as_str())
    }

    /// The label `file_contexts` gives `path` (a file of kind `kind`):
    /// `Some(None)` for `<<none>>`, `None` if no line matches.
    pub fn file_context(&self, path: &str, kind: FileKind) -> Option<Option<&Context>> {
        self.file_contexts
            .iter()
            .rev()
            .find(|fc| fc.kind.is_none_or(|k| k == kind) && fc.re.is_match(path))
            .map(|fc| fc.context.as_ref())
    }

    fn expand(&self, name: &str) -> BTreeSet<String> {
        match self.attributes.get(name) {
            Some(types) => types.clone(),
            None => BTreeSet::from([name.to_owned()]),
        }
    }

    fn rebuild(&mut self) {
        self.ids = self.types.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let mut access: HashMap<(u32, u32, Class), u32> = HashMap::new();
        for r in &self.rules {
            for s in r.src.iter().flat_map(|s| self.expand(s)) {
                for t in &r.tgt {
                    let targets = if t == "self" { BTreeSet::from([s.clone()]) } else { self.expand(t) };
                    for t in targets {
                        let (Some(&si), Some(&ti)) = (self.ids.get(&s), self.ids.get(&t)) else { continue };
                        for (c, p) in r.classes.iter().zip(&r.perms) {
                            *access.entry((si, ti, *c)).or_default() |= p.unwrap_or(u32::MAX);
                        }
                    }
                }
            }
        }
        self.access = access;
    }

    /// Load type enforcement statements.
    ///
    /// # Errors
    /// The first syntax error or unknown name, with its line and column.
    pub fn load_te(&mut self, text: &str) -> Result<(), PolicyError> {
        let mut cur = Cursor::new(text)?;
        while !cur.at_end() {
            let (kw, kt) = cur.word(
                "a statement (type, attribute, typeattribute, allow, type_transition, permissive, unconfined_domain)",
            )?;
            match kw.as_str() {
                "type" => {
                    let (name, nt) = self.new_name(&mut cur, "a type name")?;
                    let mut attrs = Vec::new();
                    while cur.peek().is(',') {
                        cur.next();
                        attrs.push(self.attribute(&mut cur)?);
                    }
                    cur.expect(';', "ending the type statement")?;
                    let _ = nt;
                    self.types.insert(name.clone());
                    for a in attrs {
                        self.attributes.get_mut(&a).expect("checked").insert(name.clone());
                    }
                }
                "attribute" => {
                    let (name, _) = self.new_name(&mut cur, "an attribute name")?;
                    cur.expect(';', "ending the attribute statement")?;
                    self.attributes.insert(name, BTreeSet::new());
                }
                "typeattribute" => {
                    let t = self.type_name(&mut cur, false)?;
                    let mut attrs = vec![self.attribute(&mut cur)?];
                    while cur.peek().is(',') {
                        cur.next();
                        attrs.push(self.attribute(&mut cur)?);
                    }
                    cur.expect(';', "ending the typeattribute statement")?;
                    for a in attrs {
                        self.attributes.get_mut(&a).expect("checked").insert(t.clone());
                    }
                }
                "allow" => {
                    let src = self.names(&mut cur, false)?;
                    let tgt = self.names(&mut cur, true)?;
                    cur.expect(':', "between the target type and the class")?;
                    let classes = self.classes(&mut cur)?;
                    let perms = Self::perms(&mut cur, &classes)?;
                    cur.expect(';', "ending the allow rule")?;
                    self.rules.push(AllowRule { src, tgt, classes, perms });
                }
                "type_transition" => {
                    let src = self.type_name(&mut cur, true)?;
                    let tgt = self.type_name(&mut cur, true)?;
                    cur.expect(':', "between the target type and the class")?;
                    let (c, ct) = cur.word("a class")?;
                    let class = Class::from_name(&c).map_or_else(|| err(&ct, unknown_class(&c)), Ok)?;
                    let new = self.type_name(&mut cur, false)?;
                    let name = match cur.peek().kind.clone() {
                        TokKind::Str(s) => {
                            cur.next();
                            Some(s)
                        }
                        _ => None,
                    };
                    cur.expect(';', "ending the type_transition rule")?;
                    self.transitions.push((src, tgt, class, name, new));
                }
                "permissive" => {
                    let t = self.type_name(&mut cur, false)?;
                    cur.expect(';', "ending the permissive statement")?;
                    self.permissive.insert(t);
                }
                "unconfined_domain" => {
                    cur.expect('(', "after unconfined_domain")?;
                    let t = self.type_name(&mut cur, false)?;
                    cur.expect(')', "closing unconfined_domain")?;
                    if cur.peek().is(';') {
                        cur.next();
                    }
                    self.unconfined.insert(t);
                }
                _ => {
                    return err(
                        &kt,
                        format!(
                            "unknown statement '{kw}' (expected type, attribute, typeattribute, allow, \
                             type_transition, permissive or unconfined_domain)"
                        ),
                    );
                }
            }
        }
        self.rebuild();
        Ok(())
    }

    fn new_name(&self, cur: &mut Cursor, what: &str) -> Result<(String, Tok), PolicyError> {
        let (name, t) = cur.word(what)?;
        if !is_ident(&name) {
            return err(&t, format!("expected {what}, found '{name}'"));
        }
        if self.types.contains(&name) || self.attributes.contains_key(&name) {
            let builtin =
                if ["unconfined_t", "unlabeled_t"].contains(&name.as_str()) { " (it is built in)" } else { "" };
            return err(&t, format!("'{name}' is already declared{builtin}"));
        }
        Ok((name, t))
    }

    fn attribute(&self, cur: &mut Cursor) -> Result<String, PolicyError> {
        let (a, t) = cur.word("an attribute")?;
        if !self.attributes.contains_key(&a) {
            return err(&t, format!("unknown attribute '{a}' (declare it with 'attribute {a};' first)"));
        }
        Ok(a)
    }

    /// A declared type (or, with `attr_ok`, an attribute).
    fn type_name(&self, cur: &mut Cursor, attr_ok: bool) -> Result<String, PolicyError> {
        let (t, tt) = cur.word("a type")?;
        if self.types.contains(&t) || attr_ok && self.attributes.contains_key(&t) {
            Ok(t)
        } else {
            err(&tt, format!("unknown type '{t}' (declare it with 'type {t};' first)"))
        }
    }

    /// A type, attribute, or `{ ... }` of them; `self` allowed as a target.
    fn names(&self, cur: &mut Cursor, target: bool) -> Result<Vec<String>, PolicyError> {
        let one = |s: &Self, cur: &mut Cursor| -> Result<String, PolicyError> {
            if target && cur.peek().word() == Some("self") {
                cur.next();
                return Ok("self".into());
            }
            s.type_name(cur, true)
        };
        if cur.peek().is('{') {
            cur.next();
            let mut v = Vec::new();
            while !cur.peek().is('}') {
                if cur.at_end() {
                    return err(cur.peek(), "expected '}' closing the type set, found end of file");
                }
                v.push(one(self, cur)?);
            }
            cur.next();
            Ok(v)
        } else {
            Ok(vec![one(self, cur)?])
        }
    }

    fn classes(&self, cur: &mut Cursor) -> Result<Vec<Class>, PolicyError> {
        let one = |cur: &mut Cursor| -> Result<Class, PolicyError> {
            let (c, t) = cur.word("a class (file, dir, lnk_file, process)")?;
            Class::from_name(&c).map_or_else(|| err(&t, unknown_class(&c)), Ok)
        };
        if cur.peek().is('{') {
            cur.next();
            let mut v = Vec::new();
            while !cur.peek().is('}') {
                if cur.at_end() {
                    return err(cur.peek(), "expected '}' closing the class set, found end of file");
                }
                v.push(one(cur)?);
            }
            cur.next();
            Ok(v)
        } else {
            Ok(vec![one(cur)?])
        }
    }

    /// `perm`, `{ perms }` or `*`, checked against every class; per class
    /// the bits (`None`: all).
    fn perms(cur: &mut Cursor, classes: &[Class]) -> Result<Vec<Option<u32>>, PolicyError> {
        if cur.peek().word() == Some("*") {
            cur.next();
            return Ok(vec![None; classes.len()]);
        }
        let mut words: Vec<(String, Tok)> = Vec::new();
        if cur.peek().is('{') {
            cur.next();
            while !cur.peek().is('}') {
                if cur.at_end() {
                    return err(cur.peek(), "expected '}' closing the permission set, found end of file");
                }
                words.push(cur.word("a permission")?);
            }
            cur.next();
        } else {
            words.push(cur.word("a permission, { permissions } or *")?);
        }
        let mut out = Vec::new();
        for c in classes {
            let mut bits = 0;
            for (w, t) in &words {
                match c.bit(w) {
                    Some(b) => bits |= b,
                    None => {
                        return err(
                            t,
                            format!("class '{}' has no permission '{w}' (it has: {})", c.name(), c.perms().join(" ")),
                        );
                    }
                }
            }
            out.push(Some(bits));
        }
        Ok(out)
    }

    /// Load `file_contexts` lines.
    ///
    /// # Errors
    /// A bad expression, file type or context, or an unknown type.
    pub fn load_fc(&mut self, text: &str) -> Result<(), PolicyError> {
        for (i, line) in text.split('\n').enumerate() {
            let content = line.split('#').next().unwrap_or("");
            let mut fields: Vec<(usize, &str)> = Vec::new();
            let mut start = None;
            for (j, c) in content.char_indices().chain(std::iter::once((content.len(), ' '))) {
                match (c.is_whitespace(), start) {
                    (true, Some(s)) => {
                        fields.push((s, &content[s..j]));
                        start = None;
                    }
                    (false, None) => start = Some(j),
                    _ => {}
                }
            }
            if fields.is_empty() {
                continue;
            }
            let at = |col: usize, message: String| PolicyError { line: i + 1, column: col + 1, message };
            let (spec_col, spec) = fields[0];
            let (kind, ctx_field) = match fields.len() {
                2 => (None, fields[1]),
                3 => {
                    let (kc, k) = fields[1];
                    let kind = match k {
                        "--" => FileKind::Regular,
                        "-d" => FileKind::Dir,
                        "-l" => FileKind::Symlink,
                        _ => return Err(at(kc, format!("unknown file type '{k}' (expected --, -d or -l)"))),
                    };
                    (Some(kind), fields[2])
                }
                _ => {
                    return Err(at(
                        fields.get(1).map_or(content.len(), |f| f.0),
                        "expected 'PATH_REGEX [--|-d|-l] CONTEXT' (CONTEXT like system_u:object_r:etc_t:s0 or <<none>>)"
                            .into(),
                    ));
                }
            };
            let re = Regex::new(&format!("^(?:{spec})$"))
                .map_err(|e| at(spec_col, format!("bad regular expression: {e}")))?;
            let context = match ctx_field.1 {
                "<<none>>" => None,
                c => {
                    let ctx = Context::parse(c).map_err(|e| at(ctx_field.0, e))?;
                    if !self.types.contains(&ctx.ty) {
                        let col = ctx_field.0 + c.find(&ctx.ty).unwrap_or(0);
                        return Err(at(col, format!("unknown type '{}' in context {c}", ctx.ty)));
                    }
                    Some(ctx)
                }
            };
            self.file_contexts.push(FileContext { spec: spec.to_owned(), re, kind, context });
        }
        Ok(())
    }
}

fn unknown_class(c: &str) -> String {
    format!("unknown class '{c}' (the model knows file, dir, lnk_file and process)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn te_rules_load_and_unknown_names_are_errors() {
        let mut p = Policy::default();
        p.load_te(
            "attribute file_type;\ntype etc_t, file_type;\ntype shadow_t;\ntypeattribute shadow_t file_type;\n\
             type passwd_t;\nallow passwd_t file_type:{ file dir } { read getattr };\n\
             allow passwd_t shadow_t:file write;\nallow passwd_t self:process transition;\n\
             type_transition passwd_t etc_t:file shadow_t \"nshadow\";\n",
        )
        .unwrap();
        assert_ne!(p.allowed("passwd_t", "etc_t", Class::Dir) & Class::Dir.bit("read").unwrap(), 0);
        assert_ne!(p.allowed("passwd_t", "shadow_t", Class::File) & Class::File.bit("write").unwrap(), 0);
        assert_eq!(p.allowed("passwd_t", "etc_t", Class::File) & Class::File.bit("write").unwrap(), 0);
        assert_eq!(p.transition("passwd_t", "etc_t", Class::File, "nshadow"), Some("shadow_t"));
        assert_eq!(p.transition("passwd_t", "etc_t", Class::File, "other"), None);
        for (text, line, col, msg) in [
            ("allow x_t etc_t:file read;\n", 1, 7, "unknown type 'x_t'"),
            ("type a_t;\nallow a_t a_t:sock read;\n", 2, 15, "unknown class 'sock'"),
            ("type a_t;\nallow a_t a_t:file { read fly };\n", 2, 27, "class 'file' has no permission 'fly'"),
            ("type a_t;\ntype a_t;\n", 2, 6, "'a_t' is already declared"),
            ("type a_t\n", 2, 1, "expected ';' ending the type statement"),
            ("allw a b;\n", 1, 1, "unknown statement 'allw'"),
            ("type a_t, nope;\n", 1, 11, "unknown attribute 'nope'"),
        ] {
            let e = Policy::default().load_te(text).unwrap_err();
            assert_eq!((e.line, e.column), (line, col), "{text}: {e}");
            assert!(e.message.starts_with(msg), "{text}: {}", e.message);
        }
    }

    #[test]
    fn file_contexts_last_match_wins_and_types_must_exist() {
        let mut p = Policy::default();
        p.load_te("type etc_t;\ntype shadow_t;\n").unwrap();
        p.load_fc("/etc(/.*)?   system_u:object_r:etc_t:s0\n/etc/shadow -- system_u:object_r:shadow_t:s0\n").unwrap();
        assert_eq!(p.file_context("/etc/shadow", FileKind::Regular).unwrap().unwrap().ty, "shadow_t");
        assert_eq!(p.file_context("/etc/shadow", FileKind::Dir).unwrap().unwrap().ty, "etc_t");
        assert!(p.file_context("/tmp/x", FileKind::Regular).is_none());
        let e = p.load_fc("\n/x  system_u:object_r:nope_t:s0\n").unwrap_err();
        assert_eq!(
            (e.line, e.column, e.message.as_str()),
            (2, 23, "unknown type 'nope_t' in context system_u:object_r:nope_t:s0")
        );
        let e = p.load_fc("/x -z system_u:object_r:etc_t:s0\n").unwrap_err();
        assert_eq!((e.line, e.column), (1, 4));
        let e = p.load_fc("/x(  system_u:object_r:etc_t:s0\n").unwrap_err();
        assert!(e.message.starts_with("bad regular expression"), "{e}");
    }
}
