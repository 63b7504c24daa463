//! `--range` on push pipelines: the commits a push brought, from GitHub's
//! push event (`GITHUB_EVENT_PATH`'s `before` and `after`) or GitLab's
//! `CI_COMMIT_BEFORE_SHA` and `CI_COMMIT_SHA`.
//!
//! A push that creates a branch has an all-zero `before`; a forced push (or a
//! shallow clone) may name a `before` this repository does not have. Both
//! scan the commits of `after` that no other ref reaches (what the branch
//! brings); when the pushed ref is unknown, those that the default branch
//! does not reach; failing both, all of `after`'s history, with a note.

use git2::{ObjectType, Oid, ReferenceType, Repository};

use super::range::{CiVars, Resolved};

/// A push, as the CI variables describe it.
#[derive(Debug, Clone)]
pub(super) struct Push {
    /// `None`: all zeros (a new branch or tag).
    before: Option<String>,
    /// `None`: all zeros (the push deleted the ref).
    after: Option<String>,
    /// The pushed ref (`refs/heads/feature`, or a bare branch name).
    pushed_ref: Option<String>,
    default_branch: Option<String>,
    /// Where the values came from, for notes and errors.
    via: &'static str,
}

fn zero(sha: &str) -> bool {
    !sha.is_empty() && sha.bytes().all(|b| b == b'0')
}

fn nonzero(sha: Option<String>) -> Option<String> {
    sha.filter(|s| !zero(s))
}

/// GitHub Actions: `Ok(None)` when `GITHUB_EVENT_NAME` is unset. Any other
/// event than `push` names no range (a schedule or a manual run scans all).
pub(super) fn github(vars: &CiVars) -> Result<Option<Push>, String> {
    let Some(event) = vars.github_event_name.as_deref() else {
        return Ok(None);
    };
    if event != "push" {
        return Err(format!(
            "--range on a GitHub {event:?} event (GITHUB_EVENT_NAME): no range to take; scan the whole history instead (`git` without --range, as the action does on schedule and workflow_dispatch)"
        ));
    }
    let path = vars.github_event_path.as_deref().ok_or_else(|| {
        "--range on a GitHub push event: GITHUB_EVENT_PATH is not set, so before/after are unknown"
            .to_string()
    })?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--range: cannot read GITHUB_EVENT_PATH {path:?}: {e}"))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("--range: GITHUB_EVENT_PATH {path:?} is not JSON: {e}"))?;
    let field = |name: &str| {
        json.get(name)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let before = field("before").ok_or_else(|| {
        format!("--range: the push event at GITHUB_EVENT_PATH {path:?} has no \"before\"")
    })?;
    let after = field("after")
        .or_else(|| vars.github_sha.clone())
        .ok_or_else(|| {
            format!("--range: the push event at GITHUB_EVENT_PATH {path:?} has no \"after\" (and GITHUB_SHA is not set)")
        })?;
    let default_branch = json
        .pointer("/repository/default_branch")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    Ok(Some(Push {
        before: nonzero(Some(before)),
        after: nonzero(Some(after)),
        pushed_ref: field("ref").or_else(|| vars.github_ref.clone()),
        default_branch,
        via: "GITHUB_EVENT_PATH's before and after",
    }))
}

/// GitLab CI: a pipeline that names `CI_COMMIT_BEFORE_SHA`.
pub(super) fn gitlab(vars: &CiVars) -> Option<Push> {
    let before = vars.gitlab_before_sha.clone()?;
    Some(Push {
        before: nonzero(Some(before)),
        after: nonzero(vars.gitlab_commit_sha.clone()).or_else(|| Some("HEAD".into())),
        pushed_ref: vars.gitlab_ref_name.clone(),
        default_branch: vars.gitlab_default_branch.clone(),
        via: "CI_COMMIT_BEFORE_SHA and CI_COMMIT_SHA",
    })
}

fn commit_of(repo: &Repository, rev: &str) -> Option<Oid> {
    repo.revparse_single(rev)
        .and_then(|o| o.peel(ObjectType::Commit))
        .map(|c| c.id())
        .ok()
}

fn short(oid: Oid) -> String {
    oid.to_string().chars().take(12).collect()
}

/// Turn a push into the commits to walk. `Err` holds a message for the user.
pub(super) fn resolve(repo: &Repository, push: &Push) -> Result<Resolved, String> {
    let via = push.via;
    let Some(after_rev) = push.after.as_deref() else {
        return Ok(Resolved {
            hide: Vec::new(),
            head: None,
            shown: format!("nothing (the push deleted its ref; from {via})"),
            notes: Vec::new(),
        });
    };
    let after = commit_of(repo, after_rev).ok_or_else(|| {
        format!("--range from {via}: the pushed commit {after_rev} is not in this repository (fetch it)")
    })?;
    let mut notes = Vec::new();
    match push.before.as_deref() {
        Some(before_rev) => match commit_of(repo, before_rev) {
            Some(before) => {
                return Ok(Resolved {
                    hide: vec![before],
                    head: Some(after),
                    shown: format!("{}..{} (from {via})", short(before), short(after)),
                    notes,
                })
            }
            None => notes.push(format!(
                "the push's previous commit {before_rev} is not in this repository (a forced push, or a shallow clone: fetch-depth: 0 fetches it); scanning the commits the pushed branch brings instead"
            )),
        },
        None => notes.push(format!(
            "all-zero previous commit in {via}: a new branch (or a pipeline no push started); scanning the commits no other branch has"
        )),
    }
    if let Some(name) = push.pushed_ref.as_deref() {
        let hide = other_tips(repo, name);
        let shown = if hide.is_empty() {
            notes.push(format!(
                "no other branch or tag here to compare with: scanning all of {}'s history",
                short(after)
            ));
            format!("all of {} (from {via})", short(after))
        } else {
            format!(
                "{} not on any other ref ({} other ref(s); pushed {name}, from {via})",
                short(after),
                hide.len()
            )
        };
        return Ok(Resolved {
            hide,
            head: Some(after),
            shown,
            notes,
        });
    }
    // The pushed ref is unknown: compare with the default branch.
    let default = push.default_branch.as_deref().and_then(|d| {
        [
            format!("refs/remotes/origin/{d}"),
            format!("refs/heads/{d}"),
        ]
        .iter()
        .find_map(|r| commit_of(repo, r).map(|oid| (r.clone(), oid)))
    });
    match default {
        Some((name, oid)) if oid != after => Ok(Resolved {
            hide: vec![oid],
            head: Some(after),
            shown: format!(
                "{}..{} (the pushed ref is unknown: compared with the default branch, from {via})",
                name.strip_prefix("refs/remotes/").unwrap_or(&name),
                short(after)
            ),
            notes,
        }),
        _ => {
            notes.push(format!(
                "cannot tell which commits the push brought (no pushed ref or default branch named): scanning all of {}'s history",
                short(after)
            ));
            Ok(Resolved {
                hide: Vec::new(),
                head: Some(after),
                shown: format!("all of {} (from {via})", short(after)),
                notes,
            })
        }
    }
}

/// The commits every ref other than the pushed one points at: branches,
/// remote-tracking branches and tags, less GitLab's per-pipeline refs.
fn other_tips(repo: &Repository, pushed: &str) -> Vec<Oid> {
    let name = pushed
        .strip_prefix("refs/heads/")
        .or_else(|| pushed.strip_prefix("refs/tags/"))
        .unwrap_or(pushed);
    let is_pushed = |r: &str| {
        r == format!("refs/heads/{name}")
            || r == format!("refs/tags/{name}")
            || r.strip_prefix("refs/remotes/")
                .and_then(|rest| rest.split_once('/'))
                .is_some_and(|(_, branch)| branch == name)
    };
    let Ok(refs) = repo.references() else {
        return Vec::new();
    };
    let mut tips: Vec<Oid> = refs
        .filter_map(Result::ok)
        .filter(|r| r.kind() == Some(ReferenceType::Direct))
        .filter(|r| {
            r.name().is_some_and(|n| {
                !is_pushed(n) && !n.starts_with("refs/pipelines/") && n != "refs/stash"
            })
        })
        .filter_map(|r| r.peel(ObjectType::Commit).ok().map(|c| c.id()))
        .collect();
    tips.sort();
    tips.dedup();
    tips
}
