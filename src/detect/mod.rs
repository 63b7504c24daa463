//! The detection engine: prefilter → regex on regions around keyword hits →
//! validation and Cybrid context → pairing. It knows nothing of files, git or
//! logs: it takes bytes and returns byte spans; sources add provenance.

pub mod check;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod fingerprint;
pub mod gate;
pub mod jwt;
pub mod lines;
pub mod owner;
pub mod pairing;
pub mod prefilter;
pub mod structure;
pub mod validate;

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::finding::{Confidence, Context, TokenInfo, Via};
use crate::rules::{Encoding, Pattern, Rule, RuleKind};
use crate::secret::Secret;
use gate::Gate;
use prefilter::{Hit, Prefilter};

/// Regexes run this far (bytes) on each side of a keyword hit. Large enough
/// that a config file is searched whole; bounded so a 10 GB log mentioning
/// Cybrid once is not regex-scanned whole.
pub const DEFAULT_RADIUS: usize = 64 * 1024;

/// A Cybrid host this close (bytes and lines) to a candidate keeps its confidence.
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
    /// Why it is Cybrid's; `via` is `None` while it awaits project evidence.
    pub context: Option<Context>,
}

/// The note an unpaired client id carries.
pub const LONE_CLIENT_ID_NOTE: &str =
    "a client id alone names an application but cannot mint a token; no secret beside it";

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
    /// Per gate: the region its windows were computed for, and the windows
    /// (the patterns of several rules share a gate and a region).
    windows: Vec<GateWindows>,
    /// Every gate's windows of one region together, and which gated
    /// patterns can match in each (rules usually share their regions).
    merged: MergedWindows,
    /// The merged windows one pattern runs in.
    selected: Vec<(usize, usize)>,
}

/// One gate's windows in the region they were computed for.
#[derive(Default)]
struct GateWindows {
    region: Option<(usize, usize)>,
    list: Vec<(usize, usize)>,
}

/// All gates' windows of a region, merged, and which gated patterns can
/// match in each.
#[derive(Default)]
struct MergedWindows {
    region: Option<(usize, usize)>,
    /// The gates (a bitmask) whose windows were merged.
    gates: u32,
    /// Windows, with the gates whose windows each holds (a bitmask).
    list: Vec<(usize, usize, u32)>,
    /// (window, gated pattern) for every pattern that can match in a
    /// window, in window order.
    hits: Vec<(usize, usize)>,
}

impl Scratch {
    /// After [`Engine::scan`]: did the chunk mention Cybrid at all?
    pub fn saw_cybrid(&self) -> bool {
        !self.context.is_empty()
    }

    /// After [`Engine::scan`]: the first Cybrid host the chunk names, if any
    /// (project evidence: "this file calls a Cybrid host").
    pub fn first_host(&self, bytes: &[u8]) -> Option<String> {
        self.context
            .iter()
            .find(|h| h.host)
            .map(|h| prefilter::host_name(bytes, h.start, h.end))
    }
}

/// Compiled rules plus their prefilter; built once, shared by all workers.
#[derive(Debug)]
pub struct Engine {
    rules: Vec<Rule>,
    prefilter: Prefilter,
    radius: usize,
    /// Other providers' names (lowercase): a key or parent naming one is not Cybrid's.
    providers: Vec<String>,
    /// The distinct value-shape gates of all patterns, and each pattern's
    /// (by rule, then pattern), if it has one.
    gates: Vec<Gate>,
    pattern_gates: Vec<Vec<Option<usize>>>,
    /// Holds every gate: its runs are found once per region for all of them.
    union_gate: Option<Gate>,
    /// Every gated pattern: (rule, pattern, gate); and each pattern's
    /// index in that list (by rule, then pattern).
    gated: Vec<(usize, usize, usize)>,
    gated_index: Vec<Vec<Option<usize>>>,
    /// Per rule, the gates (a bitmask) of its gated patterns.
    rule_gates: Vec<u32>,
    /// Per combination of gates (a bitmask), the regex set of their
    /// patterns, built on first use. Over each merged window one pass of the
    /// set of the gates whose windows it holds says whether anything can
    /// match there at all (most windows: nothing), a second which patterns,
    /// and each of those then runs its capture search in that window only.
    /// One pass for all rules, not one per rule and gate: in a CI log every
    /// line carries a sha256, so windows cover whole regions and each pass
    /// read all of it. Yet only the gates present: a package-lock's base64
    /// integrity hashes open windows for the base64 gate alone, and only its
    /// few patterns run there.
    combos: Vec<OnceLock<Option<ComboSet>>>,
}

/// The gated patterns of a combination of gates, as one regex set.
#[derive(Debug)]
struct ComboSet {
    set: regex::bytes::RegexSet,
    /// Index into [`Engine::gated`] of each of the set's patterns.
    members: Vec<usize>,
}

/// Past this many distinct gates, combinations are not given sets: every
/// pattern of a window's gates runs its capture search there.
const MAX_COMBO_GATES: usize = 10;

impl Engine {
    /// An engine with the built-in list of other providers.
    pub fn new(rules: Vec<Rule>) -> Self {
        Self::with_providers(rules, owner::builtin_providers())
    }

    pub fn with_providers(rules: Vec<Rule>, providers: Vec<String>) -> Self {
        let prefilter = Prefilter::new(&rules);
        let mut gates: Vec<Gate> = Vec::new();
        let pattern_gates = rules
            .iter()
            .map(|rule| {
                rule.patterns
                    .iter()
                    .map(|p| {
                        let gate = Gate::of(p.regex.as_str())?;
                        Some(match gates.iter().position(|g| *g == gate) {
                            Some(i) => i,
                            None => {
                                gates.push(gate);
                                gates.len() - 1
                            }
                        })
                    })
                    .collect()
            })
            .collect::<Vec<Vec<Option<usize>>>>();
        let mut gated = Vec::new();
        let gated_index = pattern_gates
            .iter()
            .enumerate()
            .map(|(ri, gates)| {
                gates
                    .iter()
                    .enumerate()
                    .map(|(pi, g)| {
                        // Past 32 gates a pattern has no place in the masks:
                        // it runs in its own gate's windows, unmasked.
                        g.filter(|&g| g < 32).map(|g| {
                            gated.push((ri, pi, g));
                            gated.len() - 1
                        })
                    })
                    .collect()
            })
            .collect();
        let mut rule_gates = vec![0u32; rules.len()];
        for &(ri, _, g) in &gated {
            rule_gates[ri] |= 1 << g;
        }
        let combos = if gates.len() <= MAX_COMBO_GATES {
            (0..1usize << gates.len())
                .map(|_| OnceLock::new())
                .collect()
        } else {
            Vec::new()
        };
        let union_gate = Gate::union(&gates);
        Engine {
            rules,
            prefilter,
            radius: DEFAULT_RADIUS,
            providers,
            gates,
            pattern_gates,
            union_gate,
            gated,
            gated_index,
            rule_gates,
            combos,
        }
    }

    /// The same engine with every pattern run over whole regions: what
    /// value-shape gating must never change (tests compare the two).
    pub fn ungated(mut self) -> Self {
        for gates in &mut self.pattern_gates {
            gates.iter_mut().for_each(|g| *g = None);
        }
        for index in &mut self.gated_index {
            index.iter_mut().for_each(|i| *i = None);
        }
        self
    }

    /// Gate `g`'s windows in region `lo..hi`, computed once per region.
    fn windows<'s>(
        &self,
        cache: &'s mut Vec<GateWindows>,
        g: usize,
        bytes: &[u8],
        lo: usize,
        hi: usize,
    ) -> &'s [(usize, usize)] {
        // The union gate's runs (the last cache slot) serve every gate.
        let union = self.gates.len();
        if cache.len() <= union {
            cache.resize_with(union + 1, GateWindows::default);
        }
        let (gates, rest) = cache.split_at_mut(union);
        let runs = &mut rest[0];
        if runs.region != Some((lo, hi)) {
            runs.list.clear();
            if let Some(u) = &self.union_gate {
                u.runs(bytes, lo, hi, &mut runs.list);
            }
            runs.region = Some((lo, hi));
        }
        let cached = &mut gates[g];
        if cached.region != Some((lo, hi)) {
            cached.list.clear();
            self.gates[g].windows_in(bytes, (lo, hi), &runs.list, &mut cached.list);
            cached.region = Some((lo, hi));
        }
        &cached.list
    }

    /// Every gate's windows in region `lo..hi` merged (see [`gate::merge`]),
    /// and which gated patterns can match in each; computed once per region.
    fn merged<'s>(
        &self,
        cache: &mut Vec<GateWindows>,
        merged: &'s mut MergedWindows,
        bytes: &[u8],
        (lo, hi): (usize, usize),
        gates: u32,
    ) -> &'s MergedWindows {
        if merged.region == Some((lo, hi)) && merged.gates == gates {
            return merged;
        }
        merged.list.clear();
        merged.hits.clear();
        for g in (0..self.gates.len()).filter(|&g| gate_in(gates, g)) {
            let tag = 1u32 << g;
            let windows = self.windows(cache, g, bytes, lo, hi);
            merged
                .list
                .extend(windows.iter().map(|&(a, b)| (a, b, tag)));
        }
        gate::merge(&mut merged.list);
        for (wi, &(w_lo, w_hi, gates)) in merged.list.iter().enumerate() {
            // The haystack starts at the region's start, so look-behind
            // context is what an ungated search sees.
            let hay = &bytes[lo..w_hi];
            match self.combo(gates) {
                Some(combo) => {
                    // Most windows match nothing: an earliest-match pass
                    // says so faster than the overlapping one that names
                    // the patterns.
                    if !combo.set.is_match_at(hay, w_lo - lo) {
                        continue;
                    }
                    let found = combo.set.matches_at(hay, w_lo - lo);
                    merged
                        .hits
                        .extend(found.iter().map(|i| (wi, combo.members[i])));
                }
                None => merged.hits.extend(
                    self.gated
                        .iter()
                        .enumerate()
                        .filter(|(_, &(_, _, g))| gate_in(gates, g))
                        .map(|(gi, _)| (wi, gi)),
                ),
            }
        }
        merged.region = Some((lo, hi));
        merged.gates = gates;
        merged
    }

    /// The regex set of the patterns of `gates` (a bitmask), if it can be
    /// built.
    fn combo(&self, gates: u32) -> Option<&ComboSet> {
        self.combos
            .get(gates as usize)?
            .get_or_init(|| {
                let members: Vec<usize> = (0..self.gated.len())
                    .filter(|&gi| gate_in(gates, self.gated[gi].2))
                    .collect();
                let set = regex::bytes::RegexSetBuilder::new(members.iter().map(|&gi| {
                    let (ri, pi, _) = self.gated[gi];
                    self.rules[ri].patterns[pi].regex.as_str()
                }))
                .size_limit(64 << 20)
                .dfa_size_limit(8 << 20)
                .build()
                .ok()?;
                Some(ComboSet { set, members })
            })
            .as_ref()
    }

    /// How many patterns have a value-shape gate (of all patterns).
    pub fn gated_patterns(&self) -> (usize, usize) {
        let all = self.pattern_gates.iter().map(Vec::len).sum();
        let gated = self
            .pattern_gates
            .iter()
            .flatten()
            .filter(|g| g.is_some())
            .count();
        (gated, all)
    }

    /// The prefilter rules are run behind (log streams reuse it).
    pub fn prefilter(&self) -> &Prefilter {
        &self.prefilter
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
        scratch.context.clear();
        if scratch.hits.is_empty() {
            return Vec::new();
        }
        // Windows belong to the previous chunk's regions.
        for cached in &mut scratch.windows {
            cached.region = None;
        }
        scratch.merged.region = None;
        let hits = &scratch.hits;
        scratch
            .context
            .extend(hits.iter().filter(|h| self.prefilter.is_context(h)));
        scratch.environments.clear();
        scratch.environments.extend(
            hits.iter()
                .filter(|h| self.prefilter.environment(h).is_some()),
        );
        let hosts: Vec<Hit> = scratch.context.iter().filter(|h| h.host).copied().collect();
        let near = Neighbours {
            hosts: &hosts,
            environments: &scratch.environments,
        };
        let now = now_unix();
        let mut found = Vec::new();
        // Region by region, each with the rules that run there (rules sharing
        // keywords share regions), so a region's windows are found once. Its
        // merged windows are made of the gates of those rules only, never a
        // gate no rule of the region needs.
        let mut work: Vec<((usize, usize), usize)> = (0..self.rules.len())
            .flat_map(|ri| {
                let active = hits
                    .iter()
                    .filter(|h| self.prefilter.activates(h, ri))
                    .map(|h| (h, self.prefilter.radius(h, self.radius)));
                regions(bytes, active).into_iter().map(move |r| (r, ri))
            })
            .collect();
        work.sort_unstable();
        for region in work.chunk_by(|a, b| a.0 == b.0) {
            let gates = region
                .iter()
                .fold(0, |acc, &(_, ri)| acc | self.rule_gates[ri]);
            for &((lo, hi), ri) in region {
                let rule = &self.rules[ri];
                let hay = &bytes[lo..hi];
                for (pi, pattern) in rule.patterns.iter().enumerate() {
                    let mut on_match = |caps: regex::bytes::Captures<'_>| {
                        let Some(m) = caps.get(pattern.secret_group) else {
                            return false;
                        };
                        let id_span = pattern
                            .client_id_group
                            .and_then(|g| caps.get(g))
                            .map(|c| (lo + c.start(), lo + c.end()));
                        let key_span = pattern
                            .key_group
                            .and_then(|g| caps.get(g))
                            .map(|c| (lo + c.start(), lo + c.end()));
                        let span = (lo + m.start(), lo + m.end());
                        let spans = Spans {
                            value: span,
                            id: id_span,
                            key: key_span,
                        };
                        match self.candidate(ri, pattern, bytes, spans, &near, now) {
                            Some(d) => {
                                found.push(d);
                                true
                            }
                            None => false,
                        }
                    };
                    let Some(g) = self.pattern_gates[ri][pi] else {
                        search_from(pattern, hay, 0, &mut on_match);
                        continue;
                    };
                    // Gated: only the windows around runs of the secret's shape
                    // (with a set, only the merged ones where it saw the
                    // pattern match). The haystack still starts at the
                    // region's start, so look-behind context is what an
                    // ungated search sees.
                    let windows: &[(usize, usize)] = match self.gated_index[ri][pi] {
                        Some(gi) => {
                            let merged = self.merged(
                                &mut scratch.windows,
                                &mut scratch.merged,
                                bytes,
                                (lo, hi),
                                gates,
                            );
                            scratch.selected.clear();
                            scratch.selected.extend(
                                merged
                                    .hits
                                    .iter()
                                    .filter(|h| h.1 == gi)
                                    .map(|h| (merged.list[h.0].0, merged.list[h.0].1)),
                            );
                            &scratch.selected
                        }
                        None => self.windows(&mut scratch.windows, g, bytes, lo, hi),
                    };
                    for &(w_lo, w_hi) in windows {
                        search_from(pattern, &bytes[lo..w_hi], w_lo - lo, &mut on_match);
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

    fn candidate(
        &self,
        ri: usize,
        pattern: &Pattern,
        bytes: &[u8],
        spans: Spans,
        near: &Neighbours<'_>,
        now: i64,
    ) -> Option<Detection> {
        let (start, end) = spans.value;
        let id_span = spans.id;
        let rule = &self.rules[ri];
        if !validate::on_boundary(bytes, start, end) {
            return None;
        }
        // A value belongs to the nearest key before it: a pattern that reaches
        // far (a serialized object, a Terraform block) must not carry a client
        // id key over the secret's key to the secret's value, or the reverse.
        if let Some((_, key_end)) = spans.key {
            if key_end < start && crosses_other_key(rule.kind, &bytes[key_end..start]) {
                return None;
            }
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
                // Expired, or minted by a development or local identity service.
                if info.expired || info.environment.is_none() {
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
                if !(plausible_credential(rule, &secret) || is_hex_client_id(rule, &secret)) {
                    return None;
                }
                if let Some(id) = &client_id {
                    if !plausible_credential(rule, id) {
                        return None;
                    }
                }
            }
        }
        let key = spans
            .key
            .map(|(a, b)| structure::key_text(bytes, a, b))
            .filter(|k| !k.is_empty());
        if rule.kind == RuleKind::ClientId {
            let words = key.as_deref().map(owner::key_words).unwrap_or_default();
            // A GUID names a bank, customer or organization, never an application.
            if words.iter().any(|w| w.contains("guid")) {
                return None;
            }
            // 32 hex is an (older) client id only where the key says client id.
            if is_hex_client_id(rule, &secret)
                && !(words.iter().any(|w| w == "client") && words.iter().any(|w| w == "id"))
            {
                return None;
            }
        }
        if rule.full_len.is_some_and(|full| secret.len() < full) && !is_hex_client_id(rule, &secret)
        {
            confidence = Confidence::Low;
        }
        let context = match &token {
            Some(t) => Some(Context {
                key: None,
                via: Some(Via::Host),
                evidence: format!("issued by {}", t.issuer),
                note: match (t.expired, t.environment.is_none()) {
                    (true, true) => Some("expired; not a public Cybrid environment".into()),
                    (true, false) => Some("expired".into()),
                    (false, true) => Some("not a public Cybrid environment".into()),
                    (false, false) => None,
                },
            }),
            None if rule.requires_context => {
                let (context, proximity) = self.attribute(
                    rule,
                    bytes,
                    &spans,
                    key,
                    &secret,
                    client_id.as_deref(),
                    near,
                )?;
                match proximity {
                    Proximity::Near => {}
                    Proximity::Far => confidence = confidence.lowered(),
                }
                if context.awaits_project() {
                    confidence = confidence.min(Confidence::Medium);
                }
                Some(context)
            }
            None => None,
        };
        // A webhook signing key in an API document's example payload (a
        // copy of Cybrid's webhook docs) is an example, not a credential
        // (CYBRID.md): not reported. In configuration it keeps its confidence.
        if rule.kind == RuleKind::WebhookSigningKey
            && structure::in_doc_example(bytes, spans.key.map_or(start, |(a, _)| a))
        {
            return None;
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
            context,
        })
    }

    /// Whose value is this: key, then parents, then a Cybrid host, then
    /// (for a generic client id or secret of Cybrid's shape) the project.
    /// `None`: not Cybrid's.
    #[allow(clippy::too_many_arguments)]
    fn attribute(
        &self,
        rule: &Rule,
        bytes: &[u8],
        spans: &Spans,
        key: Option<String>,
        secret: &str,
        paired_id: Option<&str>,
        near: &Neighbours<'_>,
    ) -> Option<(Context, Proximity)> {
        let (start, end) = spans.value;
        let decided = |via: Via, evidence: String, key: Option<String>| Context {
            key,
            via: Some(via),
            evidence,
            note: None,
        };
        match owner::by_key(key.as_deref(), &self.providers) {
            owner::Owner::Key => {
                return Some((
                    decided(Via::Key, "the key names Cybrid".into(), key),
                    Proximity::Near,
                ))
            }
            owner::Owner::Other => return None,
            _ => {}
        }
        let from = spans.key.map_or(start, |(a, _)| a);
        match owner::by_parents(&structure::parents(bytes, from), &self.providers) {
            owner::Owner::Parent(evidence) => {
                return Some((decided(Via::Parent, evidence, key), Proximity::Near))
            }
            owner::Owner::Other => return None,
            _ => {}
        }
        // A host or the project can only make a client id or secret key Cybrid's:
        // a `SECRET_KEY` or `JWT_SECRET` beside a Cybrid URL is someone else's.
        let words = key.as_deref().map(owner::key_words).unwrap_or_default();
        if key.is_some() && !credential_key(rule.kind, &words) {
            return None;
        }
        if let Some((host, proximity)) = self.nearest_host(bytes, near.hosts, start, end) {
            let evidence = format!(
                "beside the Cybrid host {}",
                prefilter::host_name(bytes, host.start, host.end)
            );
            return Some((decided(Via::Host, evidence, key), proximity));
        }
        // Only the project is left: a generic client id or secret key holding
        // a value of Cybrid's exact shape, kept if the project turns out to be
        // Cybrid's and the value finds its other half.
        let generic_key =
            key.is_some() && matches!(rule.kind, RuleKind::ClientSecret | RuleKind::ClientId);
        let full_shape =
            |v: &str| rule.full_len.is_none_or(|f| v.len() == f) || is_hex_client_id(rule, v);
        let generic_pair = spans.key.is_none() && paired_id.is_some_and(full_shape);
        if (generic_key || generic_pair) && full_shape(secret) {
            return Some((
                Context {
                    key,
                    via: None,
                    evidence: String::new(),
                    note: None,
                },
                Proximity::Near,
            ));
        }
        None
    }

    /// The Cybrid host nearest to `start..end` within the radius, and how near.
    /// `hosts` is in offset order, so only the nearest on each side is looked at.
    fn nearest_host(
        &self,
        bytes: &[u8],
        hosts: &[Hit],
        start: usize,
        end: usize,
    ) -> Option<(Hit, Proximity)> {
        let split = hosts.partition_point(|h| h.end <= start);
        let before = split
            .checked_sub(1)
            .map(|i| (hosts[i], start - hosts[i].end));
        let after = hosts.get(split).map(|h| (*h, h.start.saturating_sub(end)));
        let mut best: Option<(Hit, Proximity)> = None;
        for (h, gap) in before.into_iter().chain(after) {
            if gap > self.radius {
                continue;
            }
            if gap <= NEAR_BYTES && lines::lines_between(bytes, h.start, start) <= NEAR_LINES {
                return Some((h, Proximity::Near));
            }
            if best.is_none() {
                best = Some((h, Proximity::Far));
            }
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
            let id_context = found[i].context.clone();
            let secret = &mut found[s];
            secret.client_id = Some(id);
            secret.environment_hint = secret.environment_hint.or(id_hint);
            // A generic secret beside an id that is Cybrid's by its own key,
            // parent or host is Cybrid's for the same reason.
            if let (Some(sc), Some(ic)) = (&mut secret.context, id_context) {
                if sc.awaits_project() && !ic.awaits_project() {
                    sc.via = ic.via;
                    sc.evidence = format!("its client id: {}", ic.evidence);
                    secret.confidence = self.rules[secret.rule].confidence;
                }
            }
            absorbed[i] = true;
        }
        let mut idx = 0;
        found.retain(|d| {
            idx += 1;
            let pending = d.context.as_ref().is_some_and(Context::awaits_project);
            // Project context makes a pair Cybrid's, never a lone half.
            let lone_pending = pending && d.client_id.is_none();
            !(absorbed[idx - 1] || lone_pending)
        });
        for d in &mut found {
            if kind(d) == RuleKind::ClientId {
                d.confidence = Confidence::Low;
                if let Some(c) = &mut d.context {
                    c.note = Some(LONE_CLIENT_ID_NOTE.to_string());
                }
            }
        }
        found
    }
}

/// The hits a candidate looks around for: Cybrid hosts and environment hosts.
struct Neighbours<'a> {
    hosts: &'a [Hit],
    environments: &'a [Hit],
}

/// Where a pattern's captures are in the chunk.
struct Spans {
    value: (usize, usize),
    id: Option<(usize, usize)>,
    key: Option<(usize, usize)>,
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

/// Words of keys that hold something other than an OAuth client credential.
const NOT_CLIENT_CREDENTIAL: &[&str] = &[
    "key",
    "token",
    "session",
    "cookie",
    "jwt",
    "encryption",
    "signing",
    "webhook",
    "hmac",
    "password",
    "salt",
    "guid",
    "uuid",
];

/// Does a generic key (one that names no provider) say client id or client
/// secret? Only such keys can be made Cybrid's by a host or the project.
fn credential_key(kind: RuleKind, words: &[String]) -> bool {
    let has = |w: &str| words.iter().any(|x| x == w);
    let other_thing = words
        .iter()
        .any(|w| NOT_CLIENT_CREDENTIAL.contains(&w.as_str()));
    match kind {
        RuleKind::ClientSecret => has("secret") && !other_thing,
        RuleKind::ClientId => {
            has("id")
                && !other_thing
                && ["client", "app", "public", "api", "oauth"]
                    .iter()
                    .any(|w| has(w))
        }
        _ => true,
    }
}

/// Does the text between a key and its value hold a key of the other half
/// (`secret` after a client id key, `client id` after a secret key)?
fn crosses_other_key(kind: RuleKind, gap: &[u8]) -> bool {
    let lower = gap.to_ascii_lowercase();
    match kind {
        RuleKind::ClientId => memchr::memmem::find(&lower, b"secret").is_some(),
        RuleKind::ClientSecret => memchr::memmem::find_iter(&lower, b"client").any(|at| {
            let rest = &lower[at + 6..];
            let rest = rest
                .strip_prefix(&[b'_'][..])
                .or_else(|| rest.strip_prefix(&[b'-'][..]))
                .or_else(|| rest.strip_prefix(&[b'.'][..]))
                .unwrap_or(rest);
            rest.starts_with(b"id")
        }),
        _ => false,
    }
}

/// A 32-lowercase-hex client id (older applications); the key must say client id.
fn is_hex_client_id(rule: &Rule, value: &str) -> bool {
    rule.kind == RuleKind::ClientId
        && value.len() == 32
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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

/// Run `pattern` over `hay` from `at` on, handing each match to `on_match`
/// (true: it became a detection). A rejected match may hide an acceptable
/// one that starts inside it: `variable "…secret" {` whose default is not a
/// secret, run on to the next block's default, hides that block's own
/// match. So after a rejection the search goes on from the end of the
/// match's key (or its first byte), not from its end.
fn search_from(
    pattern: &Pattern,
    hay: &[u8],
    mut at: usize,
    on_match: &mut impl FnMut(regex::bytes::Captures<'_>) -> bool,
) {
    while at <= hay.len() {
        let Some(caps) = pattern.regex.captures_at(hay, at) else {
            break;
        };
        let Some(whole) = caps.get(0) else { break };
        let key_end = pattern.key_group.and_then(|g| caps.get(g)).map(|k| k.end());
        let (start, end) = (whole.start(), whole.end());
        at = if on_match(caps) {
            end
        } else {
            key_end.unwrap_or(start)
        }
        .max(start + 1);
    }
}

/// Is gate `g` in the bitmask `gates`? (Gates past 32 are in none: their
/// patterns are not in [`Engine::gated`] and run in their own windows.)
fn gate_in(gates: u32, g: usize) -> bool {
    g < 32 && gates & (1 << g) != 0
}

/// Disjoint byte ranges around each hit (each with its radius), merged, in order.
fn regions<'h>(bytes: &[u8], hits: impl Iterator<Item = (&'h Hit, usize)>) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = hits
        .map(|(h, radius)| {
            // A small region stays small on a minified one-line bundle.
            let slack = EDGE_SLACK.min(radius / 4);
            (
                line_start(bytes, h.start.saturating_sub(radius), slack),
                line_end(bytes, (h.end + radius).min(bytes.len()), slack),
            )
        })
        .collect();
    // Radii differ (generic keywords look less far), so starts are not in hit order.
    spans.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (lo, hi) in spans {
        match out.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// Widen a region edge to a line boundary, within a bound, so a match is not cut.
const EDGE_SLACK: usize = 4096;

fn line_start(bytes: &[u8], at: usize, slack: usize) -> usize {
    let floor = at.saturating_sub(slack);
    memchr::memrchr(b'\n', &bytes[floor..at]).map_or(floor, |i| floor + i + 1)
}

fn line_end(bytes: &[u8], at: usize, slack: usize) -> usize {
    let ceil = (at + slack).min(bytes.len());
    memchr::memchr(b'\n', &bytes[at..ceil]).map_or(ceil, |i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gradle's serialized BuildConfigField objects: a key, its object, its
    /// value. An id field without a value must not take the secret's value
    /// from beyond the secret's own key.
    #[test]
    fn a_far_reaching_key_stops_at_the_other_halfs_key() {
        let engine = Engine::new(crate::rules::load_rules(&[]).expect("rules"));
        let secret = "p-GVZOk7fyD99kRfQCS1zrqejuI7PAz4RfD2TYmQokU"; // generated for this test
        let object = |value: &str| {
            let mut o = b"\x15\x01\x10\xe8\xcaO@sr\x00.com.android.build.api.variant.BuildConfigField\x02\x00\x03L\x00\x07commentt\x00\x12Ljava/lang/String;xp".to_vec();
            o.extend_from_slice(b"t\x00\x06String");
            o.extend_from_slice(b"t\x00");
            o.push(value.len() as u8 + 2);
            o.extend_from_slice(format!("\"{value}\"").as_bytes());
            o
        };
        let mut blob = b"\x00\x00\x89CLIENT_ID".to_vec();
        blob.extend(object(""));
        blob.extend_from_slice(b"\x03\x8dCLIENT_SECRET");
        blob.extend(object(secret));
        blob.extend_from_slice(b" https://id.sandbox.cybrid.app/oauth/token");
        let found = engine.scan(&blob, &mut Scratch::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(engine.rules()[found[0].rule].kind, RuleKind::ClientSecret);
        assert_eq!(found[0].secret.expose(), secret);
        assert!(found[0].client_id.is_none());
        assert!(crosses_other_key(
            RuleKind::ClientId,
            b"\x15 ... \x8dclient_SECRET ..."
        ));
        assert!(crosses_other_key(RuleKind::ClientSecret, b"x ClientId x"));
        assert!(!crosses_other_key(RuleKind::ClientSecret, b"\", \"\\\""));
    }
}
