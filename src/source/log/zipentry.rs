//! Zip entries inflated whole, with libdeflate.
//!
//! Why: sweeping CI logs is mostly inflating run archives (thousands of
//! small per-step logs); with a streaming zlib inflater that took over half
//! of the scan. A zip's central directory gives each entry's size and CRC,
//! so a small deflated entry can be inflated in one call into a buffer of
//! exactly that size, which libdeflate does about twice as fast. Anything
//! else (stored, too large, encrypted, a size or CRC that does not hold)
//! goes to the streaming reader, which reports a damaged entry as before,
//! with the findings up to the damage.

use std::io::{Read, Seek};

use libdeflater::Decompressor;

/// Entries declared larger than this are streamed: a worker's buffers stay
/// bounded however large a log is.
pub const WHOLE_MAX: u64 = 16 << 20;

/// One worker's decompressor and buffers, reused from entry to entry.
pub struct WholeInflater {
    decompressor: Decompressor,
    packed: Vec<u8>,
    out: Vec<u8>,
}

impl Default for WholeInflater {
    fn default() -> Self {
        WholeInflater {
            decompressor: Decompressor::new(),
            packed: Vec::new(),
            out: Vec::new(),
        }
    }
}

impl WholeInflater {
    /// Entry `index` of `archive`, inflated, when it is a deflated file
    /// declared at most `limit` (and [`WHOLE_MAX`]) bytes that inflates to
    /// exactly its declared size and CRC. `None`: stream it instead.
    pub fn entry<R: Read + Seek>(
        &mut self,
        archive: &mut zip::ZipArchive<R>,
        index: usize,
        limit: u64,
    ) -> Option<&[u8]> {
        let raw = archive.by_index_raw(index).ok()?;
        let size = raw.size();
        if raw.is_dir()
            || raw.encrypted()
            || raw.compression() != zip::CompressionMethod::Deflated
            || size > limit.min(WHOLE_MAX)
            || raw.compressed_size() > WHOLE_MAX
        {
            return None;
        }
        let crc = raw.crc32();
        let size = usize::try_from(size).ok()?;
        self.packed.clear();
        raw.take(WHOLE_MAX).read_to_end(&mut self.packed).ok()?;
        // Grown, never shrunk: only the first `size` bytes are read back.
        if self.out.len() < size {
            self.out.resize(size, 0);
        }
        let out = &mut self.out[..size];
        let n = self
            .decompressor
            .deflate_decompress(&self.packed, out)
            .ok()?;
        (n == size && libdeflater::crc32(out) == crc).then_some(&*out)
    }
}

/// A zip entry's bytes: inflated whole (what [`WholeInflater::entry`]
/// gave), or else its streaming reader.
pub enum EntryReader<'a, S> {
    Whole(&'a [u8]),
    Stream(S),
}

impl<'a, S> EntryReader<'a, S> {
    pub fn new(inflated: Option<&'a [u8]>, stream: S) -> Self {
        inflated.map_or(EntryReader::Stream(stream), EntryReader::Whole)
    }
}

impl<S: Read> Read for EntryReader<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            EntryReader::Whole(bytes) => bytes.read(buf),
            EntryReader::Stream(stream) => stream.read(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn archive(entries: &[(&str, &[u8], zip::CompressionMethod)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body, method) in entries {
            let opts = zip::write::SimpleFileOptions::default().compression_method(*method);
            w.start_file(*name, opts).expect("start");
            w.write_all(body).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    #[test]
    fn inflates_deflated_entries_and_leaves_the_rest_to_the_stream() {
        let log: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("2024-05-01T10:00:00Z step line {i}\n").into_bytes())
            .collect();
        let bytes = archive(&[
            (
                "build/1_Set up job.txt",
                &log,
                zip::CompressionMethod::Deflated,
            ),
            (
                "build/2_Stored.txt",
                b"stored\n",
                zip::CompressionMethod::Stored,
            ),
        ]);
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes.clone())).expect("zip");
        let mut whole = WholeInflater::default();
        assert_eq!(whole.entry(&mut zip, 0, u64::MAX), Some(&log[..]));
        assert_eq!(whole.entry(&mut zip, 1, u64::MAX), None, "stored: streamed");
        // Over the caller's budget: streamed, so the cap is reported there.
        assert_eq!(whole.entry(&mut zip, 0, 1000), None);
        // A damaged stream (a flipped byte inside the deflate data) is not
        // handed out: the streaming reader reports it.
        let at = bytes
            .windows(4)
            .position(|w| w == b"PK\x03\x04")
            .expect("local header")
            + 30
            + "build/1_Set up job.txt".len()
            + 100;
        let mut damaged = bytes;
        damaged[at] ^= 0x55;
        let mut zip = zip::ZipArchive::new(Cursor::new(damaged)).expect("zip");
        assert_eq!(whole.entry(&mut zip, 0, u64::MAX), None);
    }
}
