//! Kernel variants: the same scenario on today's kernel, on the 2006
//! patch, or with `vmsplice` as a plain copy.
//!
//! The variants differ in a few places only, each named here:
//!
//! - [`KernelVariant::Today`]: the kernel as it is (Linux 6.x): `vmsplice`
//!   into a pipe takes references to the user's pages
//!   (`user_page_pipe_buf_ops`); `F_GETPIPE_SZ`/`F_SETPIPE_SZ` (Linux
//!   2.6.35) answer and resize in bytes. The model also keeps the 2006
//!   `F_GETPSZ`/`F_SETPSZ` as model-only commands, answering as in 2006.
//! - [`KernelVariant::Y2006`]: the splice patches of 2006 (Linux 2.6.17
//!   and Jens Axboe's `sys_vmsplice` patch of 21 April 2006): a pipe has
//!   `PIPE_BUFFERS` = 16 slots and cannot be resized. The patch answered
//!   its two commands in `do_fcntl`, for any open descriptor, pipe or not:
//!   `F_GETPSZ` with `PIPE_BUFFERS` (16, the capacity in pages), `F_SETPSZ`
//!   with `-EINVAL` whatever its argument. `F_GETPIPE_SZ` and
//!   `F_SETPIPE_SZ` (Linux 2.6.35) did not exist yet, so `fcntl` answers
//!   `-EINVAL` for them as for any unknown command. The security hook
//!   table starts as the 2006 one (`hooks 2006`: no path hooks).
//! - [`KernelVariant::Copy`]: the proposal to make `vmsplice` into a pipe a
//!   plain copy: each page piece of the iovec is copied into a page the
//!   kernel allocates (one slot per piece, as today, so counts and
//!   capacity are unchanged), and the pipe never holds the user's page. A
//!   later store by the program cannot change what the reader gets; the
//!   price is a copy of every byte.
//!
//! Each variant counts the bytes the kernel copies
//! ([`crate::kernel::Kernel::copied_bytes`]), so the stories can say what
//! each answer costs.

use std::fmt;
use std::str::FromStr;

/// Which kernel runs the scenario.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum KernelVariant {
    /// Today's kernel.
    #[default]
    Today,
    /// The 2006 splice patches: `F_GETPSZ`/`F_SETPSZ`, no pipe resizing,
    /// the 2006 hook table.
    Y2006,
    /// `vmsplice` into a pipe copies the user's bytes.
    Copy,
}

impl KernelVariant {
    /// Every variant, in the order the CLI lists them.
    pub const ALL: [KernelVariant; 3] = [KernelVariant::Today, KernelVariant::Y2006, KernelVariant::Copy];

    /// The name on the command line (`--kernel today|2006|copy`).
    pub fn name(self) -> &'static str {
        match self {
            KernelVariant::Today => "today",
            KernelVariant::Y2006 => "2006",
            KernelVariant::Copy => "copy",
        }
    }

    /// One line saying what the variant changes.
    pub fn summary(self) -> &'static str {
        match self {
            KernelVariant::Today => {
                "today's kernel: vmsplice takes references to the user's pages; F_SETPIPE_SZ resizes"
            }
            KernelVariant::Y2006 => {
                "the 2006 patch: 16-slot pipes, F_GETPSZ answers pages, F_SETPSZ -EINVAL, no F_GETPIPE_SZ/F_SETPIPE_SZ"
            }
            KernelVariant::Copy => {
                "vmsplice as a plain copy: the pipe holds kernel pages with a copy of the user's bytes"
            }
        }
    }
}

impl fmt::Display for KernelVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KernelVariant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        KernelVariant::ALL.into_iter().find(|v| v.name() == s).ok_or_else(|| {
            let names: Vec<&str> = KernelVariant::ALL.iter().map(|v| v.name()).collect();
            format!("unknown kernel variant '{s}': expected one of {}", names.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names_round_trip() {
        for v in KernelVariant::ALL {
            assert_eq!(v.name().parse::<KernelVariant>(), Ok(v));
        }
        let e = "2007".parse::<KernelVariant>().unwrap_err();
        assert!(e.contains("today, 2006, copy"), "{e}");
    }
}
