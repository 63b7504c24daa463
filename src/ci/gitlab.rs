//! GitLab CI through the REST API (`{instance}/api/v4`).
//!
//! Projects: `GET /groups/:id/projects?include_subgroups=true` for a group,
//! or `GET /projects/:id` for one (a target is tried as a group first: group
//! and project paths look alike). Jobs: `GET /projects/:id/jobs`, newest
//! first. A job's log: `GET /projects/:id/jobs/:job_id/trace`, streamed.
//! Clean-up: `POST /projects/:id/jobs/:job_id/erase`. Listings are paginated
//! with `X-Next-Page`.

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::http::{next_page, Api, HttpError, Waits};
use super::scan::{gitlab_trace, new_record, ScanContext};
use super::{Filter, Provider, ProviderKind, Repo, Unfinished, Unit, UnitRecord, UnitStatus};
use crate::collect::Skipped;

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
}

impl Provider for GitLab {
    fn kind(&self) -> ProviderKind {
        ProviderKind::GitLab
    }

    fn repositories(&self, target: &str) -> Result<Vec<Repo>, HttpError> {
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
                    status,
                }
            })
            .collect())
    }

    fn scan(&self, unit: &Unit, ctx: &ScanContext<'_>) -> Result<UnitRecord, Unfinished> {
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
        gitlab_trace(ctx, &mut response, unit, &mut record);
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

fn repo_of(p: ProjectJson) -> Repo {
    Repo {
        name: p.path_with_namespace,
        id: p.id.to_string(),
    }
}
