//! Scenarios: the contract's text format, its parser, its printer, and the
//! runner that drives a [`Backend`] (the model or the host kernel) one step
//! at a time.

pub mod ast;
mod outcome;
pub mod parse;
mod runner;

pub use ast::{
    Access, End, Expectation, FcntlCmd, Fd, FdArg, HookEra, ObjId, ObjKind, Object, Op, Range, Scenario, Step, Thread,
};
pub use outcome::{
    Outcome, SO_EE_CODE_ZEROCOPY_COPIED, SO_EE_ORIGIN_ZEROCOPY, describe_errqueue, errno_name, write_byte, write_runs,
};
pub use parse::{ParseError, load_policies, parse};
pub use runner::{Backend, BackendError, Report, ResultLine, StepResult, run};
