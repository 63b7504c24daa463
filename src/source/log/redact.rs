//! `logs --redact-in-place`: rewrite a log with each finding replaced by its
//! redacted form (same length: the first characters, then `*`), so it can be
//! shared or attached to a ticket. Every other byte is copied unchanged; a
//! gzip log is written back as gzip. The new file is written beside the old
//! one, flushed to disk, then renamed over it, so a crash leaves either the
//! old log or the new one. The original is kept (as `FILE.bak`, readable by
//! its owner only) only when asked: it holds the plaintext secrets.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use thiserror::Error;

use super::stream::Patch;

#[derive(Debug, Clone, Copy)]
pub struct RedactOptions {
    /// Keep the original as `FILE.bak` (`--backup`), created mode 0600.
    pub backup: bool,
}

#[derive(Debug, Error)]
pub enum RedactError {
    #[error("{0}: {1}")]
    Io(&'static str, #[source] io::Error),
    #[error("the log changed while it was being redacted (now shorter than a finding's offset)")]
    Changed,
}

/// What a rewrite did, for the report's notes.
#[derive(Debug)]
pub struct Rewritten {
    pub patches: usize,
    pub backup: Option<PathBuf>,
}

impl Rewritten {
    pub fn describe(&self, shown: &str) -> String {
        match &self.backup {
            Some(b) => format!(
                "{shown}: redacted in place ({} span(s) rewritten); original kept as {} (it holds the secrets in plaintext: delete it once checked)",
                self.patches,
                b.display()
            ),
            None => format!(
                "{shown}: redacted in place ({} span(s) rewritten); no backup kept",
                self.patches
            ),
        }
    }
}

/// Rewrite `path` with `patches` (sorted by offset; offsets in the
/// decompressed text when `gzip`).
pub fn rewrite(
    path: &Path,
    gzip: bool,
    patches: Vec<Patch>,
    opts: &RedactOptions,
) -> Result<Rewritten, RedactError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let original = File::open(path).map_err(|e| RedactError::Io("cannot open", e))?;
    let perms = original
        .metadata()
        .map_err(|e| RedactError::Io("cannot stat", e))?
        .permissions();
    let tmp = tempfile::Builder::new()
        .prefix(".cybrid-scan-redact-")
        .tempfile_in(&dir)
        .map_err(|e| RedactError::Io("cannot create a temporary file beside it", e))?;
    {
        let writer = BufWriter::with_capacity(1 << 20, tmp.as_file());
        if gzip {
            let reader = MultiGzDecoder::new(BufReader::with_capacity(1 << 18, original));
            let mut enc = GzEncoder::new(writer, Compression::default());
            copy_patched(reader, &mut enc, &patches)?;
            enc.finish()
                .and_then(|mut w| w.flush())
                .map_err(|e| RedactError::Io("cannot write", e))?;
        } else {
            let mut writer = writer;
            copy_patched(original, &mut writer, &patches)?;
            writer
                .flush()
                .map_err(|e| RedactError::Io("cannot write", e))?;
        }
    }
    tmp.as_file()
        .set_permissions(perms)
        .map_err(|e| RedactError::Io("cannot copy permissions", e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| RedactError::Io("cannot flush to disk", e))?;
    let backup = if opts.backup {
        let bak = with_suffix(path, ".bak");
        keep_backup(path, &bak, &dir)?;
        Some(bak)
    } else {
        None
    };
    tmp.persist(path)
        .map_err(|e| RedactError::Io("cannot replace the log", e.error))?;
    sync_dir(&dir);
    Ok(Rewritten {
        patches: patches.len(),
        backup,
    })
}

/// Copy `from` to `to`, writing each patch over the bytes at its offset.
fn copy_patched(
    mut from: impl Read,
    to: &mut impl Write,
    patches: &[Patch],
) -> Result<(), RedactError> {
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    let mut next = 0usize;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(RedactError::Io("cannot read", e)),
        };
        let end = at + n as u64;
        // Patches are sorted by offset; some may run past this buffer and
        // are applied again (from where they left off) with the next one.
        for p in patches[next..].iter().take_while(|p| p.offset < end) {
            for (i, b) in p.bytes.iter().enumerate() {
                let off = p.offset + i as u64;
                if off >= at && off < end {
                    buf[(off - at) as usize] = *b;
                }
            }
        }
        while next < patches.len() && patches[next].offset + patches[next].bytes.len() as u64 <= end
        {
            next += 1;
        }
        to.write_all(&buf[..n])
            .map_err(|e| RedactError::Io("cannot write", e))?;
        at = end;
    }
    if patches[next..]
        .iter()
        .any(|p| p.offset + p.bytes.len() as u64 > at)
    {
        return Err(RedactError::Changed);
    }
    Ok(())
}

/// Put a copy of the original at `bak` (replacing an older backup): copied
/// into a new file created readable by its owner only (never a hard link,
/// which would keep the log's own, often wider, mode), under a temporary
/// name, then renamed, so `bak` is never a half-written file.
fn keep_backup(path: &Path, bak: &Path, dir: &Path) -> Result<(), RedactError> {
    let fail = |e| RedactError::Io("cannot create the backup", e);
    let (mut staged, staging) = owner_only_temp(dir).map_err(fail)?;
    let mut original = File::open(path).map_err(fail)?;
    io::copy(&mut original, &mut staged).map_err(fail)?;
    staged.sync_all().map_err(fail)?;
    staging.persist(bak).map_err(|e| fail(e.error))?;
    Ok(())
}

/// A new file in `dir`, created with mode 0600 on unix (set by `open`
/// itself, so the plaintext is never readable by others, not even briefly).
fn owner_only_temp(dir: &Path) -> io::Result<(File, tempfile::TempPath)> {
    for attempt in 0..16u32 {
        let name = format!(
            ".cybrid-scan-bak-{}-{}-{attempt}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let at = dir.join(name);
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(&at) {
            Ok(f) => return Ok((f, tempfile::TempPath::try_from_path(at)?)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary name",
    ))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s: OsString = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Make the rename durable; a failure here is not worth failing the rewrite.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_across_buffer_edges() {
        let data: Vec<u8> = (0..(3 << 20)).map(|i| b'a' + (i % 26) as u8).collect();
        let edge = (1u64 << 20) - 2;
        let patches = vec![
            Patch {
                offset: 0,
                bytes: b"**".to_vec(),
            },
            Patch {
                offset: edge,
                bytes: b"XYZW".to_vec(),
            },
            Patch {
                offset: (3 << 20) - 1,
                bytes: b"!".to_vec(),
            },
        ];
        let mut out = Vec::new();
        copy_patched(&data[..], &mut out, &patches).unwrap();
        assert_eq!(out.len(), data.len());
        assert_eq!(&out[..2], b"**");
        assert_eq!(&out[edge as usize..edge as usize + 4], b"XYZW");
        assert_eq!(out[data.len() - 1], b'!');
        assert_eq!(out[2..edge as usize], data[2..edge as usize]);
    }

    #[test]
    fn refuses_patches_past_the_end() {
        let patches = vec![Patch {
            offset: 10,
            bytes: b"x".to_vec(),
        }];
        let mut out = Vec::new();
        assert!(matches!(
            copy_patched(&b"short"[..], &mut out, &patches),
            Err(RedactError::Changed)
        ));
    }
}
