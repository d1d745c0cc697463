//! What the policy parsers share: errors with line and column, and a small
//! lexer for the statement languages (AppArmor profiles, TE rules,
//! Landlock rulesets).

use std::fmt;

/// A policy file that does not parse or names something unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (bytes).
    pub column: usize,
    /// What was expected, or what is unknown.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for PolicyError {}

/// `Err(PolicyError)` at `tok`.
pub(crate) fn err<T>(tok: &Tok, message: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError { line: tok.line, column: tok.column, message: message.into() })
}

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// A word: a name, a number, a path or glob (a token starting with `/`
    /// runs to the next blank, braces and commas included).
    Word(String),
    /// One of `{ } , ; : ( ) =`.
    Punct(char),
    /// A double-quoted string.
    Str(String),
    /// The end of the file.
    End,
}

/// A token and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tok {
    pub(crate) kind: TokKind,
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl Tok {
    /// How a message shows it.
    pub(crate) fn show(&self) -> String {
        match &self.kind {
            TokKind::Word(w) => format!("'{w}'"),
            TokKind::Punct(c) => format!("'{c}'"),
            TokKind::Str(s) => format!("\"{s}\""),
            TokKind::End => "end of file".into(),
        }
    }

    /// The word, if it is one.
    pub(crate) fn word(&self) -> Option<&str> {
        match &self.kind {
            TokKind::Word(w) => Some(w),
            _ => None,
        }
    }

    /// Whether it is punctuation `c`.
    pub(crate) fn is(&self, c: char) -> bool {
        self.kind == TokKind::Punct(c)
    }
}

const PUNCT: &str = "{},;:()=";

/// Split `text` into tokens; `#` starts a comment to the end of the line.
pub(crate) fn lex(text: &str) -> Result<Vec<Tok>, PolicyError> {
    let mut toks = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let b = line.as_bytes();
        let mut j = 0;
        while j < b.len() {
            let c = b[j];
            if c == b'#' {
                break;
            }
            if c.is_ascii_whitespace() {
                j += 1;
                continue;
            }
            let start = j;
            let kind = if PUNCT.as_bytes().contains(&c) {
                j += 1;
                TokKind::Punct(c as char)
            } else if c == b'"' {
                j += 1;
                while j < b.len() && b[j] != b'"' {
                    j += 1;
                }
                if j == b.len() {
                    return Err(PolicyError {
                        line: line_no,
                        column: start + 1,
                        message: "unterminated string".into(),
                    });
                }
                j += 1;
                TokKind::Str(line[start + 1..j - 1].to_owned())
            } else if c == b'/' {
                while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'#' {
                    j += 1;
                }
                // A path's trailing ',' or ';' ends the rule, not the path.
                let mut end = j;
                while end > start + 1 && (b[end - 1] == b',' || b[end - 1] == b';') {
                    end -= 1;
                }
                j = end;
                TokKind::Word(line[start..end].to_owned())
            } else {
                while j < b.len()
                    && !b[j].is_ascii_whitespace()
                    && !PUNCT.as_bytes().contains(&b[j])
                    && b[j] != b'#'
                    && b[j] != b'"'
                {
                    j += 1;
                }
                TokKind::Word(line[start..j].to_owned())
            };
            toks.push(Tok { kind, line: line_no, column: start + 1 });
        }
    }
    let line = text.split('\n').count();
    toks.push(Tok { kind: TokKind::End, line, column: text.split('\n').next_back().map_or(0, str::len) + 1 });
    Ok(toks)
}

/// Tokens read left to right.
pub(crate) struct Cursor {
    toks: Vec<Tok>,
    pos: usize,
}

impl Cursor {
    pub(crate) fn new(text: &str) -> Result<Self, PolicyError> {
        Ok(Cursor { toks: lex(text)?, pos: 0 })
    }

    pub(crate) fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    pub(crate) fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    pub(crate) fn at_end(&self) -> bool {
        self.peek().kind == TokKind::End
    }

    /// The next token, which must be punctuation `c`.
    pub(crate) fn expect(&mut self, c: char, context: &str) -> Result<Tok, PolicyError> {
        let t = self.next();
        if t.is(c) { Ok(t) } else { err(&t, format!("expected '{c}' {context}, found {}", t.show())) }
    }

    /// The next token, which must be a word; `what` says what it should be.
    pub(crate) fn word(&mut self, what: &str) -> Result<(String, Tok), PolicyError> {
        let t = self.next();
        match t.word() {
            Some(w) => Ok((w.to_owned(), t)),
            None => err(&t, format!("expected {what}, found {}", t.show())),
        }
    }
}

/// Whether `s` is an identifier (`[A-Za-z_][A-Za-z0-9_]*`).
pub(crate) fn is_ident(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}
