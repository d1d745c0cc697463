//! A page's bytes, stored only when they cannot be described shortly.

use crate::PAGE_SIZE;

/// Bytes to store: a run of one byte value, or a slice.
///
/// Models the source of a copy into a page (`copy_page_from_iter`) without
/// materialising large uniform writes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Source<'a> {
    /// `len` copies of `byte`.
    Fill {
        /// The byte value.
        byte: u8,
        /// How many bytes.
        len: usize,
    },
    /// These bytes.
    Slice(&'a [u8]),
}

impl<'a> Source<'a> {
    /// The number of bytes.
    pub fn len(&self) -> usize {
        match self {
            Source::Fill { len, .. } => *len,
            Source::Slice(s) => s.len(),
        }
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first `n` bytes and the rest.
    ///
    /// # Panics
    /// If `n > self.len()`.
    pub fn split_at(&self, n: usize) -> (Source<'a>, Source<'a>) {
        match *self {
            Source::Fill { byte, len } => {
                assert!(n <= len, "Source::split_at({n}) past {len}");
                (Source::Fill { byte, len: n }, Source::Fill { byte, len: len - n })
            }
            Source::Slice(s) => {
                let (a, b) = s.split_at(n);
                (Source::Slice(a), Source::Slice(b))
            }
        }
    }
}

/// The contents of one page frame.
///
/// A page that was never written is all zero; one filled with a single
/// byte is kept as that byte. Only mixed contents allocate 4096 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// Every byte is this value (a fresh page is `Uniform(0)`).
    Uniform(u8),
    /// Arbitrary bytes.
    Bytes(Box<[u8; PAGE_SIZE]>),
}

impl Default for Content {
    fn default() -> Self {
        Content::Uniform(0)
    }
}

impl Content {
    /// Store `src` at `offset`.
    ///
    /// # Panics
    /// If the write runs past the end of the page (a broken caller).
    pub fn write(&mut self, offset: usize, src: Source<'_>) {
        let end = offset + src.len();
        assert!(end <= PAGE_SIZE, "page write {offset}..{end} past the page end");
        if src.is_empty() {
            return;
        }
        if let (Source::Fill { byte, .. }, Content::Uniform(cur)) = (src, &*self) {
            if *cur == byte {
                return;
            }
            if offset == 0 && end == PAGE_SIZE {
                *self = Content::Uniform(byte);
                return;
            }
        }
        if let Source::Fill { byte, len: PAGE_SIZE } = src {
            *self = Content::Uniform(byte);
            return;
        }
        let bytes = self.make_bytes();
        match src {
            Source::Fill { byte, len } => bytes[offset..offset + len].fill(byte),
            Source::Slice(s) => bytes[offset..end].copy_from_slice(s),
        }
    }

    /// Append `len` bytes from `offset` to `out`.
    ///
    /// # Panics
    /// If the range runs past the end of the page.
    #[inline]
    pub fn read_into(&self, offset: usize, len: usize, out: &mut Vec<u8>) {
        assert!(offset + len <= PAGE_SIZE, "page read {offset}+{len} past the page end");
        match self {
            Content::Uniform(b) => out.resize(out.len() + len, *b),
            Content::Bytes(bytes) => out.extend_from_slice(&bytes[offset..offset + len]),
        }
    }

    /// The byte at `offset`.
    pub fn byte(&self, offset: usize) -> u8 {
        match self {
            Content::Uniform(b) => *b,
            Content::Bytes(bytes) => bytes[offset],
        }
    }

    fn make_bytes(&mut self) -> &mut [u8; PAGE_SIZE] {
        if let Content::Uniform(b) = *self {
            *self = Content::Bytes(Box::new([b; PAGE_SIZE]));
        }
        match self {
            Content::Bytes(bytes) => bytes,
            Content::Uniform(_) => unreachable!("just converted"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_fill_of_whole_page_stays_uniform() {
        let mut c = Content::default();
        c.write(0, Source::Fill { byte: b'A', len: PAGE_SIZE });
        assert_eq!(c, Content::Uniform(b'A'));
    }

    #[test]
    fn partial_fill_materialises_bytes() {
        let mut c = Content::Uniform(b'A');
        c.write(10, Source::Fill { byte: b'B', len: 2 });
        let mut out = Vec::new();
        c.read_into(9, 4, &mut out);
        assert_eq!(out, b"ABBA");
    }

    #[test]
    fn slice_write_then_read_back() {
        let mut c = Content::default();
        c.write(4094, Source::Slice(b"xy"));
        let mut out = Vec::new();
        c.read_into(4093, 3, &mut out);
        assert_eq!(out, b"\0xy");
    }

    #[test]
    fn source_split() {
        let s = Source::Fill { byte: 1, len: 10 };
        let (a, b) = s.split_at(4);
        assert_eq!((a.len(), b.len()), (4, 6));
    }
}
