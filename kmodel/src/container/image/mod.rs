//! The checkpoint image: a header, typed sections, checksums.
//!
//! ```text
//! offset  size  what
//! 0       8     magic "KMODELIM"
//! 8       2     format version (u16 LE)
//! 10      1     serializer: 0 interface (CRIU's way), 1 internal (OpenVZ's way)
//! 11      1     reserved, 0
//! 12      4     section count (u32 LE)
//! 16      ...   sections: tag (u16 LE), reserved (u16), CRC-32 of the body
//!               (u32 LE), body length (u64 LE), body
//! end-4   4     CRC-32 of every byte before it
//! ```
//!
//! Bodies are postcard encodings of the version's records (`v2.rs`), except
//! the page data, which is raw: `PAGE_SIZE` bytes per [`FrameRec::Bytes`]
//! frame, in frame order. Decoding checks, in this order, the header
//! (length, magic, version, serializer), the section table (no section runs
//! past the end, no bytes left over), each section's checksum, the whole
//! image's checksum, each section's decoding (every byte consumed:
//! postcard ignores trailing bytes, so the decoder checks), and that every
//! required section is there exactly once. Restore then validates what the
//! records refer to before it touches the kernel.
//!
//! An image of an older format version is decoded with that version's
//! records and migrated forward (`migrate.rs`), one version at a time.

mod migrate;
pub mod v1;
pub mod v2;

use std::fmt;

use serde::Serialize;

pub use v2::{
    ArenaRec, BeanCounterRec, BindingsRec, BufferRec, BytesRec, ConfigRec, CongestionRec, ConnRec, ContainerRec,
    ContentRec, DentryRec, EventKindRec, EventRec, FdRec, FileKindRec, FragRec, FrameRec, HandleRec, HolderRec,
    InodeKindRec, InodeRec, LabelObjectRec, LabelRec, LinkRec, LsmRec, Meta, ModuleRec, MountRec, NamespaceRec, NetRec,
    NetStatsRec, PacketRec, PathRec, PayloadRec, PipeBufRec, PipeRec, PolicyRec, ProcessRec, PteRec, RecvRec, RtoRec,
    RunnerCtRec, RunnerRec, SegDataRec, SegRec, SendRec, SockRec, VInodeRec, VfsRec, ZeroCopyRec,
};

/// The first eight bytes of every image.
pub const MAGIC: [u8; 8] = *b"KMODELIM";

/// The format version this build writes. Every earlier version still
/// decodes (and is migrated); a later one is refused.
pub const FORMAT_VERSION: u16 = 2;

/// The bytes before the first section.
pub const HEADER_LEN: usize = 16;
/// A section's header: tag, reserved, checksum, length.
pub const SECTION_HEADER_LEN: usize = 16;

/// The features this build of the model can restore. An image names the
/// ones it uses; restore refuses an image that uses one this host lacks.
pub const HOST_FEATURES: &[&str] = &["pages", "pipes", "files", "vfs", "tcp", "containers", "lsm"];

/// Which serializer wrote an image.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Serializer {
    /// State as system calls observe it (CRIU's way): the versioned format.
    Interface,
    /// The model's own structs, field by field (OpenVZ's way): breaks when
    /// a struct changes.
    Internal,
}

impl Serializer {
    fn byte(self) -> u8 {
        match self {
            Serializer::Interface => 0,
            Serializer::Internal => 1,
        }
    }
}

/// The kinds of section.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum SectionTag {
    /// [`Meta`].
    Meta = 1,
    /// The frame table: `Vec<FrameRec>`.
    Frames = 2,
    /// Raw page bytes.
    PageData = 3,
    /// `Vec<ProcessRec>`.
    Processes = 4,
    /// `Vec<PipeRec>`.
    Pipes = 5,
    /// `Vec<InodeRec>`.
    Inodes = 6,
    /// [`VfsRec`].
    Vfs = 7,
    /// [`BindingsRec`] (optional: only images written by the scenario runner).
    Bindings = 8,
    /// [`ArenaRec`] (optional: only images of a whole machine).
    Arena = 9,
    /// [`NetRec`] (optional, since version 2: TCP endpoints and the
    /// simulated network).
    Net = 10,
    /// [`LsmRec`] (optional, since version 2: security modules).
    Lsm = 11,
    /// `Vec<ContainerRec>` (optional, since version 2).
    Containers = 12,
    /// [`RunnerRec`] (optional, since version 2: the scenario runner's
    /// containers).
    Runner = 13,
}

impl SectionTag {
    /// Every tag, in the order they are written.
    pub const ALL: [SectionTag; 13] = [
        SectionTag::Meta,
        SectionTag::Frames,
        SectionTag::PageData,
        SectionTag::Processes,
        SectionTag::Pipes,
        SectionTag::Inodes,
        SectionTag::Vfs,
        SectionTag::Bindings,
        SectionTag::Arena,
        SectionTag::Net,
        SectionTag::Lsm,
        SectionTag::Containers,
        SectionTag::Runner,
    ];

    /// The tag with this number.
    pub fn from_u16(n: u16) -> Option<SectionTag> {
        Self::ALL.into_iter().find(|t| *t as u16 == n)
    }

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            SectionTag::Meta => "meta",
            SectionTag::Frames => "frames",
            SectionTag::PageData => "page data",
            SectionTag::Processes => "processes",
            SectionTag::Pipes => "pipes",
            SectionTag::Inodes => "inodes",
            SectionTag::Vfs => "vfs",
            SectionTag::Bindings => "bindings",
            SectionTag::Arena => "arena",
            SectionTag::Net => "net",
            SectionTag::Lsm => "lsm",
            SectionTag::Containers => "containers",
            SectionTag::Runner => "runner",
        }
    }
}

/// Why bytes are not an image this build can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// The input ends inside `what`.
    Truncated {
        /// The part cut off.
        what: String,
        /// Bytes it needs from its start.
        needed: u64,
        /// Bytes there are.
        have: u64,
    },
    /// The first eight bytes are not [`MAGIC`].
    BadMagic([u8; 8]),
    /// A format version this build does not read.
    UnsupportedVersion {
        /// The image's version.
        found: u16,
        /// The newest this build reads.
        newest: u16,
    },
    /// An unknown serializer byte.
    UnknownSerializer(u8),
    /// A section's checksum does not match its body.
    SectionChecksum {
        /// Which section.
        section: String,
        /// Stored in the image.
        stored: u32,
        /// Computed from the body.
        computed: u32,
    },
    /// The whole image's checksum does not match.
    ImageChecksum {
        /// Stored in the image.
        stored: u32,
        /// Computed.
        computed: u32,
    },
    /// A section tag this version does not define.
    UnknownSection(u16),
    /// A section appears twice.
    DuplicateSection(&'static str),
    /// A required section is missing.
    MissingSection(&'static str),
    /// Bytes after the last section, before the checksum.
    TrailingData(u64),
    /// A section's body does not decode as the version's records.
    Decode {
        /// Which section.
        section: &'static str,
        /// What postcard said.
        message: String,
    },
    /// A section's body decoded but left bytes over.
    TrailingBytes {
        /// Which section.
        section: &'static str,
        /// How many.
        count: usize,
    },
    /// The records decoded but do not describe a consistent state.
    Invalid(String),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::Truncated { what, needed, have } => {
                write!(f, "truncated image: {what} needs {needed} bytes, the input has {have}")
            }
            ImageError::BadMagic(m) => {
                write!(f, "not a kmodel image: magic \"{}\", expected \"KMODELIM\"", m.escape_ascii())
            }
            ImageError::UnsupportedVersion { found, newest } => write!(
                f,
                "image format version {found} is not supported: this build reads versions 1 to {newest}{}",
                if found > newest { " (written by a newer kmodel)" } else { "" }
            ),
            ImageError::UnknownSerializer(b) => write!(f, "unknown serializer {b} (0 interface, 1 internal)"),
            ImageError::SectionChecksum { section, stored, computed } => write!(
                f,
                "corrupted image: section '{section}' checksum {computed:#010x} does not match the stored {stored:#010x}"
            ),
            ImageError::ImageChecksum { stored, computed } => write!(
                f,
                "corrupted image: checksum {computed:#010x} of the whole image does not match the stored {stored:#010x}"
            ),
            ImageError::UnknownSection(t) => write!(f, "unknown section tag {t}"),
            ImageError::DuplicateSection(s) => write!(f, "section '{s}' appears twice"),
            ImageError::MissingSection(s) => write!(f, "section '{s}' is missing"),
            ImageError::TrailingData(n) => write!(f, "{n} bytes after the last section"),
            ImageError::Decode { section, message } => write!(f, "section '{section}' does not decode: {message}"),
            ImageError::TrailingBytes { section, count } => {
                write!(f, "section '{section}' has {count} bytes left over after its records")
            }
            ImageError::Invalid(why) => write!(f, "inconsistent image: {why}"),
        }
    }
}

impl std::error::Error for ImageError {}

/// A decoded image of the current format version: the records of every
/// section. Frames are stored once; every holder (page table entry, pipe
/// buffer, page-cache page) names its frame by index, which is how sharing
/// survives a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Image {
    /// Which serializer wrote the bytes this was decoded from (an image
    /// built in memory is `Interface`).
    pub serializer: Serializer,
    /// Host requirements and kernel-wide values.
    pub meta: Meta,
    /// Every frame some saved object holds.
    pub frames: Vec<FrameRec>,
    /// `PAGE_SIZE` bytes per [`FrameRec::Bytes`] frame, in frame order.
    #[serde(skip)]
    pub page_data: Vec<u8>,
    /// The processes.
    pub processes: Vec<ProcessRec>,
    /// The pipes their descriptors reach.
    pub pipes: Vec<PipeRec>,
    /// The regular files (data and page cache).
    pub inodes: Vec<InodeRec>,
    /// The names.
    pub vfs: VfsRec,
    /// The scenario runner's names, if a runner wrote the image.
    pub bindings: Option<BindingsRec>,
    /// The page allocator, if the image holds the whole machine.
    pub arena: Option<ArenaRec>,
    /// TCP endpoints and the simulated network (since version 2; `None`
    /// when no socket was ever made).
    pub net: Option<NetRec>,
    /// The security modules (since version 2; `None` when none is
    /// registered).
    pub lsm: Option<LsmRec>,
    /// The containers (since version 2).
    pub containers: Vec<ContainerRec>,
    /// The scenario runner's containers, if a runner wrote the image
    /// (since version 2).
    pub runner: Option<RunnerRec>,
}

/// One framed section, borrowed from the input.
pub(crate) struct RawSection<'a> {
    pub(crate) tag: u16,
    pub(crate) body: &'a [u8],
}

/// The header and sections of an image, checked for framing and checksums
/// but not decoded.
pub(crate) struct Framed<'a> {
    pub(crate) version: u16,
    pub(crate) serializer: Serializer,
    pub(crate) sections: Vec<RawSection<'a>>,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("four bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("eight bytes"))
}

/// Check the framing: header, section table, checksums.
pub(crate) fn unframe(bytes: &[u8]) -> Result<Framed<'_>, ImageError> {
    let have = bytes.len() as u64;
    let truncated = |what: &str, needed: u64| ImageError::Truncated { what: what.into(), needed, have };
    if bytes.len() < 8 {
        if bytes.len() < MAGIC.len() && !MAGIC.starts_with(bytes) {
            let mut m = [0; 8];
            m[..bytes.len()].copy_from_slice(bytes);
            return Err(ImageError::BadMagic(m));
        }
        return Err(truncated("the header", HEADER_LEN as u64));
    }
    let magic: [u8; 8] = bytes[..8].try_into().expect("eight bytes");
    if magic != MAGIC {
        return Err(ImageError::BadMagic(magic));
    }
    if bytes.len() < HEADER_LEN {
        return Err(truncated("the header", HEADER_LEN as u64));
    }
    let version = u16_at(bytes, 8);
    if version == 0 || version > FORMAT_VERSION {
        return Err(ImageError::UnsupportedVersion { found: version, newest: FORMAT_VERSION });
    }
    let serializer = match bytes[10] {
        0 => Serializer::Interface,
        1 => Serializer::Internal,
        b => return Err(ImageError::UnknownSerializer(b)),
    };
    let count = u32_at(bytes, 12);
    // The trailer: the whole image's checksum.
    let end = bytes.len().checked_sub(4).filter(|e| *e >= HEADER_LEN).ok_or_else(|| truncated("the checksum", 20))?;
    let mut at = HEADER_LEN;
    let mut sections = Vec::new();
    // The whole image's checksum is combined from the pieces', so each
    // byte is read once.
    let mut whole = crc32fast::Hasher::new();
    whole.update(&bytes[..HEADER_LEN]);
    for i in 0..count {
        let what = format!("section {} of {count}", i + 1);
        if end - at < SECTION_HEADER_LEN {
            return Err(truncated(&format!("the header of {what}"), (at + SECTION_HEADER_LEN + 4) as u64));
        }
        let tag = u16_at(bytes, at);
        let stored = u32_at(bytes, at + 4);
        let len = u64_at(bytes, at + 8);
        at += SECTION_HEADER_LEN;
        if len > (end - at) as u64 {
            return Err(truncated(&what, (at as u64).saturating_add(len).saturating_add(4)));
        }
        whole.update(&bytes[at - SECTION_HEADER_LEN..at]);
        let body = &bytes[at..at + len as usize];
        at += len as usize;
        let computed = crc32fast::hash(body);
        whole.combine(&crc32fast::Hasher::new_with_initial_len(computed, len));
        if computed != stored {
            let section = SectionTag::from_u16(tag).map_or_else(|| format!("tag {tag}"), |t| t.name().to_owned());
            return Err(ImageError::SectionChecksum { section, stored, computed });
        }
        sections.push(RawSection { tag, body });
    }
    if at != end {
        return Err(ImageError::TrailingData((end - at) as u64));
    }
    let stored = u32_at(bytes, end);
    let computed = whole.finalize();
    if stored != computed {
        return Err(ImageError::ImageChecksum { stored, computed });
    }
    Ok(Framed { version, serializer, sections })
}

/// Recompute every checksum of `bytes` in place, as far as the section
/// table can be walked: a mutated image then reaches the decoder's later
/// checks (decoding, validation) instead of stopping at the checksums. For
/// tests and fuzzing.
pub fn reseal(bytes: &mut [u8]) {
    if bytes.len() < HEADER_LEN + 4 {
        return;
    }
    let end = bytes.len() - 4;
    let count = u32_at(bytes, 12);
    let mut at = HEADER_LEN;
    for _ in 0..count {
        if end - at < SECTION_HEADER_LEN {
            break;
        }
        let len = u64_at(bytes, at + 8);
        if len > (end - at - SECTION_HEADER_LEN) as u64 {
            break;
        }
        let body = at + SECTION_HEADER_LEN..at + SECTION_HEADER_LEN + len as usize;
        let crc = crc32fast::hash(&bytes[body.clone()]);
        bytes[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
        at = body.end;
    }
    let crc = crc32fast::hash(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
}

/// Write the framing around `sections`.
pub(crate) fn frame(version: u16, serializer: Serializer, sections: &[(SectionTag, &[u8])]) -> Vec<u8> {
    let total: usize = HEADER_LEN + sections.iter().map(|(_, b)| SECTION_HEADER_LEN + b.len()).sum::<usize>() + 4;
    let mut out = Vec::with_capacity(total);
    out.resize(HEADER_LEN, 0);
    write_framed(out, None, version, serializer, sections)
}

/// Bytes left before the page data when it is gathered straight into the
/// output buffer: the header and the page-data section's header.
pub(crate) const PAGE_DATA_PREFIX: usize = HEADER_LEN + SECTION_HEADER_LEN;

/// Finish an image in `out`: `out` holds the header's room, then (if
/// `first` is given) the first section's header room and its body, of
/// `first.1` bytes with CRC-32 `first.2`; the other sections are appended, every checksum is
/// written, each byte read once (the whole image's checksum is combined
/// from the sections').
fn write_framed(
    mut out: Vec<u8>,
    first: Option<(SectionTag, usize, u32)>,
    version: u16,
    serializer: Serializer,
    rest: &[(SectionTag, &[u8])],
) -> Vec<u8> {
    let count = rest.len() + usize::from(first.is_some());
    out[..8].copy_from_slice(&MAGIC);
    out[8..10].copy_from_slice(&version.to_le_bytes());
    out[10] = serializer.byte();
    out[11] = 0;
    out[12..16].copy_from_slice(&(count as u32).to_le_bytes());
    let mut whole = crc32fast::Hasher::new();
    whole.update(&out[..HEADER_LEN]);
    let section_header = |tag: SectionTag, crc: u32, len: usize| {
        let mut h = [0u8; SECTION_HEADER_LEN];
        h[..2].copy_from_slice(&(tag as u16).to_le_bytes());
        h[4..8].copy_from_slice(&crc.to_le_bytes());
        h[8..].copy_from_slice(&(len as u64).to_le_bytes());
        h
    };
    if let Some((tag, len, crc)) = first {
        debug_assert_eq!(crc, crc32fast::hash(&out[PAGE_DATA_PREFIX..PAGE_DATA_PREFIX + len]));
        let h = section_header(tag, crc, len);
        out[HEADER_LEN..PAGE_DATA_PREFIX].copy_from_slice(&h);
        whole.update(&h);
        whole.combine(&crc32fast::Hasher::new_with_initial_len(crc, len as u64));
    }
    out.reserve(rest.iter().map(|(_, b)| SECTION_HEADER_LEN + b.len()).sum::<usize>() + 4);
    for (tag, body) in rest {
        let crc = crc32fast::hash(body);
        let h = section_header(*tag, crc, body.len());
        out.extend_from_slice(&h);
        whole.update(&h);
        whole.combine(&crc32fast::Hasher::new_with_initial_len(crc, body.len() as u64));
        out.extend_from_slice(body);
    }
    out.extend_from_slice(&whole.finalize().to_le_bytes());
    out
}

/// Decode one postcard section, insisting that it is consumed whole.
pub(crate) fn body<'de, T: serde::Deserialize<'de>>(section: &'static str, bytes: &'de [u8]) -> Result<T, ImageError> {
    let (v, rest) =
        postcard::take_from_bytes(bytes).map_err(|e| ImageError::Decode { section, message: e.to_string() })?;
    if !rest.is_empty() {
        return Err(ImageError::TrailingBytes { section, count: rest.len() });
    }
    Ok(v)
}

/// Sections by tag, each at most once; unknown tags refused.
pub(crate) fn by_tag<'a>(
    sections: &[RawSection<'a>],
) -> Result<std::collections::BTreeMap<SectionTag, &'a [u8]>, ImageError> {
    let mut map = std::collections::BTreeMap::new();
    for s in sections {
        let tag = SectionTag::from_u16(s.tag).ok_or(ImageError::UnknownSection(s.tag))?;
        if map.insert(tag, s.body).is_some() {
            return Err(ImageError::DuplicateSection(tag.name()));
        }
    }
    Ok(map)
}

pub(crate) fn required<'a>(
    map: &std::collections::BTreeMap<SectionTag, &'a [u8]>,
    tag: SectionTag,
) -> Result<&'a [u8], ImageError> {
    map.get(&tag).copied().ok_or(ImageError::MissingSection(tag.name()))
}

fn postcard_vec<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).expect("image records always serialize")
}

impl Image {
    /// Name in `meta.features` what the sections need of the restoring
    /// host: `tcp` for a network, `containers`, `lsm` for modules. Every
    /// writer calls it once the sections are filled.
    pub(crate) fn require_features(&mut self) {
        let needs =
            [("tcp", self.net.is_some()), ("containers", !self.containers.is_empty()), ("lsm", self.lsm.is_some())];
        for (feature, needed) in needs {
            if needed && !self.meta.features.iter().any(|f| f == feature) {
                self.meta.features.push(feature.to_owned());
            }
        }
    }

    /// The bytes of this image in the current format, written by the
    /// interface serializer.
    pub fn encode(&self) -> Vec<u8> {
        let mut sections = vec![(SectionTag::PageData, self.page_data.as_slice())];
        let bodies = self.bodies();
        sections.extend(bodies.iter().map(|(t, b)| (*t, b.as_slice())));
        frame(FORMAT_VERSION, Serializer::Interface, &sections)
    }

    /// The postcard sections, in the order they are written (after the
    /// page data).
    fn bodies(&self) -> Vec<(SectionTag, Vec<u8>)> {
        let mut v = vec![
            (SectionTag::Meta, postcard_vec(&self.meta)),
            (SectionTag::Frames, postcard_vec(&self.frames)),
            (SectionTag::Processes, postcard_vec(&self.processes)),
            (SectionTag::Pipes, postcard_vec(&self.pipes)),
            (SectionTag::Inodes, postcard_vec(&self.inodes)),
            (SectionTag::Vfs, postcard_vec(&self.vfs)),
        ];
        if let Some(b) = &self.bindings {
            v.push((SectionTag::Bindings, postcard_vec(b)));
        }
        if let Some(a) = &self.arena {
            v.push((SectionTag::Arena, postcard_vec(a)));
        }
        if let Some(n) = &self.net {
            v.push((SectionTag::Net, postcard_vec(n)));
        }
        if let Some(l) = &self.lsm {
            v.push((SectionTag::Lsm, postcard_vec(l)));
        }
        if !self.containers.is_empty() {
            v.push((SectionTag::Containers, postcard_vec(&self.containers)));
        }
        if let Some(r) = &self.runner {
            v.push((SectionTag::Runner, postcard_vec(r)));
        }
        v
    }

    /// [`encode`](Self::encode), reusing `page_data`'s buffer as the
    /// output: its first [`PAGE_DATA_PREFIX`] bytes are room for the
    /// headers, and `crc` is the CRC-32 of the bytes after them. The same
    /// bytes as `encode`, without copying or reading the pages again.
    pub(crate) fn into_bytes_prefixed(mut self, crc: u32) -> Vec<u8> {
        let out = std::mem::take(&mut self.page_data);
        let len = out.len() - PAGE_DATA_PREFIX;
        let bodies = self.bodies();
        let rest: Vec<(SectionTag, &[u8])> = bodies.iter().map(|(t, b)| (*t, b.as_slice())).collect();
        write_framed(out, Some((SectionTag::PageData, len, crc)), FORMAT_VERSION, Serializer::Interface, &rest)
    }

    /// Decode an image written by either serializer, of any format version
    /// up to [`FORMAT_VERSION`] (older ones are migrated).
    ///
    /// # Errors
    /// What is wrong with the bytes ([`ImageError`]); never panics.
    pub fn decode(bytes: &[u8]) -> Result<Image, ImageError> {
        let (mut image, pages) = Image::decode_borrowed(bytes)?;
        image.page_data = pages.into_owned();
        Ok(image)
    }

    /// [`decode`](Self::decode) without copying the page data: the image
    /// (its `page_data` empty) and the page bytes, borrowed from `bytes`
    /// where the format allows.
    ///
    /// # Errors
    /// As [`decode`](Self::decode).
    pub fn decode_borrowed(bytes: &[u8]) -> Result<(Image, std::borrow::Cow<'_, [u8]>), ImageError> {
        let framed = unframe(bytes)?;
        let (image, pages) = match framed.serializer {
            Serializer::Interface => {
                let (v, pages) = migrate::decode_versioned(&framed)?;
                (migrate::to_current(v)?, std::borrow::Cow::Borrowed(pages))
            }
            Serializer::Internal => {
                let mut image = crate::container::internal::decode(&framed)?;
                let pages = std::mem::take(&mut image.page_data);
                (image, std::borrow::Cow::Owned(pages))
            }
        };
        let n = image.frames.iter().filter(|f| f.content == ContentRec::Bytes).count();
        let want = n as u64 * u64::from(image.meta.page_size);
        if pages.len() as u64 != want {
            return Err(ImageError::Invalid(format!(
                "{n} frames with bytes need {want} bytes of page data, the section has {}",
                pages.len()
            )));
        }
        Ok((image, pages))
    }

    /// The image for reading: every record as JSON, page bytes summarized
    /// (`kmodel image show`).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("image records always serialize");
        v["page_data"] = serde_json::json!({ "bytes": self.page_data.len() });
        let ps = self.meta.page_size as usize;
        let mut next = 0;
        if let Some(frames) = v["frames"].as_array_mut() {
            for f in frames.iter_mut() {
                if f["content"] == "Bytes" {
                    let page = self.page_data.get(next * ps..(next + 1) * ps).unwrap_or(&[]);
                    next += 1;
                    let mut runs = String::new();
                    crate::scenario::write_runs(&mut runs, page);
                    f["content"] = serde_json::json!({ "Bytes": runs });
                }
            }
        }
        v
    }

    /// Bytes of page data per frame (the page size of the writing host).
    pub fn page_size(&self) -> usize {
        self.meta.page_size as usize
    }
}

/// What the host that restores an image offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostInfo {
    /// `PAGE_SIZE`.
    pub page_size: u32,
    /// The model's version.
    pub model_version: String,
    /// The features it can restore.
    pub features: Vec<String>,
}

impl HostInfo {
    /// This build of the model.
    pub fn this() -> HostInfo {
        HostInfo {
            page_size: page_refs::PAGE_SIZE as u32,
            model_version: env!("CARGO_PKG_VERSION").to_owned(),
            features: HOST_FEATURES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// One reason a host cannot restore an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// Different page sizes.
    PageSize {
        /// The image's.
        image: u32,
        /// The host's.
        host: u32,
    },
    /// Model versions whose state is not compatible (a different
    /// `major.minor`, or a newer image).
    ModelVersion {
        /// The image's.
        image: String,
        /// The host's.
        host: String,
    },
    /// A feature the image uses that the host lacks.
    Feature(String),
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::PageSize { image, host } => write!(f, "page size {image} in the image, {host} on this host"),
            Mismatch::ModelVersion { image, host } => {
                write!(f, "model version {image} in the image, {host} on this host")
            }
            Mismatch::Feature(name) => write!(f, "feature '{name}' is used by the image but not enabled on this host"),
        }
    }
}

fn major_minor(v: &str) -> Option<(u64, u64, u64)> {
    let mut it = v.split('.').map(|p| p.parse::<u64>().ok());
    Some((it.next()??, it.next()??, it.next().flatten().unwrap_or(0)))
}

/// Every reason `host` cannot restore an image with `meta`.
pub fn compat(meta: &Meta, host: &HostInfo) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if meta.page_size != host.page_size {
        out.push(Mismatch::PageSize { image: meta.page_size, host: host.page_size });
    }
    let ok = match (major_minor(&meta.model_version), major_minor(&host.model_version)) {
        (Some(i), Some(h)) => (i.0, i.1) == (h.0, h.1) && i <= h,
        _ => meta.model_version == host.model_version,
    };
    if !ok {
        out.push(Mismatch::ModelVersion { image: meta.model_version.clone(), host: host.model_version.clone() });
    }
    for f in &meta.features {
        if !host.features.contains(f) {
            out.push(Mismatch::Feature(f.clone()));
        }
    }
    out
}
