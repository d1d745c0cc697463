//! The internal serializer: the model's own structs, field by field
//! (OpenVZ's way, 2006).
//!
//! Each section is a postcard dump of the kernel's structs as they are
//! (`Process`, `Inode`, `Vfs`, `PipeBuffer`, raw `PageId`s), through serde
//! derives on the structs themselves. It is quick to write and needs no
//! mapping code, and it is brittle: postcard is positional, so adding one
//! field to one struct makes every image written before unreadable (or,
//! worse, readable as something else), and nothing can migrate it, because
//! the old layout exists nowhere but in old binaries. The test
//! `internal_image_breaks_when_a_struct_grows` shows it with a
//! `PipeBuffer` that gained a field.
//!
//! Internal images share the framing (magic, sections, checksums) and are
//! converted to the interface records on decode, so they restore the same
//! way; they are accepted only by the model version that wrote them.

use std::collections::HashMap;

use page_refs::{Content, PAGE_SIZE, PageId};
use pipe_buffer::PipeBuffer;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::checkpoint::{CheckpointError, Frames, inode_rec, pipe_rec, process_rec, vfs_rec};
use super::image::{
    FORMAT_VERSION, Framed, Image, ImageError, Meta, SectionTag, Serializer, body, by_tag, frame, required,
};
use crate::kernel::{Inode, Kernel, Pid, PipeId, Process};

/// One page frame as the arena keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum RawContent {
    /// Every byte this value.
    Uniform(u8),
    /// The bytes.
    Bytes(Vec<u8>),
}

/// A pipe as the ring keeps it; `B` is the slot struct (generic so a test
/// can decode with a changed one).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RawPipe<B> {
    /// Pipe id.
    pub id: u32,
    /// Slots allocated.
    pub ring_size: u32,
    /// `max_usage`.
    pub max_usage: u32,
    /// `head`.
    pub head: u32,
    /// Open read ends.
    pub readers: u32,
    /// Open write ends.
    pub writers: u32,
    /// The occupied slots, oldest first.
    pub bufs: Vec<B>,
}

/// The sections of an internal image, decoded.
#[derive(Clone, Debug)]
pub struct InternalImage<B = PipeBuffer> {
    /// Host requirements.
    pub meta: Meta,
    /// The zero page's id.
    pub zero: PageId,
    /// Every frame by its id in the writing kernel.
    pub frames: Vec<(PageId, RawContent)>,
    /// Processes, as the kernel keeps them.
    pub processes: Vec<(Pid, Process)>,
    /// Pipes.
    pub pipes: Vec<RawPipe<B>>,
    /// Regular files.
    pub inodes: Vec<Inode>,
    /// The VFS, as the kernel keeps it.
    pub vfs: crate::vfs::Vfs,
}

fn pc<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).expect("model structs serialize")
}

/// Dump the whole kernel's structs as an internal image.
///
/// # Errors
/// As [`checkpoint`](super::checkpoint).
pub fn encode(kernel: &Kernel, pids: &[Pid]) -> Result<Vec<u8>, CheckpointError> {
    // The interface checkpoint decides what can be saved and gives the meta.
    let meta = super::checkpoint(kernel, pids)?.meta;
    // This serializer dumps pages, processes, pipes, files and the VFS
    // only (the demonstration of the brittle way, kept at format v1's
    // scope): what format version 2 added is refused, not dropped.
    if let Some(s) = kernel.net.sockets().next() {
        return Err(CheckpointError::Unsupported(format!(
            "TCP endpoint {} with the internal serializer (the interface one saves sockets)",
            s.0
        )));
    }
    if let Some((_, c)) = kernel.containers().next() {
        return Err(CheckpointError::Unsupported(format!(
            "container {} with the internal serializer (the interface one saves containers)",
            c.name
        )));
    }
    let pages = kernel.pages();
    let frames: Vec<(PageId, RawContent)> = pages
        .iter()
        .filter(|(id, _)| !pages.is_zero_page(*id))
        .map(|(id, _)| {
            let c = match pages.content(id) {
                Content::Uniform(b) => RawContent::Uniform(*b),
                Content::Bytes(b) => RawContent::Bytes(b.to_vec()),
            };
            (id, c)
        })
        .collect();
    let processes: Vec<(&Pid, &Process)> = kernel.procs.iter().filter(|(p, _)| meta.pids.contains(&p.0)).collect();
    let mut pipe_ids: Vec<PipeId> =
        processes.iter().flat_map(|(_, p)| p.fds.iter().filter_map(|(_, f)| f.pipe())).collect();
    pipe_ids.sort();
    pipe_ids.dedup();
    let pipes: Vec<RawPipe<PipeBuffer>> = pipe_ids
        .iter()
        .filter_map(|id| kernel.pipe(*id))
        .map(|p| RawPipe {
            id: p.id(),
            ring_size: p.ring_size(),
            max_usage: p.max_usage(),
            head: p.head(),
            readers: p.readers,
            writers: p.writers,
            bufs: p.buffers().copied().collect(),
        })
        .collect();
    let inodes: Vec<&Inode> = kernel.inodes.values().collect();
    let sections = [
        (SectionTag::Meta, pc(&(meta, pages.zero_page()))),
        (SectionTag::Frames, pc(&frames)),
        (SectionTag::Processes, pc(&processes)),
        (SectionTag::Pipes, pc(&pipes)),
        (SectionTag::Inodes, pc(&inodes)),
        (SectionTag::Vfs, pc(kernel.vfs())),
    ];
    let refs: Vec<(SectionTag, &[u8])> = sections.iter().map(|(t, b)| (*t, b.as_slice())).collect();
    Ok(frame(FORMAT_VERSION, Serializer::Internal, &refs))
}

/// Decode the sections of an internal image with `B` as the pipe slot
/// struct.
///
/// # Errors
/// Framing, checksum, or (the point of the exercise) a body that does not
/// match the structs of this build.
pub fn decode_as<B: DeserializeOwned>(bytes: &[u8]) -> Result<InternalImage<B>, ImageError> {
    let framed = super::image::unframe(bytes)?;
    if framed.serializer != Serializer::Internal {
        return Err(ImageError::Invalid("not an internal image".into()));
    }
    sections_as(&framed)
}

fn sections_as<B: DeserializeOwned>(framed: &Framed<'_>) -> Result<InternalImage<B>, ImageError> {
    let map = by_tag(&framed.sections)?;
    let broke = |e: ImageError| match e {
        ImageError::Decode { section, message } => ImageError::Decode {
            section,
            message: format!(
                "{message} (an internal image holds the model's structs as they were when it was written; \
                 they changed since, and internal images cannot be migrated: use an interface image)"
            ),
        },
        ImageError::TrailingBytes { section, count } => ImageError::Decode {
            section,
            message: format!(
                "{count} bytes left over (the model's structs changed since this internal image was written; \
                 internal images cannot be migrated: use an interface image)"
            ),
        },
        e => e,
    };
    let (meta, zero): (Meta, PageId) = body("meta", required(&map, SectionTag::Meta)?).map_err(broke)?;
    Ok(InternalImage {
        meta,
        zero,
        frames: body("frames", required(&map, SectionTag::Frames)?).map_err(broke)?,
        processes: body("processes", required(&map, SectionTag::Processes)?).map_err(broke)?,
        pipes: body("pipes", required(&map, SectionTag::Pipes)?).map_err(broke)?,
        inodes: body("inodes", required(&map, SectionTag::Inodes)?).map_err(broke)?,
        vfs: body("vfs", required(&map, SectionTag::Vfs)?).map_err(broke)?,
    })
}

/// An internal image as interface records (what `Image::decode` does with
/// one).
pub(crate) fn decode(framed: &Framed<'_>) -> Result<Image, ImageError> {
    let raw: InternalImage = sections_as(framed)?;
    if raw.meta.model_version != env!("CARGO_PKG_VERSION") {
        return Err(ImageError::Invalid(format!(
            "internal image written by model {}, this is {}: internal images are readable only by the version \
             that wrote them",
            raw.meta.model_version,
            env!("CARGO_PKG_VERSION")
        )));
    }
    let mut contents: HashMap<PageId, Content> = HashMap::new();
    for (id, c) in raw.frames {
        let c = match c {
            RawContent::Uniform(b) => Content::Uniform(b),
            RawContent::Bytes(v) => Content::Bytes(
                v.into_boxed_slice()
                    .try_into()
                    .map_err(|_| ImageError::Invalid(format!("frame {id}: not {PAGE_SIZE} bytes")))?,
            ),
        };
        contents.insert(id, c);
    }
    let source = Source { zero: raw.zero, contents };
    let mut frames = Frames::default();
    let mut pipe_ids = std::collections::BTreeSet::new();
    let processes =
        raw.processes.iter().map(|(pid, p)| process_rec(*pid, p, &source, &mut frames, &mut pipe_ids)).collect();
    let pipes = raw
        .pipes
        .iter()
        .map(|p| pipe_rec(PipeId(p.id), p.ring_size, p.max_usage, p.head, p.bufs.iter(), &source, &mut frames))
        .collect();
    let inodes = raw.inodes.iter().map(|i| inode_rec(i, &mut frames, &source)).collect();
    if let Some(id) = frames.missing {
        return Err(ImageError::Invalid(format!("{id} is held but not among the frames")));
    }
    Ok(Image {
        serializer: Serializer::Internal,
        meta: raw.meta,
        frames: frames.frames,
        page_data: frames.page_data,
        processes,
        pipes,
        inodes,
        vfs: vfs_rec(&raw.vfs),
        bindings: None,
        arena: None,
        net: None,
        lsm: None,
        containers: Vec::new(),
        runner: None,
    })
}

/// Page contents looked up in a decoded internal image.
struct Source {
    zero: PageId,
    contents: HashMap<PageId, Content>,
}

impl super::checkpoint::PageSource for Source {
    fn is_zero_page(&self, id: PageId) -> bool {
        id == self.zero
    }

    fn content(&self, id: PageId) -> Option<&Content> {
        self.contents.get(&id)
    }

    fn version(&self, _: PageId) -> u32 {
        0
    }
}
