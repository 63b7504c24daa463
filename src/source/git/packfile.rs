//! One pack file, memory-mapped: entry headers and zlib inflation. The
//! delta-tree walk ([`packwalk`](super::packwalk)) decodes objects from it
//! directly, so each delta base is inflated once instead of once per reader.

use std::cell::RefCell;
use std::fs::File;
use std::path::{Path, PathBuf};

use flate2::{Decompress, FlushDecompress, Status};
use git2::Oid;
use memmap2::Mmap;
use thiserror::Error;

const OID_LEN: usize = 20;
/// `PACK`, version, object count.
const PACK_HEADER: usize = 12;
/// Output allocated before inflating; more is added as the stream yields it.
const INITIAL_OUTPUT: usize = 16 << 20;

#[derive(Debug, Error)]
pub(crate) enum PackError {
    #[error("cannot open pack {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a version 2 or 3 pack")]
    NotAPack { path: PathBuf },
    #[error("pack entry at offset {offset}: {reason}")]
    Entry { offset: u64, reason: String },
}

/// What a pack entry holds: a whole object, or a delta against a base that
/// is either earlier in the same pack or named by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Commit,
    Tree,
    Blob,
    Tag,
    OfsDelta { base: u64 },
    RefDelta { base: Oid },
}

/// A parsed entry header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub kind: EntryKind,
    /// Inflated size of the entry's data (for a delta: of the delta).
    pub size: u64,
    /// Where the zlib stream starts.
    pub data: u64,
}

pub(crate) struct Pack {
    map: Mmap,
}

impl Pack {
    pub fn open(path: &Path) -> Result<Pack, PackError> {
        let open = |source| PackError::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(open)?;
        // SAFETY: the map is read-only and git never rewrites a pack in place
        // (repack writes a new file and renames it); libgit2 and git map packs
        // the same way.
        let map = unsafe { Mmap::map(&file) }.map_err(open)?;
        let head = map.get(..PACK_HEADER);
        let ok = head.is_some_and(|h| {
            &h[..4] == b"PACK" && matches!(u32::from_be_bytes([h[4], h[5], h[6], h[7]]), 2 | 3)
        });
        if !ok || map.len() < PACK_HEADER + OID_LEN {
            return Err(PackError::NotAPack {
                path: path.to_path_buf(),
            });
        }
        Ok(Pack { map })
    }

    /// The bytes entries may occupy: everything before the trailing checksum.
    fn body(&self) -> &[u8] {
        &self.map[..self.map.len() - OID_LEN]
    }

    /// Parse the header of the entry at `offset`.
    pub fn entry(&self, offset: u64) -> Result<Entry, PackError> {
        let bad = |reason: &str| PackError::Entry {
            offset,
            reason: reason.to_string(),
        };
        let body = self.body();
        let start = usize::try_from(offset).map_err(|_| bad("offset out of range"))?;
        if start < PACK_HEADER || start >= body.len() {
            return Err(bad("offset outside the pack"));
        }
        let mut at = start;
        let byte = |at: &mut usize| -> Result<u8, PackError> {
            let b = *body.get(*at).ok_or_else(|| bad("header truncated"))?;
            *at += 1;
            Ok(b)
        };
        let mut c = byte(&mut at)?;
        let type_id = (c >> 4) & 7;
        let mut size = u64::from(c & 15);
        let mut shift = 4;
        while c & 0x80 != 0 {
            c = byte(&mut at)?;
            if shift > 57 {
                return Err(bad("size too large"));
            }
            size |= u64::from(c & 0x7f) << shift;
            shift += 7;
        }
        let kind = match type_id {
            1 => EntryKind::Commit,
            2 => EntryKind::Tree,
            3 => EntryKind::Blob,
            4 => EntryKind::Tag,
            6 => {
                let mut c = byte(&mut at)?;
                let mut distance = u64::from(c & 0x7f);
                while c & 0x80 != 0 {
                    c = byte(&mut at)?;
                    distance = distance
                        .checked_add(1)
                        .and_then(|d| d.checked_mul(128))
                        .ok_or_else(|| bad("delta base offset overflows"))?
                        | u64::from(c & 0x7f);
                }
                let base = offset
                    .checked_sub(distance)
                    .filter(|b| *b >= PACK_HEADER as u64 && distance > 0)
                    .ok_or_else(|| bad("delta base offset outside the pack"))?;
                EntryKind::OfsDelta { base }
            }
            7 => {
                let raw = body
                    .get(at..at + OID_LEN)
                    .ok_or_else(|| bad("delta base id truncated"))?;
                at += OID_LEN;
                let base = Oid::from_bytes(raw).map_err(|_| bad("bad delta base id"))?;
                EntryKind::RefDelta { base }
            }
            _ => return Err(bad(&format!("unknown object type {type_id}"))),
        };
        Ok(Entry {
            kind,
            size,
            data: at as u64,
        })
    }

    /// Inflate an entry's data: exactly `entry.size` bytes, or an error.
    pub fn inflate(&self, offset: u64, entry: &Entry) -> Result<Vec<u8>, PackError> {
        let bad = |reason: String| PackError::Entry { offset, reason };
        let size = usize::try_from(entry.size).map_err(|_| bad("entry too large".into()))?;
        let input = self
            .body()
            .get(entry.data as usize..)
            .ok_or_else(|| bad("data outside the pack".into()))?;
        // Grown as the stream yields bytes, not allocated from the header up
        // front: a damaged header must not ask for terabytes. One byte past
        // `size` shows a stream longer than its header says.
        let mut out: Vec<u8> = Vec::with_capacity(size.min(INITIAL_OUTPUT).saturating_add(1));
        INFLATE.with(|cell| {
            let mut z = cell.borrow_mut();
            z.reset(true);
            loop {
                if out.len() == out.capacity() {
                    let more =
                        (size.saturating_add(1) - out.len().min(size)).min(out.len().max(4096));
                    out.reserve_exact(more.max(1));
                }
                let (read, wrote) = (z.total_in(), z.total_out());
                let rest = input.get(read as usize..).unwrap_or_default();
                let status = z
                    .decompress_vec(rest, &mut out, FlushDecompress::Finish)
                    .map_err(|e| bad(format!("zlib: {e}")))?;
                if status == Status::StreamEnd || out.len() > size {
                    return Ok(());
                }
                if z.total_in() == read && z.total_out() == wrote {
                    return Err(bad("zlib stream truncated".into()));
                }
            }
        })?;
        if out.len() != size {
            return Err(bad(format!(
                "inflated to {} bytes, its header says {size}",
                out.len()
            )));
        }
        Ok(out)
    }
}

thread_local! {
    /// One inflate state per thread, reset per entry: creating one costs
    /// more than inflating a small object.
    static INFLATE: RefCell<Decompress> = RefCell::new(Decompress::new(true));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(data).expect("deflate");
        z.finish().expect("deflate")
    }

    /// A pack with one blob entry of `content`, its header claiming `claimed` bytes.
    fn pack_with_blob(content: &[u8], claimed: usize) -> tempfile::NamedTempFile {
        let mut bytes = b"PACK".to_vec();
        bytes.extend(2u32.to_be_bytes());
        bytes.extend(1u32.to_be_bytes());
        let mut size = claimed;
        let mut c = (3u8 << 4) | (size & 15) as u8;
        size >>= 4;
        while size > 0 {
            bytes.push(c | 0x80);
            c = (size & 0x7f) as u8;
            size >>= 7;
        }
        bytes.push(c);
        bytes.extend(deflate(content));
        bytes.extend([0u8; OID_LEN]);
        let mut file = tempfile::NamedTempFile::new().expect("temp");
        file.write_all(&bytes).expect("write");
        file
    }

    #[test]
    fn reads_and_inflates_a_blob_entry() {
        let content = b"some blob content\n".repeat(100);
        let file = pack_with_blob(&content, content.len());
        let pack = Pack::open(file.path()).expect("pack");
        let entry = pack.entry(12).expect("entry");
        assert_eq!(entry.kind, EntryKind::Blob);
        assert_eq!(entry.size, content.len() as u64);
        assert_eq!(pack.inflate(12, &entry).expect("inflate"), content);
    }

    #[test]
    fn a_size_mismatch_or_bad_offset_is_an_error() {
        let content = b"abcdef".repeat(10);
        let file = pack_with_blob(&content, content.len() - 1);
        let pack = Pack::open(file.path()).expect("pack");
        let entry = pack.entry(12).expect("entry");
        assert!(pack.inflate(12, &entry).is_err());
        let file = pack_with_blob(&content, content.len() + 5);
        let pack = Pack::open(file.path()).expect("pack");
        let entry = pack.entry(12).expect("entry");
        assert!(pack.inflate(12, &entry).is_err());
        assert!(pack.entry(3).is_err());
        assert!(pack.entry(1 << 40).is_err());
    }

    #[test]
    fn a_header_claiming_terabytes_is_an_error_not_an_allocation() {
        let content = b"small".to_vec();
        let file = pack_with_blob(&content, 1 << 42);
        let pack = Pack::open(file.path()).expect("pack");
        let entry = pack.entry(12).expect("entry");
        assert_eq!(entry.size, 1 << 42);
        assert!(pack.inflate(12, &entry).is_err());
    }

    #[test]
    fn a_blob_larger_than_the_first_allocation_inflates_whole() {
        let content: Vec<u8> = (0..INITIAL_OUTPUT + 3 * 4096)
            .map(|i| (i % 251) as u8)
            .collect();
        let file = pack_with_blob(&content, content.len());
        let pack = Pack::open(file.path()).expect("pack");
        let entry = pack.entry(12).expect("entry");
        assert_eq!(pack.inflate(12, &entry).expect("inflate"), content);
    }

    #[test]
    fn not_a_pack_is_refused() {
        let mut file = tempfile::NamedTempFile::new().expect("temp");
        file.write_all(b"hello, this is not a pack file at all")
            .expect("write");
        assert!(matches!(
            Pack::open(file.path()),
            Err(PackError::NotAPack { .. })
        ));
    }
}
