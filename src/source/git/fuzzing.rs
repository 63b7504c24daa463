//! Entry points for the cargo-fuzz targets in `fuzz/` (`pack`, `delta`):
//! the pack reader and the delta resolver are crate-private, so these hand
//! them arbitrary bytes through the same calls a history scan makes. Not
//! part of the interface.

use std::path::Path;
use std::sync::OnceLock;

use git2::{ObjectType, Oid};

use super::delta;
use super::packorder::PackIndex;
use super::packwalk::{self, Sink, Wanted};

/// What a walk handed over: blobs decoded, blobs over the size limit, and
/// blobs left for libgit2.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Walked {
    pub blobs: usize,
    pub too_large: usize,
    pub left: usize,
}

/// Counts what the walk delivers; answers every ref-delta base outside the
/// pack with `external` (as a blob), or with nothing when it is empty.
struct Counting<'a> {
    blobs: std::sync::atomic::AtomicUsize,
    too_large: std::sync::atomic::AtomicUsize,
    external: &'a [u8],
}

impl Sink for Counting<'_> {
    fn blob(&self, wanted: &Wanted, data: &[u8]) {
        assert!(wanted.offset >= 12, "a blob before the pack header");
        std::hint::black_box(data);
        self.blobs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    fn too_large(&self, _: &Wanted, _: u64) {
        self.too_large
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    fn read(&self, _: Oid) -> Option<(ObjectType, Vec<u8>)> {
        (!self.external.is_empty()).then(|| (ObjectType::Blob, self.external.to_vec()))
    }
}

/// Walk the pack file at `path` as a history scan does, wanting a blob at
/// each of `offsets` (any values: sorted and deduplicated here), with
/// blobs over `max_size` bytes reported rather than decoded and shared
/// bases held up to `held_cap` bytes. One worker thread.
pub fn walk_pack(
    path: &Path,
    offsets: &[u64],
    external: &[u8],
    max_size: u64,
    held_cap: usize,
) -> Walked {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    let Some(pool) = POOL
        .get_or_init(|| rayon::ThreadPoolBuilder::new().num_threads(1).build().ok())
        .as_ref()
    else {
        return Walked::default();
    };
    let mut offsets = offsets.to_vec();
    offsets.sort_unstable();
    offsets.dedup();
    let wanted: Vec<Wanted> = offsets
        .iter()
        .enumerate()
        .map(|(i, &offset)| {
            let mut id = [0u8; 20];
            id[..8].copy_from_slice(&(i as u64).to_be_bytes());
            Wanted {
                pack: 0,
                offset,
                oid: Oid::from_bytes(&id).unwrap_or_else(|_| Oid::zero()),
                path: 0,
            }
        })
        .collect();
    let index = PackIndex::without_entries(&[path.to_path_buf()]);
    let sink = Counting {
        blobs: Default::default(),
        too_large: Default::default(),
        external,
    };
    let left = packwalk::walk(&index, &wanted, max_size, held_cap, pool, &sink);
    Walked {
        blobs: sink.blobs.into_inner(),
        too_large: sink.too_large.into_inner(),
        left: left.len(),
    }
}

/// Apply `delta` to `base` as the pack walk does: the result, or why not.
pub fn apply_delta(base: &[u8], delta: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    delta::apply(base, delta, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=a", "-c", "user.email=a@b"])
            .args(args)
            .output()
            .expect("run git");
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn a_real_pack_whole_then_truncated_accounts_for_every_blob() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path();
        git(repo, &["init", "-q"]);
        for round in 0..3 {
            for f in 0..4 {
                let body: String = (0..200)
                    .map(|l| {
                        format!(
                            "file {f} line {l} round {}\n",
                            if l == f { round } else { 0 }
                        )
                    })
                    .collect();
                std::fs::write(repo.join(format!("f{f}.txt")), body).expect("write");
            }
            git(repo, &["add", "-A"]);
            git(repo, &["commit", "-qm", &format!("c{round}")]);
        }
        git(repo, &["repack", "-adf", "-q"]);
        let idx = git(repo, &["rev-parse", "--git-path", "objects/pack"]);
        let packs: Vec<_> = std::fs::read_dir(repo.join(idx.trim()))
            .expect("pack dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "pack"))
            .collect();
        let pack = &packs[0];
        let listing = git(
            repo,
            &[
                "verify-pack",
                "-v",
                &pack.with_extension("idx").display().to_string(),
            ],
        );
        let offsets: Vec<u64> = listing
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some("blob"))
            .filter_map(|l| l.split_whitespace().nth(4)?.parse().ok())
            .collect();
        assert_eq!(offsets.len(), 12);
        let whole = walk_pack(pack, &offsets, &[], 1 << 20, 1 << 20);
        assert_eq!(whole.blobs, 12, "{whole:?}");
        // Cut in half: whatever cannot be decoded is left, nothing is lost.
        let bytes = std::fs::read(pack).expect("read");
        let cut = dir.path().join("cut.pack");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
        let walked = walk_pack(&cut, &offsets, &[], 1 << 20, 0);
        assert_eq!(
            walked.blobs + walked.too_large + walked.left,
            12,
            "{walked:?}"
        );
        assert!(walked.left > 0, "{walked:?}");
    }
}
