//! Attribution: for each blob that had findings (and only those), the commit
//! that first introduced it, its author and date, the path there, whether the
//! blob is still at HEAD, and which refs reach that commit.
//!
//! Commits are visited oldest first in topological order (parents before
//! children, independent lines by committer time), each tree at most once:
//! the first commit whose tree holds a blob is then the one that introduced
//! it, and a tree met before cannot hold anything not already placed. Runs
//! of commits are walked in parallel and the earliest commit wins. The commit graph is the one
//! the history walk already read; which refs reach each introducing commit
//! is one more pass over it ([`reach`]), whatever the number of refs.

use std::collections::HashMap;

use git2::{ObjectType, Odb, Oid, Repository};
use rayon::prelude::*;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use super::commit::{self, Tip};
use super::oidset::{LocalOidSet, OidBuild};
use super::reach::{self, CommitGraph};
use super::scan::join;
use super::tree::{self, Kind};
use super::treecache::TreeCache;
use super::workers::Workers;
use crate::refs::RefSet;

/// Where a blob with findings came from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    pub path: String,
    pub commit: Option<String>,
    pub author: Option<String>,
    pub date: Option<String>,
    pub at_head: Option<bool>,
    /// Shared by every blob the same commit introduced: on a mirror with
    /// thousands of pull-request refs the list is long.
    pub refs: RefSet,
}

pub(crate) type Attribution = HashMap<Oid, Origin, OidBuild>;

/// A blob's first appearance: the commit (none for a tree or blob a ref names
/// directly) and its path there.
pub(crate) type FirstSeen = HashMap<Oid, (Option<Oid>, String), OidBuild>;

/// Fewest commits worth a task of their own: each task walks one full
/// snapshot before its seen-set prunes, so tasks are few and long.
const MIN_COMMITS_PER_TASK: usize = 512;

/// Attribute `targets` over the whole history reachable from `tips`.
///
/// The commits (oldest first) are split into contiguous runs walked in
/// parallel, each with its own seen-set, and for each blob the earliest
/// commit wins. That is exactly the sequential answer: a tree that an earlier
/// run saw and this run did not cannot hold a blob first introduced here, so
/// walking it again finds nothing new, and within the introducing commit the
/// same entries are walked in the same order.
pub(crate) fn full_history(
    repo: &Repository,
    tips: &[Tip],
    targets: &LocalOidSet,
    graph: &CommitGraph,
    workers: &Workers,
    cache: &TreeCache,
) -> Attribution {
    let Ok(odb) = repo.odb() else {
        return Attribution::default();
    };
    let order = graph.oldest_first();
    // One run per thread: every run after the first re-walks one snapshot.
    let per_task = order
        .len()
        .div_ceil(workers.pool.current_num_threads().max(1))
        .max(MIN_COMMITS_PER_TASK);
    let runs: Vec<FirstAt> = workers.pool.install(|| {
        order
            .par_chunks(per_task)
            .enumerate()
            .filter_map(|(i, run)| {
                workers
                    .with(|slot| {
                        let odb = slot.repo.odb().ok()?;
                        Some(first_in(&odb, Some(cache), run, i * per_task, targets))
                    })
                    .ok()
                    .flatten()
            })
            .collect()
    });
    let mut earliest: FirstAt = HashMap::default();
    for run in runs {
        for (blob, (at, path)) in run {
            match earliest.entry(blob) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert((at, path));
                }
                std::collections::hash_map::Entry::Occupied(mut o) if at < o.get().0 => {
                    o.insert((at, path));
                }
                std::collections::hash_map::Entry::Occupied(_) => {}
            }
        }
    }
    let mut first: FirstSeen = earliest
        .into_iter()
        .map(|(blob, (at, path))| (blob, (Some(order[at].0), path)))
        .collect();
    let mut seen = LocalOidSet::default();
    // Trees and blobs that a ref names directly, outside any commit.
    for tip in tips {
        match tip.kind {
            ObjectType::Tree if seen.insert(tip.oid) => {
                locate(
                    &odb,
                    Some(cache),
                    tip.oid,
                    "",
                    targets,
                    &mut seen,
                    &mut |blob, path| {
                        first.entry(blob).or_insert((None, path));
                    },
                );
            }
            ObjectType::Blob if targets.contains(&tip.oid) => {
                first.entry(tip.oid).or_insert((None, tip.name.clone()));
            }
            _ => {}
        }
    }
    let head = repo
        .head()
        .ok()
        .and_then(|h| h.peel(ObjectType::Commit).ok())
        .map(|c| c.id());
    describe(repo, tips, &first, head, Some(graph), Some(cache))
}

/// For each target blob, the position in `run` (offset by `base`) of the
/// first commit whose tree holds it, and its path there.
type FirstAt = HashMap<Oid, (usize, String), OidBuild>;

fn first_in(
    odb: &Odb<'_>,
    cache: Option<&TreeCache>,
    run: &[(Oid, Oid)],
    base: usize,
    targets: &LocalOidSet,
) -> FirstAt {
    let mut found = FirstAt::default();
    let mut seen = LocalOidSet::default();
    for (k, (_, tree)) in run.iter().enumerate() {
        if seen.insert(*tree) {
            locate(
                odb,
                cache,
                *tree,
                "",
                targets,
                &mut seen,
                &mut |blob, path| {
                    found.entry(blob).or_insert((base + k, path));
                },
            );
        }
        if found.len() == targets.len() {
            break;
        }
    }
    found
}

/// Call `found` for each target blob under tree `oid`, skipping trees in `seen`.
fn locate(
    odb: &Odb<'_>,
    cache: Option<&TreeCache>,
    oid: Oid,
    prefix: &str,
    targets: &LocalOidSet,
    seen: &mut LocalOidSet,
    found: &mut dyn FnMut(Oid, String),
) {
    let kept;
    let object;
    let data: &[u8] = match cache.and_then(|c| c.get(&oid)) {
        Some(bytes) => {
            kept = bytes;
            &kept
        }
        None => match odb.read(oid) {
            Ok(o) => {
                object = o;
                object.data()
            }
            Err(_) => return, // unreadable trees were reported by the scan
        },
    };
    for entry in tree::entries(data).map_while(Result::ok) {
        match entry.kind {
            Kind::Tree => {
                if seen.insert(entry.oid) {
                    let mut path = join(prefix, entry.name);
                    path.push('/');
                    locate(odb, cache, entry.oid, &path, targets, seen, found);
                }
            }
            Kind::Blob | Kind::Symlink => {
                if targets.contains(&entry.oid) {
                    found(entry.oid, join(prefix, entry.name));
                }
            }
            Kind::Gitlink => {}
        }
    }
}

/// Turn first appearances into full origins: author, date, refs, at_head.
/// `head` is the commit "still present" is judged against; `graph` the
/// commit graph when the caller already read it (else it is read here, and
/// only when some blob was introduced by a commit).
pub(crate) fn describe(
    repo: &Repository,
    tips: &[Tip],
    first: &FirstSeen,
    head: Option<Oid>,
    graph: Option<&CommitGraph>,
    cache: Option<&TreeCache>,
) -> Attribution {
    let targets: LocalOidSet = first.keys().copied().collect();
    let mut at_head = LocalOidSet::default();
    if let (Some(head), Ok(odb)) = (head, repo.odb()) {
        if let Ok(info) = commit::read(&odb, head) {
            let mut seen = LocalOidSet::default();
            locate(
                &odb,
                cache,
                info.tree,
                "",
                &targets,
                &mut seen,
                &mut |blob, _| {
                    at_head.insert(blob);
                },
            );
        }
    }
    let introducing: Vec<Oid> = {
        let mut v: Vec<Oid> = first.values().filter_map(|(c, _)| *c).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let refs = if introducing.is_empty() {
        HashMap::default()
    } else {
        match graph {
            Some(g) => reach::refs_reaching(g, tips, &introducing),
            None => match repo.odb() {
                Ok(odb) => {
                    let g = CommitGraph::walk(&odb, tips, &commit::shallow_boundary(repo));
                    reach::refs_reaching(&g, tips, &introducing)
                }
                Err(_) => HashMap::default(),
            },
        }
    };
    let mut commits: HashMap<Oid, Origin, OidBuild> = HashMap::default();
    let mut out = Attribution::default();
    for (blob, (commit, path)) in first {
        let mut origin = match commit {
            Some(c) => commits
                .entry(*c)
                .or_insert_with(|| commit_origin(repo, *c, refs.get(c).cloned()))
                .clone(),
            None => Origin::default(),
        };
        origin.path = path.clone();
        origin.at_head = Some(at_head.contains(blob));
        out.insert(*blob, origin);
    }
    out
}

fn commit_origin(repo: &Repository, c: Oid, refs: Option<RefSet>) -> Origin {
    let mut origin = Origin {
        commit: Some(c.to_string()),
        refs: refs.unwrap_or_default(),
        ..Origin::default()
    };
    if let Ok(commit) = repo.find_commit(c) {
        let author = commit.author();
        origin.author = Some(format!(
            "{} <{}>",
            String::from_utf8_lossy(author.name_bytes()),
            String::from_utf8_lossy(author.email_bytes())
        ));
        origin.date = rfc3339(author.when());
    }
    origin
}

/// A git timestamp as RFC 3339, in the author's own offset.
pub(crate) fn rfc3339(when: git2::Time) -> Option<String> {
    let offset = UtcOffset::from_whole_seconds(when.offset_minutes().checked_mul(60)?).ok()?;
    OffsetDateTime::from_unix_timestamp(when.seconds())
        .ok()?
        .to_offset(offset)
        .format(&Rfc3339)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_keep_the_author_offset() {
        let t = git2::Time::new(1_700_000_000, 120);
        assert_eq!(rfc3339(t).unwrap(), "2023-11-15T00:13:20+02:00");
        let t = git2::Time::new(0, -300);
        assert_eq!(rfc3339(t).unwrap(), "1969-12-31T19:00:00-05:00");
    }
}
