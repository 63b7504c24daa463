//! `ci --artifacts`: scanning a run's or job's artifact archives.
//!
//! An artifact is a zip (GitHub: one per uploaded artifact; GitLab: the job's
//! artifacts archive), downloaded like a run's log archive: spooled in
//! memory, spilled to a temporary file past a bound ([`super::scan::spool`]),
//! and inflated with one `--max-decompressed-size` budget per archive (a zip
//! bomb stops there, and says so). Each entry is opened as `logs` opens the
//! entries of a zip of logs ([`input::decode`]: a gzip entry is inflated),
//! then told text from binary by its first bytes ([`input::looks_binary`]):
//! text goes through the log pipeline like a run log; binary is read whole
//! (up to `--max-file-size`) and scanned as bytes, as `dir` scans a file.
//!
//! Findings are placed at the artifact: `path` is the artifact's (so they are
//! told apart from the run's log findings, which `--delete-leaking-logs`
//! needs), `entry` is `<artifact name>/<path in the zip>`, `url` the page
//! that lists the artifact.

use std::io::{self, Cursor, Read};

use crate::collect::{to_findings, ScanError, Skipped};
use crate::detect::Scratch;
use crate::finding::{Location, SourceKind};
use crate::source::log::input::{self, cap_error, Capped, Kind};
use crate::source::log::scan_stream;
use crate::source::log::zipentry::{EntryReader, WholeInflater};
use crate::sweep::state::StoredFinding;

use super::scan::{stream_failure, ScanContext, Spool};
use super::{Unit, UnitRecord};

/// One artifact archive of a unit, as reports name it.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The archive's path in reports (`owner/repo/actions/runs/ID/artifacts/AID`,
    /// `group/project/-/jobs/ID/artifacts`); errors and skips name it too.
    pub path: String,
    /// The artifact's name: entries are reported as `NAME/PATH`.
    pub name: String,
    /// The web page that lists (GitHub) or browses (GitLab) it.
    pub url: String,
}

/// Scan one downloaded artifact archive into `record`. A corrupt archive, an
/// unreadable entry, a bomb: listed in `record.errors`, the rest goes on.
pub fn scan_artifact(
    ctx: &ScanContext<'_>,
    archive: Spool,
    unit: &Unit,
    art: &Artifact,
    record: &mut UnitRecord,
) {
    let mut archive = match zip::ZipArchive::new(archive) {
        Ok(a) => a,
        Err(e) => {
            return record.errors.push(ScanError {
                path: art.path.clone(),
                message: format!(
                    "artifact {:?} unreadable (corrupt or truncated zip): {e}",
                    art.name
                ),
            })
        }
    };
    let mut budget = ctx.max_decompressed;
    let mut scanner = ctx.scanner();
    let mut scratch = Scratch::default();
    let mut whole = WholeInflater::default();
    for i in 0..archive.len() {
        let inflated = whole.entry(&mut archive, i, budget);
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                record.errors.push(ScanError {
                    path: art.path.clone(),
                    message: format!("artifact {:?}: entry #{i} cannot be read: {e}", art.name),
                });
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        let entry_name = format!("{}/{}", art.name, entry.name());
        let at = format!("{}!{entry_name}", art.path);
        if budget == 0 {
            record.errors.push(ScanError {
                path: at,
                message: format!(
                    "{} (a zip bomb, or raise the limit)",
                    cap_error(ctx.max_decompressed)
                ),
            });
            break;
        }
        let base = Location {
            source: SourceKind::Ci,
            path: art.path.clone(),
            entry: Some(entry_name),
            repository: Some(unit.repo.name.clone()),
            run: Some(unit.id.to_string()),
            job: unit.name.clone(),
            url: Some(art.url.clone()),
            ..Location::default()
        };
        let source = EntryReader::new(inflated, &mut entry);
        let (kind, reader) = match input::decode(source) {
            Ok(d) => d,
            Err(e) => {
                record.errors.push(ScanError {
                    path: at,
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        let mut capped = Capped::new(reader, budget);
        let mut head = Vec::new();
        if let Err(e) = (&mut capped)
            .take(input::SNIFF_LEN as u64)
            .read_to_end(&mut head)
        {
            record.errors.push(ScanError {
                path: at,
                message: stream_failure(&e, ctx.max_decompressed),
            });
            budget = budget.saturating_sub(head.len() as u64);
            continue;
        }
        let packed = match kind {
            Kind::Zip => Some("zip"),
            Kind::Unsupported(what) => Some(what),
            Kind::Plain | Kind::Gzip => None,
        };
        let (bytes, findings, failure) = if packed.is_some() || input::looks_binary(&head) {
            match binary(ctx, &mut scratch, head, &mut capped, &base) {
                Binary::Scanned(bytes, findings, failure) => (bytes, findings, failure),
                Binary::TooBig(read) => {
                    budget = budget.saturating_sub(read);
                    record.skipped.push(Skipped {
                        path: at,
                        reason: format!(
                            "binary entry larger than --max-file-size ({} bytes); not scanned",
                            ctx.max_binary
                        ),
                    });
                    continue;
                }
            }
        } else {
            let mut rest = Cursor::new(head).chain(&mut capped);
            let s = scan_stream(ctx.engine, &mut scanner, &mut rest, &base);
            (s.bytes, s.findings, s.failure)
        };
        budget = budget.saturating_sub(bytes);
        record.logs += 1;
        record.bytes += bytes;
        record
            .findings
            .extend(findings.iter().map(StoredFinding::of));
        if let Some(what) = packed {
            record.skipped.push(Skipped {
                path: at.clone(),
                reason: format!(
                    "{what} archive inside the artifact: scanned as bytes, its content not extracted"
                ),
            });
        }
        if let Some(e) = failure {
            record.errors.push(ScanError {
                path: at,
                message: stream_failure(&e, ctx.max_decompressed),
            });
        }
    }
}

enum Binary {
    /// Bytes read, findings, why reading stopped early.
    Scanned(u64, Vec<crate::finding::Finding>, Option<io::Error>),
    /// Past `max_binary` (bytes read so far).
    TooBig(u64),
}

/// Read a binary entry whole (`head` already read) and scan it as bytes, the
/// way `dir` scans a file. Generic pairs that only project evidence could
/// make Cybrid's are dropped, as `dir` drops them without that evidence.
fn binary(
    ctx: &ScanContext<'_>,
    scratch: &mut Scratch,
    mut buf: Vec<u8>,
    reader: &mut dyn Read,
    base: &Location,
) -> Binary {
    let room = (ctx.max_binary + 1).saturating_sub(buf.len() as u64);
    let failure = reader.take(room).read_to_end(&mut buf).err();
    if buf.len() as u64 > ctx.max_binary {
        return Binary::TooBig(buf.len() as u64);
    }
    let detections = ctx.engine.scan(&buf, scratch);
    let findings = to_findings(ctx.engine, &buf, detections, base)
        .into_iter()
        .filter(|f| {
            !f.location
                .context
                .as_ref()
                .is_some_and(|c| c.awaits_project())
        })
        .collect();
    Binary::Scanned(buf.len() as u64, findings, failure)
}
