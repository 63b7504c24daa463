//! GitHub Actions through the REST API (`https://api.github.com`, or
//! `https://HOST/api/v3` on Enterprise Server).
//!
//! Repositories: `GET /orgs/{org}/repos` (or `/users/{user}/repos` when the
//! owner is not an org), or `GET /repos/{owner}/{repo}` for one. Runs:
//! `GET /repos/{o}/{r}/actions/runs`, newest first. A run's jobs (names, ids,
//! pages for line links): `GET .../runs/{id}/jobs`. Its logs:
//! `GET .../runs/{id}/logs`, a 302 to a pre-signed zip on another host (no
//! token sent there). Deletion: `DELETE .../runs/{id}/logs`. Listings are
//! paginated with the `Link` header. With `--artifacts`, the run's artifacts:
//! `GET .../runs/{id}/artifacts`, each downloaded with
//! `GET .../actions/artifacts/{id}/zip` (a 302 to a pre-signed URL, like the logs).

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::artifact::{scan_artifact, Artifact};
use super::http::{next_link, shown, Api, HttpError, Waits};
use super::scan::{github_archive, new_record, spool, JobInfo, ScanContext};
use super::{
    Filter, Listed, Provider, ProviderKind, Repo, Unfinished, Unit, UnitRecord, UnitStatus,
};
use crate::collect::{ScanError, Skipped};

pub const DEFAULT_API: &str = "https://api.github.com";
/// Headers GitHub asks every REST client to send.
pub const HEADERS: [(&str, &str); 2] = [
    ("accept", "application/vnd.github+json"),
    ("x-github-api-version", "2022-11-28"),
];
/// Pages of a listing followed at most (100 items each).
const MAX_PAGES: usize = 10_000;

pub struct GitHub {
    api: Api,
}

#[derive(Deserialize)]
struct RepoJson {
    full_name: String,
    #[serde(default)]
    clone_url: Option<String>,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    fork: bool,
}

impl RepoJson {
    fn listed(self) -> Listed {
        Listed {
            repo: Repo {
                id: self.full_name.clone(),
                name: self.full_name,
            },
            clone_url: self.clone_url,
            archived: self.archived,
            fork: self.fork,
        }
    }
}

#[derive(Deserialize)]
struct Runs {
    workflow_runs: Vec<RunJson>,
}

#[derive(Deserialize)]
struct RunJson {
    id: u64,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
}

#[derive(Deserialize)]
struct Artifacts {
    artifacts: Vec<ArtifactJson>,
}

#[derive(Deserialize)]
struct ArtifactJson {
    id: u64,
    name: String,
    #[serde(default)]
    expired: bool,
}

#[derive(Deserialize)]
struct Jobs {
    jobs: Vec<JobJson>,
}

#[derive(Deserialize)]
struct JobJson {
    id: u64,
    name: String,
    #[serde(default)]
    html_url: Option<String>,
}

impl GitHub {
    pub fn new(api: Api) -> Self {
        GitHub { api }
    }

    /// Every page of a listing; `items` picks a page's items out.
    fn pages<P: DeserializeOwned, T>(
        &self,
        first: Url,
        mut items: impl FnMut(P) -> Vec<T>,
        mut enough: impl FnMut(&[T]) -> bool,
    ) -> Result<Vec<T>, HttpError> {
        let mut out = Vec::new();
        let mut url = first;
        for _ in 0..MAX_PAGES {
            let (page, headers): (P, _) = self.api.get_json(&url)?;
            out.extend(items(page));
            if enough(&out) {
                break;
            }
            let Some(next) = next_link(&headers) else {
                break;
            };
            let next = url.join(&next).map_err(|_| HttpError::Refused {
                url: shown(&url),
                message: "unusable Link header".into(),
            })?;
            if !self.api.same_origin(&next) {
                return Err(HttpError::Refused {
                    url: shown(&url),
                    message: format!(
                        "next page {} is on another host: the token is not sent there",
                        shown(&next)
                    ),
                });
            }
            url = next;
        }
        Ok(out)
    }

    fn repo_segments(repo: &str) -> Vec<&str> {
        repo.splitn(2, '/').collect()
    }

    fn jobs(&self, unit: &Unit) -> Result<Vec<JobInfo>, HttpError> {
        let id = unit.id.to_string();
        let mut segments = vec!["repos"];
        segments.extend(Self::repo_segments(&unit.repo.name));
        segments.extend(["actions", "runs", &id, "jobs"]);
        let url = self
            .api
            .url(&segments, &[("per_page", "100"), ("filter", "latest")]);
        let jobs = self.pages(url, |p: Jobs| p.jobs, |_| false)?;
        Ok(jobs
            .into_iter()
            .map(|j| JobInfo {
                html_url: j
                    .html_url
                    .unwrap_or_else(|| format!("{}/job/{}", unit.web_url, j.id)),
                id: j.id,
                name: j.name,
            })
            .collect())
    }

    /// The run's log archive, scanned into a new record.
    fn scan_logs(&self, unit: &Unit, ctx: &ScanContext<'_>) -> Result<UnitRecord, Unfinished> {
        let path = unit.path(ProviderKind::GitHub);
        let jobs = self.jobs(unit)?;
        let id = unit.id.to_string();
        let mut segments = vec!["repos"];
        segments.extend(Self::repo_segments(&unit.repo.name));
        segments.extend(["actions", "runs", &id, "logs"]);
        let url = self.api.url(&segments, &[]);
        let mut response = match self.api.download(&url) {
            Ok(r) => r,
            Err(
                e @ HttpError::Status {
                    status: 404 | 410, ..
                },
            ) => {
                let mut record = new_record(unit, path.clone(), UnitStatus::Expired);
                record.skipped.push(Skipped {
                    path,
                    reason: format!(
                        "logs expired or deleted (HTTP {})",
                        e.status().unwrap_or_default()
                    ),
                });
                return Ok(record);
            }
            Err(e) => return Err(e.into()),
        };
        let archive = spool(&mut response, ctx.spill_above, ctx.max_decompressed)
            .map_err(|e| Unfinished::Error(format!("log archive download failed: {e}")))?;
        let mut record = new_record(unit, path, UnitStatus::Scanned);
        github_archive(ctx, archive, unit, &jobs, &mut record).map_err(Unfinished::Error)?;
        Ok(record)
    }

    /// The run's artifacts, each scanned into `record`. An expired one is
    /// listed in `skipped`; a corrupt or oversized one in `errors`; a failed
    /// request leaves the run unfinished (tried again by a rerun).
    fn scan_artifacts(
        &self,
        unit: &Unit,
        ctx: &ScanContext<'_>,
        record: &mut UnitRecord,
    ) -> Result<(), Unfinished> {
        let id = unit.id.to_string();
        let mut segments = vec!["repos"];
        segments.extend(Self::repo_segments(&unit.repo.name));
        segments.extend(["actions", "runs", &id, "artifacts"]);
        let url = self.api.url(&segments, &[("per_page", "100")]);
        let listed = match self.pages(url, |p: Artifacts| p.artifacts, |_| false) {
            Ok(l) => l,
            Err(
                e @ HttpError::Status {
                    status: 404 | 410, ..
                },
            ) => {
                record.skipped.push(Skipped {
                    path: format!("{}/artifacts", record.path),
                    reason: format!(
                        "artifacts cannot be listed: the run is gone (HTTP {})",
                        e.status().unwrap_or_default()
                    ),
                });
                return Ok(());
            }
            Err(e) => return Err(Unfinished::Error(format!("cannot list artifacts: {e}"))),
        };
        for a in listed {
            let art = Artifact {
                path: format!("{}/artifacts/{}", record.path, a.id),
                url: format!("{}#artifacts", unit.web_url),
                name: a.name,
            };
            if a.expired {
                record.skipped.push(Skipped {
                    path: art.path,
                    reason: format!("artifact {:?} expired: nothing to scan", art.name),
                });
                continue;
            }
            let aid = a.id.to_string();
            let mut segments = vec!["repos"];
            segments.extend(Self::repo_segments(&unit.repo.name));
            segments.extend(["actions", "artifacts", &aid, "zip"]);
            let url = self.api.url(&segments, &[]);
            // Redirected to a pre-signed URL on another host: `download`
            // sends the token only to the API's own origin.
            let mut response = match self.api.download(&url) {
                Ok(r) => r,
                Err(
                    e @ HttpError::Status {
                        status: 404 | 410, ..
                    },
                ) => {
                    record.skipped.push(Skipped {
                        path: art.path,
                        reason: format!(
                            "artifact {:?} expired or deleted (HTTP {})",
                            art.name,
                            e.status().unwrap_or_default()
                        ),
                    });
                    continue;
                }
                Err(e) => {
                    return Err(Unfinished::Error(format!(
                        "artifact {:?} ({}): {e}",
                        art.name, art.path
                    )))
                }
            };
            match spool(&mut response, ctx.spill_above, ctx.max_decompressed) {
                Ok(archive) => scan_artifact(ctx, archive, unit, &art, record),
                Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                    record.errors.push(ScanError {
                        path: art.path,
                        message: format!("artifact {:?}: {e}", art.name),
                    })
                }
                Err(e) => {
                    return Err(Unfinished::Error(format!(
                        "artifact {:?} ({}) download failed: {e}",
                        art.name, art.path
                    )))
                }
            }
        }
        Ok(())
    }
}

impl Provider for GitHub {
    fn kind(&self) -> ProviderKind {
        ProviderKind::GitHub
    }

    fn list(&self, target: &str) -> Result<Vec<Listed>, HttpError> {
        let target = target.trim().trim_matches('/');
        if let Some((owner, repo)) = target.split_once('/') {
            let (r, _): (RepoJson, _) = self
                .api
                .get_json(&self.api.url(&["repos", owner, repo], &[]))?;
            return Ok(vec![r.listed()]);
        }
        let query = [("per_page", "100"), ("type", "all")];
        let listed = match self.pages(
            self.api.url(&["orgs", target, "repos"], &query),
            |p: Vec<RepoJson>| p,
            |_| false,
        ) {
            Err(e) if e.status() == Some(404) => self.pages(
                self.api.url(&["users", target, "repos"], &query),
                |p: Vec<RepoJson>| p,
                |_| false,
            )?,
            other => other?,
        };
        Ok(listed.into_iter().map(RepoJson::listed).collect())
    }

    fn units(&self, repo: &Repo, filter: &Filter) -> Result<Vec<Unit>, HttpError> {
        let mut segments = vec!["repos"];
        segments.extend(Self::repo_segments(&repo.name));
        segments.extend(["actions", "runs"]);
        let since = filter.since.map(|t| {
            let f = time::macros::format_description!("[year]-[month]-[day]");
            format!(">={}", t.date().format(&f).unwrap_or_default())
        });
        let mut query = vec![("per_page", "100")];
        if let Some(s) = &since {
            query.push(("created", s.as_str()));
        }
        let max = filter.max_runs.unwrap_or(u64::MAX) as usize;
        let runs = self.pages(
            self.api.url(&segments, &query),
            |p: Runs| p.workflow_runs,
            |got: &[RunJson]| {
                // Newest first: once runs are older than --since, stop.
                got.last()
                    .is_some_and(|r| filter.too_old(r.created_at.as_deref()))
                    || got.len() >= max
            },
        )?;
        Ok(runs
            .into_iter()
            .filter(|r| !filter.too_old(r.created_at.as_deref()))
            .take(max)
            .map(|r| {
                let status = r.status.unwrap_or_else(|| "unknown".into());
                Unit {
                    repo: repo.clone(),
                    id: r.id,
                    name: None,
                    artifact_name: None,
                    finished: status == "completed",
                    web_url: r.html_url.unwrap_or_else(|| {
                        format!("https://github.com/{}/actions/runs/{}", repo.name, r.id)
                    }),
                    status,
                }
            })
            .collect())
    }

    fn scan(&self, unit: &Unit, ctx: &ScanContext<'_>) -> Result<UnitRecord, Unfinished> {
        let mut record = self.scan_logs(unit, ctx)?;
        if ctx.artifacts {
            self.scan_artifacts(unit, ctx, &mut record)?;
        }
        Ok(record)
    }

    fn delete_logs(&self, repo: &str, _repo_id: &str, unit: u64) -> Result<u16, HttpError> {
        let id = unit.to_string();
        let mut segments = vec!["repos"];
        segments.extend(Self::repo_segments(repo));
        segments.extend(["actions", "runs", &id, "logs"]);
        let url = self.api.url(&segments, &[]);
        let response = self.api.call(Method::DELETE, &url)?;
        Ok(response.status().as_u16())
    }

    fn waits(&self) -> &Waits {
        &self.api.waits
    }
}
