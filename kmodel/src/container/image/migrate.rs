//! Format versions and the migrations between them.
//!
//! Each version's records live in their own module (`v1.rs`, ...), frozen
//! once released. Decoding reads the sections with the records of the
//! image's version into [`Versioned`]; [`to_current`] then applies the
//! migrations vN → vN+1 in turn. To change the schema: copy the current
//! records to a new `vN+1.rs`, change them there, bump
//! [`FORMAT_VERSION`](super::FORMAT_VERSION), add a `Versioned::VN+1` arm
//! and a `migrate_vN` function, and commit an image written by the new
//! version under `tests/images/`.

use super::{Framed, Image, ImageError, SectionTag, Serializer, body, by_tag, required, v1};

/// An image of format version 1: the sections version 1 defines.
pub(crate) struct ImageV1 {
    meta: v1::Meta,
    frames: Vec<v1::FrameRec>,
    processes: Vec<v1::ProcessRec>,
    pipes: Vec<v1::PipeRec>,
    inodes: Vec<v1::InodeRec>,
    vfs: v1::VfsRec,
    bindings: Option<v1::BindingsRec>,
    arena: Option<v1::ArenaRec>,
}

/// An image as decoded with its own version's records.
pub(crate) enum Versioned {
    /// Format version 1.
    V1(Box<ImageV1>),
    /// Format version 2 (the current one).
    V2(Box<Image>),
}

/// Decode the sections of an interface image with the records of its
/// version.
/// The page data is returned apart, borrowed from the input.
pub(crate) fn decode_versioned<'a>(framed: &Framed<'a>) -> Result<(Versioned, &'a [u8]), ImageError> {
    match framed.version {
        1 => decode_v1(framed).map(|(i, p)| (Versioned::V1(Box::new(i)), p)),
        2 => decode_v2(framed).map(|(i, p)| (Versioned::V2(Box::new(i)), p)),
        found => Err(ImageError::UnsupportedVersion { found, newest: super::FORMAT_VERSION }),
    }
}

/// The image in the current version.
pub(crate) fn to_current(v: Versioned) -> Result<Image, ImageError> {
    match v {
        Versioned::V1(image) => Ok(migrate_v1(*image)),
        Versioned::V2(image) => Ok(*image),
    }
}

/// Version 1 → 2: every v1 record is a v2 record (v2 re-exports them), and
/// the sections v2 added are empty: a v1 image could hold no socket, no
/// security module and no container (version 1 refused to checkpoint them).
pub(crate) fn migrate_v1(v: ImageV1) -> Image {
    Image {
        serializer: Serializer::Interface,
        meta: v.meta,
        frames: v.frames,
        page_data: Vec::new(),
        processes: v.processes,
        pipes: v.pipes,
        inodes: v.inodes,
        vfs: v.vfs,
        bindings: v.bindings,
        arena: v.arena,
        net: None,
        lsm: None,
        containers: Vec::new(),
        runner: None,
    }
}

fn decode_v1<'a>(framed: &Framed<'a>) -> Result<(ImageV1, &'a [u8]), ImageError> {
    // Version 1 defined tags 1 to 9 only.
    if let Some(s) = framed.sections.iter().find(|s| s.tag > SectionTag::Arena as u16) {
        return Err(ImageError::UnknownSection(s.tag));
    }
    decode_v1_sections(framed)
}

/// The sections version 1 defined, as its records (v2 keeps them).
fn decode_v1_sections<'a>(framed: &Framed<'a>) -> Result<(ImageV1, &'a [u8]), ImageError> {
    let map = by_tag(&framed.sections)?;
    let meta: v1::Meta = body("meta", required(&map, SectionTag::Meta)?)?;
    let frames = body("frames", required(&map, SectionTag::Frames)?)?;
    let page_data = required(&map, SectionTag::PageData)?;
    let processes = body("processes", required(&map, SectionTag::Processes)?)?;
    let pipes = body("pipes", required(&map, SectionTag::Pipes)?)?;
    let inodes = body("inodes", required(&map, SectionTag::Inodes)?)?;
    let vfs = body("vfs", required(&map, SectionTag::Vfs)?)?;
    let bindings = map.get(&SectionTag::Bindings).map(|b| body("bindings", b)).transpose()?;
    let arena = map.get(&SectionTag::Arena).map(|b| body("arena", b)).transpose()?;
    Ok((ImageV1 { meta, frames, processes, pipes, inodes, vfs, bindings, arena }, page_data))
}

fn decode_v2<'a>(framed: &Framed<'a>) -> Result<(Image, &'a [u8]), ImageError> {
    let (v1, page_data) = decode_v1_sections(framed)?;
    let map = by_tag(&framed.sections)?;
    let net = map.get(&SectionTag::Net).map(|b| body("net", b)).transpose()?;
    let lsm = map.get(&SectionTag::Lsm).map(|b| body("lsm", b)).transpose()?;
    let containers = map.get(&SectionTag::Containers).map(|b| body("containers", b)).transpose()?.unwrap_or_default();
    let runner = map.get(&SectionTag::Runner).map(|b| body("runner", b)).transpose()?;
    Ok((Image { net, lsm, containers, runner, ..migrate_v1(v1) }, page_data))
}
