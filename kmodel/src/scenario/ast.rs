//! The parsed form of a scenario: objects, steps and their operands.
//!
//! Both backends (the model and the host kernel) consume exactly this; the
//! parser is the only producer.

/// A whole scenario file, parsed and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// The file name as given (for messages).
    pub path: String,
    /// Every declared object, in declaration order; [`ObjId`] indexes this.
    pub objects: Vec<Object>,
    /// One step per operation line, in file order (declarations included).
    pub steps: Vec<Step>,
    /// The threads (`thread NAME` ... `end`), in file order; empty for a
    /// single-threaded scenario. Steps outside every thread run first.
    pub threads: Vec<Thread>,
}

/// A thread of a scenario: `thread NAME`, its operations, `end`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    /// `[a-z][a-z0-9_]*`, unique among threads and objects.
    pub name: String,
    /// The line of `thread NAME`.
    pub line: usize,
    /// Its operations: indices into [`Scenario::steps`], in order.
    pub steps: Vec<usize>,
}

impl Scenario {
    /// The object named by `id`.
    pub fn object(&self, id: ObjId) -> &Object {
        &self.objects[id.0]
    }

    /// The steps outside every thread, in file order: they run first.
    pub fn main_steps(&self) -> Vec<usize> {
        let mut in_thread = vec![false; self.steps.len()];
        for t in &self.threads {
            for &i in &t.steps {
                in_thread[i] = true;
            }
        }
        (0..self.steps.len()).filter(|&i| !in_thread[i]).collect()
    }

    /// The name of object `id`.
    pub fn name(&self, id: ObjId) -> &str {
        &self.objects[id.0].name
    }
}

/// Index of an object in [`Scenario::objects`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjId(pub usize);

/// A declared object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// `[a-z][a-z0-9_]*`, unique in the scenario.
    pub name: String,
    /// What it is.
    pub kind: ObjKind,
    /// The line that declared it.
    pub line: usize,
}

/// The kinds of object a scenario can declare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjKind {
    /// `buffer NAME PAGES`: anonymous private memory of `pages` pages.
    Buffer {
        /// Size in pages.
        pages: u64,
    },
    /// `pipe NAME`: ends `NAME.r` and `NAME.w`.
    Pipe,
    /// `file NAME PAGES BYTE`: a regular file of `pages` pages of `byte`.
    File {
        /// Size in pages.
        pages: u64,
        /// Every byte's value.
        byte: u8,
    },
    /// `tcp NAME [link OPTION=VALUE ...]`: a connected pair, ends `NAME.tx`
    /// and `NAME.rx`; over loopback, or (model only) over a simulated link.
    Tcp {
        /// The link's parameters; `None` for loopback.
        link: Option<tcp_sim::LinkParams>,
    },
    /// `open NAME PATH r|w|rw`: a descriptor for an existing file or
    /// directory, opened by name.
    Opened,
}

/// The access mode of `open NAME PATH r|w|rw`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// `r`: `O_RDONLY`.
    Read,
    /// `w`: `O_WRONLY`.
    Write,
    /// `rw`: `O_RDWR`.
    ReadWrite,
}

/// Where an operand was written on its line, kept for error messages. It is
/// not part of what a step means: any two compare equal (a scenario
/// reprinted with its blanks folded is the same scenario).
#[derive(Copy, Clone, Debug, Default, Eq)]
pub struct Column(pub usize);

impl PartialEq for Column {
    fn eq(&self, _: &Column) -> bool {
        true
    }
}

/// Which hook table `hooks 2006|today` selects.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HookEra {
    /// The 2006 table: inode hooks only.
    Y2006,
    /// Today's table, with the path hooks.
    Today,
}

/// One operation line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// 1-based line number in the file.
    pub line: usize,
    /// The line's text with the comment stripped and blanks folded: what
    /// the output prints as `OPERATION`.
    pub text: String,
    /// What to do.
    pub op: Op,
    /// Whether an earlier line changed the machine in a way the Linux
    /// runner does not follow ([`Op::changes_what_linux_sees`]): then this
    /// line is model-only whatever its verb.
    pub after_model_only_change: bool,
    /// The container it runs in (`in NAME` ... `end`), if any: such a line
    /// is model-only.
    pub within: Option<String>,
}

impl Step {
    /// Whether only the model runs this line: its verb is model-only, or
    /// it comes after a model-only change of the machine.
    pub fn model_only(&self) -> bool {
        self.after_model_only_change || self.within.is_some() || self.op.is_model_only()
    }
}

/// Which descriptor of an object an operand names.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum End {
    /// `P.r`: the pipe's read end.
    Read,
    /// `P.w`: the pipe's write end.
    Write,
    /// `T.tx`: the connecting side of a TCP pair.
    Tx,
    /// `T.rx`: the accepted side of a TCP pair.
    Rx,
    /// A file's descriptor (the file's bare name).
    File,
}

/// A file descriptor operand.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fd {
    /// The pipe, TCP pair or file.
    pub object: ObjId,
    /// Which of its descriptors.
    pub end: End,
}

/// A descriptor operand that may carry an explicit offset (`FD@OFF`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FdArg {
    /// The descriptor.
    pub fd: Fd,
    /// `Some(off)` passes `&off` instead of using the file position.
    pub offset: Option<u64>,
}

/// A byte range of a buffer, `BUF[START..END]`, END exclusive; checked
/// against the buffer's size and `start <= end` by the parser.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Range {
    /// The buffer.
    pub buffer: ObjId,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl Range {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// The `fcntl` commands of the contract.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FcntlCmd {
    /// `getpipe_sz`: `F_GETPIPE_SZ`.
    GetPipeSz,
    /// `setpipe_sz N`: `F_SETPIPE_SZ`.
    SetPipeSz(u64),
    /// `getpsz` (model only): the 2006 patch's `F_GETPSZ`, in pages.
    GetPsz,
    /// `setpsz N` (model only): the 2006 patch's `F_SETPSZ`, which answers
    /// `-EINVAL`.
    SetPsz(u64),
}

/// What an `expect` line asserts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// No kernel object holds any page of the range.
    Reusable,
    /// Some kernel object holds a page of the range.
    Busy,
}

/// One operation of the contract (declarations included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// An object line: create object `0`.
    Declare(ObjId),
    /// `fill RANGE BYTE`.
    Fill {
        /// Where.
        range: Range,
        /// What.
        byte: u8,
    },
    /// `write FD LEN BYTE [nonblock]`.
    Write {
        /// Descriptor.
        fd: Fd,
        /// Bytes to write.
        len: u64,
        /// Their value.
        byte: u8,
        /// O_NONBLOCK for this call.
        nonblock: bool,
    },
    /// `read FD LEN [nonblock]`.
    Read {
        /// Descriptor.
        fd: Fd,
        /// At most this many bytes.
        len: u64,
        /// O_NONBLOCK for this call.
        nonblock: bool,
    },
    /// `recv FD LEN`: `recv(MSG_WAITALL)`.
    Recv {
        /// Descriptor.
        fd: Fd,
        /// Exactly this many bytes.
        len: u64,
    },
    /// `vmsplice FD RANGE [RANGE ...] [gift] [nonblock]`.
    Vmsplice {
        /// Descriptor.
        fd: Fd,
        /// One iovec per range, in order.
        ranges: Vec<Range>,
        /// SPLICE_F_GIFT.
        gift: bool,
        /// O_NONBLOCK and SPLICE_F_NONBLOCK.
        nonblock: bool,
    },
    /// `splice IN OUT LEN [nonblock] [move] [more]`.
    Splice {
        /// Source.
        input: FdArg,
        /// Destination.
        output: FdArg,
        /// Bytes.
        len: u64,
        /// O_NONBLOCK on both and SPLICE_F_NONBLOCK.
        nonblock: bool,
        /// SPLICE_F_MOVE.
        mov: bool,
        /// SPLICE_F_MORE.
        more: bool,
    },
    /// `tee IN OUT LEN [nonblock]`.
    Tee {
        /// Source pipe.
        input: Fd,
        /// Destination pipe.
        output: Fd,
        /// Bytes.
        len: u64,
        /// O_NONBLOCK on both and SPLICE_F_NONBLOCK.
        nonblock: bool,
    },
    /// `sendfile OUT IN LEN`.
    Sendfile {
        /// Destination.
        output: Fd,
        /// Source, with an optional offset.
        input: FdArg,
        /// Bytes.
        len: u64,
    },
    /// `pwrite FILE OFF LEN BYTE`.
    Pwrite {
        /// Descriptor.
        fd: Fd,
        /// File offset.
        offset: u64,
        /// Bytes.
        len: u64,
        /// Their value.
        byte: u8,
    },
    /// `fcntl FD CMD [N]`.
    Fcntl {
        /// Descriptor.
        fd: Fd,
        /// Command.
        cmd: FcntlCmd,
    },
    /// `close FD`.
    Close {
        /// Descriptor.
        fd: Fd,
    },
    /// `refs RANGE` (model only).
    Refs {
        /// Pages to explain.
        range: Range,
    },
    /// `expect reusable|busy RANGE` (model only).
    Expect {
        /// The assertion.
        what: Expectation,
        /// Pages it is about.
        range: Range,
    },
    /// `wait reusable RANGE` (model only): block the thread until no kernel
    /// object holds any page of the range; `-EDEADLK` when nothing left in
    /// the run could release them.
    WaitReusable {
        /// Pages to wait for.
        range: Range,
    },
    /// `advance MS` (model only): let simulated time pass.
    Advance {
        /// Nanoseconds.
        ns: u64,
    },
    /// `checkpoint FILE` (model only): freeze everything the scenario
    /// declared, write its image to FILE (relative names resolve in the
    /// backend's checkpoint directory), and run on.
    Checkpoint {
        /// The image file.
        file: String,
    },
    /// `restore FILE` (model only): discard the current state and continue
    /// from the image in FILE.
    Restore {
        /// The image file.
        file: String,
    },
    /// `checkpoint NAME to FILE` (model only): freeze container NAME,
    /// write its image (its processes with their virtual pids, memory,
    /// descriptors, pipes and files, its beancounters) to FILE and stop it
    /// (`vzctl chkpnt`): its lines answer `ESRCH` until a restore.
    CheckpointContainer {
        /// The container.
        name: String,
        /// The image file.
        file: String,
    },
    /// `restore FILE into HOST` (model only): graft the container image in
    /// FILE into HOST's running kernel, next to what runs there, under the
    /// image's name; the scenario's names of its objects follow it.
    RestoreInto {
        /// The image file.
        file: String,
        /// The host (`local`: the scenario's own machine).
        host: String,
    },
    /// `send FD RANGE [zerocopy] [more] [nonblock]`: one `send(2)` of user
    /// memory with `MSG_ZEROCOPY`, `MSG_MORE`, `MSG_DONTWAIT`.
    Send {
        /// Descriptor.
        fd: Fd,
        /// The bytes to send.
        range: Range,
        /// MSG_ZEROCOPY.
        zerocopy: bool,
        /// MSG_MORE.
        more: bool,
        /// MSG_DONTWAIT.
        nonblock: bool,
    },
    /// `setsockopt FD zerocopy`: `setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)`.
    SetZerocopy {
        /// Descriptor.
        fd: Fd,
    },
    /// `errqueue FD`: one `recvmsg(MSG_ERRQUEUE)`, a zerocopy completion.
    Errqueue {
        /// Descriptor.
        fd: Fd,
    },
    /// `expect intact FD` (model only): the bytes delivered to this socket
    /// are the bytes the sending program meant to send.
    ExpectIntact {
        /// The receiving descriptor.
        fd: Fd,
    },
    /// `mkdir PATH [MODE]` (mode in octal, default 777; the umask 022
    /// applies).
    Mkdir {
        /// Where.
        path: String,
        /// Permission bits asked for.
        mode: u32,
    },
    /// `rmdir PATH`.
    Rmdir {
        /// Which.
        path: String,
    },
    /// `create PATH`: `mknod(PATH, S_IFREG | 0666)`, a new empty file.
    Create {
        /// Where.
        path: String,
    },
    /// `link OLD NEW`.
    Link {
        /// The existing name.
        old: String,
        /// The new name.
        new: String,
    },
    /// `symlink TARGET NEW`.
    Symlink {
        /// What the link says (not resolved now).
        target: String,
        /// The link's name.
        new: String,
    },
    /// `rename OLD NEW`.
    Rename {
        /// The existing name.
        old: String,
        /// The new name.
        new: String,
    },
    /// `unlink PATH`.
    Unlink {
        /// Which.
        path: String,
    },
    /// `open NAME PATH r|w|rw`: declares object `name`.
    Open {
        /// The descriptor's name.
        name: ObjId,
        /// What to open.
        path: String,
        /// How.
        access: Access,
    },
    /// `stat PATH`: type, mode, owner, link count, size.
    Stat {
        /// Which (symlinks followed).
        path: String,
    },
    /// `truncate PATH LEN`.
    Truncate {
        /// Which (symlinks followed).
        path: String,
        /// The new size.
        len: u64,
    },
    /// `chmod PATH MODE` (octal).
    Chmod {
        /// Which.
        path: String,
        /// The new permission bits.
        mode: u32,
    },
    /// `chown PATH UID GID`.
    Chown {
        /// Which.
        path: String,
        /// New owner.
        uid: u32,
        /// New group.
        gid: u32,
    },
    /// `chdir PATH`.
    Chdir {
        /// Where.
        path: String,
    },
    /// `bind SRC DST`: a bind mount.
    Bind {
        /// What to show.
        src: String,
        /// Where.
        dst: String,
    },
    /// `unshare mount`: a private copy of the mount namespace.
    Unshare,
    /// `chroot PATH`.
    Chroot {
        /// The new root.
        path: String,
    },
    /// `process NAME` (model only): switch to process NAME, starting it
    /// (a fork of the current one) if new.
    Process {
        /// The process's name.
        name: String,
    },
    /// `setuid UID GID`: the current process's credentials.
    Setuid {
        /// New uid.
        uid: u32,
        /// New gid.
        gid: u32,
    },
    /// `exec PATH` (model only): the current process now runs PATH.
    Exec {
        /// The program.
        path: String,
    },
    /// `hooks 2006|today` (model only): which hook table the kernel calls.
    Hooks {
        /// The table.
        era: HookEra,
    },
    /// `audit` (model only): the audit lines logged since the last `audit`.
    Audit,
    /// `policy apparmor|selinux|landlock FILE` (model only): load a policy
    /// (FILE relative to the scenario's directory; read and checked before
    /// the run by [`crate::scenario::load_policies`]).
    Policy {
        /// Which module.
        module: crate::lsm::PolicyModule,
        /// The file as written.
        file: String,
        /// The file's column on its line (for errors).
        column: Column,
        /// Its text, once loaded.
        text: String,
    },
    /// `restorecon PATH` (model only): relabel PATH and what is beneath it
    /// from the label module's file contexts.
    Restorecon {
        /// Where.
        path: String,
    },
    /// `label [PATH]` (model only): the label module's context of PATH, or
    /// every module's view of the current process.
    Label {
        /// The file, or `None` for the process.
        path: Option<String>,
    },
    /// `container NAME [pages=N] [pipes=N] [sockets=N] [files=N]` (model
    /// only): a new container with these limits on the scenario's machine.
    Container {
        /// Its name.
        name: String,
        /// The limits given; the others are unlimited.
        limits: Vec<(crate::container::Resource, u64)>,
    },
    /// `beancounters NAME` (model only): the container's counters.
    Beancounters {
        /// The container.
        name: String,
    },
    /// `ps NAME` (model only): the container's processes, virtual pid and
    /// global pid.
    Ps {
        /// The container.
        name: String,
    },
    /// `host NAME [link OPTION=VALUE ...]` (model only): another machine,
    /// joined to the scenario's by a link with these parameters.
    Host {
        /// Its name.
        name: String,
        /// The link from the scenario's machine to it.
        link: tcp_sim::LinkParams,
    },
    /// `migrate NAME to HOST [precopy|postcopy|hybrid] [dirty=N]
    /// [into=BUF]` (model only): live-migrate the container while it
    /// writes N pages a second (into buffer BUF only, if given).
    Migrate {
        /// The container.
        name: String,
        /// Where to.
        host: String,
        /// How.
        strategy: crate::container::Strategy,
        /// Page writes per second of simulated time while it migrates.
        dirty: u64,
        /// The buffer the load writes into (`into=BUF`); every page of the
        /// container if `None`.
        into: Option<ObjId>,
    },
}

impl Op {
    /// Whether only the model can run this operation (the Linux runner
    /// prints `skip` and `kmodel diff` ignores the line).
    pub fn is_model_only(&self) -> bool {
        matches!(
            self,
            Op::Refs { .. }
                | Op::Expect { .. }
                | Op::ExpectIntact { .. }
                | Op::WaitReusable { .. }
                | Op::Advance { .. }
                | Op::Checkpoint { .. }
                | Op::Restore { .. }
                | Op::CheckpointContainer { .. }
                | Op::RestoreInto { .. }
                | Op::Fcntl { cmd: FcntlCmd::GetPsz | FcntlCmd::SetPsz(_), .. }
                | Op::Audit
                | Op::Hooks { .. }
                | Op::Label { .. }
                | Op::Container { .. }
                | Op::Beancounters { .. }
                | Op::Ps { .. }
                | Op::Host { .. }
                | Op::Migrate { .. }
        ) || self.changes_what_linux_sees()
    }

    /// Whether this model-only operation changes the machine in a way the
    /// Linux runner does not follow (another process, a program's security
    /// context, a security policy, labels): every line after it is
    /// model-only too (see [`Step::model_only`]).
    pub fn changes_what_linux_sees(&self) -> bool {
        matches!(
            self,
            Op::Process { .. } | Op::Exec { .. } | Op::Policy { .. } | Op::Restorecon { .. } | Op::Restore { .. }
        )
    }
}

impl Op {
    /// The descriptor operands of the operation.
    pub fn fds(&self) -> Vec<Fd> {
        match self {
            Op::Write { fd, .. }
            | Op::Read { fd, .. }
            | Op::Recv { fd, .. }
            | Op::Vmsplice { fd, .. }
            | Op::Pwrite { fd, .. }
            | Op::Fcntl { fd, .. }
            | Op::Close { fd }
            | Op::Send { fd, .. }
            | Op::SetZerocopy { fd }
            | Op::Errqueue { fd }
            | Op::ExpectIntact { fd } => vec![*fd],
            Op::Splice { input, output, .. } => vec![input.fd, output.fd],
            Op::Tee { input, output, .. } => vec![*input, *output],
            Op::Sendfile { output, input, .. } => vec![*output, input.fd],
            // Name operations take paths, not descriptors (`open` declares
            // one, through Op::Open's `name`, which is not an operand).
            _ => Vec::new(),
        }
    }
}

impl Scenario {
    /// Whether object `id` exists only in the model (a `tcp` pair over a
    /// simulated link: the host kernel has only loopback).
    pub fn is_model_only_object(&self, id: ObjId) -> bool {
        matches!(self.objects.get(id.0).map(|o| &o.kind), Some(ObjKind::Tcp { link: Some(_) }))
    }

    /// Whether only the model can run `step`: a model-only operation, the
    /// declaration of a model-only object, or any operation on one. The
    /// Linux runner prints `skip` for it and `kmodel diff` ignores it.
    pub fn is_model_only(&self, step: &Step) -> bool {
        step.model_only()
            || match &step.op {
                Op::Declare(id) => self.is_model_only_object(*id),
                op => op.fds().iter().any(|fd| self.is_model_only_object(fd.object)),
            }
    }
}
