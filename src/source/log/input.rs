//! Opening log inputs: which inputs there are (files, directories walked
//! recursively, standard input), what each holds (plain text, gzip, a zip
//! archive of per-step logs: told by magic bytes, never by name), and the
//! readers that decompress them with a cap on the decompressed size.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use crossbeam_channel::{bounded, Receiver, Sender};
use flate2::bufread::MultiGzDecoder;

/// One thing to scan, as named on the command line or found in a directory.
#[derive(Debug, Clone)]
pub enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A path; `shown` is how reports name it.
    Path { path: PathBuf, shown: String },
}

impl Input {
    pub fn shown(&self) -> &str {
        match self {
            Input::Stdin => STDIN_NAME,
            Input::Path { shown, .. } => shown,
        }
    }
}

/// How standard input is named in reports.
pub const STDIN_NAME: &str = "<stdin>";

/// What the first bytes of an input say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Plain,
    Gzip,
    Zip,
    /// A compression this build does not read; the name is for the message.
    Unsupported(&'static str),
}

/// Bytes needed to tell the kinds apart.
pub const MAGIC_LEN: usize = 6;

pub fn kind_of(magic: &[u8]) -> Kind {
    if magic.starts_with(&[0x1f, 0x8b]) {
        Kind::Gzip
    } else if magic.starts_with(b"PK\x03\x04") || magic.starts_with(b"PK\x05\x06") {
        Kind::Zip
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Kind::Unsupported("zstd")
    } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Kind::Unsupported("xz")
    } else if magic.starts_with(b"BZh") && magic.get(3).is_some_and(|c| (b'1'..=b'9').contains(c)) {
        Kind::Unsupported("bzip2")
    } else {
        Kind::Plain
    }
}

/// Read up to [`MAGIC_LEN`] bytes (fewer only at end of input).
pub fn read_magic(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut magic = Vec::with_capacity(MAGIC_LEN);
    r.by_ref().take(MAGIC_LEN as u64).read_to_end(&mut magic)?;
    Ok(magic)
}

/// Open an archive entry for scanning: its kind told by its magic bytes, and
/// a reader of its content (a gzip entry inflated). `logs` reads the entries
/// of a zip of logs this way, `ci --artifacts` the entries of an artifact.
pub fn decode<'a>(mut r: impl Read + 'a) -> io::Result<(Kind, Box<dyn Read + 'a>)> {
    let magic = read_magic(&mut r)?;
    let kind = kind_of(&magic);
    let chained = Cursor::new(magic).chain(r);
    Ok((
        kind,
        match kind {
            Kind::Gzip => Box::new(MultiGzDecoder::new(BufReader::new(chained))),
            _ => Box::new(chained),
        },
    ))
}

/// Bytes looked at to tell text from binary.
pub const SNIFF_LEN: usize = 8000;

/// Whether content starting with `head` is binary: a NUL byte in its first
/// [`SNIFF_LEN`] bytes (git's test). Text is scanned through the log
/// pipeline (lines, ANSI, timestamps); binary as bytes, as `dir` does.
pub fn looks_binary(head: &[u8]) -> bool {
    head[..head.len().min(SNIFF_LEN)].contains(&0)
}

/// Expand the command line's inputs: directories become the files under
/// them (recursively, hidden ones included, nothing ignored); special files
/// met in a walk are reported as skipped, since opening a FIFO would block.
pub fn expand(
    args: &[PathBuf],
    mut on_failed: impl FnMut(String, String),
    mut on_error: impl FnMut(String, String),
    mut on_skip: impl FnMut(String, String),
) -> Vec<Input> {
    let mut out = Vec::new();
    for arg in args {
        if arg.as_os_str() == "-" {
            out.push(Input::Stdin);
            continue;
        }
        let shown = arg.display().to_string();
        // A named input that does not exist or cannot be opened fails the
        // run (exit 2), as `dir` does; one unreadable file inside a named
        // directory is reported and the rest scanned.
        match std::fs::metadata(arg) {
            Err(e) => on_failed(shown, format!("cannot open: {e}")),
            Ok(md) if md.is_dir() => {
                if let Err(e) = std::fs::read_dir(arg) {
                    on_failed(shown, format!("cannot list: {e}"));
                    continue;
                }
                walk(arg, &mut out, &mut on_error, &mut on_skip)
            }
            Ok(md) if md.is_file() => match std::fs::File::open(arg) {
                Err(e) => on_failed(shown, format!("cannot open: {e}")),
                Ok(_) => out.push(Input::Path {
                    path: arg.clone(),
                    shown,
                }),
            },
            // Named explicitly: FIFOs, /dev/stdin and devices are read as streams
            // (opening a FIFO here would block, so it is opened once, when read).
            Ok(_) => out.push(Input::Path {
                path: arg.clone(),
                shown,
            }),
        }
    }
    out
}

fn walk(
    root: &Path,
    out: &mut Vec<Input>,
    on_error: &mut impl FnMut(String, String),
    on_skip: &mut impl FnMut(String, String),
) {
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .follow_links(false)
        .sort_by_file_path(|a, b| a.cmp(b))
        .build();
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                on_error(root.display().to_string(), e.to_string());
                continue;
            }
        };
        let Some(ft) = entry.file_type() else {
            continue;
        };
        let shown = entry.path().display().to_string();
        if ft.is_dir() {
            continue;
        } else if ft.is_symlink() {
            on_skip(shown, "symbolic link not followed".to_string());
        } else if !ft.is_file() {
            on_skip(
                shown,
                "not a regular file (name it on the command line to read it as a stream)"
                    .to_string(),
            );
        } else {
            out.push(Input::Path {
                path: entry.path().to_path_buf(),
                shown,
            });
        }
    }
}

/// Why decompression stopped early.
pub fn cap_error(cap: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!(
        "stopped after {cap} decompressed bytes (--max-decompressed-size); the rest was not scanned"
    ),
    )
}

/// A reader that fails once more than `cap` bytes have been read through it.
pub struct Capped<R> {
    inner: R,
    left: u64,
    cap: u64,
}

impl<R: Read> Capped<R> {
    pub fn new(inner: R, cap: u64) -> Self {
        Capped {
            inner,
            left: cap,
            cap,
        }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // Is there more? Only then is the cap the reason to stop.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(cap_error(self.cap)),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Size of the pieces the decompressing thread hands over.
const PIECE: usize = 1 << 20;
/// Pieces in flight: bounds memory whatever the compression ratio.
const PIECES_IN_FLIGHT: usize = 4;

enum Piece {
    Data(Vec<u8>),
    Failed(io::Error),
}

/// The consuming end of a decompressing thread: a `Read` whose bytes were
/// inflated on another core while the previous ones were being scanned.
pub struct Pipe {
    rx: Receiver<Piece>,
    spare: Sender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
}

/// Run `produce` on a scoped thread, reading it in pieces through a bounded
/// channel. The thread stops when the returned `Pipe` is dropped.
pub fn pipe<'scope, R: Read + Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    mut produce: R,
) -> Pipe {
    let (tx, rx) = bounded::<Piece>(PIECES_IN_FLIGHT);
    let (spare_tx, spare_rx) = bounded::<Vec<u8>>(PIECES_IN_FLIGHT + 2);
    scope.spawn(move || loop {
        let mut piece = spare_rx.try_recv().unwrap_or_default();
        piece.resize(PIECE, 0);
        let mut filled = 0;
        let mut failure = None;
        while filled < PIECE {
            match produce.read(&mut piece[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        piece.truncate(filled);
        let last = filled < PIECE;
        if filled > 0 && tx.send(Piece::Data(piece)).is_err() {
            return;
        }
        if let Some(e) = failure {
            let _ = tx.send(Piece::Failed(e));
            return;
        }
        if last {
            return;
        }
    });
    Pipe {
        rx,
        spare: spare_tx,
        current: Vec::new(),
        pos: 0,
    }
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.current.len() {
            let done = std::mem::take(&mut self.current);
            let _ = self.spare.try_send(done);
            self.pos = 0;
            match self.rx.recv() {
                Ok(Piece::Data(d)) => self.current = d,
                Ok(Piece::Failed(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Open a path for reading, with a message that names the cause.
pub fn open(path: &Path) -> Result<File, String> {
    File::open(path).map_err(|e| format!("cannot open: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_magic() {
        assert_eq!(kind_of(&[0x1f, 0x8b, 8, 0]), Kind::Gzip);
        assert_eq!(kind_of(b"PK\x03\x04xx"), Kind::Zip);
        assert_eq!(kind_of(b"2024-0"), Kind::Plain);
        assert_eq!(kind_of(b""), Kind::Plain);
        assert_eq!(
            kind_of(&[0x28, 0xb5, 0x2f, 0xfd]),
            Kind::Unsupported("zstd")
        );
    }

    #[test]
    fn capped_stops_only_when_more_remains() {
        let mut out = Vec::new();
        assert!(Capped::new(&b"abcdef"[..], 6).read_to_end(&mut out).is_ok());
        let mut out = Vec::new();
        let err = Capped::new(&b"abcdefg"[..], 6).read_to_end(&mut out);
        assert!(err.is_err());
        assert_eq!(out, b"abcdef");
    }

    #[test]
    fn pipe_passes_bytes_and_errors() {
        let data: Vec<u8> = (0..3 * PIECE + 17).map(|i| (i % 251) as u8).collect();
        std::thread::scope(|s| {
            let mut p = pipe(s, Capped::new(&data[..], data.len() as u64 - 5));
            let mut out = Vec::new();
            let err = p.read_to_end(&mut out);
            assert!(err.is_err());
            assert_eq!(out[..], data[..data.len() - 5]);
        });
    }
}
