//! The full-history mode: every blob reachable from any tip, each read and
//! scanned once, in three passes that each read objects in pack order
//! ([`packorder`](super::packorder)), so delta bases are inflated once:
//!
//! 1. the calling thread walks commits (one small object each) and collects
//!    the unique root trees;
//! 2. trees are read level by level (roots, then their subtrees, …), each
//!    level sorted by pack position and split across the pool in contiguous
//!    runs, every unique tree once through the shared seen-set; each new
//!    blob is claimed with the path it was first met at;
//! 3. the claimed blobs are sorted by pack position and read and scanned in
//!    contiguous runs per thread.
//!
//! Memory: the seen-sets of trees and blobs, plus the claimed blobs with
//! their paths until they are scanned: what the repository holds, not how
//! many commits share it.

use std::collections::VecDeque;
use std::sync::Mutex;

use git2::{ObjectType, Oid};
use rayon::prelude::*;

use super::commit;
use super::oidset::LocalOidSet;
use super::open::Opened;
use super::packorder::{PackIndex, PackPos};
use super::scan::{join, Scan};
use super::tree::{self, Kind};
use super::workers::{Slot, Workers};
use super::{attribute, GitError, ModeResult};

/// Objects read per task, in pack order: long enough runs that each thread
/// reads a stretch of the pack, short enough to balance the threads.
const BATCH: usize = 64;

/// An object to read, where it sits in the packs, and its path (trees end in `/`).
type Item = (PackPos, Oid, String);

pub(crate) fn run(opened: &Opened, workers: &Workers, ctx: &Scan) -> Result<ModeResult, GitError> {
    let repo = &opened.repo;
    let odb = repo.odb().map_err(|e| GitError::Git {
        repo: opened.shown.clone(),
        message: format!("cannot open object database: {}", e.message()),
    })?;
    let index = PackIndex::load(&opened.git_dir);
    let place = |i: usize, oid: Oid, path: String| -> Item {
        (
            index.position(&oid).unwrap_or((u32::MAX, i as u64)),
            oid,
            path,
        )
    };
    let tips = commit::tips(repo, &|p, m| ctx.error(p, m));
    let boundary = commit::shallow_boundary(repo);

    // 1. Commits: the unique root trees (and tips that are trees or blobs).
    let mut trees: Vec<Item> = Vec::new();
    let mut blobs: Vec<Item> = Vec::new();
    let mut seen = LocalOidSet::default();
    let mut queue = VecDeque::new();
    for tip in &tips {
        match tip.kind {
            ObjectType::Commit if seen.insert(tip.oid) => queue.push_back(tip.oid),
            ObjectType::Tree if ctx.trees.insert(tip.oid) => {
                trees.push(place(trees.len(), tip.oid, String::new()));
            }
            ObjectType::Blob if ctx.blobs.insert(tip.oid) => {
                blobs.push(place(blobs.len(), tip.oid, tip.name.clone()));
            }
            _ => {}
        }
    }
    let mut commits = 0u64;
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
            trees.push(place(trees.len(), info.tree, String::new()));
        }
        if !boundary.contains(&oid) {
            for parent in info.parents {
                if seen.insert(parent) {
                    queue.push_back(parent);
                }
            }
        }
    }
    drop(seen);

    // 2. Trees, level by level.
    while !trees.is_empty() {
        trees.sort_unstable_by_key(|(at, _, _)| *at);
        let next: Mutex<Vec<(Oid, String)>> = Mutex::default();
        let claimed: Mutex<Vec<(Oid, String)>> = Mutex::default();
        workers.pool.install(|| {
            trees
                .par_chunks(BATCH)
                .for_each(|batch| read_trees(ctx, workers, batch, &next, &claimed));
        });
        let base = blobs.len();
        blobs.extend(
            into_inner(claimed)
                .into_iter()
                .enumerate()
                .map(|(i, (oid, path))| place(base + i, oid, path)),
        );
        trees = into_inner(next)
            .into_iter()
            .enumerate()
            .map(|(i, (oid, path))| place(i, oid, path))
            .collect();
    }
    drop(index);

    // 3. Blobs.
    blobs.sort_unstable_by_key(|(at, _, _)| *at);
    workers.pool.install(|| {
        blobs
            .par_chunks(BATCH)
            .for_each(|batch| scan_blobs(ctx, workers, batch));
    });
    drop(blobs);

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

/// Read a run of trees, claiming their unseen subtrees into `next` and their
/// unseen blobs into `claimed`.
fn read_trees(
    ctx: &Scan<'_>,
    workers: &Workers,
    batch: &[Item],
    next: &Mutex<Vec<(Oid, String)>>,
    claimed: &Mutex<Vec<(Oid, String)>>,
) {
    let mut subtrees = Vec::new();
    let mut blobs = Vec::new();
    let read = workers.with(|slot| {
        for (_, oid, prefix) in batch {
            if let Err(message) = read_tree(ctx, slot, *oid, prefix, &mut subtrees, &mut blobs) {
                ctx.error(&shown(prefix), message);
            }
        }
    });
    if let Err(e) = read {
        for (_, _, prefix) in batch {
            ctx.error(
                &shown(prefix),
                format!("cannot open repository: {}", e.message()),
            );
        }
    }
    if !subtrees.is_empty() {
        lock(next).append(&mut subtrees);
    }
    if !blobs.is_empty() {
        lock(claimed).append(&mut blobs);
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

fn scan_blobs(ctx: &Scan<'_>, workers: &Workers, blobs: &[Item]) {
    let done = workers.with(|slot| {
        for (_, blob, path) in blobs {
            ctx.scan_blob(slot, *blob, path);
        }
    });
    if let Err(e) = done {
        for (_, _, path) in blobs {
            ctx.error(path, format!("cannot open repository: {}", e.message()));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn into_inner<T>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// A tree's path for messages: the root is shown as `/`.
fn shown(prefix: &str) -> String {
    if prefix.is_empty() {
        "/".to_string()
    } else {
        prefix.to_string()
    }
}
