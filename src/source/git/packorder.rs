//! Where each object sits in the repository's pack files, read from their
//! `.idx` files, so that blobs can be read in pack order.
//!
//! Why: a packed object is usually a delta against a base stored close to it,
//! and libgit2 keeps recently inflated bases in a small cache. Reading blobs
//! in the order a tree walk meets them jumps around the pack and inflates the
//! same bases again and again; reading them sorted by pack offset hits the
//! cache. (`git cat-file --batch-all-objects --unordered`, which reads in pack
//! order, is twice as fast as its default object-id order for the same reason.)
//!
//! The order is only an optimisation: objects are still read through
//! libgit2, so an index this module cannot parse (version 1, damaged, or a
//! pack reached some other way) only leaves those objects in discovery order.

use std::fs;
use std::path::{Path, PathBuf};

use git2::Oid;

const OID_LEN: usize = 20;
const FANOUT: usize = 256 * 4;
const HEADER: usize = 8;
const MAGIC: [u8; 4] = [0xff, b't', b'O', b'c'];

/// A pack position: which pack (in the order they were loaded) and where in it.
pub(crate) type PackPos = (u32, u64);

/// The version-2 `.idx` files of a repository (and of its alternates).
#[derive(Default)]
pub(crate) struct PackIndex {
    packs: Vec<Idx>,
}

struct Idx {
    data: Vec<u8>,
    count: usize,
    /// The `.pack` file this index describes.
    pack: PathBuf,
}

impl PackIndex {
    /// Load `objects/pack/*.idx` of `git_dir` and of the object directories
    /// its `objects/info/alternates` names. Unreadable files are passed over.
    pub fn load(git_dir: &Path) -> Self {
        let objects = git_dir.join("objects");
        let mut dirs = vec![objects.clone()];
        if let Ok(text) = fs::read_to_string(objects.join("info").join("alternates")) {
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let path = PathBuf::from(line);
                dirs.push(if path.is_relative() {
                    objects.join(path)
                } else {
                    path
                });
            }
        }
        let mut packs = Vec::new();
        for dir in dirs {
            let Ok(entries) = fs::read_dir(dir.join("pack")) else {
                continue;
            };
            let mut names: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "idx"))
                .collect();
            names.sort();
            packs.extend(names.iter().filter_map(|p| {
                let mut idx = Idx::parse(fs::read(p).ok()?)?;
                idx.pack = p.with_extension("pack");
                Some(idx)
            }));
        }
        PackIndex { packs }
    }

    /// Where `oid` is stored, if it is in a pack this index knows.
    pub fn position(&self, oid: &Oid) -> Option<PackPos> {
        self.packs
            .iter()
            .enumerate()
            .find_map(|(i, idx)| idx.offset(oid.as_bytes()).map(|o| (i as u32, o)))
    }

    /// Packs whose indexes hold nothing (tests and fuzzing of the pack
    /// walk: every ref-delta base is then outside the pack).
    pub fn without_entries(packs: &[PathBuf]) -> Self {
        let packs = packs
            .iter()
            .map(|p| Idx {
                data: Vec::new(),
                count: 0,
                pack: p.clone(),
            })
            .collect();
        PackIndex { packs }
    }

    /// The pack file of pack `pack` (as numbered by [`position`](Self::position)).
    pub fn pack_path(&self, pack: u32) -> Option<PathBuf> {
        self.packs.get(pack as usize).map(|idx| idx.pack.clone())
    }

    /// Where `oid` sits in pack `pack`, if that pack holds it.
    pub fn offset_in(&self, pack: u32, oid: &Oid) -> Option<u64> {
        self.packs.get(pack as usize)?.offset(oid.as_bytes())
    }
}

impl Idx {
    /// Accept a version-2 index whose tables fit in the file.
    fn parse(data: Vec<u8>) -> Option<Idx> {
        if data.get(..4)? != MAGIC || be32(&data, 4)? != 2 {
            return None;
        }
        let count = be32(&data, HEADER + FANOUT - 4)? as usize;
        let tables = count.checked_mul(OID_LEN + 4 + 4)?;
        if data.len() < HEADER + FANOUT + tables {
            return None;
        }
        Some(Idx {
            data,
            count,
            pack: PathBuf::new(),
        })
    }

    fn fanout(&self, byte: usize) -> Option<usize> {
        be32(&self.data, HEADER + byte * 4).map(|n| n as usize)
    }

    fn oid_at(&self, i: usize) -> Option<&[u8]> {
        let start = HEADER + FANOUT + i * OID_LEN;
        self.data.get(start..start + OID_LEN)
    }

    fn offset(&self, oid: &[u8]) -> Option<u64> {
        let first = usize::from(*oid.first()?);
        let lo = if first == 0 {
            0
        } else {
            self.fanout(first - 1)?
        };
        let hi = self.fanout(first)?.min(self.count);
        let (mut lo, mut hi) = (lo.min(hi), hi);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.oid_at(mid)?.cmp(oid) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return self.offset_at(mid),
            }
        }
        None
    }

    fn offset_at(&self, i: usize) -> Option<u64> {
        let off32 = HEADER + FANOUT + self.count * (OID_LEN + 4);
        let small = be32(&self.data, off32 + i * 4)?;
        if small & 0x8000_0000 == 0 {
            return Some(u64::from(small));
        }
        let off64 = off32 + self.count * 4;
        let at = off64 + (small & 0x7fff_ffff) as usize * 8;
        let bytes = self.data.get(at..at + 8)?;
        Some(u64::from_be_bytes(bytes.try_into().ok()?))
    }
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at + 4)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("run git");
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn offsets_agree_with_git_verify_pack() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path();
        git(repo, &["init", "-q"]);
        for i in 0..30 {
            fs::write(
                repo.join(format!("f{}.txt", i % 7)),
                format!("line {i}\n").repeat(50),
            )
            .expect("write");
            git(repo, &["add", "-A"]);
            git(
                repo,
                &[
                    "-c",
                    "user.name=a",
                    "-c",
                    "user.email=a@b",
                    "commit",
                    "-q",
                    "-m",
                    &format!("c{i}"),
                ],
            );
        }
        git(repo, &["repack", "-a", "-d", "-q"]);
        let index = PackIndex::load(&repo.join(".git"));
        assert_eq!(index.packs.len(), 1);
        let idx = git(repo, &["rev-parse", "--git-path", "objects/pack"]);
        let pack_dir = repo.join(idx.trim());
        let idx_file = fs::read_dir(&pack_dir)
            .expect("pack dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "idx"))
            .expect("an idx");
        let listing = git(
            repo,
            &["verify-pack", "-v", idx_file.to_str().expect("utf-8")],
        );
        let mut checked = 0;
        for line in listing.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 5 || fields[0].len() != 40 {
                continue;
            }
            let oid = Oid::from_str(fields[0]).expect("oid");
            let offset: u64 = fields[4].parse().expect("offset");
            assert_eq!(index.position(&oid), Some((0, offset)), "{}", fields[0]);
            checked += 1;
        }
        assert!(checked > 60, "only {checked} objects");
        let absent = Oid::from_str("0123456789abcdef0123456789abcdef01234567").expect("oid");
        assert_eq!(index.position(&absent), None);
    }

    #[test]
    fn damaged_indexes_are_refused_not_trusted() {
        assert!(Idx::parse(Vec::new()).is_none());
        assert!(Idx::parse(b"\xfftOc\0\0\0\x01".to_vec()).is_none());
        let mut truncated = MAGIC.to_vec();
        truncated.extend(2u32.to_be_bytes());
        truncated.extend(std::iter::repeat_n(0xffu8, FANOUT));
        assert!(Idx::parse(truncated).is_none());
    }
}
