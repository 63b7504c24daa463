//! The staged mode (pre-commit): only index entries whose blob differs from
//! HEAD's at the same path. Works before the first commit (everything staged
//! is new). The comparison is libgit2's tree-to-index diff, which reads only
//! the trees of HEAD and the index file, never the working files, so a commit
//! touching a few files of a large repository costs a few milliseconds.

use std::path::Path;

use git2::{Delta, DiffOptions, FileMode, Index, ObjectType, Oid};

use super::attribute::{Attribution, Origin};
use super::open::Opened;
use super::scan::Scan;
use super::workers::Workers;
use super::{GitError, ModeResult};

/// Below this many blobs, scanning on the calling thread beats waking the pool.
const SEQUENTIAL_UP_TO: usize = 64;

pub(crate) fn run(
    opened: &Opened,
    index_file: Option<&Path>,
    workers: &Workers,
    ctx: &Scan,
) -> Result<ModeResult, GitError> {
    let repo = &opened.repo;
    let fail = |message: String| GitError::Git {
        repo: opened.shown.clone(),
        message,
    };
    let index = match index_file {
        Some(path) => Index::open(path).map_err(|e| {
            fail(format!(
                "cannot read index {}: {}",
                path.display(),
                e.message()
            ))
        })?,
        None => repo
            .index()
            .map_err(|e| fail(format!("cannot read the index: {}", e.message())))?,
    };
    // Before the first commit HEAD is unborn: everything staged is new.
    let head_tree = match repo.head() {
        Ok(head) => Some(
            head.peel(ObjectType::Tree)
                .and_then(|t| {
                    t.into_tree()
                        .map_err(|_| git2::Error::from_str("HEAD is not a tree"))
                })
                .map_err(|e| fail(format!("cannot read HEAD: {}", e.message())))?,
        ),
        Err(_) => None,
    };
    let mut options = DiffOptions::new();
    options.include_typechange(true).skip_binary_check(true);
    let diff = repo
        .diff_tree_to_index(head_tree.as_ref(), Some(&index), Some(&mut options))
        .map_err(|e| {
            fail(format!(
                "cannot compare the index with HEAD: {}",
                e.message()
            ))
        })?;
    let mut blobs: Vec<(Oid, String)> = Vec::new();
    for delta in diff.deltas() {
        let file = delta.new_file();
        let path = file
            .path_bytes()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default();
        match delta.status() {
            Delta::Added | Delta::Modified | Delta::Typechange | Delta::Renamed | Delta::Copied => {
                if file.mode() == FileMode::Commit {
                    ctx.submodule(&path, file.id());
                } else {
                    blobs.push((file.id(), path));
                }
            }
            Delta::Conflicted => ctx.skip(&path, "unmerged (conflicted) index entry not scanned"),
            _ => {}
        }
    }
    if blobs.len() <= SEQUENTIAL_UP_TO {
        scan_all(ctx, workers, &blobs);
    } else {
        workers.pool.scope(|s| {
            for batch in blobs.chunks(16) {
                s.spawn(move |_| scan_all(ctx, workers, batch));
            }
        });
    }
    project_evidence(repo, &index, &blobs, ctx);
    let hits = ctx.hit_oids();
    let attribution: Attribution = blobs
        .into_iter()
        .filter(|(oid, _)| hits.contains(oid))
        .map(|(oid, path)| {
            (
                oid,
                Origin {
                    path,
                    ..Origin::default()
                },
            )
        })
        .collect();
    Ok(ModeResult {
        commits: 0,
        notes: Vec::new(),
        attribution,
    })
}

/// A manifest larger than this is not read for project evidence.
const MANIFEST_MAX: usize = 1 << 20;

/// Project evidence from the whole index, not only what is staged: a
/// generic pair staged in a Cybrid project is Cybrid's because the project's
/// manifest (committed long ago) says so. Only dependency manifests are
/// read, so the hook stays fast on a large repository.
fn project_evidence(repo: &git2::Repository, index: &Index, staged: &[(Oid, String)], ctx: &Scan) {
    let Ok(odb) = repo.odb() else {
        return;
    };
    for entry in index.iter() {
        let path = String::from_utf8_lossy(&entry.path);
        if !crate::project::is_declaring_manifest(&path) || staged.iter().any(|(_, p)| *p == *path)
        {
            continue;
        }
        // Stage 0 only: a conflicted path's sides are not the project.
        if (entry.flags >> 12) & 0x3 != 0 {
            continue;
        }
        match odb.read_header(entry.id) {
            Ok((size, ObjectType::Blob)) if size <= MANIFEST_MAX => {}
            _ => continue,
        }
        match odb.read(entry.id) {
            Ok(object) => ctx.observe_manifest(&path, object.data()),
            Err(e) => ctx.error(
                &path,
                format!(
                    "cannot read {} for project evidence: {}",
                    entry.id,
                    e.message()
                ),
            ),
        }
    }
}

fn scan_all(ctx: &Scan<'_>, workers: &Workers, blobs: &[(Oid, String)]) {
    let done = workers.with(|slot| {
        for (blob, path) in blobs {
            ctx.scan_blob(slot, *blob, path);
        }
    });
    if let Err(e) = done {
        for (_, path) in blobs {
            ctx.error(path, format!("cannot open repository: {}", e.message()));
        }
    }
}
