//! What ships hides credentials inside containers: an `.ipa` or `.apk` is a
//! zip, a build artefact a `.tar.gz`, and a built `Info.plist` is a binary
//! property list. This opens them (zip, jar, apk, aab, ipa, tar, gzip, to a
//! bounded depth and total size) and hands every member to the caller as
//! bytes the engine can read, named `outer.apk!/inner/path`. Binary plists
//! and Android binary XML are decoded to text first.
//!
//! Limits and damage never stop a scan: a truncated or encrypted member, a
//! bomb past the budget, a nesting too deep are each reported to the
//! visitor with the archive named, and the rest is read.

use std::io::{Cursor, Read};

use flate2::read::MultiGzDecoder;

mod axml;

/// How far archives are opened.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Archives inside archives, at most this deep (the outer one is 1).
    pub max_depth: u32,
    /// A member larger than this is skipped (`--max-file-size`).
    pub max_entry: u64,
    /// Bytes inflated from one outer archive, all members together.
    pub max_total: u64,
}

impl Limits {
    pub fn new(max_entry: u64) -> Self {
        Limits {
            max_depth: 4,
            max_entry,
            max_total: DEFAULT_MAX_TOTAL,
        }
    }
}

/// Bytes one outer archive may inflate to (a zip bomb stops here).
pub const DEFAULT_MAX_TOTAL: u64 = 2 << 30;

/// Where the members go.
pub trait Visitor {
    /// A member's bytes (decoded to text where it was a binary plist or
    /// binary XML), at `path` (`outer!/inner`).
    fn member(&mut self, path: &str, data: &[u8]);
    /// A member or archive that could not be read.
    fn error(&mut self, path: &str, message: String);
    /// A member deliberately not read (encrypted, too large, too deep).
    fn skip(&mut self, path: &str, reason: String);
}

/// The container formats recognised by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Zip,
    Tar,
    Gzip,
}

/// The container format of `data`, if it is one.
pub fn format_of(data: &[u8]) -> Option<Format> {
    if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        Some(Format::Zip)
    } else if data.starts_with(&[0x1f, 0x8b]) {
        Some(Format::Gzip)
    } else if data.len() >= 262 && &data[257..262] == b"ustar" {
        Some(Format::Tar)
    } else {
        None
    }
}

/// A binary property list or Android binary XML decoded to text; `None`
/// for anything else (scanned as it is).
pub fn decode_binary_text(data: &[u8]) -> Option<Vec<u8>> {
    if data.starts_with(b"bplist00") {
        let value = plist::Value::from_reader(Cursor::new(data)).ok()?;
        let mut out = Vec::new();
        value.to_writer_xml(&mut out).ok()?;
        return Some(out);
    }
    if axml::is_binary_xml(data) {
        return axml::decode(data);
    }
    None
}

/// Open the archive `data` (shown as `path`) and visit every member.
pub fn expand(data: &[u8], path: &str, limits: &Limits, visitor: &mut dyn Visitor) {
    let mut budget = limits.max_total;
    walk(data, path, 1, &mut budget, limits, visitor);
}

fn walk(
    data: &[u8],
    path: &str,
    depth: u32,
    budget: &mut u64,
    limits: &Limits,
    v: &mut dyn Visitor,
) {
    match format_of(data) {
        Some(Format::Zip) => zip_members(data, path, depth, budget, limits, v),
        Some(Format::Tar) => tar_members(data, path, depth, budget, limits, v),
        Some(Format::Gzip) => {
            let inner = gunzip_name(path);
            match read_capped(MultiGzDecoder::new(data), limits.max_entry, budget) {
                Ok(bytes) => member(&bytes, &inner, depth, budget, limits, v),
                Err(why) => v.error(path, why),
            }
        }
        None => v.member(path, data),
    }
}

/// A member: opened again if it is an archive (within the depth), decoded
/// if binary text, else handed over as it is.
fn member(
    data: &[u8],
    path: &str,
    depth: u32,
    budget: &mut u64,
    limits: &Limits,
    v: &mut dyn Visitor,
) {
    if format_of(data).is_some() {
        if depth >= limits.max_depth {
            v.skip(
                path,
                format!(
                    "archive nested deeper than {} levels: not opened",
                    limits.max_depth
                ),
            );
            return;
        }
        return walk(data, path, depth + 1, budget, limits, v);
    }
    match decode_binary_text(data) {
        Some(text) => v.member(path, &text),
        None => v.member(path, data),
    }
}

fn zip_members(
    data: &[u8],
    path: &str,
    depth: u32,
    budget: &mut u64,
    limits: &Limits,
    v: &mut dyn Visitor,
) {
    let mut archive = match zip::ZipArchive::new(Cursor::new(data)) {
        Ok(a) => a,
        Err(e) => return v.error(path, format!("unreadable zip archive: {e}")),
    };
    for i in 0..archive.len() {
        let (name, size, encrypted, is_dir) = match archive.by_index_raw(i) {
            Ok(e) => (e.name().to_string(), e.size(), e.encrypted(), e.is_dir()),
            Err(e) => {
                v.error(path, format!("zip entry #{i} cannot be read: {e}"));
                continue;
            }
        };
        if is_dir {
            continue;
        }
        let at = format!("{path}!/{name}");
        if encrypted {
            v.skip(&at, "encrypted zip entry: not readable".to_string());
            continue;
        }
        if too_large(&at, size, limits, v) {
            continue;
        }
        let bytes = match archive.by_index(i) {
            Ok(entry) => read_capped(entry, limits.max_entry, budget),
            Err(e) => Err(format!("cannot read: {e}")),
        };
        match bytes {
            Ok(bytes) => member(&bytes, &at, depth, budget, limits, v),
            Err(why) => v.error(&at, why),
        }
        if *budget == 0 {
            v.error(
                path,
                format!(
                    "stopped after {} inflated bytes (a bomb, or larger than the archive budget); the rest is not scanned",
                    limits.max_total
                ),
            );
            return;
        }
    }
}

fn tar_members(
    data: &[u8],
    path: &str,
    depth: u32,
    budget: &mut u64,
    limits: &Limits,
    v: &mut dyn Visitor,
) {
    let mut archive = tar::Archive::new(data);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => return v.error(path, format!("unreadable tar archive: {e}")),
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                // A damaged header ends the archive: nothing after it can be found.
                return v.error(path, format!("tar archive damaged or truncated: {e}"));
            }
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().trim_start_matches("./").to_string())
            .unwrap_or_else(|_| "?".to_string());
        let at = format!("{path}!/{name}");
        let size = entry.size();
        if too_large(&at, size, limits, v) {
            continue;
        }
        match read_capped(entry, limits.max_entry, budget) {
            Ok(bytes) => member(&bytes, &at, depth, budget, limits, v),
            Err(why) => v.error(&at, why),
        }
    }
}

/// A member over `--max-file-size` is skipped, and says so.
fn too_large(at: &str, size: u64, limits: &Limits, v: &mut dyn Visitor) -> bool {
    if size <= limits.max_entry {
        return false;
    }
    v.skip(
        at,
        format!(
            "larger than --max-file-size ({size} > {} bytes)",
            limits.max_entry
        ),
    );
    true
}

/// Read at most `max` bytes (and never past the budget), or say why not.
fn read_capped(reader: impl Read, max: u64, budget: &mut u64) -> Result<Vec<u8>, String> {
    let cap = max.min(*budget);
    let mut out = Vec::new();
    reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| format!("damaged or truncated: {e}"))?;
    if out.len() as u64 > cap {
        *budget = budget.saturating_sub(cap);
        return Err(if cap < max {
            "inflates past the archive budget (a bomb?): not scanned".to_string()
        } else {
            format!("inflates to more than --max-file-size ({max} bytes): not scanned")
        });
    }
    *budget -= out.len() as u64;
    Ok(out)
}

/// `build.tgz` holds `build.tar`, `app.log.gz` holds `app.log`.
fn gunzip_name(path: &str) -> String {
    let base = path.rsplit(['/', '!']).next().unwrap_or(path);
    let inner = if let Some(stem) = base.strip_suffix(".tgz") {
        format!("{stem}.tar")
    } else if let Some(stem) = base.strip_suffix(".gz") {
        stem.to_string()
    } else {
        base.to_string()
    };
    format!("{path}!/{inner}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[derive(Default)]
    struct Seen {
        members: Vec<(String, Vec<u8>)>,
        errors: Vec<(String, String)>,
        skipped: Vec<(String, String)>,
    }

    impl Visitor for Seen {
        fn member(&mut self, path: &str, data: &[u8]) {
            self.members.push((path.to_string(), data.to_vec()));
        }
        fn error(&mut self, path: &str, message: String) {
            self.errors.push((path.to_string(), message));
        }
        fn skip(&mut self, path: &str, reason: String) {
            self.skipped.push((path.to_string(), reason));
        }
    }

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("start");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    fn tgz_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).expect("append");
        }
        let tar = b.into_inner().expect("tar");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).expect("gz");
        gz.finish().expect("gz")
    }

    #[test]
    fn nested_archives_name_their_members_and_decode_binary_plists() {
        let mut plist_bytes = Vec::new();
        let mut dict = plist::Dictionary::new();
        dict.insert("CybridClientId".into(), plist::Value::String("abc".into()));
        plist::Value::Dictionary(dict)
            .to_writer_binary(&mut plist_bytes)
            .expect("bplist");
        let inner = tgz_of(&[("conf/app.env", b"KEY=1\n")]);
        let outer = zip_of(&[
            ("Payload/App.app/Info.plist", &plist_bytes),
            ("assets/build.tgz", &inner),
        ]);
        let mut seen = Seen::default();
        expand(&outer, "app.ipa", &Limits::new(1 << 20), &mut seen);
        let names: Vec<&str> = seen.members.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "app.ipa!/Payload/App.app/Info.plist",
                "app.ipa!/assets/build.tgz!/build.tar!/conf/app.env"
            ]
        );
        let text = String::from_utf8_lossy(&seen.members[0].1);
        assert!(text.contains("<key>CybridClientId</key>"), "{text}");
        assert!(seen.errors.is_empty() && seen.skipped.is_empty());
    }

    #[test]
    fn bombs_truncation_and_depth_are_reported_not_fatal() {
        // A member inflating past the budget.
        let big = vec![b'a'; 1 << 20];
        let bomb = zip_of(&[("big.txt", &big), ("after.txt", b"x")]);
        let mut seen = Seen::default();
        let limits = Limits {
            max_depth: 4,
            max_entry: 4 << 20,
            max_total: 1 << 16,
        };
        expand(&bomb, "bomb.zip", &limits, &mut seen);
        assert!(
            seen.errors
                .iter()
                .any(|(p, m)| p == "bomb.zip!/big.txt" && m.contains("budget")),
            "{:?}",
            seen.errors
        );
        // Truncated: the central directory is gone.
        let cut = &bomb[..bomb.len() / 2];
        let mut seen = Seen::default();
        expand(cut, "cut.zip", &Limits::new(1 << 20), &mut seen);
        assert!(
            seen.errors.iter().any(|(p, _)| p == "cut.zip"),
            "{:?}",
            seen.errors
        );
        // Too deep.
        let mut nested = zip_of(&[("leaf.txt", b"x")]);
        for _ in 0..5 {
            nested = zip_of(&[("n.zip", &nested)]);
        }
        let mut seen = Seen::default();
        expand(&nested, "deep.zip", &Limits::new(1 << 20), &mut seen);
        assert!(seen.members.is_empty());
        assert_eq!(seen.skipped.len(), 1, "{:?}", seen.skipped);
        assert!(seen.skipped[0].1.contains("nested deeper"));
    }
}
