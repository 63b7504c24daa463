//! GitLab CI/CD project variables, masked and protected: `PUT
//! /api/v4/projects/{id}/variables/{key}` updates one, and when it does not
//! exist (404) `POST /api/v4/projects/{id}/variables` creates it. `{id}` is
//! the URL-encoded project path. A value GitLab cannot mask is refused by
//! GitLab (400): the delivery fails rather than storing it unmasked.

use reqwest::blocking::{Client, RequestBuilder};
use reqwest::Url;

use super::{excerpt, url, Values};
use crate::secret::Secret;

fn auth(r: RequestBuilder, token: &Secret) -> RequestBuilder {
    r.header("PRIVATE-TOKEN", token.expose())
        .header(reqwest::header::ACCEPT, "application/json")
}

fn failed(what: &str, e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    format!("{what}: {kind}")
}

/// `GET /api/v4/projects/{id}`: the project is there and the token sees it.
pub fn project_exists(
    http: &Client,
    api: &Url,
    token: &Secret,
    project: &str,
) -> Result<(), String> {
    let what = "reading the project";
    let response = auth(
        http.get(url(api, &["api", "v4", "projects", project])),
        token,
    )
    .send()
    .map_err(|e| failed(what, &e))?;
    match response.status().as_u16() {
        200 => Ok(()),
        status => Err(format!(
            "{what}: HTTP {status} {}",
            excerpt(&response.bytes().unwrap_or_default())
        )),
    }
}

/// Both values as masked, protected variables (created or updated).
pub fn put_variables(
    http: &Client,
    api: &Url,
    token: &Secret,
    project: &str,
    values: &Values,
) -> Result<String, String> {
    let mut done = Vec::new();
    for (name, value) in values.pairs() {
        let what = format!("writing the variable {name}");
        let mut body = serde_json::json!({
            "value": value.expose(),
            "masked": true,
            "protected": true,
        });
        let put = url(api, &["api", "v4", "projects", project, "variables", name]);
        let response = auth(http.put(put), token).json(&body).send();
        let response = response.map_err(|e| failed(&what, &e))?;
        let mut status = response.status().as_u16();
        let mut answer = response.bytes().unwrap_or_default();
        if status == 404 {
            body["key"] = serde_json::json!(name);
            let post = url(api, &["api", "v4", "projects", project, "variables"]);
            let response = auth(http.post(post), token).json(&body).send();
            let response = response.map_err(|e| failed(&what, &e))?;
            status = response.status().as_u16();
            answer = response.bytes().unwrap_or_default();
            if status == 201 {
                done.push(format!("{name} created"));
                continue;
            }
        } else if status == 200 {
            done.push(format!("{name} updated"));
            continue;
        }
        // The answer may quote the value (GitLab echoes variables): scrubbed
        // by the caller, and shortened here.
        return Err(format!("{what}: HTTP {status} {}", excerpt(&answer)));
    }
    Ok(done.join(", "))
}
