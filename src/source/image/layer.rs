//! One layer, read once as a stream: decompressed (gzip, zstd or none, by
//! its first bytes), its tar entries scanned as files (archives inside
//! opened as `dir` opens them), its whiteouts noted.

use std::io::{BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

use crate::collect::{to_findings, Collector};
use crate::detect::{Engine, Scratch};
use crate::finding::{Finding, Location};
use crate::source::archive;

/// What a layer's walk needs and what it records.
pub struct Visit<'a> {
    pub engine: &'a Engine,
    pub out: &'a Collector,
    pub scratch: &'a mut Scratch,
    pub findings: &'a mut Vec<Finding>,
    pub base: &'a Location,
    pub layer_index: usize,
    pub digest: &'a str,
    pub image: &'a str,
    pub max_file_size: u64,
    pub files: u64,
    /// Regular files this layer writes.
    pub written: Vec<String>,
    /// Paths its whiteouts delete (an opaque directory counts as deleted).
    pub deleted: Vec<String>,
}

/// Walk the layer `reader` yields; an error message when it breaks off.
pub fn walk(reader: Box<dyn Read>, max_layer: u64, v: &mut Visit<'_>) -> Result<(), String> {
    let mut buffered = BufReader::with_capacity(1 << 20, reader);
    let head = buffered
        .fill_buf()
        .map_err(|e| format!("cannot read: {e}"))?
        .to_vec();
    let plain: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(MultiGzDecoder::new(buffered))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(
            zstd::stream::read::Decoder::with_buffer(buffered).map_err(|e| format!("zstd: {e}"))?,
        )
    } else {
        Box::new(buffered)
    };
    let mut archive = tar::Archive::new(plain.take(max_layer));
    let entries = archive
        .entries()
        .map_err(|e| format!("not a tar layer: {e}"))?;
    let mut buf = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| {
            format!("layer damaged, truncated or over {max_layer} inflated bytes: {e}")
        })?;
        let path = entry
            .path()
            .map(|p| {
                p.to_string_lossy()
                    .trim_start_matches("./")
                    .trim_end_matches('/')
                    .to_string()
            })
            .unwrap_or_default();
        let (dir, name) = match path.rsplit_once('/') {
            Some((d, n)) => (format!("{d}/"), n.to_string()),
            None => (String::new(), path.clone()),
        };
        if name == ".wh..wh..opq" {
            v.deleted.push(dir.trim_end_matches('/').to_string());
            continue;
        }
        if let Some(gone) = name.strip_prefix(".wh.") {
            v.deleted.push(format!("{dir}{gone}"));
            continue;
        }
        if !entry.header().entry_type().is_file() {
            continue;
        }
        v.written.push(path.clone());
        let shown = format!("{}!/{}!/{path}", v.image, v.digest);
        let size = entry.size();
        if size > v.max_file_size {
            v.out.skip(
                shown,
                format!(
                    "larger than --max-file-size ({size} > {} bytes)",
                    v.max_file_size
                ),
            );
            continue;
        }
        buf.clear();
        if let Err(e) = (&mut entry).take(v.max_file_size).read_to_end(&mut buf) {
            return Err(format!("layer broke off in {path}: {e}"));
        }
        v.files += 1;
        v.out.scanned(buf.len() as u64);
        scan_file(v, &path, &buf);
    }
    Ok(())
}

/// A file of the layer: opened if an archive, decoded if binary text.
fn scan_file(v: &mut Visit<'_>, path: &str, data: &[u8]) {
    if archive::format_of(data).is_some() {
        let mut members = Members { v, member_of: path };
        archive::expand(
            data,
            path,
            &archive::Limits::new(members.v.max_file_size),
            &mut members,
        );
    } else if let Some(text) = archive::decode_binary_text(data) {
        detect(v, path, &text);
    } else {
        detect(v, path, data);
    }
}

fn detect(v: &mut Visit<'_>, path: &str, data: &[u8]) {
    let detections = v.engine.scan(data, v.scratch);
    if detections.is_empty() {
        return;
    }
    let mut at = v.base.clone();
    at.path = path.to_string();
    at.layer = Some(v.digest.to_string());
    at.layer_number = Some(v.layer_index as u64 + 1);
    v.findings
        .extend(to_findings(v.engine, data, detections, &at));
}

struct Members<'v, 'a> {
    v: &'v mut Visit<'a>,
    member_of: &'v str,
}

impl archive::Visitor for Members<'_, '_> {
    fn member(&mut self, path: &str, data: &[u8]) {
        detect(self.v, path, data);
    }
    fn error(&mut self, path: &str, message: String) {
        self.v.out.error(
            format!("{}!/{}!/{path}", self.v.image, self.v.digest),
            message,
        );
        let _ = self.member_of;
    }
    fn skip(&mut self, path: &str, reason: String) {
        self.v.out.skip(
            format!("{}!/{}!/{path}", self.v.image, self.v.digest),
            reason,
        );
    }
}
