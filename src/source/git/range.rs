//! The range mode: only blobs that commits in `BASE..HEAD` added or changed
//! (what a pull request brings), each attributed to the oldest commit of the
//! range that introduced it. With no range given, CI variables name it:
//! GitHub Actions' `GITHUB_BASE_REF` (the target branch) and `GITHUB_SHA`,
//! or GitLab's `CI_MERGE_REQUEST_DIFF_BASE_SHA` and `CI_COMMIT_SHA`; on push
//! pipelines, what the push brought ([`super::push`]).

use std::collections::HashMap;

use git2::{ObjectType, Odb, Oid, Repository, Sort};

use super::attribute::{self, FirstSeen};
use super::commit;
use super::open::Opened;
use super::push;
use super::scan::{join, Phase, Scan};
use super::tree::{self, Entry, Kind};
use super::workers::Workers;
use super::{GitError, ModeResult, RangeSpec};

/// CI variables that name a range, read once from the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CiVars {
    pub github_base_ref: Option<String>,
    pub github_sha: Option<String>,
    pub gitlab_diff_base_sha: Option<String>,
    pub gitlab_commit_sha: Option<String>,
    /// `GITHUB_EVENT_NAME`: `push` reads the event file; others name no range.
    pub github_event_name: Option<String>,
    /// `GITHUB_EVENT_PATH`: the event's JSON (`before`, `after`, `ref`).
    pub github_event_path: Option<String>,
    /// `GITHUB_REF`: the pushed ref, when the event file does not say.
    pub github_ref: Option<String>,
    /// `CI_COMMIT_BEFORE_SHA`: the branch's previous commit on a push pipeline.
    pub gitlab_before_sha: Option<String>,
    /// `CI_COMMIT_REF_NAME`: the pushed branch or tag.
    pub gitlab_ref_name: Option<String>,
    /// `CI_DEFAULT_BRANCH`.
    pub gitlab_default_branch: Option<String>,
}

impl CiVars {
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        CiVars {
            github_base_ref: var("GITHUB_BASE_REF"),
            github_sha: var("GITHUB_SHA"),
            gitlab_diff_base_sha: var("CI_MERGE_REQUEST_DIFF_BASE_SHA"),
            gitlab_commit_sha: var("CI_COMMIT_SHA"),
            github_event_name: var("GITHUB_EVENT_NAME"),
            github_event_path: var("GITHUB_EVENT_PATH"),
            github_ref: var("GITHUB_REF"),
            gitlab_before_sha: var("CI_COMMIT_BEFORE_SHA"),
            gitlab_ref_name: var("CI_COMMIT_REF_NAME"),
            gitlab_default_branch: var("CI_DEFAULT_BRANCH"),
        }
    }
}

/// A range resolved to commits, and how to describe it.
#[derive(Debug, Clone)]
pub(super) struct Resolved {
    /// Commits whose history is left out (the range's base or bases).
    pub hide: Vec<Oid>,
    /// The range's last commit; `None`: nothing to scan.
    pub head: Option<Oid>,
    pub shown: String,
    /// How a push's range was worked out when it was not simply before..after.
    pub notes: Vec<String>,
}

fn resolve(repo: &Repository, spec: &RangeSpec, name: &str) -> Result<Resolved, GitError> {
    let fail = |message: String| GitError::Range {
        repo: name.to_string(),
        message,
    };
    let commit_of = |rev: &str| -> Result<Oid, GitError> {
        repo.revparse_single(rev)
            .and_then(|o| o.peel(ObjectType::Commit))
            .map(|c| c.id())
            .map_err(|e| fail(format!("--range: cannot resolve {rev:?}: {}", e.message())))
    };
    match spec {
        RangeSpec::Given(text) => {
            let text = text.trim();
            let (base, head) = match text.split_once("...").or_else(|| text.split_once("..")) {
                Some((b, h)) => (b, if h.is_empty() { "HEAD" } else { h }),
                None => (text, "HEAD"),
            };
            if base.is_empty() {
                return Err(fail(format!(
                    "--range {text:?}: BASE is missing (BASE..HEAD)"
                )));
            }
            Ok(Resolved {
                hide: vec![commit_of(base)?],
                head: Some(commit_of(head)?),
                shown: format!("{base}..{head}"),
                notes: Vec::new(),
            })
        }
        RangeSpec::FromCi(vars) => {
            if let Some(branch) = &vars.github_base_ref {
                // actions/checkout fetches the target branch as a remote-tracking ref.
                let candidates = [
                    format!("refs/remotes/origin/{branch}"),
                    format!("origin/{branch}"),
                    branch.clone(),
                ];
                let base = candidates
                    .iter()
                    .find_map(|c| commit_of(c).ok().map(|oid| (c, oid)))
                    .ok_or_else(|| {
                        fail(format!(
                            "--range from GITHUB_BASE_REF={branch:?}: no such branch here (fetch it, e.g. actions/checkout with fetch-depth: 0)"
                        ))
                    })?;
                let head_rev = vars.github_sha.as_deref().unwrap_or("HEAD");
                let head = commit_of(head_rev)?;
                let via = if vars.github_sha.is_some() {
                    "GITHUB_BASE_REF and GITHUB_SHA"
                } else {
                    "GITHUB_BASE_REF and HEAD"
                };
                return Ok(Resolved {
                    hide: vec![base.1],
                    head: Some(head),
                    shown: format!("{}..{head_rev} (from {via})", short_ref(base.0)),
                    notes: Vec::new(),
                });
            }
            if let Some(base_sha) = &vars.gitlab_diff_base_sha {
                let head_rev = vars.gitlab_commit_sha.as_deref().unwrap_or("HEAD");
                let via = if vars.gitlab_commit_sha.is_some() {
                    "CI_MERGE_REQUEST_DIFF_BASE_SHA and CI_COMMIT_SHA"
                } else {
                    "CI_MERGE_REQUEST_DIFF_BASE_SHA and HEAD"
                };
                return Ok(Resolved {
                    hide: vec![commit_of(base_sha)?],
                    head: Some(commit_of(head_rev)?),
                    shown: format!("{base_sha}..{head_rev} (from {via})"),
                    notes: Vec::new(),
                });
            }
            let pushed = match push::github(vars).map_err(fail)? {
                Some(p) => Some(p),
                None => push::gitlab(vars),
            };
            if let Some(p) = pushed {
                return push::resolve(repo, &p).map_err(fail);
            }
            Err(fail(
                "--range was given no BASE..HEAD and no CI variable names one (GITHUB_BASE_REF on a GitHub pull request, GITHUB_EVENT_NAME=push with GITHUB_EVENT_PATH on a GitHub push, CI_MERGE_REQUEST_DIFF_BASE_SHA on a GitLab merge request, CI_COMMIT_BEFORE_SHA on a GitLab push pipeline)".into(),
            ))
        }
    }
}

fn short_ref(r: &str) -> &str {
    r.strip_prefix("refs/remotes/").unwrap_or(r)
}

pub(crate) fn run(
    opened: &Opened,
    spec: &RangeSpec,
    workers: &Workers,
    ctx: &Scan,
) -> Result<ModeResult, GitError> {
    let repo = &opened.repo;
    let range = resolve(repo, spec, &opened.shown)?;
    let git_err = |e: git2::Error| GitError::Git {
        repo: opened.shown.clone(),
        message: e.message().to_string(),
    };
    let odb = repo.odb().map_err(git_err)?;
    let mut walk = repo.revwalk().map_err(git_err)?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)
        .map_err(git_err)?;
    if let Some(head) = range.head {
        walk.push(head).map_err(git_err)?;
        for base in &range.hide {
            walk.hide(*base).map_err(git_err)?;
        }
    }
    let mut first = FirstSeen::default();
    let mut commits = 0u64;
    for c in walk {
        let c = match c {
            Ok(c) => c,
            Err(e) => {
                ctx.history_error("history", format!("cannot walk the range: {}", e.message()));
                break;
            }
        };
        commits += 1;
        let info = match commit::read(&odb, c) {
            Ok(info) => info,
            Err(message) => {
                ctx.history_error(&format!("commit {c}"), message);
                continue;
            }
        };
        let mut parent_trees = Vec::new();
        for p in &info.parents {
            match commit::read(&odb, *p) {
                Ok(pi) => parent_trees.push(pi.tree),
                // A parent cut off by a shallow clone: compare with what exists.
                Err(_) => continue,
            }
        }
        changed(
            &odb,
            info.tree,
            &parent_trees,
            "",
            ctx,
            &mut |blob, path| {
                first.entry(blob).or_insert((Some(c), path));
            },
        );
    }
    let blobs: Vec<(Oid, String)> = first.iter().map(|(b, (_, p))| (*b, p.clone())).collect();
    ctx.enter(Phase::Blobs);
    workers.pool.scope(|s| {
        for batch in blobs.chunks(16) {
            s.spawn(move |_| {
                let done = workers.with(|slot| {
                    for (blob, path) in batch {
                        ctx.scan_blob(slot, *blob, path);
                    }
                });
                if let Err(e) = done {
                    for (_, path) in batch {
                        ctx.error(path, format!("cannot open repository: {}", e.message()));
                    }
                }
            });
        }
    });
    ctx.enter(Phase::Attribution);
    let targets = ctx.hit_oids();
    first.retain(|blob, _| targets.contains(blob));
    let tips = commit::tips(repo, &|_, _| {});
    let attribution = attribute::describe(repo, &tips, &first, range.head, None, None);
    let mut notes = range.notes;
    notes.push(format!(
        "range used: {} ({commits} commit(s), {} new or changed blob(s))",
        range.shown,
        blobs.len()
    ));
    Ok(ModeResult {
        commits,
        notes,
        attribution,
    })
}

/// Report each blob under `tree` that differs from the same path in every
/// parent tree (for a merge: what the merge itself brought, not either side).
fn changed(
    odb: &Odb<'_>,
    tree: Oid,
    parents: &[Oid],
    prefix: &str,
    ctx: &Scan<'_>,
    found: &mut dyn FnMut(Oid, String),
) {
    let object = match odb.read(tree) {
        Ok(o) => o,
        Err(e) => {
            let at = if prefix.is_empty() { "/" } else { prefix };
            return ctx.error(at, format!("cannot read tree {tree}: {}", e.message()));
        }
    };
    let parent_objects: Vec<_> = parents.iter().filter_map(|p| odb.read(*p).ok()).collect();
    let parent_entries: Vec<HashMap<&[u8], Entry<'_>>> = parent_objects
        .iter()
        .map(|o| {
            tree::entries(o.data())
                .map_while(Result::ok)
                .map(|e| (e.name, e))
                .collect()
        })
        .collect();
    for entry in tree::entries(object.data()).map_while(Result::ok) {
        let before: Vec<&Entry<'_>> = parent_entries
            .iter()
            .filter_map(|m| m.get(entry.name))
            .collect();
        if before.iter().any(|b| b.oid == entry.oid) {
            continue;
        }
        let path = join(prefix, entry.name);
        match entry.kind {
            Kind::Tree => {
                let sub: Vec<Oid> = before
                    .iter()
                    .filter(|b| b.kind == Kind::Tree)
                    .map(|b| b.oid)
                    .collect();
                changed(odb, entry.oid, &sub, &format!("{path}/"), ctx, found);
            }
            Kind::Blob | Kind::Symlink => found(entry.oid, path),
            Kind::Gitlink => ctx.submodule(&path, entry.oid),
        }
    }
}
