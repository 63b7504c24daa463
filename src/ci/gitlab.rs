//! GitLab CI through the REST API (`{instance}/api/v4`).
//!
//! Projects: `GET /groups/:id/projects?include_subgroups=true` for a group,
//! or `GET /projects/:id` for one (a target is tried as a group first: group
//! and project paths look alike). Jobs: `GET /projects/:id/jobs`, newest
//! first. A job's log: `GET /projects/:id/jobs/:job_id/trace`, streamed.
//! With `--artifacts`, the job's artifacts archive (a zip):
//! `GET /projects/:id/jobs/:job_id/artifacts` (404: the job has none).
//! Clean-up: `POST /projects/:id/jobs/:job_id/erase` (trace and artifacts).
//! Listings are paginated with `X-Next-Page`.

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::artifact::{scan_artifact, Artifact};
use super::http::{next_page, Api, HttpError, Waits};
use super::scan::{gitlab_trace, new_record, spool, ScanContext};
use super::{
    Filter, Listed, Provider, ProviderKind, Repo, Unfinished, Unit, UnitRecord, UnitStatus,
};
use crate::collect::{ScanError, Skipped};

pub const DEFAULT_INSTANCE: &str = "https://gitlab.com";
const MAX_PAGES: u64 = 10_000;

/// Job statuses whose trace is not final yet.
const UNFINISHED: [&str; 7] = [
    "created",
    "pending",
    "running",
    "waiting_for_resource",
    "waiting_for_callback",
    "preparing",
    "scheduled",
];

pub struct GitLab {
    api: Api,
}

#[derive(Deserialize)]
struct ProjectJson {
    id: u64,
    path_with_namespace: String,
    #[serde(default)]
    http_url_to_repo: Option<String>,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    forked_from_project: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct GroupJson {
    id: u64,
}

#[derive(Deserialize)]
struct JobJson {
    id: u64,
    name: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    web_url: Option<String>,
    /// The artifacts archive, when the job has one.
    #[serde(default)]
    artifacts_file: Option<ArtifactsFile>,
}

#[derive(Deserialize)]
struct ArtifactsFile {
    #[serde(default)]
    filename: Option<String>,
}

impl GitLab {
    /// `api` is rooted at `{instance}/api/v4`.
    pub fn new(api: Api) -> Self {
        GitLab { api }
    }

    fn pages<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        mut enough: impl FnMut(&[T]) -> bool,
    ) -> Result<Vec<T>, HttpError> {
        let mut out = Vec::new();
        let mut page = 1u64;
        for _ in 0..MAX_PAGES {
            let p = page.to_string();
            let mut q = query.to_vec();
            q.push(("page", &p));
            let url: Url = self.api.url(segments, &q);
            let (items, headers): (Vec<T>, _) = self.api.get_json(&url)?;
            out.extend(items);
            if enough(&out) {
                break;
            }
            match next_page(&headers) {
                Some(next) if next > page => page = next,
                _ => break,
            }
        }
        Ok(out)
    }

    /// The job's trace, scanned into a new record.
    fn scan_trace(&self, unit: &Unit, ctx: &ScanContext<'_>) -> Result<UnitRecord, Unfinished> {
        let path = unit.path(ProviderKind::GitLab);
        let id = unit.id.to_string();
        let url = self
            .api
            .url(&["projects", &unit.repo.id, "jobs", &id, "trace"], &[]);
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
                        "trace expired or erased (HTTP {})",
                        e.status().unwrap_or_default()
                    ),
                });
                return Ok(record);
            }
            Err(e) => return Err(e.into()),
        };
        let mut record = new_record(unit, path, UnitStatus::Scanned);
        if !gitlab_trace(ctx, &mut response, unit, &mut record) {
            return Err(Unfinished::Partial(Box::new(record)));
        }
        Ok(record)
    }

    /// The job's artifacts archive, scanned into `record`. 404 is a job
    /// without artifacts (or with expired ones: GitLab does not tell them
    /// apart); a corrupt or oversized archive goes to `errors`; a failed
    /// request leaves the job unfinished (tried again by a rerun).
    fn scan_artifacts(
        &self,
        unit: &Unit,
        ctx: &ScanContext<'_>,
        record: &mut UnitRecord,
    ) -> Result<(), Unfinished> {
        let id = unit.id.to_string();
        let url = self
            .api
            .url(&["projects", &unit.repo.id, "jobs", &id, "artifacts"], &[]);
        let art = Artifact {
            path: format!("{}/artifacts", record.path),
            name: unit
                .artifact_name
                .clone()
                .unwrap_or_else(|| "artifacts.zip".into()),
            url: format!("{}/artifacts/browse", unit.web_url),
        };
        let mut response = match self.api.download(&url) {
            Ok(r) => r,
            Err(HttpError::Status { status: 404, .. }) => return Ok(()),
            Err(e @ HttpError::Status { status: 410, .. }) => {
                record.skipped.push(Skipped {
                    path: art.path,
                    reason: format!(
                        "artifacts expired or erased (HTTP {})",
                        e.status().unwrap_or_default()
                    ),
                });
                return Ok(());
            }
            Err(e) => return Err(Unfinished::Error(format!("artifacts: {e}"))),
        };
        match spool(&mut response, ctx.spill_above, ctx.max_decompressed) {
            Ok(archive) => scan_artifact(ctx, archive, unit, &art, record),
            Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                record.errors.push(ScanError {
                    path: art.path,
                    message: format!("artifacts: {e}"),
                })
            }
            Err(e) => return Err(Unfinished::Error(format!("artifacts download failed: {e}"))),
        }
        Ok(())
    }
}

impl Provider for GitLab {
    fn kind(&self) -> ProviderKind {
        ProviderKind::GitLab
    }

    fn list(&self, target: &str) -> Result<Vec<Listed>, HttpError> {
        let target = target.trim().trim_matches('/');
        match self
            .api
            .get_json::<GroupJson>(&self.api.url(&["groups", target], &[]))
        {
            Ok((group, _)) => {
                let id = group.id.to_string();
                let projects: Vec<ProjectJson> = self.pages(
                    &["groups", &id, "projects"],
                    &[("include_subgroups", "true"), ("per_page", "100")],
                    |_| false,
                )?;
                Ok(projects.into_iter().map(repo_of).collect())
            }
            Err(e) if e.status() == Some(404) => {
                let (project, _): (ProjectJson, _) = self
                    .api
                    .get_json(&self.api.url(&["projects", target], &[]))?;
                Ok(vec![repo_of(project)])
            }
            Err(e) => Err(e),
        }
    }

    fn units(&self, repo: &Repo, filter: &Filter) -> Result<Vec<Unit>, HttpError> {
        let max = filter.max_runs.unwrap_or(u64::MAX) as usize;
        let jobs: Vec<JobJson> = self.pages(
            &["projects", &repo.id, "jobs"],
            &[("per_page", "100")],
            |got: &[JobJson]| {
                got.last()
                    .is_some_and(|j| filter.too_old(j.created_at.as_deref()))
                    || got.len() >= max
            },
        )?;
        Ok(jobs
            .into_iter()
            .filter(|j| !filter.too_old(j.created_at.as_deref()))
            .take(max)
            .map(|j| {
                let status = j.status.unwrap_or_else(|| "unknown".into());
                Unit {
                    repo: repo.clone(),
                    id: j.id,
                    finished: !UNFINISHED.contains(&status.as_str()),
                    web_url: j.web_url.unwrap_or_else(|| {
                        let root = self.api.base().as_str().trim_end_matches("/api/v4");
                        format!("{root}/{}/-/jobs/{}", repo.name, j.id)
                    }),
                    name: Some(j.name),
                    artifact_name: j.artifacts_file.and_then(|a| a.filename),
                    status,
                }
            })
            .collect())
    }

    fn scan(&self, unit: &Unit, ctx: &ScanContext<'_>) -> Result<UnitRecord, Unfinished> {
        let mut record = self.scan_trace(unit, ctx)?;
        if ctx.artifacts {
            self.scan_artifacts(unit, ctx, &mut record)?;
        }
        Ok(record)
    }

    fn delete_logs(&self, _repo: &str, repo_id: &str, unit: u64) -> Result<u16, HttpError> {
        let id = unit.to_string();
        let url = self
            .api
            .url(&["projects", repo_id, "jobs", &id, "erase"], &[]);
        let response = self.api.call(Method::POST, &url)?;
        Ok(response.status().as_u16())
    }

    fn waits(&self) -> &Waits {
        &self.api.waits
    }
}

fn repo_of(p: ProjectJson) -> Listed {
    Listed {
        repo: Repo {
            name: p.path_with_namespace,
            id: p.id.to_string(),
        },
        clone_url: p.http_url_to_repo,
        archived: p.archived,
        fork: p.forked_from_project.is_some_and(|f| !f.is_null()),
    }
}
