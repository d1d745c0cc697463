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

/// An image as decoded with its own version's records.
pub(crate) enum Versioned {
    /// Format version 1 (the current one).
    V1(Image),
}

/// Decode the sections of an interface image with the records of its
/// version.
pub(crate) fn decode_versioned(framed: &Framed<'_>) -> Result<Versioned, ImageError> {
    match framed.version {
        1 => decode_v1(framed).map(Versioned::V1),
        found => Err(ImageError::UnsupportedVersion { found, newest: super::FORMAT_VERSION }),
    }
}

/// The image in the current version.
pub(crate) fn to_current(v: Versioned) -> Result<Image, ImageError> {
    match v {
        Versioned::V1(image) => Ok(image),
    }
}

fn decode_v1(framed: &Framed<'_>) -> Result<Image, ImageError> {
    let map = by_tag(&framed.sections)?;
    let meta: v1::Meta = body("meta", required(&map, SectionTag::Meta)?)?;
    let frames = body("frames", required(&map, SectionTag::Frames)?)?;
    let page_data = required(&map, SectionTag::PageData)?.to_vec();
    let processes = body("processes", required(&map, SectionTag::Processes)?)?;
    let pipes = body("pipes", required(&map, SectionTag::Pipes)?)?;
    let inodes = body("inodes", required(&map, SectionTag::Inodes)?)?;
    let vfs = body("vfs", required(&map, SectionTag::Vfs)?)?;
    let bindings = map.get(&SectionTag::Bindings).map(|b| body("bindings", b)).transpose()?;
    let arena = map.get(&SectionTag::Arena).map(|b| body("arena", b)).transpose()?;
    Ok(Image {
        serializer: Serializer::Interface,
        meta,
        frames,
        page_data,
        processes,
        pipes,
        inodes,
        vfs,
        bindings,
        arena,
    })
}
