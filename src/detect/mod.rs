//! The detection engine: prefilter → regex on regions around keyword hits →
//! validation and Cybrid context → pairing. It knows nothing of files, git or
//! logs: it takes bytes and returns byte spans; sources add provenance.

pub mod check;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod jwt;
pub mod lines;
pub mod pairing;
pub mod prefilter;
pub mod validate;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::finding::{Confidence, TokenInfo};
use crate::rules::{Encoding, Pattern, Rule, RuleKind};
use crate::secret::Secret;
use prefilter::{Hit, Prefilter};

/// Regexes run this far (bytes) on each side of a keyword hit. Large enough
/// that a config file is searched whole; bounded so a 10 GB log mentioning
/// Cybrid once is not regex-scanned whole.
pub const DEFAULT_RADIUS: usize = 64 * 1024;

/// Context this close (bytes and lines) to a candidate keeps its confidence.
const NEAR_BYTES: usize = 1024;
const NEAR_LINES: usize = 5;

/// A credential found in a chunk, as byte offsets into it.
#[derive(Debug, Clone)]
pub struct Detection {
    /// Index into [`Engine::rules`].
    pub rule: usize,
    pub secret: Secret,
    pub client_id: Option<Secret>,
    /// Span of the secret's text as it appears (base64 text for encoded values).
    pub start: usize,
    pub end: usize,
    pub confidence: Confidence,
    pub token: Option<TokenInfo>,
    pub environment_hint: Option<&'static str>,
}

/// Per-thread buffers, reused across chunks so the hot path does not allocate.
#[derive(Default)]
pub struct Scratch {
    hits: Vec<Hit>,
    /// The hits that give Cybrid context, and those that name an environment,
    /// in offset order: candidates look up their neighbours by binary search,
    /// so a chunk with a million keywords and a million candidates stays
    /// O(n log n) rather than O(n²).
    context: Vec<Hit>,
    environments: Vec<Hit>,
}

/// Compiled rules plus their prefilter; built once, shared by all workers.
#[derive(Debug)]
pub struct Engine {
    rules: Vec<Rule>,
    prefilter: Prefilter,
    radius: usize,
}

impl Engine {
    pub fn new(rules: Vec<Rule>) -> Self {
        let prefilter = Prefilter::new(&rules);
        Engine {
            rules,
            prefilter,
            radius: DEFAULT_RADIUS,
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The longest span a detection can cover; sources that split a stream
    /// overlap chunks by at least this much so nothing straddles unseen.
    pub fn max_match_len(&self) -> usize {
        8 * 1024
    }

    /// All credentials in `bytes`, ordered by offset.
    pub fn scan(&self, bytes: &[u8], scratch: &mut Scratch) -> Vec<Detection> {
        self.prefilter.hits(bytes, &mut scratch.hits);
        if scratch.hits.is_empty() {
            return Vec::new();
        }
        let hits = &scratch.hits;
        scratch.context.clear();
        scratch
            .context
            .extend(hits.iter().filter(|h| self.prefilter.is_context(h)));
        scratch.environments.clear();
        scratch.environments.extend(
            hits.iter()
                .filter(|h| self.prefilter.environment(h).is_some()),
        );
        let near = Neighbours {
            context: &scratch.context,
            environments: &scratch.environments,
        };
        let now = now_unix();
        let mut found = Vec::new();
        for (ri, rule) in self.rules.iter().enumerate() {
            let active = hits.iter().filter(|h| self.prefilter.activates(h, ri));
            for (lo, hi) in regions(bytes, active, self.radius) {
                for pattern in &rule.patterns {
                    for caps in pattern.regex.captures_iter(&bytes[lo..hi]) {
                        let Some(m) = caps.get(pattern.secret_group) else {
                            continue;
                        };
                        let id_span = pattern
                            .client_id_group
                            .and_then(|g| caps.get(g))
                            .map(|c| (lo + c.start(), lo + c.end()));
                        let span = (lo + m.start(), lo + m.end());
                        if let Some(d) =
                            self.candidate(ri, pattern, bytes, span, id_span, &near, now)
                        {
                            found.push(d);
                        }
                    }
                }
            }
        }
        found.sort_by(|a, b| {
            (a.start, a.rule, b.client_id.is_some()).cmp(&(b.start, b.rule, a.client_id.is_some()))
        });
        found.dedup_by(|b, a| a.rule == b.rule && a.start == b.start);
        #[cfg(feature = "fault-injection")]
        fault::after_scan(&found);
        self.pair_halves(bytes, found)
    }

    #[allow(clippy::too_many_arguments)]
    fn candidate(
        &self,
        ri: usize,
        pattern: &Pattern,
        bytes: &[u8],
        (start, end): (usize, usize),
        id_span: Option<(usize, usize)>,
        near: &Neighbours<'_>,
        now: i64,
    ) -> Option<Detection> {
        let rule = &self.rules[ri];
        if !validate::on_boundary(bytes, start, end) {
            return None;
        }
        let text = std::str::from_utf8(&bytes[start..end]).ok()?;
        let (secret, client_id) = match pattern.encoding {
            Encoding::Plain => {
                let id = match id_span {
                    Some((a, b)) => Some(std::str::from_utf8(&bytes[a..b]).ok()?.to_string()),
                    None => None,
                };
                (text.to_string(), id)
            }
            Encoding::Base64 => (decode_base64(text)?, None),
            Encoding::Basic => {
                let decoded = decode_base64(text)?;
                let (id, secret) = decoded.split_once(':')?;
                (secret.to_string(), Some(id.to_string()))
            }
        };
        let mut confidence = rule.confidence;
        let mut token = None;
        match rule.kind {
            RuleKind::AccessToken => {
                let info = jwt::decode_cybrid_token(&secret, now)?;
                if info.expired {
                    confidence = Confidence::Low;
                }
                token = Some(info);
            }
            RuleKind::WebhookSigningKey => {
                if !secret.bytes().all(|b| b.is_ascii_hexdigit())
                    || validate::is_placeholder(&secret)
                {
                    return None;
                }
            }
            RuleKind::ClientId | RuleKind::ClientSecret => {
                if !plausible_credential(rule, &secret) {
                    return None;
                }
                if let Some(id) = &client_id {
                    if !plausible_credential(rule, id) {
                        return None;
                    }
                }
            }
        }
        if rule.full_len.is_some_and(|full| secret.len() < full) {
            confidence = Confidence::Low;
        }
        if rule.requires_context {
            match self.context_distance(bytes, near.context, start, end) {
                None => return None,
                Some(Proximity::Near) => {}
                Some(Proximity::Far) => confidence = confidence.lowered(),
            }
        }
        let environment_hint = token
            .as_ref()
            .and_then(|t| t.environment.as_deref())
            .and_then(|e| {
                prefilter::ENVIRONMENT_HOSTS
                    .iter()
                    .map(|(_, env)| *env)
                    .find(|env| *env == e)
            })
            .or_else(|| self.nearest_environment(near.environments, start));
        Some(Detection {
            rule: ri,
            secret: Secret::new(secret),
            client_id: client_id.map(Secret::new),
            start,
            end,
            confidence,
            token,
            environment_hint,
        })
    }

    /// How close the nearest Cybrid context is to `start..end`. `context`
    /// holds non-overlapping hits in offset order, so the nearest one on each
    /// side is the closest in bytes and in lines: only those two are looked at.
    fn context_distance(
        &self,
        bytes: &[u8],
        context: &[Hit],
        start: usize,
        end: usize,
    ) -> Option<Proximity> {
        let split = context.partition_point(|h| h.end <= start);
        let before = split
            .checked_sub(1)
            .map(|i| (context[i], start - context[i].end));
        let after = context
            .get(split)
            .map(|h| (*h, h.start.saturating_sub(end)));
        let mut best: Option<Proximity> = None;
        for (h, gap) in before.into_iter().chain(after) {
            if gap > self.radius {
                continue;
            }
            if gap <= NEAR_BYTES && lines::lines_between(bytes, h.start, start) <= NEAR_LINES {
                return Some(Proximity::Near);
            }
            best = Some(Proximity::Far);
        }
        best
    }

    /// The environment named by the host hit nearest to `at` (the earlier one on a tie).
    fn nearest_environment(&self, environments: &[Hit], at: usize) -> Option<&'static str> {
        let split = environments.partition_point(|h| h.start < at);
        let before = split.checked_sub(1).map(|i| &environments[i]);
        let after = environments.get(split);
        before
            .into_iter()
            .chain(after)
            .filter_map(|h| {
                self.prefilter
                    .environment(h)
                    .map(|e| (h.start.abs_diff(at), e))
            })
            .filter(|(d, _)| *d <= self.radius)
            .min_by_key(|(d, _)| *d)
            .map(|(_, e)| e)
    }

    /// Merge each lone client_secret with the client_id beside it.
    fn pair_halves(&self, bytes: &[u8], mut found: Vec<Detection>) -> Vec<Detection> {
        let kind = |d: &Detection| self.rules[d.rule].kind;
        let mut map = lines::LineMap::new(bytes);
        let positions: Vec<u64> = found.iter().map(|d| map.position(d.start).line).collect();
        let halves = |want: RuleKind, lone: bool| -> Vec<pairing::Half> {
            found
                .iter()
                .enumerate()
                .filter(|(_, d)| kind(d) == want && (!lone || d.client_id.is_none()))
                .map(|(i, _)| pairing::Half {
                    index: i,
                    line: positions[i],
                })
                .collect()
        };
        let secrets = halves(RuleKind::ClientSecret, true);
        let ids = halves(RuleKind::ClientId, false);
        let pairs = pairing::pair(&secrets, &ids);
        let mut absorbed = vec![false; found.len()];
        for (s, i) in pairs {
            let id = found[i].secret.clone();
            let id_hint = found[i].environment_hint;
            let secret = &mut found[s];
            secret.client_id = Some(id);
            secret.environment_hint = secret.environment_hint.or(id_hint);
            absorbed[i] = true;
        }
        let mut idx = 0;
        found.retain(|_| {
            idx += 1;
            !absorbed[idx - 1]
        });
        found
    }
}

/// The hits a candidate looks around for: Cybrid context and environment hosts.
struct Neighbours<'a> {
    context: &'a [Hit],
    environments: &'a [Hit],
}

enum Proximity {
    Near,
    Far,
}

fn plausible_credential(rule: &Rule, value: &str) -> bool {
    value.len() >= rule.min_len
        && rule.full_len.is_none_or(|full| value.len() <= full)
        && validate::is_url_safe_b64(value)
        && !validate::is_placeholder(value)
}

fn decode_base64(text: &str) -> Option<String> {
    let raw = STANDARD.decode(text).ok()?;
    String::from_utf8(raw).ok()
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Disjoint byte ranges `radius` around each hit, merged, in order.
fn regions<'h>(
    bytes: &[u8],
    hits: impl Iterator<Item = &'h Hit>,
    radius: usize,
) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for h in hits {
        let lo = line_start(bytes, h.start.saturating_sub(radius));
        let hi = line_end(bytes, (h.end + radius).min(bytes.len()));
        match out.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// Widen a region edge to a line boundary, within a bound, so a match is not cut.
const EDGE_SLACK: usize = 4096;

fn line_start(bytes: &[u8], at: usize) -> usize {
    let floor = at.saturating_sub(EDGE_SLACK);
    memchr::memrchr(b'\n', &bytes[floor..at]).map_or(floor, |i| floor + i + 1)
}

fn line_end(bytes: &[u8], at: usize) -> usize {
    let ceil = (at + EDGE_SLACK).min(bytes.len());
    memchr::memchr(b'\n', &bytes[at..ceil]).map_or(ceil, |i| at + i)
}
