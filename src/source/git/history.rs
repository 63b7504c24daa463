//! The full-history mode: every blob reachable from any tip, each read and
//! scanned once. The calling thread walks commits (cheap: one small object
//! each) and hands each new root tree to the pool; pool threads walk trees
//! (each unique tree once, through the shared seen-set) and scan each new
//! blob as they meet it, so reading commits, trees and blobs all overlap.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use git2::{ObjectType, Oid};

use super::commit;
use super::oidset::LocalOidSet;
use super::open::Opened;
use super::scan::{join, Scan};
use super::tree::{self, Kind};
use super::workers::{Slot, Workers};
use super::{attribute, GitError, ModeResult};

/// Blobs of one tree scanned per task: big directories are split across threads.
const BLOB_BATCH: usize = 32;
/// Root trees queued ahead of the workers, at most: bounds memory on long histories.
const MAX_PENDING: usize = 2048;

pub(crate) fn run(opened: &Opened, workers: &Workers, ctx: &Scan) -> Result<ModeResult, GitError> {
    let repo = &opened.repo;
    let odb = repo.odb().map_err(|e| GitError::Git {
        repo: opened.shown.clone(),
        message: format!("cannot open object database: {}", e.message()),
    })?;
    let tips = commit::tips(repo, &|p, m| ctx.error(p, m));
    let boundary = commit::shallow_boundary(repo);
    let pending = AtomicUsize::new(0);
    let mut commits = 0u64;
    workers.pool.in_place_scope(|s| {
        let mut seen = LocalOidSet::default();
        let mut queue = VecDeque::new();
        for tip in &tips {
            match tip.kind {
                ObjectType::Commit if seen.insert(tip.oid) => queue.push_back(tip.oid),
                ObjectType::Tree if ctx.trees.insert(tip.oid) => {
                    let oid = tip.oid;
                    s.spawn(move |s| walk_tree(s, ctx, workers, oid, String::new()));
                }
                ObjectType::Blob if ctx.blobs.insert(tip.oid) => {
                    let (oid, name) = (tip.oid, tip.name.clone());
                    s.spawn(move |_| scan_blobs(ctx, workers, vec![(oid, name)]));
                }
                _ => {}
            }
        }
        while let Some(oid) = queue.pop_front() {
            let info = match commit::read(&odb, oid) {
                Ok(info) => info,
                Err(message) => {
                    ctx.error(&format!("commit {oid}"), message);
                    continue;
                }
            };
            commits += 1;
            if ctx.trees.insert(info.tree) {
                pending.fetch_add(1, Ordering::Relaxed);
                let (tree, pending) = (info.tree, &pending);
                s.spawn(move |s| {
                    walk_tree(s, ctx, workers, tree, String::new());
                    pending.fetch_sub(1, Ordering::Relaxed);
                });
            }
            if !boundary.contains(&oid) {
                for parent in info.parents {
                    if seen.insert(parent) {
                        queue.push_back(parent);
                    }
                }
            }
            while pending.load(Ordering::Relaxed) > MAX_PENDING {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    });
    let targets = ctx.hit_oids();
    let attribution = if targets.is_empty() {
        attribute::Attribution::default()
    } else {
        attribute::full_history(repo, &tips, &targets, ctx)
    };
    Ok(ModeResult {
        commits,
        notes: Vec::new(),
        attribution,
    })
}

/// Read tree `oid` (at `prefix`, `""` or `"dir/"`), queue its new subtrees
/// and scan its new blobs.
fn walk_tree<'s>(
    s: &rayon::Scope<'s>,
    ctx: &'s Scan<'_>,
    workers: &'s Workers,
    oid: Oid,
    prefix: String,
) {
    let mut subtrees = Vec::new();
    let mut blobs = Vec::new();
    let read = workers.with(|slot| {
        read_tree(ctx, slot, oid, &prefix, &mut subtrees, &mut blobs)?;
        if blobs.len() <= BLOB_BATCH {
            for (blob, path) in blobs.drain(..) {
                ctx.scan_blob(slot, blob, &path);
            }
        }
        Ok::<(), String>(())
    });
    match read {
        Ok(Ok(())) => {}
        Ok(Err(message)) => ctx.error(&shown(&prefix), message),
        Err(e) => ctx.error(
            &shown(&prefix),
            format!("cannot open repository: {}", e.message()),
        ),
    }
    while !blobs.is_empty() {
        let batch: Vec<_> = blobs.drain(..blobs.len().min(BLOB_BATCH)).collect();
        s.spawn(move |_| scan_blobs(ctx, workers, batch));
    }
    for (tree, path) in subtrees {
        s.spawn(move |s| walk_tree(s, ctx, workers, tree, path));
    }
}

/// Parse tree `oid`, claiming its unseen subtrees and blobs.
fn read_tree(
    ctx: &Scan<'_>,
    slot: &Slot,
    oid: Oid,
    prefix: &str,
    subtrees: &mut Vec<(Oid, String)>,
    blobs: &mut Vec<(Oid, String)>,
) -> Result<(), String> {
    let odb = match slot.repo.odb() {
        Ok(o) => o,
        Err(e) => return Err(format!("cannot open object database: {}", e.message())),
    };
    let object = odb
        .read(oid)
        .map_err(|e| format!("cannot read tree {oid}: {}", e.message()))?;
    if object.kind() != ObjectType::Tree {
        return Err(format!("object {oid} is a {}, not a tree", object.kind()));
    }
    for entry in tree::entries(object.data()) {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                ctx.error(&shown(prefix), format!("tree {oid}: {e}"));
                break;
            }
        };
        match entry.kind {
            Kind::Tree => {
                if ctx.trees.insert(entry.oid) {
                    let mut path = join(prefix, entry.name);
                    path.push('/');
                    subtrees.push((entry.oid, path));
                }
            }
            Kind::Blob | Kind::Symlink => {
                if ctx.blobs.insert(entry.oid) {
                    blobs.push((entry.oid, join(prefix, entry.name)));
                }
            }
            Kind::Gitlink => ctx.submodule(&join(prefix, entry.name), entry.oid),
        }
    }
    Ok(())
}

fn scan_blobs(ctx: &Scan<'_>, workers: &Workers, blobs: Vec<(Oid, String)>) {
    let done = workers.with(|slot| {
        for (blob, path) in &blobs {
            ctx.scan_blob(slot, *blob, path);
        }
    });
    if let Err(e) = done {
        for (_, path) in &blobs {
            ctx.error(path, format!("cannot open repository: {}", e.message()));
        }
    }
}

/// A tree's path for messages: the root is shown as `/`.
fn shown(prefix: &str) -> String {
    if prefix.is_empty() {
        "/".to_string()
    } else {
        prefix.to_string()
    }
}
