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
//! 3. the claimed blobs that sit in packs are decoded by walking each pack's
//!    delta trees ([`packwalk`](super::packwalk): every base inflated once,
//!    children applied from memory, in parallel across the trees); loose
//!    blobs and whatever the walk cannot decode are read through libgit2 in
//!    pack order, in contiguous runs per thread.
//!
//! Memory: the seen-sets of trees and blobs, plus the claimed blobs (pack
//! position, id and an interned path: about 40 bytes each) until they are
//! scanned, and each distinct path once: what the repository holds, not how
//! many commits share it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use git2::{ObjectType, Oid};
use rayon::prelude::*;

use super::commit;
use super::known::KnownBlobs;
use super::oidset::LocalOidSet;
use super::open::Opened;
use super::packorder::{PackIndex, PackPos};
use super::packwalk::{self, Sink, Wanted};
use super::reach::CommitGraph;
use super::scan::{join, Phase, Scan};
use super::tree::{self, Kind};
use super::workers::{Slot, Workers};
use super::{attribute, GitError, ModeResult};

/// Objects read per task, in pack order: long enough runs that each thread
/// reads a stretch of the pack, short enough to balance the threads.
const BATCH: usize = 64;

/// A tree to read, where it sits in the packs, and its path (`""` or `"dir/"`).
type TreeItem = (PackPos, Oid, String);
/// A blob to scan, where it sits in the packs, and its path in [`Paths`].
type BlobItem = (PackPos, Oid, u32);

/// Each distinct blob path once: a file's thousand versions share one.
#[derive(Default)]
struct Paths {
    ids: HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Paths {
    fn intern(&mut self, path: String) -> u32 {
        if let Some(id) = self.ids.get(path.as_str()) {
            return *id;
        }
        let id = self.names.len() as u32;
        let name: Arc<str> = Arc::from(path);
        self.names.push(Arc::clone(&name));
        self.ids.insert(name, id);
        id
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }
}

pub(crate) fn run(
    opened: &Opened,
    workers: &Workers,
    ctx: &Scan,
    known: Option<&KnownBlobs>,
) -> Result<ModeResult, GitError> {
    let repo = &opened.repo;
    let odb = repo.odb().map_err(|e| GitError::Git {
        repo: opened.shown.clone(),
        message: format!("cannot open object database: {}", e.message()),
    })?;
    let index = PackIndex::load(&opened.git_dir);
    let at = |i: usize, oid: &Oid| index.position(oid).unwrap_or((u32::MAX, i as u64));
    let paths = Mutex::new(Paths::default());
    let tips = commit::tips(repo, &|p, m| ctx.history_error(p, m));
    let boundary = commit::shallow_boundary(repo);

    // 1. Commits: the unique root trees (and tips that are trees or blobs).
    let mut trees: Vec<TreeItem> = Vec::new();
    let mut blobs: Vec<BlobItem> = Vec::new();
    let mut seen = LocalOidSet::default();
    let mut queue = VecDeque::new();
    for tip in &tips {
        match tip.kind {
            ObjectType::Commit if seen.insert(tip.oid) => queue.push_back(tip.oid),
            ObjectType::Tree if ctx.trees.insert(tip.oid) => {
                trees.push((at(trees.len(), &tip.oid), tip.oid, String::new()));
            }
            ObjectType::Blob if ctx.blobs.insert(tip.oid) => {
                let path = lock(&paths).intern(tip.name.clone());
                blobs.push((at(blobs.len(), &tip.oid), tip.oid, path));
            }
            _ => {}
        }
    }
    let mut commits = 0u64;
    // Kept for attribution: which refs reach a commit is one pass over it.
    let mut graph = CommitGraph::default();
    while let Some(oid) = queue.pop_front() {
        let info = match commit::read(&odb, oid) {
            Ok(info) => info,
            Err(message) => {
                ctx.history_error(&format!("commit {oid}"), message);
                continue;
            }
        };
        commits += 1;
        if ctx.trees.insert(info.tree) {
            trees.push((at(trees.len(), &info.tree), info.tree, String::new()));
        }
        if boundary.contains(&oid) {
            graph.add(oid, &info, Vec::new());
        } else {
            for parent in &info.parents {
                if seen.insert(*parent) {
                    queue.push_back(*parent);
                }
            }
            graph.add(oid, &info, info.parents.clone());
        }
    }
    drop(seen);
    graph.seal();

    // 2. Trees, level by level.
    ctx.enter(Phase::Trees);
    while !trees.is_empty() {
        if let Some(known) = known {
            let before = trees.len();
            trees.retain(|(_, oid, _)| !known.contains(oid));
            known.skipped_trees((before - trees.len()) as u64);
            known.reading_trees(trees.iter().map(|(_, oid, _)| *oid));
        }
        trees.sort_unstable_by_key(|(at, _, _)| *at);
        let next: Mutex<Vec<(Oid, String)>> = Mutex::default();
        let claimed: Mutex<Vec<(Oid, u32)>> = Mutex::default();
        workers.pool.install(|| {
            trees.par_chunks(BATCH).for_each(|batch| {
                read_trees(ctx, workers, batch, &next, &claimed, &paths);
            });
        });
        let base = blobs.len();
        blobs.extend(
            into_inner(claimed)
                .into_iter()
                .enumerate()
                .map(|(i, (oid, path))| (at(base + i, &oid), oid, path)),
        );
        trees = into_inner(next)
            .into_iter()
            .enumerate()
            .map(|(i, (oid, path))| (at(i, &oid), oid, path))
            .collect();
    }
    let paths = into_inner(paths);
    // Blobs the datastore already has under the same rules stay unread.
    if let Some(known) = known {
        let before = blobs.len();
        blobs.retain(|(_, oid, _)| !known.contains(oid));
        known.skipped((before - blobs.len()) as u64);
        known.reading(blobs.iter().map(|(_, oid, _)| *oid));
    }

    // 3. Blobs: packed ones by walking the packs' delta trees, the rest
    // (loose, or what the walk could not decode) through libgit2.
    ctx.enter(Phase::Blobs);
    blobs.sort_unstable_by_key(|(at, _, _)| *at);
    ctx.blobs_queued
        .store(blobs.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let packed = blobs.partition_point(|((pack, _), _, _)| *pack != u32::MAX);
    // `CYBRID_SCAN_PACK_WALK=0` reads every blob through libgit2 instead,
    // for side-by-side benchmarks of the two readers.
    let packed = if std::env::var_os("CYBRID_SCAN_PACK_WALK").is_some_and(|v| v == "0") {
        0
    } else {
        packed
    };
    let wanted: Vec<Wanted> = blobs[..packed]
        .iter()
        .map(|((pack, offset), oid, path)| Wanted {
            pack: *pack,
            offset: *offset,
            oid: *oid,
            path: *path,
        })
        .collect();
    blobs.drain(..packed);
    let sink = ScanSink {
        ctx,
        workers,
        paths: &paths,
    };
    let left = packwalk::walk(
        &index,
        &wanted,
        ctx.max_size(),
        packwalk::HELD_CAP,
        &workers.pool,
        &sink,
    );
    drop(wanted);
    drop(index);
    blobs.extend(
        left.into_iter()
            .map(|w| ((w.pack, w.offset), w.oid, w.path)),
    );
    workers.pool.install(|| {
        blobs
            .par_chunks(BATCH)
            .for_each(|batch| scan_blobs(ctx, workers, batch, &paths));
    });
    drop(blobs);
    drop(paths);

    ctx.enter(Phase::Attribution);
    let targets = ctx.hit_oids();
    let attribution = if targets.is_empty() {
        attribute::Attribution::default()
    } else {
        attribute::full_history(repo, &tips, &targets, &graph, workers, &ctx.tree_cache)
    };
    Ok(ModeResult {
        commits,
        notes: Vec::new(),
        attribution,
    })
}

/// Read a run of trees, claiming their unseen subtrees into `next` and their
/// unseen blobs into `claimed` (their paths interned in `paths`).
fn read_trees(
    ctx: &Scan<'_>,
    workers: &Workers,
    batch: &[TreeItem],
    next: &Mutex<Vec<(Oid, String)>>,
    claimed: &Mutex<Vec<(Oid, u32)>>,
    paths: &Mutex<Paths>,
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
        let mut ids: Vec<(Oid, u32)> = {
            let mut paths = lock(paths);
            blobs
                .into_iter()
                .map(|(oid, path)| (oid, paths.intern(path)))
                .collect()
        };
        lock(claimed).append(&mut ids);
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
    ctx.trees_read
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if object.kind() != ObjectType::Tree {
        return Err(format!("object {oid} is a {}, not a tree", object.kind()));
    }
    ctx.tree_cache.keep(oid, object.data());
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

/// Where the pack walk hands its blobs: the scan, with the path each was met at.
struct ScanSink<'a, 'e> {
    ctx: &'a Scan<'e>,
    workers: &'a Workers,
    paths: &'a Paths,
}

impl Sink for ScanSink<'_, '_> {
    fn blob(&self, wanted: &Wanted, data: &[u8]) {
        let path = self.paths.name(wanted.path);
        let scanned = self.workers.with(|slot| {
            self.ctx
                .scan_bytes(&mut slot.scratch, wanted.oid, path, data)
        });
        if let Err(e) = scanned {
            self.ctx
                .error(path, format!("cannot open repository: {}", e.message()));
        }
    }

    fn too_large(&self, wanted: &Wanted, size: u64) {
        self.ctx
            .too_large(wanted.oid, self.paths.name(wanted.path), size);
    }

    fn read(&self, oid: Oid) -> Option<(ObjectType, Vec<u8>)> {
        packwalk::read_via(self.workers, oid)
    }
}

fn scan_blobs(ctx: &Scan<'_>, workers: &Workers, blobs: &[BlobItem], paths: &Paths) {
    let done = workers.with(|slot| {
        for (_, blob, path) in blobs {
            ctx.scan_blob(slot, *blob, paths.name(*path));
        }
    });
    if let Err(e) = done {
        for (_, _, path) in blobs {
            ctx.error(
                paths.name(*path),
                format!("cannot open repository: {}", e.message()),
            );
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
