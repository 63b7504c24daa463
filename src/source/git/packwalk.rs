//! Reading the blobs to scan straight from the pack files, the way
//! `git index-pack` resolves deltas: each pack's delta chains form trees
//! (a whole object at the root, deltas below it), and walking them from the
//! root down inflates every base once and applies its children from memory.
//!
//! Why: a regenerated SDK's history is mostly long delta chains. Reading one
//! blob at a time (libgit2, `git cat-file`) re-inflates a chain's bases
//! whenever they have left a small cache, which made inflation and delta
//! application, not matching, the cost of a history scan.
//!
//! Only what the scan needs is decoded: the wanted blobs and the bases on
//! their chains. Memory is bounded: a base is dropped as soon as its last
//! child is done, a chain with one child at each step holds one object at a
//! time, and past [`HELD_CAP`] bytes of shared bases a base is not kept but
//! decoded again from its chain for each child.
//!
//! Anything this walk cannot decode (a damaged entry, a base in another pack
//! or missing, an object that is not a blob) is handed back to the caller,
//! which reads it through libgit2 as before: errors stay exactly libgit2's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use git2::{ObjectType, Oid};
use rayon::prelude::*;

use super::delta;
use super::packfile::{EntryKind, Pack};
use super::packorder::PackIndex;
use super::workers::Workers;

/// Shared bases held at once, across threads, before bases are re-decoded
/// instead of kept.
pub(crate) const HELD_CAP: usize = 128 << 20;
/// How deep parallel splits nest inside one delta tree; below it a subtree
/// is walked on the current thread with an explicit stack.
const MAX_NESTING: u32 = 16;
const NONE: u32 = u32::MAX;

/// A blob the scan wants: its id, its path's id, and where it sits.
#[derive(Clone, Copy)]
pub(crate) struct Wanted {
    pub pack: u32,
    pub offset: u64,
    pub oid: Oid,
    pub path: u32,
}

/// One entry of a pack that the walk decodes.
struct Node {
    offset: u64,
    parent: u32,
    /// Index into the wanted list, or [`NONE`] for a base only.
    wanted: u32,
}

/// What decoding a node gave.
enum Decoded {
    Object(Object),
    /// Over the limit asked for: its type and size.
    TooLarge(ObjectType, u64),
    Failed,
}

/// Decoded data of an object and its type.
struct Object {
    kind: ObjectType,
    data: Vec<u8>,
}

/// A base kept for several children; its bytes count against [`HELD_CAP`]
/// until the last child drops it.
struct Held<'a> {
    object: Object,
    budget: &'a AtomicUsize,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.budget
            .fetch_sub(self.object.data.len(), Ordering::Relaxed);
    }
}

/// What a node's delta applies to.
enum Base<'a> {
    /// The node is a whole object (or a delta on a base outside this pack).
    Root,
    /// The parent's object, owned: it had this one child.
    Owned(Object),
    Shared(Arc<Held<'a>>),
    /// The parent was not kept (over the cap): decode it again.
    Redo(u32),
}

/// Callbacks into the scan: what to do with a decoded blob, and how to read
/// an object the packs do not hold.
pub(crate) trait Sink: Sync {
    /// A wanted blob, decoded.
    fn blob(&self, wanted: &Wanted, data: &[u8]);
    /// A wanted blob larger than the scan accepts (not decoded if avoidable).
    fn too_large(&self, wanted: &Wanted, size: u64);
    /// Read an object by id (a delta base outside this pack).
    fn read(&self, oid: Oid) -> Option<(ObjectType, Vec<u8>)>;
}

/// Decode and hand to `sink` every blob of `wanted` (sorted by pack and
/// offset) that the packs can give; return the ones left for libgit2.
pub(crate) fn walk(
    index: &PackIndex,
    wanted: &[Wanted],
    max_size: u64,
    held_cap: usize,
    pool: &rayon::ThreadPool,
    sink: &dyn Sink,
) -> Vec<Wanted> {
    let mut left = Vec::new();
    let mut start = 0;
    while start < wanted.len() {
        let pack_id = wanted[start].pack;
        let end = start + wanted[start..].partition_point(|w| w.pack == pack_id);
        let group = &wanted[start..end];
        start = end;
        let pack = match index.pack_path(pack_id).map(|p| Pack::open(&p)) {
            Some(Ok(pack)) => pack,
            _ => {
                left.extend_from_slice(group);
                continue;
            }
        };
        let tree = DeltaTree::build(&pack, index, pack_id, group);
        let walker = Walker {
            pack: &pack,
            tree: &tree,
            wanted: group,
            max_size,
            held_cap,
            sink,
            held: AtomicUsize::new(0),
            handled: group.iter().map(|_| AtomicBool::new(false)).collect(),
            left: Mutex::new(Vec::new()),
        };
        pool.install(|| {
            tree.roots
                .par_iter()
                .for_each(|root| walker.walk(*root, Base::Root, 0));
        });
        let Walker {
            handled, left: l, ..
        } = walker;
        let mut l = l.into_inner().unwrap_or_else(|e| e.into_inner());
        // Anything no root reached (a cycle of ref-deltas, a damaged header)
        // goes the slow way too.
        for (w, done) in group.iter().zip(&handled) {
            if !done.load(Ordering::Relaxed) {
                l.push(*w);
            }
        }
        left.extend(l);
    }
    left
}

/// The delta trees of one pack, restricted to the wanted blobs' chains.
struct DeltaTree {
    nodes: Vec<Node>,
    /// Children of node `i`: `children[start[i]..start[i + 1]]`.
    start: Vec<u32>,
    children: Vec<u32>,
    roots: Vec<u32>,
    /// Roots whose entry is a delta on a base this pack does not hold.
    external: HashMap<u32, Oid>,
}

impl DeltaTree {
    fn build(pack: &Pack, index: &PackIndex, pack_id: u32, wanted: &[Wanted]) -> DeltaTree {
        let mut nodes: Vec<Node> = Vec::with_capacity(wanted.len());
        let mut by_offset: HashMap<u64, u32> = HashMap::with_capacity(wanted.len());
        let mut external = HashMap::new();
        let add = |nodes: &mut Vec<Node>, offset, wanted| {
            nodes.push(Node {
                offset,
                parent: NONE,
                wanted,
            });
            (nodes.len() - 1) as u32
        };
        for (w_index, w) in wanted.iter().enumerate() {
            let mut child = match by_offset.get(&w.offset) {
                Some(&n) => {
                    nodes[n as usize].wanted = w_index as u32;
                    continue;
                }
                None => {
                    let n = add(&mut nodes, w.offset, w_index as u32);
                    by_offset.insert(w.offset, n);
                    n
                }
            };
            // Climb the chain until a node that is already known, or a root.
            loop {
                let offset = nodes[child as usize].offset;
                let base = match pack.entry(offset) {
                    // Left a root: decoding it fails the same way, and its
                    // subtree goes to libgit2.
                    Err(_) => break,
                    Ok(entry) => match entry.kind {
                        EntryKind::OfsDelta { base } => base,
                        EntryKind::RefDelta { base } => match index.offset_in(pack_id, &base) {
                            Some(at) => at,
                            None => {
                                external.insert(child, base);
                                break;
                            }
                        },
                        _ => break,
                    },
                };
                match by_offset.get(&base) {
                    Some(&parent) => {
                        nodes[child as usize].parent = parent;
                        break;
                    }
                    None => {
                        let parent = add(&mut nodes, base, NONE);
                        by_offset.insert(base, parent);
                        nodes[child as usize].parent = parent;
                        child = parent;
                    }
                }
            }
        }
        drop(by_offset);
        let mut count = vec![0u32; nodes.len() + 1];
        for node in &nodes {
            if node.parent != NONE {
                count[node.parent as usize + 1] += 1;
            }
        }
        for i in 1..count.len() {
            count[i] += count[i - 1];
        }
        let start = count.clone();
        let mut children = vec![0u32; start[nodes.len()] as usize];
        let mut roots = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            if node.parent == NONE {
                roots.push(i as u32);
            } else {
                let slot = &mut count[node.parent as usize];
                children[*slot as usize] = i as u32;
                *slot += 1;
            }
        }
        roots.sort_unstable_by_key(|&r| nodes[r as usize].offset);
        DeltaTree {
            nodes,
            start,
            children,
            roots,
            external,
        }
    }

    fn children(&self, node: u32) -> &[u32] {
        let i = node as usize;
        &self.children[self.start[i] as usize..self.start[i + 1] as usize]
    }
}

struct Walker<'a> {
    pack: &'a Pack,
    tree: &'a DeltaTree,
    wanted: &'a [Wanted],
    max_size: u64,
    held_cap: usize,
    sink: &'a dyn Sink,
    held: AtomicUsize,
    handled: Vec<AtomicBool>,
    left: Mutex<Vec<Wanted>>,
}

impl<'a> Walker<'a> {
    /// Decode `root`'s subtree depth first, splitting across threads at
    /// branches until [`MAX_NESTING`].
    fn walk(&'a self, root: u32, base: Base<'a>, nesting: u32) {
        let mut stack = vec![(root, base)];
        while let Some((node, base)) = stack.pop() {
            let kids = self.tree.children(node);
            let Some(object) = self.decode_node(node, base, !kids.is_empty()) else {
                continue;
            };
            match kids {
                [] => {}
                [only] => stack.push((*only, Base::Owned(object))),
                _ => {
                    let shared = self.share(node, object);
                    if nesting < MAX_NESTING {
                        kids.par_iter()
                            .for_each(|kid| self.walk(*kid, shared.again(), nesting + 1));
                    } else {
                        stack.extend(kids.iter().rev().map(|kid| (*kid, shared.again())));
                    }
                }
            }
        }
    }

    /// Keep `object` for several children, or (over the cap) let each child
    /// decode it again.
    fn share(&'a self, node: u32, object: Object) -> Shared<'a> {
        let len = object.data.len();
        if self.held.fetch_add(len, Ordering::Relaxed) + len > self.held_cap {
            self.held.fetch_sub(len, Ordering::Relaxed);
            return Shared::Redo(node);
        }
        Shared::Held(Arc::new(Held {
            object,
            budget: &self.held,
        }))
    }

    /// Decode `node` on `base`, give it to the sink if wanted, and return it
    /// if its children need it. On failure, its wanted blobs and those below
    /// it are left for libgit2.
    fn decode_node(&self, node: u32, base: Base<'_>, has_children: bool) -> Option<Object> {
        let wanted = self.tree.nodes[node as usize].wanted;
        // A wanted leaf over the size limit is not decoded at all.
        let limit = (!has_children && wanted != NONE).then_some(self.max_size);
        let object = match self.decode(node, base, limit) {
            Decoded::Object(o) => o,
            Decoded::TooLarge(kind, size) => {
                if kind == ObjectType::Blob {
                    self.handled[wanted as usize].store(true, Ordering::Relaxed);
                    self.sink.too_large(&self.wanted[wanted as usize], size);
                } else {
                    self.leave(node);
                }
                return None;
            }
            Decoded::Failed => {
                self.leave(node);
                return None;
            }
        };
        if wanted != NONE {
            if object.kind != ObjectType::Blob {
                self.left_one(wanted);
            } else {
                self.handled[wanted as usize].store(true, Ordering::Relaxed);
                let w = &self.wanted[wanted as usize];
                if object.data.len() as u64 > self.max_size {
                    self.sink.too_large(w, object.data.len() as u64);
                } else {
                    self.sink.blob(w, &object.data);
                }
            }
        }
        has_children.then_some(object)
    }

    /// Decode one node given its base. With a `limit`, an object known to be
    /// larger (and its type known) is reported as such, not decoded.
    fn decode(&self, node: u32, base: Base<'_>, limit: Option<u64>) -> Decoded {
        let offset = self.tree.nodes[node as usize].offset;
        let Ok(entry) = self.pack.entry(offset) else {
            return Decoded::Failed;
        };
        let whole = match entry.kind {
            EntryKind::Commit => Some(ObjectType::Commit),
            EntryKind::Tree => Some(ObjectType::Tree),
            EntryKind::Blob => Some(ObjectType::Blob),
            EntryKind::Tag => Some(ObjectType::Tag),
            EntryKind::OfsDelta { .. } | EntryKind::RefDelta { .. } => None,
        };
        if let Some(kind) = whole {
            if limit.is_some_and(|l| entry.size > l) {
                return Decoded::TooLarge(kind, entry.size);
            }
            return match self.pack.inflate(offset, &entry) {
                Ok(data) => Decoded::Object(Object { kind, data }),
                Err(_) => Decoded::Failed,
            };
        }
        let Ok(delta) = self.pack.inflate(offset, &entry) else {
            return Decoded::Failed;
        };
        let Ok(head) = delta::header(&delta) else {
            return Decoded::Failed;
        };
        let known = match &base {
            Base::Owned(o) => Some(o.kind),
            Base::Shared(h) => Some(h.object.kind),
            Base::Root | Base::Redo(_) => None,
        };
        if let (Some(kind), Some(l)) = (known, limit) {
            if head.result_size > l {
                return Decoded::TooLarge(kind, head.result_size);
            }
        }
        let mut out = Vec::new();
        let applied = match base {
            Base::Owned(o) => delta::apply(&o.data, &delta, &mut out).map(|()| o.kind),
            Base::Shared(h) => {
                delta::apply(&h.object.data, &delta, &mut out).map(|()| h.object.kind)
            }
            Base::Redo(parent) => match self.redo(parent) {
                Some(o) => delta::apply(&o.data, &delta, &mut out).map(|()| o.kind),
                None => return Decoded::Failed,
            },
            Base::Root => {
                let read = self
                    .tree
                    .external
                    .get(&node)
                    .and_then(|oid| self.sink.read(*oid));
                match read {
                    Some((kind, data)) => delta::apply(&data, &delta, &mut out).map(|()| kind),
                    None => return Decoded::Failed,
                }
            }
        };
        match applied {
            Ok(kind) => Decoded::Object(Object { kind, data: out }),
            Err(_) => Decoded::Failed,
        }
    }

    /// Decode `node` again from its root, one object held at a time.
    fn redo(&self, node: u32) -> Option<Object> {
        let mut chain = vec![node];
        let mut at = node;
        while self.tree.nodes[at as usize].parent != NONE {
            at = self.tree.nodes[at as usize].parent;
            chain.push(at);
            if chain.len() > self.tree.nodes.len() {
                return None;
            }
        }
        let mut object: Option<Object> = None;
        for n in chain.into_iter().rev() {
            let base = match object.take() {
                Some(o) => Base::Owned(o),
                None => Base::Root,
            };
            match self.decode(n, base, None) {
                Decoded::Object(o) => object = Some(o),
                Decoded::TooLarge(..) | Decoded::Failed => return None,
            }
        }
        object
    }

    /// Leave `node`'s wanted blob and every wanted blob below it to libgit2.
    fn leave(&self, node: u32) {
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            let wanted = self.tree.nodes[n as usize].wanted;
            if wanted != NONE {
                self.left_one(wanted);
            }
            stack.extend_from_slice(self.tree.children(n));
        }
    }

    /// Leave one wanted blob to libgit2 (once).
    fn left_one(&self, wanted: u32) {
        if self.handled[wanted as usize].swap(true, Ordering::Relaxed) {
            return;
        }
        self.left
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.wanted[wanted as usize]);
    }
}

/// A base handed to several children.
enum Shared<'a> {
    Held(Arc<Held<'a>>),
    Redo(u32),
}

impl<'a> Shared<'a> {
    /// The base for the next child.
    fn again(&self) -> Base<'a> {
        match self {
            Shared::Held(h) => Base::Shared(Arc::clone(h)),
            Shared::Redo(n) => Base::Redo(*n),
        }
    }
}

/// Where the workers read objects the packs cannot give.
pub(crate) fn read_via(workers: &Workers, oid: Oid) -> Option<(ObjectType, Vec<u8>)> {
    workers
        .with(|slot| {
            let odb = slot.repo.odb().ok()?;
            let object = odb.read(oid).ok()?;
            Some((object.kind(), object.data().to_vec()))
        })
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::Path;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
        let out = Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=a", "-c", "user.email=a@b"])
            .args(args)
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Records what the walk hands over.
    #[derive(Default)]
    struct Record {
        blobs: Mutex<HashMap<Oid, Vec<u8>>>,
        delivered: AtomicUsize,
        too_large: Mutex<Vec<(Oid, u64)>>,
        external: HashMap<Oid, Vec<u8>>,
    }

    impl Sink for Record {
        fn blob(&self, wanted: &Wanted, data: &[u8]) {
            self.delivered.fetch_add(1, Ordering::Relaxed);
            self.blobs
                .lock()
                .expect("lock")
                .insert(wanted.oid, data.to_vec());
        }
        fn too_large(&self, wanted: &Wanted, size: u64) {
            self.too_large
                .lock()
                .expect("lock")
                .push((wanted.oid, size));
        }
        fn read(&self, oid: Oid) -> Option<(ObjectType, Vec<u8>)> {
            self.external
                .get(&oid)
                .map(|d| (ObjectType::Blob, d.clone()))
        }
    }

    /// A history where every commit rewrites a little of each of 6 files,
    /// packed with long delta chains as a server does.
    fn chained_repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path();
        git(repo, &["init", "-q"]);
        let mut bodies: Vec<Vec<String>> = (0..6)
            .map(|f| {
                (0..120)
                    .map(|l| format!("file {f} line {l} of generated code"))
                    .collect()
            })
            .collect();
        for c in 0..60 {
            for (f, body) in bodies.iter_mut().enumerate() {
                body[(c * 7 + f) % 120] = format!("release {c} changed file {f}");
                if c % 9 == f {
                    body.push(format!("appended in {c}"));
                }
                std::fs::write(repo.join(format!("f{f}.txt")), body.join("\n")).expect("write");
            }
            git(repo, &["add", "-A"]);
            git(repo, &["commit", "-q", "-m", &format!("c{c}")]);
        }
        git(
            repo,
            &["repack", "-adf", "-q", "--depth=50", "--window=250"],
        );
        dir
    }

    /// Every blob of the repository, with its pack position.
    fn wanted_blobs(repo: &Path, index: &PackIndex) -> Vec<Wanted> {
        let listing = git(
            repo,
            &[
                "cat-file",
                "--batch-all-objects",
                "--batch-check=%(objectname) %(objecttype)",
            ],
        );
        let mut wanted: Vec<Wanted> = String::from_utf8_lossy(&listing)
            .lines()
            .filter_map(|l| l.strip_suffix(" blob"))
            .map(|oid| {
                let oid = Oid::from_str(oid).expect("oid");
                let (pack, offset) = index.position(&oid).expect("packed");
                Wanted {
                    pack,
                    offset,
                    oid,
                    path: 0,
                }
            })
            .collect();
        wanted.sort_by_key(|w| (w.pack, w.offset));
        wanted
    }

    fn pool() -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .expect("pool")
    }

    fn assert_contents(repo: &Path, record: &Record, wanted: &[Wanted]) {
        let blobs = record.blobs.lock().expect("lock");
        for w in wanted {
            let want = git(repo, &["cat-file", "blob", &w.oid.to_string()]);
            assert_eq!(blobs.get(&w.oid), Some(&want), "blob {}", w.oid);
        }
    }

    #[test]
    fn decodes_every_blob_of_a_deltified_pack_once() {
        let dir = chained_repo();
        let repo = dir.path();
        let index = PackIndex::load(&repo.join(".git"));
        let wanted = wanted_blobs(repo, &index);
        assert!(wanted.len() > 300, "{} blobs", wanted.len());
        let listing = String::from_utf8_lossy(&git(repo, &["verify-pack", "-v", &pack_idx(repo)]))
            .into_owned();
        let deltas = listing
            .lines()
            .filter(|l| l.contains(" blob ") && l.split_whitespace().count() == 7)
            .count();
        assert!(
            deltas > 200,
            "only {deltas} deltified blobs: the test needs chains"
        );
        for cap in [HELD_CAP, 0] {
            // cap 0: every shared base is decoded again from its chain
            let record = Record::default();
            let left = walk(&index, &wanted, u64::MAX, cap, &pool(), &record);
            assert!(left.is_empty(), "{} left to libgit2", left.len());
            assert_eq!(record.delivered.load(Ordering::Relaxed), wanted.len());
            assert_contents(repo, &record, &wanted);
        }
    }

    #[test]
    fn oversized_blobs_are_reported_with_their_size_and_still_serve_as_bases() {
        let dir = chained_repo();
        let repo = dir.path();
        let index = PackIndex::load(&repo.join(".git"));
        let wanted = wanted_blobs(repo, &index);
        let limit = 3400;
        let record = Record::default();
        let left = walk(&index, &wanted, limit, HELD_CAP, &pool(), &record);
        assert!(left.is_empty());
        let too_large = record.too_large.lock().expect("lock").clone();
        assert!(!too_large.is_empty());
        for (oid, size) in &too_large {
            let real = git(repo, &["cat-file", "-s", &oid.to_string()]);
            assert_eq!(String::from_utf8_lossy(&real).trim(), size.to_string());
            assert!(*size > limit);
        }
        let small: Vec<Wanted> = wanted
            .iter()
            .filter(|w| !too_large.iter().any(|(o, _)| *o == w.oid))
            .copied()
            .collect();
        assert_eq!(small.len() + too_large.len(), wanted.len());
        assert_contents(repo, &record, &small);
    }

    fn pack_idx(repo: &Path) -> String {
        let dir = repo.join(".git/objects/pack");
        let idx = std::fs::read_dir(&dir)
            .expect("pack dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "idx"))
            .expect("an idx");
        idx.to_string_lossy().into_owned()
    }

    #[test]
    fn a_damaged_base_leaves_its_whole_subtree_to_libgit2() {
        let dir = chained_repo();
        let repo = dir.path();
        let idx = pack_idx(repo);
        let listing =
            String::from_utf8_lossy(&git(repo, &["verify-pack", "-v", &idx])).into_owned();
        // A blob that other blobs are deltas of: `oid type size packed offset`
        // lines have no base; count how many lines name each oid as base.
        let mut children: HashMap<String, usize> = HashMap::new();
        for l in listing.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() == 7 && f[1] == "blob" {
                *children.entry(f[6].to_string()).or_default() += 1;
            }
        }
        let (victim, offset) = listing
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| {
                f.len() == 5 && f[1] == "blob" && children.get(f[0]).copied().unwrap_or(0) > 0
            })
            .map(|f| (f[0].to_string(), f[4].parse::<u64>().expect("offset")))
            .next()
            .expect("a base blob");
        let pack = idx.replace(".idx", ".pack");
        let mut bytes = std::fs::read(&pack).expect("read pack");
        // Past the 2-3 byte entry header and the zlib header: damage the stream.
        for b in &mut bytes[offset as usize + 6..offset as usize + 14] {
            *b ^= 0x5a;
        }
        let mut perms = std::fs::metadata(&pack).expect("meta").permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&pack, perms).expect("chmod");
        std::fs::write(&pack, &bytes).expect("write pack");
        let index = PackIndex::load(&repo.join(".git"));
        let wanted = wanted_blobs(repo, &index);
        let record = Record::default();
        let left = walk(&index, &wanted, u64::MAX, HELD_CAP, &pool(), &record);
        let victim = Oid::from_str(&victim).expect("oid");
        assert!(
            left.iter().any(|w| w.oid == victim),
            "the damaged base is left to libgit2"
        );
        assert!(left.len() > 1, "its deltas go with it");
        let delivered = record.delivered.load(Ordering::Relaxed);
        assert_eq!(
            delivered + left.len(),
            wanted.len(),
            "nothing lost, nothing twice"
        );
        let good: Vec<Wanted> = wanted
            .iter()
            .filter(|w| !left.iter().any(|l| l.oid == w.oid))
            .copied()
            .collect();
        assert_contents(repo, &record, &good);
    }

    #[test]
    fn a_delta_on_a_base_outside_the_pack_reads_the_base_through_the_sink() {
        use std::io::Write;
        let base = b"the base object, held loose or in another pack\n".repeat(2);
        let base_oid = Oid::hash_object(ObjectType::Blob, &base).expect("hash");
        // delta: base size, result size, copy the first 16 bytes, insert "!\n"
        let delta = vec![base.len() as u8, 18, 0x80 | 0x10, 16, 2, b'!', b'\n'];
        assert!(base.len() < 128);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&delta).expect("deflate");
        let deflated = z.finish().expect("deflate");
        let mut pack = b"PACK".to_vec();
        pack.extend(2u32.to_be_bytes());
        pack.extend(1u32.to_be_bytes());
        pack.push((7 << 4) | (delta.len() as u8 & 15));
        pack.extend(base_oid.as_bytes());
        pack.extend(deflated);
        pack.extend([0u8; 20]);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pack-test.pack");
        std::fs::write(&path, &pack).expect("write");
        let index = PackIndex::without_entries(&[path]);
        let result_oid = Oid::hash_object(ObjectType::Blob, &base[..16]).expect("hash");
        let wanted = [Wanted {
            pack: 0,
            offset: 12,
            oid: result_oid,
            path: 0,
        }];
        let mut record = Record::default();
        // Unknown base: left to libgit2.
        let left = walk(&index, &wanted, u64::MAX, HELD_CAP, &pool(), &record);
        assert_eq!(left.len(), 1);
        record.external.insert(base_oid, base.clone());
        let left = walk(&index, &wanted, u64::MAX, HELD_CAP, &pool(), &record);
        assert!(left.is_empty());
        let mut want = base[..16].to_vec();
        want.extend(b"!\n");
        assert_eq!(
            record.blobs.lock().expect("lock").get(&result_oid),
            Some(&want)
        );
    }
}
