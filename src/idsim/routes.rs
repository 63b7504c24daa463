//! What the simulator answers: `POST /oauth/token`, the bank and
//! organization application endpoints, and the `/__sim/*` admin API. Paths
//! may be prefixed with an environment (`/production/oauth/token`) so one
//! simulator can stand in for several identity services.

use std::net::IpAddr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::http::{Request, Response};
use super::state::{
    AppKind, Application, Fault, FaultKind, FaultTarget, Grant, World, ENVIRONMENTS,
};
use super::token;
use super::Shared;

/// What to do with a request.
pub enum Reply {
    Respond(Response),
    /// Wait this long, then answer normally.
    Delay(Duration, Box<Reply>),
    /// Reset the connection.
    Reset,
    /// Never answer.
    Hang,
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Route one request from `peer`.
pub fn handle(shared: &Shared, request: &Request, peer: IpAddr) -> Reply {
    {
        let mut world = shared.lock();
        *world
            .stats
            .requests
            .entry(format!("{} {}", request.method, request.path))
            .or_default() += 1;
    }
    if let Some(admin) = request.path.strip_prefix("/__sim/") {
        return Reply::Respond(admin_route(shared, request, admin));
    }
    let (env, path) = split_environment(&request.path, &shared.default_environment);
    if path == "/oauth/token" {
        return token_endpoint(shared, request, &env, peer);
    }
    for kind in [AppKind::Bank, AppKind::Organization] {
        if path == format!("/api/{}_applications", kind.as_str()) {
            return create_endpoint(shared, request, &env, kind);
        }
        let prefix = format!("/api/{}_applications/", kind.as_str());
        if let Some(client_id) = path.strip_prefix(&prefix) {
            if !client_id.is_empty() && !client_id.contains('/') {
                return applications_endpoint(shared, request, &env, kind, client_id);
            }
        }
    }
    Reply::Respond(api_error(404, "not_found", "route not found"))
}

fn split_environment(path: &str, default: &str) -> (String, String) {
    for env in ENVIRONMENTS {
        if let Some(rest) = path.strip_prefix(&format!("/{env}/")) {
            return (env.to_string(), format!("/{rest}"));
        }
    }
    (default.to_string(), path.to_string())
}

/// Cybrid's API error body.
fn api_error(status: u16, code: &str, message: &str) -> Response {
    Response::json(
        status,
        &json!({"status": status, "error_message": message, "message_code": code}),
    )
}

/// Doorkeeper's OAuth error body.
fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    Response::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
    .with_header("Cache-Control", "no-store")
    .with_header("Pragma", "no-cache")
}

fn fault_reply(fault: &Fault, then: impl FnOnce() -> Reply) -> Reply {
    match fault.kind {
        FaultKind::RateLimit => Reply::Respond(
            api_error(429, "rate_limited", "Too many requests, please retry later")
                .with_header("Retry-After", fault.retry_after.unwrap_or(1).to_string()),
        ),
        FaultKind::ServerError => Reply::Respond(api_error(
            500,
            "internal_server_error",
            "Internal Server Error",
        )),
        FaultKind::Slow => Reply::Delay(
            Duration::from_millis(fault.delay_ms.unwrap_or(1000)),
            Box::new(then()),
        ),
        FaultKind::Hang => Reply::Hang,
        FaultKind::Reset => Reply::Reset,
        FaultKind::Garbage => Reply::Respond(Response {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: b"{\"access_token\": \"eyJ\x00\xff<html>upstream".to_vec(),
        }),
        FaultKind::IpNotAllowed => Reply::Respond(ip_not_allowed()),
        FaultKind::InvalidScope => Reply::Respond(invalid_scope()),
        FaultKind::Redirect => Reply::Respond(
            Response::empty(307).with_header(
                "Location",
                fault
                    .location
                    .clone()
                    .unwrap_or_else(|| "http://127.0.0.1:9/oauth/token".into()),
            ),
        ),
        FaultKind::InvalidScopes => Reply::Respond(api_error(
            403,
            "invalid_scopes",
            "Invalid scopes. Required: bank_applications:execute",
        )),
        FaultKind::Unauthenticated => Reply::Respond(api_error(
            401,
            "authentication_malformed",
            "Authentication token is missing, malformed or expired",
        )),
        // Handled by the token endpoint itself (it changes the grant).
        FaultKind::DropScopes => then(),
    }
}

fn ip_not_allowed() -> Response {
    Response::json(
        403,
        &json!({
            "error": "forbidden",
            "error_description": "Request from an IP address that is not on the application's allowlist",
            "message_code": "ip_not_allowed",
        }),
    )
}

fn invalid_scope() -> Response {
    oauth_error(
        400,
        "invalid_scope",
        "The requested scope is invalid, unknown, or malformed.",
    )
}

/// The token request's parameters, from a JSON or form body and HTTP Basic.
struct TokenParams {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    format: &'static str,
}

fn token_params(request: &Request) -> TokenParams {
    let content_type = request.header("content-type").unwrap_or_default();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut format = "form";
    if content_type.starts_with("application/json") {
        format = "json";
        if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&request.body) {
            for (k, v) in map {
                if let Value::String(s) = v {
                    fields.push((k, s));
                }
            }
        }
    } else {
        fields.extend(
            form_urlencoded::parse(&request.body).map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut params = TokenParams {
        grant_type: field("grant_type"),
        client_id: field("client_id"),
        client_secret: field("client_secret"),
        scope: field("scope"),
        format,
    };
    if let Some(basic) = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = STANDARD
            .decode(basic.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        if let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
            params.client_id = Some(id.to_string());
            params.client_secret = Some(secret.to_string());
            params.format = "basic";
        }
    }
    params
}

fn token_endpoint(shared: &Shared, request: &Request, env: &str, peer: IpAddr) -> Reply {
    let params = token_params(request);
    let mut world = shared.lock();
    let stats = &mut world.stats;
    stats.token_requests += 1;
    *stats
        .token_requests_by_environment
        .entry(env.to_string())
        .or_default() += 1;
    *stats
        .token_request_formats
        .entry(params.format.to_string())
        .or_default() += 1;
    if let Some(id) = &params.client_id {
        *stats
            .token_requests_by_client
            .entry(id.clone())
            .or_default() += 1;
    }
    *stats
        .token_request_scopes
        .entry(params.scope.clone().unwrap_or_default())
        .or_default() += 1;
    if request.method != "POST" {
        return Reply::Respond(api_error(404, "not_found", "route not found"));
    }
    let fault = world.take_fault(env, FaultTarget::Token, params.client_id.as_deref());
    let peer = world.client_address.unwrap_or(peer);
    drop(world);
    match fault {
        Some(f) if f.kind == FaultKind::DropScopes => Reply::Respond(issue(
            shared,
            &params,
            env,
            peer,
            f.scopes.as_deref().unwrap_or_default(),
        )),
        Some(f) => fault_reply(&f, || {
            Reply::Respond(issue(shared, &params, env, peer, &[]))
        }),
        None => Reply::Respond(issue(shared, &params, env, peer, &[])),
    }
}

/// Doorkeeper's client-credentials flow: grant type, client authentication,
/// (Cybrid's) IP allowlist, scope, then a token (granted without `dropped`,
/// the answer's `scope` saying so).
fn issue(
    shared: &Shared,
    params: &TokenParams,
    env: &str,
    peer: IpAddr,
    dropped: &[String],
) -> Response {
    match params.grant_type.as_deref() {
        None => {
            return oauth_error(
                400,
                "invalid_request",
                "Missing required parameter: grant_type.",
            )
        }
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                400,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            )
        }
    }
    let mut world = shared.lock();
    let app = match (&params.client_id, &params.client_secret) {
        (Some(id), Some(secret)) => world
            .application(env, id)
            .filter(|a| constant_time_eq(a.client_secret.as_bytes(), secret.as_bytes()))
            .cloned(),
        _ => None,
    };
    let Some(app) = app else {
        return oauth_error(
            401,
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
        );
    };
    if !app.ip_allowlist.is_empty() && !app.ip_allowlist.iter().any(|ip| ip == &peer.to_string()) {
        return ip_not_allowed();
    }
    let Some(scope) = params.scope.as_deref().filter(|s| !s.trim().is_empty()) else {
        return oauth_error(400, "invalid_request", "Missing required parameter: scope.");
    };
    let mut requested: Vec<String> = scope.split_whitespace().map(str::to_string).collect();
    if !requested.iter().all(|s| app.scopes.contains(s)) {
        return invalid_scope();
    }
    requested.retain(|s| !dropped.contains(s));
    let now = now_unix();
    let token = token::mint(&app, &requested, &shared.kid, now);
    world.grants.insert(
        token.clone(),
        Grant {
            environment: env.to_string(),
            organization_guid: app.organization_guid.clone(),
            scopes: requested.clone(),
            expires_at: now + token::LIFETIME_SECS,
        },
    );
    world.stats.tokens_issued += 1;
    Response::json(
        200,
        &json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": token::LIFETIME_SECS - 1,
            "scope": requested.join(" "),
            "created_at": now,
        }),
    )
    .with_header("Cache-Control", "no-store")
    .with_header("Pragma", "no-cache")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn application_body(app: &Application) -> Value {
    let mut body = json!({
        "name": app.name,
        "client_id": app.client_id,
        "type": app.kind.as_str(),
        "scopes": app.scopes,
        "ip_allowlist": app.ip_allowlist,
        "organization_guid": app.organization_guid,
        "created_at": "2025-01-15T12:00:00.000Z",
        "updated_at": "2025-01-15T12:00:00.000Z",
    });
    if app.kind == AppKind::Bank {
        body["bank_guid"] = json!(app.guid);
    }
    body
}

fn applications_endpoint(
    shared: &Shared,
    request: &Request,
    env: &str,
    kind: AppKind,
    client_id: &str,
) -> Reply {
    let mut world = shared.lock();
    world.stats.application_requests += 1;
    if request.method == "DELETE" {
        *world
            .stats
            .delete_requests_by_client
            .entry(client_id.to_string())
            .or_default() += 1;
    }
    if let Some(fault) = world.take_fault(env, FaultTarget::Applications, Some(client_id)) {
        drop(world);
        return fault_reply(&fault, || {
            Reply::Respond(applications(shared, request, env, kind, client_id))
        });
    }
    drop(world);
    Reply::Respond(applications(shared, request, env, kind, client_id))
}

fn applications(
    shared: &Shared,
    request: &Request,
    env: &str,
    kind: AppKind,
    client_id: &str,
) -> Response {
    let mut world = shared.lock();
    let grant = match grant_of(&world, request, env) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    let resource = format!("{}_applications", kind.as_str());
    let execute = format!("{resource}:execute");
    let read = format!("{resource}:read");
    // Exactly as CYBRID.md documents: GET needs `:read`, DELETE `:execute`;
    // one does not stand in for the other.
    let required = match request.method.as_str() {
        "GET" => read,
        "DELETE" => execute,
        _ => return api_error(404, "not_found", "route not found"),
    };
    if !grant.scopes.contains(&required) {
        return api_error(
            403,
            "invalid_scopes",
            &format!("Invalid scopes. Required: {required}"),
        );
    }
    let found = world.applications.iter().position(|a| {
        a.environment == env
            && a.client_id == client_id
            && a.kind == kind
            && a.organization_guid == grant.organization_guid
    });
    let Some(pos) = found else {
        return api_error(404, "not_found", "application not found");
    };
    if request.method == "GET" {
        return Response::json(200, &application_body(&world.applications[pos]));
    }
    world.applications.remove(pos);
    world.stats.applications_deleted += 1;
    Response::empty(204)
}

/// The grant of the request's bearer token in `env`, or the 401 to answer.
fn grant_of(world: &World, request: &Request, env: &str) -> Result<Grant, Response> {
    request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| world.grants.get(t.trim()))
        .filter(|g| g.environment == env && g.expires_at > now_unix())
        .cloned()
        .ok_or_else(|| {
            api_error(
                401,
                "authentication_malformed",
                "Authentication token is missing, malformed or expired",
            )
        })
}

/// `POST /api/{kind}_applications` (scope `{kind}_applications:execute`).
fn create_endpoint(shared: &Shared, request: &Request, env: &str, kind: AppKind) -> Reply {
    let mut world = shared.lock();
    world.stats.application_requests += 1;
    if request.method != "POST" {
        return Reply::Respond(api_error(404, "not_found", "route not found"));
    }
    if let Some(fault) = world.take_fault(env, FaultTarget::Applications, None) {
        drop(world);
        return fault_reply(&fault, || {
            Reply::Respond(create(shared, request, env, kind))
        });
    }
    drop(world);
    Reply::Respond(create(shared, request, env, kind))
}

fn create(shared: &Shared, request: &Request, env: &str, kind: AppKind) -> Response {
    let mut world = shared.lock();
    let grant = match grant_of(&world, request, env) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    let required = format!("{}_applications:execute", kind.as_str());
    if !grant.scopes.contains(&required) {
        return api_error(
            403,
            "invalid_scopes",
            &format!("Invalid scopes. Required: {required}"),
        );
    }
    match super::create::create(&mut world, env, kind, &grant, &request.body) {
        Ok(app) => Response::json(
            201,
            &super::create::with_secret(application_body(&app), &app),
        ),
        Err(why) => api_error(422, "invalid_parameter", &why),
    }
}

fn admin_route(shared: &Shared, request: &Request, what: &str) -> Response {
    let parse = |body: &[u8]| serde_json::from_slice::<Value>(body);
    match (request.method.as_str(), what) {
        ("GET", "stats") => Response::json(200, &json!(shared.lock().stats)),
        ("GET", "applications") => {
            let world = shared.lock();
            let list: Vec<Value> = world
                .applications
                .iter()
                .map(|a| {
                    let mut v = application_body(a);
                    v["environment"] = json!(a.environment);
                    v
                })
                .collect();
            Response::json(200, &json!(list))
        }
        ("POST", "applications") => {
            let apps: Result<Vec<Application>, _> = match parse(&request.body) {
                Ok(v @ Value::Array(_)) => serde_json::from_value(v),
                Ok(v) => serde_json::from_value(v).map(|a| vec![a]),
                Err(e) => Err(e),
            };
            match apps {
                Ok(apps) => {
                    let mut world = shared.lock();
                    let stored: Vec<Value> = apps
                        .into_iter()
                        .map(|a| {
                            let a = world.add_application(a);
                            json!({"client_id": a.client_id, "environment": a.environment,
                                   "type": a.kind.as_str(), "guid": a.guid,
                                   "organization_guid": a.organization_guid})
                        })
                        .collect();
                    Response::json(201, &json!(stored))
                }
                Err(e) => api_error(400, "bad_request", &e.to_string()),
            }
        }
        ("POST", "faults") => {
            let faults: Result<Vec<Fault>, _> = match parse(&request.body) {
                Ok(v @ Value::Array(_)) => serde_json::from_value(v),
                Ok(v) => serde_json::from_value(v).map(|f| vec![f]),
                Err(e) => Err(e),
            };
            match faults {
                Ok(faults) => {
                    shared.lock().faults.extend(faults);
                    Response::empty(201)
                }
                Err(e) => api_error(400, "bad_request", &e.to_string()),
            }
        }
        ("POST", "client_address") => {
            let address = parse(&request.body)
                .ok()
                .and_then(|v| v.get("address").and_then(Value::as_str).map(str::to_string));
            match address.map(|a| a.parse::<IpAddr>()) {
                Some(Ok(ip)) => shared.lock().client_address = Some(ip),
                Some(Err(e)) => return api_error(400, "bad_request", &e.to_string()),
                None => shared.lock().client_address = None,
            }
            Response::empty(204)
        }
        ("DELETE", "faults") => {
            shared.lock().faults.clear();
            Response::empty(204)
        }
        _ => api_error(404, "not_found", "route not found"),
    }
}
