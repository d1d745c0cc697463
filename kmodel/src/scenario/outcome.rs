//! What one operation answered, and how the contract prints it.

use std::fmt::{self, Write as _};

use crate::kernel::Errno;

/// The result of one operation, as the contract prints it after `=>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `ok`.
    Ok,
    /// A count or a value: `16384`.
    Count(u64),
    /// Data read: the count, then the bytes as runs (`4096 'B'x4096`).
    Data(Vec<u8>),
    /// An error: `-EAGAIN`.
    Err(Errno),
    /// A model-only operation on a backend that cannot run it: `skip`.
    Skip,
    /// A failed `expect`: `FAILED: why`.
    Failed(String),
    /// A model-only answer in free text (`refs`).
    Text(String),
    /// A result and every security module's decision on the operation,
    /// side by side: `-EACCES [apparmor deny r /etc/shadow | selinux allow]`.
    Decided(Box<Outcome>, String),
}

impl Outcome {
    /// The outcome of a syscall that answers a count.
    pub fn from_count(r: Result<usize, Errno>) -> Self {
        match r {
            Ok(n) => Outcome::Count(n as u64),
            Err(e) => Outcome::Err(e),
        }
    }

    /// `ok` for a successful count (a call whose value means nothing).
    #[must_use]
    pub fn map_count_to_ok(self) -> Self {
        match self {
            Outcome::Count(_) => Outcome::Ok,
            o => o,
        }
    }

    /// The outcome of a syscall that answers nothing on success.
    pub fn from_unit(r: Result<(), Errno>) -> Self {
        match r {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Err(e),
        }
    }
}

/// `SO_EE_ORIGIN_ZEROCOPY`.
pub const SO_EE_ORIGIN_ZEROCOPY: u8 = 5;
/// `SO_EE_CODE_ZEROCOPY_COPIED`.
pub const SO_EE_CODE_ZEROCOPY_COPIED: u8 = 1;

/// How `errqueue` prints one `sock_extended_err`: `zerocopy [0,2]`, with
/// ` copied` when the kernel copied the bytes after all; anything else by
/// its fields.
pub fn describe_errqueue(origin: u8, errno: u32, code: u8, info: u32, data: u32) -> String {
    if origin == SO_EE_ORIGIN_ZEROCOPY && errno == 0 {
        let copied = if code & SO_EE_CODE_ZEROCOPY_COPIED != 0 { " copied" } else { "" };
        format!("zerocopy [{info},{data}]{copied}")
    } else {
        format!("error origin {origin} errno {errno} code {code} info {info} data {data}")
    }
}

/// The symbolic name of an errno, as the contract prints it (`EAGAIN`).
pub fn errno_name(e: Errno) -> String {
    // nix's Debug is the constant's name.
    format!("{e:?}")
}

/// Append the contract's run notation of `data` to `out`: `'A'x4000 'B'x96`.
pub fn write_runs(out: &mut String, data: &[u8]) {
    let mut i = 0;
    let mut first = true;
    while i < data.len() {
        let b = data[i];
        let run = data[i..].iter().take_while(|&&c| c == b).count();
        if !first {
            out.push(' ');
        }
        first = false;
        write_byte(out, b);
        let _ = write!(out, "x{run}");
        i += run;
    }
}

/// Append one byte in the contract's quoted form: `'A'` or `'\x0a'`.
pub fn write_byte(out: &mut String, b: u8) {
    if (0x20..0x7f).contains(&b) && b != b'\'' && b != b'\\' {
        let _ = write!(out, "'{}'", b as char);
    } else {
        let _ = write!(out, "'\\x{b:02x}'");
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Count(n) => write!(f, "{n}"),
            Outcome::Data(d) => {
                let mut s = d.len().to_string();
                if !d.is_empty() {
                    s.push(' ');
                    write_runs(&mut s, d);
                }
                f.write_str(&s)
            }
            Outcome::Err(e) => write!(f, "-{}", errno_name(*e)),
            Outcome::Skip => f.write_str("skip"),
            Outcome::Failed(why) => write!(f, "FAILED: {why}"),
            Outcome::Text(t) => f.write_str(t),
            Outcome::Decided(o, modules) => write!(f, "{o} [{modules}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_prints_runs() {
        let mut d = vec![b'A'; 4000];
        d.extend(vec![b'B'; 96]);
        assert_eq!(Outcome::Data(d).to_string(), "4096 'A'x4000 'B'x96");
    }

    #[test]
    fn empty_read_prints_zero() {
        assert_eq!(Outcome::Data(vec![]).to_string(), "0");
    }

    #[test]
    fn unprintable_and_quote_and_backslash_are_hex() {
        assert_eq!(
            Outcome::Data(vec![0, b'\'', b'\\', b'x', 0x7f]).to_string(),
            "5 '\\x00'x1 '\\x27'x1 '\\x5c'x1 'x'x1 '\\x7f'x1"
        );
    }

    #[test]
    fn errors_print_symbolic_names() {
        assert_eq!(Outcome::Err(Errno::EAGAIN).to_string(), "-EAGAIN");
        assert_eq!(Outcome::Err(Errno::EPIPE).to_string(), "-EPIPE");
        assert_eq!(Outcome::Err(Errno::ESPIPE).to_string(), "-ESPIPE");
    }
}
