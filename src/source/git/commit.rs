//! Commits and ref tips as the history walk needs them: a commit's tree and
//! parents parsed from its raw bytes (one object read, no libgit2 commit
//! object), and the starting points of a scan: every ref, HEAD, and every
//! stash in the stash reflog (`refs/stash` names only the newest one).

use git2::{ObjectType, Odb, Oid, Repository};

use super::oidset::LocalOidSet;

/// The parts of a commit the walk follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitInfo {
    pub tree: Oid,
    pub parents: Vec<Oid>,
    /// Committer time (seconds since the epoch; 0 when unreadable): orders
    /// independent lines of history oldest first.
    pub time: i64,
}

/// Parse the header of a raw commit object.
pub(crate) fn parse(data: &[u8]) -> Option<CommitInfo> {
    let mut tree = None;
    let mut parents = Vec::new();
    let mut time = 0;
    for line in data.split(|b| *b == b'\n') {
        if line.is_empty() {
            break; // end of headers
        }
        if let Some(hex) = line.strip_prefix(b"tree ") {
            tree = Some(oid_of(hex)?);
        } else if let Some(hex) = line.strip_prefix(b"parent ") {
            parents.push(oid_of(hex)?);
        } else if let Some(who) = line.strip_prefix(b"committer ") {
            time = committer_time(who).unwrap_or(0);
            break; // nothing more to follow
        }
    }
    Some(CommitInfo {
        tree: tree?,
        parents,
        time,
    })
}

/// The seconds of `Name <email> 1700000000 +0000`.
fn committer_time(who: &[u8]) -> Option<i64> {
    let close = who.iter().rposition(|b| *b == b'>')?;
    let rest = std::str::from_utf8(&who[close + 1..]).ok()?;
    rest.split_whitespace().next()?.parse().ok()
}

fn oid_of(hex: &[u8]) -> Option<Oid> {
    Oid::from_str(std::str::from_utf8(hex).ok()?).ok()
}

/// Read and parse commit `oid`.
pub(crate) fn read(odb: &Odb<'_>, oid: Oid) -> Result<CommitInfo, String> {
    let object = odb
        .read(oid)
        .map_err(|e| format!("cannot read commit {oid}: {}", e.message()))?;
    if object.kind() != ObjectType::Commit {
        return Err(format!("object {oid} is a {}, not a commit", object.kind()));
    }
    parse(object.data()).ok_or_else(|| format!("commit {oid} is malformed"))
}

/// A place history is reachable from.
#[derive(Debug, Clone)]
pub(crate) struct Tip {
    /// `refs/heads/main`, `HEAD`, `stash@{2}`, …
    pub name: String,
    /// The object the ref peels to (tags are followed).
    pub oid: Oid,
    pub kind: ObjectType,
}

/// Every ref, HEAD, and the stash reflog, peeled. Refs that cannot be read are
/// reported through `error` and left out.
pub(crate) fn tips(repo: &Repository, error: &dyn Fn(&str, String)) -> Vec<Tip> {
    let mut tips = Vec::new();
    match repo.references() {
        Err(e) => error("refs", format!("cannot list refs: {}", e.message())),
        Ok(refs) => {
            for r in refs {
                let r = match r {
                    Ok(r) => r,
                    Err(e) => {
                        error("refs", format!("cannot read a ref: {}", e.message()));
                        continue;
                    }
                };
                let name = String::from_utf8_lossy(r.name_bytes()).into_owned();
                match r.peel(ObjectType::Any) {
                    Ok(obj) => tips.push(Tip {
                        name,
                        oid: obj.id(),
                        kind: obj.kind().unwrap_or(ObjectType::Any),
                    }),
                    Err(e) => error(&name, format!("cannot resolve ref: {}", e.message())),
                }
            }
        }
    }
    // A detached HEAD may name a commit no ref reaches.
    if let Ok(head) = repo.head() {
        if let Ok(obj) = head.peel(ObjectType::Any) {
            tips.push(Tip {
                name: "HEAD".into(),
                oid: obj.id(),
                kind: obj.kind().unwrap_or(ObjectType::Any),
            });
        }
    }
    if let Ok(reflog) = repo.reflog("refs/stash") {
        for (i, entry) in reflog.iter().enumerate().skip(1) {
            tips.push(Tip {
                name: format!("stash@{{{i}}}"),
                oid: entry.id_new(),
                kind: ObjectType::Commit,
            });
        }
    }
    tips
}

/// Commits at the cut of a shallow clone: their parents are not in the
/// repository, by design, so the walk stops there instead of reporting them missing.
pub(crate) fn shallow_boundary(repo: &Repository) -> LocalOidSet {
    let Ok(text) = std::fs::read_to_string(repo.path().join("shallow")) else {
        return LocalOidSet::default();
    };
    text.lines()
        .filter_map(|l| Oid::from_str(l.trim()).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tree_and_parents() {
        let raw = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
parent 8ab686eafeb1f44702738c8b0f24f2567c36da6d\n\
parent e69de29bb2d1d6434b8b29ae775ad8c2e48c5391\n\
author A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\nparent 0000000000000000000000000000000000000000\n";
        let info = parse(raw).unwrap();
        assert_eq!(
            info.tree.to_string(),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
        assert_eq!(info.parents.len(), 2);
        assert_eq!(info.time, 1);
        assert!(parse(b"author A <a@x> 1 +0000\n").is_none());
        assert!(parse(b"tree nothex\n").is_none());
    }
}
