//! The HTTP side of `ci`: one client per API, polite and careful with the token.
//!
//! - The token goes only to the API's own origin (scheme, host, port). The
//!   client follows no redirect by itself; [`Api::download`] follows them by
//!   hand and drops the token when a redirect leaves the API's origin
//!   (GitHub's log archives live behind pre-signed URLs on another host).
//! - Rate limits are honoured for every worker at once. The budget the API
//!   announces (`x-ratelimit-remaining` / `x-ratelimit-reset`, GitLab's
//!   `RateLimit-Remaining` / `RateLimit-Reset`) is counted down as requests
//!   start, so when it is spent no worker sends another request to the API
//!   before the reset (not even the ones that were about to). A rate-limit
//!   answer (403/429 with `Retry-After` or a spent budget: GitHub's secondary
//!   and primary limits, GitLab's 429) pauses every worker too: the limit is
//!   the token's, not the request's. 5xx answers and network failures are
//!   retried with backoff, a bounded number of times.
//! - Nothing waits past the overall deadline: a pause that would end after it
//!   fails at once, a request started near it is cut off at it, and a
//!   download's body stops being read at it ([`Body`]).
//! - Plain `http://` is accepted for loopback hosts only, as `--endpoint` does.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderMap, HeaderValue, LOCATION};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::verify::endpoint::is_loopback;
use crate::verify::retry::{parse_retry_after, Backoff};

/// JSON answers larger than this are not a listing we asked for.
const MAX_JSON: u64 = 64 << 20;
/// Redirects followed at most for one download.
const MAX_REDIRECTS: usize = 5;
/// The longest single rate-limit pause; longer resets wait in several turns
/// (each checked against the deadline).
const MAX_PAUSE: Duration = Duration::from_secs(3600);

/// Why a request gave no usable answer. Messages never hold the token or a
/// response body beyond a short, escaped API error message.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("HTTP {status} from {url}{}", fmt_message(.message))]
    Status {
        status: u16,
        url: String,
        message: String,
    },
    #[error("{url} answered {content_type:?}, not JSON (an error page or a proxy in the way?)")]
    NotJson { url: String, content_type: String },
    #[error("{url}: unreadable JSON: {message}")]
    BadJson { url: String, message: String },
    #[error("{url}: {message}")]
    Network { url: String, message: String },
    #[error("{url}: refused: {message}")]
    Refused { url: String, message: String },
    #[error("the overall deadline (--deadline) was reached: {url} not fetched")]
    Deadline { url: String },
}

fn fmt_message(m: &str) -> String {
    if m.is_empty() {
        String::new()
    } else {
        format!(": {m}")
    }
}

impl HttpError {
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Why an API URL is not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum ApiUrlError {
    #[error("--api-url {0:?} is not a URL")]
    Bad(String),
    #[error("--api-url: scheme {0:?} is not allowed (use https, or http for a loopback address)")]
    Scheme(String),
    #[error("--api-url: plain http is only allowed to a loopback address, not {0:?}: the token would cross the network unencrypted")]
    Insecure(String),
    #[error("--api-url must not carry user-info, a query or a fragment (tokens come from the environment only)")]
    Extras,
    #[error("cannot set up the HTTPS client: {0}")]
    Client(String),
}

/// Check an API root: https, or http to loopback; no user-info or query.
pub fn check_api_url(raw: &str) -> Result<Url, ApiUrlError> {
    let mut url = Url::parse(raw).map_err(|_| {
        ApiUrlError::Bad(if raw.contains('@') {
            "<withheld: it has user-info>".into()
        } else {
            raw.into()
        })
    })?;
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(ApiUrlError::Extras);
    }
    check_scheme(&url).map_err(|e| match e {
        SchemeProblem::Scheme(s) => ApiUrlError::Scheme(s),
        SchemeProblem::Insecure(h) => ApiUrlError::Insecure(h),
    })?;
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    Ok(url)
}

enum SchemeProblem {
    Scheme(String),
    Insecure(String),
}

fn check_scheme(url: &Url) -> Result<(), SchemeProblem> {
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = url.host_str().unwrap_or_default().to_string();
            if is_loopback(&host) {
                Ok(())
            } else {
                Err(SchemeProblem::Insecure(host))
            }
        }
        other => Err(SchemeProblem::Scheme(other.to_string())),
    }
}

/// How the API wants its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer TOKEN` (GitHub).
    Bearer,
    /// `PRIVATE-TOKEN: TOKEN` (GitLab personal, group and project tokens).
    PrivateToken,
}

/// A token from the environment. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(value: String) -> Self {
        Token(value)
    }

    /// The token itself, for a clone's credential callback: never printed.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<withheld>)")
    }
}

/// Counters the progress display and the report show.
#[derive(Debug, Default)]
pub struct Waits {
    /// Rate-limit pauses (a spent budget, `Retry-After`, 429), each counted
    /// once however many workers it held.
    pub rate_limit: AtomicU64,
    /// Retries after a 5xx or a network failure.
    pub retries: AtomicU64,
    /// Time spent paused for rate limits, in milliseconds.
    pub paused_ms: AtomicU64,
    /// Time spent waiting for answers (their headers), summed over workers,
    /// in nanoseconds.
    pub request_ns: AtomicU64,
    /// Time spent reading download bodies off the network, summed over
    /// workers, in nanoseconds (a streamed trace's scanning is not in it).
    pub body_ns: AtomicU64,
}

fn add_elapsed(counter: &AtomicU64, since: Instant) {
    counter.fetch_add(
        u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

/// Settings of an [`Api`].
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub base: Url,
    pub token: Option<Token>,
    pub auth: Auth,
    /// Extra headers sent with every API request (GitHub's Accept/version).
    pub headers: Vec<(&'static str, &'static str)>,
    /// Per request, and per read of a streamed body.
    pub timeout: Duration,
    pub deadline: Instant,
    pub backoff: Backoff,
}

/// A client of one CI API.
#[derive(Debug)]
pub struct Api {
    client: Client,
    config: ApiConfig,
    /// The API's rate-limit budget, shared by every worker.
    budget: Mutex<Budget>,
    /// Shared with the [`Body`]s being read.
    pub waits: Arc<Waits>,
}

/// The rate-limit budget of the API as this client knows it.
#[derive(Debug, Default)]
struct Budget {
    /// Requests left in the window: the API's last count, less the requests
    /// started since (`None`: unknown, nothing holds requests back).
    remaining: Option<u64>,
    /// The window's end: the API's reset (epoch seconds), and as an instant.
    reset: Option<(u64, Instant)>,
    /// API requests sent and not answered yet.
    in_flight: u64,
    /// Every API request waits until then.
    paused_until: Option<Instant>,
    /// The window (its reset) whose spent budget was last counted as a
    /// pause: an answer saying so and the countdown reaching 0 are one pause.
    counted_reset: Option<u64>,
}

impl Api {
    pub fn new(config: ApiConfig) -> Result<Self, ApiUrlError> {
        let client = Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.timeout)
            .timeout(config.timeout)
            .user_agent(concat!("cybrid-scan/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .build()
            .map_err(|e| ApiUrlError::Client(e.to_string()))?;
        Ok(Api {
            client,
            config,
            budget: Mutex::new(Budget::default()),
            waits: Arc::default(),
        })
    }

    pub fn base(&self) -> &Url {
        &self.config.base
    }

    pub fn has_token(&self) -> bool {
        self.config.token.is_some()
    }

    /// `base` + path segments (each percent-encoded, so `group/project`
    /// becomes one segment `group%2Fproject`) + query.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.config.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Whether `url` is on the API's own origin (where the token may go).
    pub fn same_origin(&self, url: &Url) -> bool {
        let b = &self.config.base;
        url.scheme() == b.scheme()
            && url.host_str() == b.host_str()
            && url.port_or_known_default() == b.port_or_known_default()
    }

    /// GET JSON, with the response's headers (for pagination).
    pub fn get_json<T: DeserializeOwned>(&self, url: &Url) -> Result<(T, HeaderMap), HttpError> {
        let response = self.send(Method::GET, url, true)?;
        let response = ok_or_status(response, url)?;
        let headers = response.headers().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if !content_type.to_ascii_lowercase().contains("json") {
            return Err(HttpError::NotJson {
                url: shown(url),
                content_type,
            });
        }
        let mut body = Vec::new();
        response
            .take(MAX_JSON)
            .read_to_end(&mut body)
            .map_err(|e| HttpError::Network {
                url: shown(url),
                message: format!("answer broke off: {e}"),
            })?;
        let value = serde_json::from_slice(&body).map_err(|e| HttpError::BadJson {
            url: shown(url),
            message: e.to_string(),
        })?;
        Ok((value, headers))
    }

    /// A request whose answer the caller reads (a DELETE, an erase).
    pub fn call(&self, method: Method, url: &Url) -> Result<Response, HttpError> {
        self.send(method, url, true)
    }

    /// GET a body to stream (a log archive, a trace), following redirects by
    /// hand: the token is sent only while the URL is on the API's origin.
    pub fn download(&self, url: &Url) -> Result<Body, HttpError> {
        let mut current = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let with_token = self.same_origin(&current);
            let response = self.send(Method::GET, &current, with_token)?;
            if !response.status().is_redirection() {
                return ok_or_status(response, &current).map(|response| Body {
                    response,
                    deadline: self.config.deadline,
                    waits: self.waits.clone(),
                });
            }
            let next = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| current.join(l).ok())
                .ok_or_else(|| HttpError::Refused {
                    url: shown(&current),
                    message: format!(
                        "redirect ({}) without a usable Location",
                        response.status().as_u16()
                    ),
                })?;
            if let Err(SchemeProblem::Insecure(_) | SchemeProblem::Scheme(_)) = check_scheme(&next)
            {
                return Err(HttpError::Refused {
                    url: shown(&current),
                    message: format!(
                        "redirect to {} (not https): the log would cross the network unencrypted",
                        shown(&next)
                    ),
                });
            }
            current = next;
        }
        Err(HttpError::Refused {
            url: shown(url),
            message: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    /// One request, with rate-limit pauses and bounded retries.
    fn send(&self, method: Method, url: &Url, with_token: bool) -> Result<Response, HttpError> {
        let mut retry = 0u32;
        // Only the API's own origin has a rate limit (the download host of
        // pre-signed URLs does not count, nor answer with its headers).
        let api = self.same_origin(url);
        loop {
            if api {
                self.acquire(url)?;
            } else if Instant::now() >= self.config.deadline {
                return Err(HttpError::Deadline { url: shown(url) });
            }
            let mut request = self.client.request(method.clone(), url.clone());
            // Near the deadline, the whole request (body included) must end
            // by it; otherwise `timeout` bounds each read (and [`Body`]
            // stops reading at the deadline).
            let left = self
                .config
                .deadline
                .saturating_duration_since(Instant::now());
            if left < self.config.timeout {
                request = request.timeout(left.max(Duration::from_millis(1)));
            }
            if with_token {
                for (name, value) in &self.config.headers {
                    request = request.header(*name, *value);
                }
                if let Some(token) = &self.config.token {
                    let (name, value) = match self.config.auth {
                        Auth::Bearer => ("authorization", format!("Bearer {}", token.0)),
                        Auth::PrivateToken => ("private-token", token.0.clone()),
                    };
                    if let Ok(mut value) = HeaderValue::from_str(&value) {
                        value.set_sensitive(true);
                        request = request.header(name, value);
                    }
                }
            }
            let asked = Instant::now();
            let sent = request.send();
            add_elapsed(&self.waits.request_ns, asked);
            if api {
                self.answered(sent.as_ref().ok().map(Response::headers));
            }
            let (wait, response) = match sent {
                Ok(response) => match self.transient(&response) {
                    None => return Ok(response),
                    Some(w) => (w, Some(response)),
                },
                Err(_) if Instant::now() >= self.config.deadline => {
                    return Err(HttpError::Deadline { url: shown(url) })
                }
                Err(e) => (Transient::Retry(None, network_message(&e)), None),
            };
            match wait {
                Transient::RateLimited(d, spent) => {
                    // Rate limits are waited out (within the deadline), not
                    // counted against the retry budget: they are not failures.
                    // The limit is the token's: every worker pauses.
                    if api {
                        self.pause_all(d, spent);
                    } else {
                        self.waits.rate_limit.fetch_add(1, Ordering::Relaxed);
                        self.pause_self(d, url)?;
                    }
                }
                Transient::Retry(after, message) => {
                    if retry >= self.config.backoff.retries {
                        return match response {
                            Some(response) => ok_or_status(response, url),
                            None => Err(HttpError::Network {
                                url: shown(url),
                                message: format!(
                                    "{message} (gave up after {} attempts)",
                                    retry + 1
                                ),
                            }),
                        };
                    }
                    self.waits.retries.fetch_add(1, Ordering::Relaxed);
                    let d = self.config.backoff.delay(retry, after);
                    retry += 1;
                    self.pause_self(d, url)?;
                }
            }
        }
    }

    /// What to do about an answer that is not final.
    fn transient(&self, response: &Response) -> Option<Transient> {
        let status = response.status();
        let headers = response.headers();
        let retry_after = header_str(headers, "retry-after")
            .and_then(|v| parse_retry_after(v, time::OffsetDateTime::now_utc()));
        let reset = reset_wait(headers);
        let exhausted = header_str(headers, "x-ratelimit-remaining") == Some("0")
            || header_str(headers, "ratelimit-remaining") == Some("0");
        if status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::FORBIDDEN && (retry_after.is_some() || exhausted))
        {
            let d = retry_after
                .or(reset.map(|(_, wait)| wait))
                .unwrap_or(Duration::from_secs(60))
                .max(Duration::from_millis(100));
            let spent = reset.filter(|_| exhausted).map(|(at, _)| at);
            return Some(Transient::RateLimited(d, spent));
        }
        if status.is_server_error() {
            return Some(Transient::Retry(
                retry_after,
                format!("HTTP {}", status.as_u16()),
            ));
        }
        None
    }

    /// Wait until an API request may start, and count it against the
    /// budget: a pause holds every worker; a spent budget starts a pause
    /// until its reset.
    fn acquire(&self, url: &Url) -> Result<(), HttpError> {
        loop {
            let mut b = self.budget.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if let Some(until) = b.paused_until.filter(|u| *u > now) {
                drop(b);
                self.sleep_within_deadline(until - now, url)?;
                continue;
            }
            b.paused_until = None;
            if b.reset.is_some_and(|(_, at)| at <= now) {
                // A new window: its budget is known from the next answer.
                b.reset = None;
                b.remaining = None;
            }
            match (b.remaining, b.reset) {
                (Some(0), Some((reset, at))) => {
                    b.paused_until = Some(at.min(now + MAX_PAUSE));
                    if b.counted_reset != Some(reset) {
                        b.counted_reset = Some(reset);
                        self.waits.rate_limit.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                }
                (Some(n), _) => b.remaining = Some(n.saturating_sub(1)),
                (None, _) => {}
            }
            if now >= self.config.deadline {
                return Err(HttpError::Deadline { url: shown(url) });
            }
            b.in_flight += 1;
            return Ok(());
        }
    }

    /// An API request ended (with these headers, if it was answered): learn
    /// the budget it announces. Requests still on their way may be counted
    /// by the API after this answer: they are taken off, so the budget is
    /// never overestimated.
    fn answered(&self, headers: Option<&HeaderMap>) {
        let mut b = self.budget.lock().unwrap_or_else(|e| e.into_inner());
        b.in_flight = b.in_flight.saturating_sub(1);
        let Some(headers) = headers else { return };
        let remaining = header_str(headers, "x-ratelimit-remaining")
            .or_else(|| header_str(headers, "ratelimit-remaining"))
            .and_then(|v| v.parse::<u64>().ok());
        let (Some(remaining), Some((reset, wait))) = (remaining, reset_wait(headers)) else {
            return;
        };
        let left = remaining.saturating_sub(b.in_flight);
        match b.reset {
            Some((current, _)) if reset < current => {} // an older window's answer
            Some((current, _)) if reset == current => {
                b.remaining = Some(b.remaining.map_or(left, |r| r.min(left)));
            }
            _ => {
                b.remaining = Some(left);
                b.reset = Some((reset, Instant::now() + wait.min(MAX_PAUSE)));
            }
        }
    }

    /// Pause every API request for `d` (a rate-limit answer; `spent`: the
    /// reset of the window it says is spent). A pause already under way is
    /// lengthened, not counted again; nor is one for a window already counted.
    fn pause_all(&self, d: Duration, spent: Option<u64>) {
        let mut b = self.budget.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let until = now + d.min(MAX_PAUSE);
        match b.paused_until {
            Some(p) if p > now => b.paused_until = Some(p.max(until)),
            _ => {
                b.paused_until = Some(until);
                if spent.is_none() || spent != b.counted_reset {
                    self.waits.rate_limit.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if spent.is_some() {
            b.counted_reset = spent;
        }
    }

    fn pause_self(&self, d: Duration, url: &Url) -> Result<(), HttpError> {
        self.sleep_within_deadline(d.min(MAX_PAUSE), url)
    }

    fn sleep_within_deadline(&self, d: Duration, url: &Url) -> Result<(), HttpError> {
        if Instant::now() + d > self.config.deadline {
            return Err(HttpError::Deadline { url: shown(url) });
        }
        self.waits
            .paused_ms
            .fetch_add(d.as_millis() as u64, Ordering::Relaxed);
        std::thread::sleep(d);
        Ok(())
    }
}

/// A download's body, read no further than the overall deadline: a slow
/// answer does not keep the sweep past it (each read is bounded by
/// `--timeout` besides).
pub struct Body {
    response: Response,
    deadline: Instant,
    waits: Arc<Waits>,
}

impl Body {
    fn past_deadline() -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the overall deadline (--deadline) was reached",
        )
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if Instant::now() >= self.deadline {
            return Err(Self::past_deadline());
        }
        let started = Instant::now();
        let read = self.response.read(buf);
        add_elapsed(&self.waits.body_ns, started);
        read.map_err(|e| {
            if Instant::now() >= self.deadline {
                Self::past_deadline()
            } else {
                e
            }
        })
    }
}

enum Transient {
    /// Wait this long; the reset of the window the answer says is spent.
    RateLimited(Duration, Option<u64>),
    Retry(Option<Duration>, String),
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// `x-ratelimit-reset` (GitHub, epoch seconds) or `RateLimit-Reset` (GitLab,
/// epoch seconds): the reset, and the wait from now until it is surely over.
fn reset_wait(headers: &HeaderMap) -> Option<(u64, Duration)> {
    let at: u64 = header_str(headers, "x-ratelimit-reset")
        .or_else(|| header_str(headers, "ratelimit-reset"))?
        .parse()
        .ok()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // The window ends at second `at` on the API's clock; half a second more
    // for a clock a little behind ours.
    let end = Duration::from_secs(at) + Duration::from_millis(500);
    Some((at, end.saturating_sub(now)))
}

fn network_message(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        "network error".into()
    }
}

/// A 2xx answer, or the error for its status (with the API's own short
/// message, escaped, when the body is JSON).
pub fn ok_or_status(response: Response, url: &Url) -> Result<Response, HttpError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"));
    let mut message = String::new();
    if is_json {
        let mut body = Vec::new();
        let _ = response.take(16 << 10).read_to_end(&mut body);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
            let m = v
                .get("message")
                .or_else(|| v.get("error"))
                .map(|m| match m {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            message = m.chars().take(200).collect();
        }
    }
    Err(HttpError::Status {
        status,
        url: shown(url),
        message: crate::report::escape_for_terminal(&message),
    })
}

/// A URL as errors show it: no query (pre-signed URLs carry signatures there).
pub fn shown(url: &Url) -> String {
    let mut u = url.clone();
    if u.query().is_some() && !u.query_pairs().all(|(k, _)| is_listing_param(&k)) {
        u.set_query(Some("<withheld>"));
    }
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

fn is_listing_param(k: &str) -> bool {
    matches!(
        k,
        "per_page" | "page" | "include_subgroups" | "created" | "type" | "filter"
    )
}

/// The `rel="next"` URL of a `Link` header (GitHub pagination).
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = header_str(headers, "link")?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_string())
    })
}

/// GitLab's `X-Next-Page` (empty on the last page).
pub fn next_page(headers: &HeaderMap) -> Option<u64> {
    header_str(headers, "x-next-page")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            HeaderValue::from_static(
                "<https://api.github.com/x?page=1>; rel=\"prev\", <https://api.github.com/x?page=3>; rel=\"next\", <https://api.github.com/x?page=9>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/x?page=3")
        );
        h.insert(
            "link",
            HeaderValue::from_static("<https://a/x?page=1>; rel=\"first\""),
        );
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn api_urls() {
        assert!(check_api_url("https://api.github.com").is_ok());
        assert!(check_api_url("http://127.0.0.1:9/api/v3").is_ok());
        assert!(matches!(
            check_api_url("http://example.com"),
            Err(ApiUrlError::Insecure(_))
        ));
        assert!(matches!(
            check_api_url("https://u:p@example.com"),
            Err(ApiUrlError::Extras)
        ));
        assert!(matches!(
            check_api_url("ftp://x"),
            Err(ApiUrlError::Scheme(_))
        ));
    }

    fn loopback_api() -> Api {
        Api::new(ApiConfig {
            base: Url::parse("http://127.0.0.1:9").unwrap_or_else(|_| unreachable!()),
            token: None,
            auth: Auth::Bearer,
            headers: Vec::new(),
            timeout: Duration::from_secs(5),
            deadline: Instant::now() + Duration::from_secs(30),
            backoff: Backoff {
                base: Duration::from_millis(10),
                cap: Duration::from_millis(10),
                retries: 0,
            },
        })
        .unwrap_or_else(|_| unreachable!())
    }

    fn budget(remaining: u64, reset: u64) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-ratelimit-remaining", remaining),
            ("x-ratelimit-reset", reset),
        ] {
            h.insert(k, HeaderValue::from(v));
        }
        h
    }

    #[test]
    fn the_budget_counts_down_requests_on_their_way_and_holds_all_until_the_reset() {
        let api = loopback_api();
        let url = api.url(&["x"], &[]);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let reset = now + 2;
        // Two requests out; the first answered with 3 left: the other may
        // be counted after that answer, so 2 are usable.
        assert!(api.acquire(&url).is_ok() && api.acquire(&url).is_ok());
        api.answered(Some(&budget(3, reset)));
        let started = Instant::now();
        assert!(api.acquire(&url).is_ok() && api.acquire(&url).is_ok());
        assert!(started.elapsed() < Duration::from_millis(500));
        assert_eq!(api.waits.rate_limit.load(Ordering::Relaxed), 0);
        // A late answer of the same window does not raise the count back.
        api.answered(Some(&budget(2, reset)));
        // Spent: the next request waits for the reset, counted once.
        assert!(api.acquire(&url).is_ok());
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        assert!(after >= reset, "went at {after}, the reset is {reset}");
        assert_eq!(api.waits.rate_limit.load(Ordering::Relaxed), 1);
        // The answer saying the same window is spent is the same pause.
        api.pause_all(Duration::from_millis(1), Some(reset));
        assert_eq!(api.waits.rate_limit.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn no_pause_runs_past_the_deadline() {
        let mut api = loopback_api();
        api.config.deadline = Instant::now() + Duration::from_millis(200);
        let url = api.url(&["x"], &[]);
        api.pause_all(Duration::from_secs(5), None);
        let started = Instant::now();
        assert!(matches!(api.acquire(&url), Err(HttpError::Deadline { .. })));
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "failed at once"
        );
    }

    #[test]
    fn shown_urls_withhold_signatures() {
        let u = Url::parse("https://blob.example/logs.zip?sig=abc&se=1")
            .unwrap_or_else(|_| unreachable!());
        assert!(!shown(&u).contains("abc"));
        let u = Url::parse("https://api.example/x?per_page=100&page=2")
            .unwrap_or_else(|_| unreachable!());
        assert!(shown(&u).contains("page=2"));
    }
}
