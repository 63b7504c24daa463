//! A small reader of keys and nesting around one candidate value: which key
//! the value is assigned to, and which blocks (parents) that key sits in.
//!
//! It is not a parser. It reads a bounded stretch of bytes before the
//! candidate, the same way for every format, with four cheap views of
//! nesting that together cover real config and code:
//!
//! - brackets: the unmatched `{`, `[` or `(` before the key, and the text
//!   that opens it (`cybrid: {`, `object CybridAuth {`, `variable "x" {`,
//!   `JSON.parse('{`), which also works on one minified line;
//! - indentation: each earlier line indented less than the key's line
//!   (YAML, Python, pretty-printed JSON, XML and property lists);
//! - sections: the nearest `[section]` line above (TOML, INI);
//! - titles: a comment, heading or `…:` line opening the key's paragraph
//!   (`# Cybrid sandbox` above lines of an `.env` file).
//!
//! A Kubernetes Secret's name is a sibling, not a parent, of its `data:`: it
//! is read as one more parent of what sits under `data:`/`stringData:`.
//!
//! Everything is bounded, so a candidate costs a few kilobytes of reading
//! whatever the input.

/// How far back the bracket view reads.
const BRACKET_LOOKBACK: usize = 4 * 1024;
/// How far back the indentation and section views read.
const LINE_LOOKBACK: usize = 8 * 1024;
/// How far back (lines) a title may open the key's paragraph.
const TITLE_LINES: usize = 12;
/// How far above a key its Markdown section headings are looked for.
const SECTION_LINES: usize = 400;
/// Parents kept at most (nearest first).
const MAX_PARENTS: usize = 8;
/// The text kept of a parent's header or a key.
const MAX_TEXT: usize = 96;

/// The text of a block that encloses a key, and what kind of block it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    pub text: String,
    pub kind: ParentKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentKind {
    Block,
    Section,
    Title,
    SecretName,
}

impl Parent {
    /// How the parent is named in a finding's evidence.
    pub fn describe(&self) -> String {
        match self.kind {
            ParentKind::Block => format!("inside `{}`", self.text),
            ParentKind::Section => format!("in section `{}`", self.text),
            ParentKind::Title => format!("under `{}`", self.text),
            ParentKind::SecretName => format!("Secret named `{}`", self.text),
        }
    }
}

/// The key as written, widened from what a rule's `key` capture found:
/// leftwards over words joined by single spaces (`| Cybrid Client Secret |`),
/// without declaration words (`export`, `const`, `readonly`, …).
pub fn key_text(bytes: &[u8], start: usize, end: usize) -> String {
    let line_lo = line_start(bytes, start);
    let floor = line_lo.max(start.saturating_sub(KEY_WIDEN));
    let mut lo = start;
    while lo > floor {
        let b = bytes[lo - 1];
        // A space joins words of one key only between key characters.
        let joins = b == b' ' && lo >= line_lo + 2 && is_key_byte(bytes[lo - 2]);
        if !(is_key_byte(b) || joins) {
            break;
        }
        lo -= 1;
    }
    let raw = String::from_utf8_lossy(&bytes[lo..end.min(bytes.len())]);
    // A key is on one line; a rule's capture that spans lines keeps its last.
    let raw = raw.rsplit(['\n', '\r']).next().unwrap_or(&raw);
    let mut words: Vec<&str> = raw.split(' ').filter(|w| !w.is_empty()).collect();
    // A host before the key (`… https://id.sandbox.cybrid.app client_secret`) is not part of it.
    if let Some(host) = words.iter().rposition(|w| is_host_word(w)) {
        if host + 1 < words.len() {
            words.drain(..=host);
        }
    }
    // Stopped by the bound inside a word: that word is not the key's.
    if lo == floor && floor > line_lo && is_key_byte(bytes[floor - 1]) && words.len() > 1 {
        words.remove(0);
    }
    while words.len() > 1 && DECLARATIONS.contains(&words[0].to_ascii_lowercase().as_str()) {
        words.remove(0);
    }
    clip(&words.join(" "))
}

/// How far (bytes) a key is widened to the left of what its rule captured.
const KEY_WIDEN: usize = 48;

fn is_host_word(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    lower.contains("://")
        || [".app", ".com", ".io", ".xyz", ".net", ".org"]
            .iter()
            .any(|tld| lower.ends_with(tld) && lower.len() > tld.len())
}

const DECLARATIONS: &[&str] = &[
    "export",
    "const",
    "let",
    "var",
    "val",
    "static",
    "readonly",
    "public",
    "private",
    "protected",
    "final",
    "set",
    "def",
    "my",
    "our",
    "local",
    "declare",
    "-x",
    "internal",
    "override",
    "lazy",
    "string",
    "env",
];

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// The blocks enclosing the key that starts at `at`, nearest first.
pub fn parents(bytes: &[u8], at: usize) -> Vec<Parent> {
    let at = at.min(bytes.len());
    let mut out: Vec<Parent> = Vec::new();
    let mut push = |p: Parent| {
        if out.len() < MAX_PARENTS && !p.text.is_empty() && !out.iter().any(|q| q.text == p.text) {
            out.push(p);
        }
    };
    for p in bracket_parents(bytes, at) {
        push(p);
    }
    for p in indent_parents(bytes, at) {
        push(p);
    }
    if let Some(p) = section(bytes, at) {
        push(p);
    }
    if let Some(p) = title(bytes, at) {
        push(p);
    }
    for p in section_headings(bytes, at) {
        push(p);
    }
    out
}

/// Is the key at `at` part of a documentation example rather than
/// configuration? Either a block it sits in is named for an example
/// (OpenAPI and JSON Schema `example:`/`examples:`, `x-example`), or it is
/// inside a fenced Markdown code block whose info string or introducing
/// heading says example, sample or response (`### Example response`).
pub fn in_doc_example(bytes: &[u8], at: usize) -> bool {
    parents(bytes, at)
        .iter()
        .any(|p| p.kind == ParentKind::Block && names_example(p.text.as_bytes()))
        || fenced_example(bytes, at)
}

fn names_example(text: &[u8]) -> bool {
    text.split(|b| !b.is_ascii_alphanumeric())
        .flat_map(camel_words)
        .any(|w| EXAMPLE_WORDS.iter().any(|e| w.eq_ignore_ascii_case(e)))
}

/// `subscriptionsResponse` -> `subscriptions`, `Response` (scraped pages
/// run a tab's label into the next word).
fn camel_words(word: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut from = 0;
    for i in 1..word.len() {
        if word[i].is_ascii_uppercase() && word[i - 1].is_ascii_lowercase() {
            out.push(&word[from..i]);
            from = i;
        }
    }
    out.push(&word[from..]);
    out
}

const EXAMPLE_WORDS: &[&[u8]] = &[b"example", b"examples", b"sample", b"response"];

fn is_fence(text: &[u8]) -> bool {
    text.starts_with(b"```") || text.starts_with(b"~~~")
}

/// Inside a fenced code block (an odd number of fence lines above, within
/// the lookback) introduced as an example: by its info string or by one of
/// the few non-blank lines just above the opening fence. Blocks that follow
/// each other (a request, then its response) share the introduction above
/// the first.
fn fenced_example(bytes: &[u8], at: usize) -> bool {
    let lo = at.saturating_sub(LINE_LOOKBACK);
    let mut end = line_start(bytes, at);
    // Fence lines above, nearest first, as (line start, trimmed text).
    let mut fences = Vec::new();
    while end > lo {
        let start = line_start(bytes, end - 1);
        let text = trim(&bytes[start..end - 1]);
        if is_fence(text) {
            fences.push((start, text));
        }
        end = start;
    }
    if fences.len() % 2 == 0 {
        return false;
    }
    // `fences[k]` opens a block; `fences[k + 1]` closes the one before it.
    let mut k = 0;
    while k < fences.len() && k <= 4 {
        let (open_at, open) = fences[k];
        if names_example(&open[3..]) {
            return true;
        }
        let mut end = open_at;
        let mut joined = false;
        for _ in 0..3 {
            let Some(line) = previous_nonblank_line(bytes, end) else {
                return false;
            };
            let line_at = line_start(bytes, line.as_ptr() as usize - bytes.as_ptr() as usize);
            if is_fence(line) {
                joined = fences.get(k + 1).is_some_and(|f| f.0 == line_at);
                break;
            }
            if names_example(line) {
                return true;
            }
            end = line_at;
        }
        if !joined {
            return false;
        }
        k += 2;
    }
    false
}

/// Headers of the unmatched openers before `at`, innermost first.
fn bracket_parents(bytes: &[u8], at: usize) -> Vec<Parent> {
    let lo = at.saturating_sub(BRACKET_LOOKBACK);
    let mut depth = 0usize;
    let mut out = Vec::new();
    let mut i = at;
    while i > lo && out.len() < MAX_PARENTS {
        i -= 1;
        match bytes[i] {
            b'}' | b']' | b')' => depth += 1,
            b'{' | b'[' | b'(' => {
                if depth > 0 {
                    depth -= 1;
                } else if let Some(text) = opener_header(bytes, i) {
                    out.push(Parent {
                        text,
                        kind: ParentKind::Block,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// What opens the block at `open`: the text before it on its line, or the
/// line before when the opener stands alone (`{` on its own line, `<dict>`).
fn opener_header(bytes: &[u8], open: usize) -> Option<String> {
    let ls = line_start(bytes, open);
    let own = trim(&bytes[ls.max(open.saturating_sub(MAX_TEXT))..open]);
    if has_word(own) {
        return Some(clip_bytes(own));
    }
    let prev = previous_nonblank_line(bytes, ls)?;
    has_word(prev).then(|| clip_bytes(prev))
}

/// Each earlier line indented less than the line of `at`, nearest first.
fn indent_parents(bytes: &[u8], at: usize) -> Vec<Parent> {
    let ls = line_start(bytes, at);
    let mut indent = indentation(&bytes[ls..]);
    let lo = at.saturating_sub(LINE_LOOKBACK);
    let mut out = Vec::new();
    let mut end = ls;
    let mut top_key: Option<&[u8]> = None;
    while indent > 0 && end > lo && out.len() < MAX_PARENTS {
        let start = line_start(bytes, end - 1);
        let line = &bytes[start..end - 1];
        end = start;
        let text = trim(line);
        if text.is_empty() || is_comment(text) {
            continue;
        }
        let i = indentation(line);
        if i < indent {
            indent = i;
            let header = if is_bare_opener(text) {
                previous_nonblank_line(bytes, start).unwrap_or(text)
            } else {
                text
            };
            if i == 0 {
                top_key = Some(text);
            }
            out.push(Parent {
                text: clip_bytes(header),
                kind: ParentKind::Block,
            });
        }
    }
    if let Some(top) = top_key {
        if top.starts_with(b"data:") || top.starts_with(b"stringData:") {
            if let Some(name) = secret_name(bytes, end) {
                out.push(name);
            }
        }
    }
    out
}

/// `metadata:\n  name: X` in the YAML document that ends at `end`.
fn secret_name(bytes: &[u8], end: usize) -> Option<Parent> {
    let lo = end.saturating_sub(LINE_LOOKBACK);
    let doc = &bytes[lo..end];
    let doc_start = memchr::memmem::rfind(doc, b"\n---").map_or(0, |i| i + 4);
    let doc = &doc[doc_start..];
    let meta = memchr::memmem::find(doc, b"metadata:")?;
    for line in doc[meta..].split(|b| *b == b'\n').skip(1) {
        let text = trim(line);
        if indentation(line) == 0 && !text.is_empty() {
            break;
        }
        if let Some(name) = text.strip_prefix(b"name:") {
            let name = trim(name);
            let name = name
                .strip_prefix(b"\"")
                .and_then(|n| n.strip_suffix(b"\""))
                .unwrap_or(name);
            return Some(Parent {
                text: clip_bytes(name),
                kind: ParentKind::SecretName,
            });
        }
    }
    None
}

/// The nearest `[section]` line above `at` (TOML, INI), within the lookback.
fn section(bytes: &[u8], at: usize) -> Option<Parent> {
    let lo = at.saturating_sub(LINE_LOOKBACK);
    let mut end = line_start(bytes, at);
    while end > lo {
        let start = line_start(bytes, end - 1);
        let text = trim(&bytes[start..end - 1]);
        end = start;
        if text.len() > 2
            && text[0] == b'['
            && text[text.len() - 1] == b']'
            && text[1..text.len() - 1]
                .iter()
                .all(|b| is_key_byte(*b) || matches!(b, b'[' | b']' | b'"' | b' '))
        {
            return Some(Parent {
                text: clip_bytes(text),
                kind: ParentKind::Section,
            });
        }
    }
    None
}

/// A comment, heading or `…:` line that opens the paragraph of `at`'s line
/// (no blank line between them).
fn title(bytes: &[u8], at: usize) -> Option<Parent> {
    let mut end = line_start(bytes, at);
    let own_indent = indentation(&bytes[end..]);
    for _ in 0..TITLE_LINES {
        if end == 0 {
            break;
        }
        let start = line_start(bytes, end - 1);
        let line = &bytes[start..end - 1];
        end = start;
        let text = trim(line);
        if text.is_empty() {
            break;
        }
        if indentation(line) > own_indent {
            continue;
        }
        let prose_title = text.ends_with(b":") && text.contains(&b' ');
        if is_comment(text) || prose_title {
            return Some(Parent {
                text: clip_bytes(text),
                kind: ParentKind::Title,
            });
        }
    }
    None
}

/// The Markdown headings (`## Cybrid sandbox`, at the start of their line)
/// whose sections hold the line of `at`, nearest first: the heading just
/// above, then each less deep one above it. A setup guide puts a blank line
/// between a heading and the keys under it, and its `## Production` part
/// sits under `# Cybrid setup`.
fn section_headings(bytes: &[u8], at: usize) -> Vec<Parent> {
    let mut out = Vec::new();
    let mut depth = usize::MAX;
    let mut end = line_start(bytes, at);
    for _ in 0..SECTION_LINES {
        if end == 0 || depth == 1 {
            break;
        }
        let start = line_start(bytes, end - 1);
        let line = &bytes[start..end - 1];
        end = start;
        let hashes = line.iter().take_while(|b| **b == b'#').count();
        if !(1..=6).contains(&hashes) || line.get(hashes) != Some(&b' ') {
            continue;
        }
        // Set off from its body by a blank line, as Markdown headings are: a
        // `# Cybrid sandbox` comment right above `.env` lines titles only
        // that paragraph (see `title`), not what follows the next blank line.
        let below = &bytes[end + line.len() + 1..];
        let set_off =
            trim(&below[..memchr::memchr(b'\n', below).unwrap_or(below.len())]).is_empty();
        // The nearest `#` line is not set off: comment-titled paragraphs
        // (`# Database` above `DB_…` lines), not a Markdown section; a
        // heading further up does not reach past it.
        if !set_off && depth == usize::MAX {
            break;
        }
        if set_off && hashes < depth {
            depth = hashes;
            let text = trim(line);
            if has_word(text) {
                out.push(Parent {
                    text: clip_bytes(text),
                    kind: ParentKind::Title,
                });
            }
        }
    }
    out
}

fn is_comment(text: &[u8]) -> bool {
    [
        &b"#"[..],
        b"//",
        b"/*",
        b"* ",
        b"--",
        b";",
        b"<!--",
        b"'",
        b"REM ",
    ]
    .iter()
    .any(|p| text.starts_with(p))
        && !text.starts_with(b"#{")
        && !text.starts_with(b"#!")
}

fn is_bare_opener(text: &[u8]) -> bool {
    !has_word(text) || text.eq_ignore_ascii_case(b"<dict>") || text.eq_ignore_ascii_case(b"<array>")
}

fn has_word(text: &[u8]) -> bool {
    text.iter().any(|b| b.is_ascii_alphanumeric())
}

fn previous_nonblank_line(bytes: &[u8], line_start_at: usize) -> Option<&[u8]> {
    let mut end = line_start_at;
    for _ in 0..4 {
        if end == 0 {
            return None;
        }
        let start = line_start(bytes, end - 1);
        let text = trim(&bytes[start..end - 1]);
        if !text.is_empty() {
            return Some(text);
        }
        end = start;
    }
    None
}

/// Spaces and tabs at the start of `line` (a tab counts as one).
fn indentation(line: &[u8]) -> usize {
    line.iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count()
}

fn line_start(bytes: &[u8], at: usize) -> usize {
    memchr::memrchr(b'\n', &bytes[..at.min(bytes.len())]).map_or(0, |i| i + 1)
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |i| i + 1);
    &b[s..e.max(s)]
}

fn clip_bytes(b: &[u8]) -> String {
    clip(&String::from_utf8_lossy(b))
}

/// At most `MAX_TEXT` characters, on a character boundary, with anything
/// credential-shaped masked: key and parent texts go into reports as the
/// finding's context, and a minified line can hold another value there.
fn clip(s: &str) -> String {
    let masked = mask_values(s);
    match masked.char_indices().nth(MAX_TEXT) {
        Some((i, _)) => format!("{}…", &masked[..i]),
        None => masked,
    }
}

/// Runs this long of base64/hex characters mixing letters and digits are
/// values (secrets, ids, token segments, GUIDs), never key names.
const VALUE_RUN: usize = 32;

fn mask_values(s: &str) -> String {
    let is_value_char = |c: char| c.is_ascii_alphanumeric() || "-_+/=".contains(c);
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let mixed =
            run.chars().any(|c| c.is_ascii_digit()) && run.chars().any(|c| c.is_ascii_alphabetic());
        if run.len() >= VALUE_RUN && mixed {
            out.push_str("***");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if is_value_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_texts_never_carry_a_value() {
        let line = r#"e={clientId:"k3Jd8sPq0ZxY7wVu6TsRq5PoNm4LkJi3HgF2eDc1BaZ",cybrid:{"#;
        let shown = clip(line);
        assert!(
            !shown.contains("k3Jd8sPq0ZxY7wVu6TsRq5PoNm4LkJi3HgF2eDc1BaZ"),
            "{shown}"
        );
        assert_eq!(shown, r#"e={clientId:"***",cybrid:{"#);
        assert_eq!(
            clip("NEXT_PUBLIC_CYBRID_CLIENT_SECRET_SANDBOX"),
            "NEXT_PUBLIC_CYBRID_CLIENT_SECRET_SANDBOX"
        );
    }

    fn texts(src: &str, needle: &str) -> Vec<String> {
        let at = src.find(needle).expect("needle");
        parents(src.as_bytes(), at)
            .into_iter()
            .map(|p| p.text)
            .collect()
    }

    #[test]
    fn yaml_and_json_nesting() {
        let yaml = "services:\n  cybrid-worker:\n    environment:\n      CLIENT_SECRET: x\n";
        assert_eq!(
            texts(yaml, "CLIENT_SECRET"),
            vec!["environment:", "cybrid-worker:", "services:"]
        );
        let json = r#"{"app": {"cybrid": {"client_secret": "x"}}}"#;
        let t = texts(json, "\"client_secret");
        assert_eq!(t[0], r#"{"app": {"cybrid":"#);
    }

    #[test]
    fn brackets_allman_and_plist() {
        let kt = "object CybridAuth\n{\n    const val CLIENT_SECRET = \"x\"\n}\n";
        assert!(texts(kt, "const val").contains(&"object CybridAuth".to_string()));
        let plist = "<dict>\n\t<key>Cybrid</key>\n\t<dict>\n\t\t<key>ClientSecret</key>\n";
        assert!(texts(plist, "<key>ClientSecret").contains(&"<key>Cybrid</key>".to_string()));
    }

    #[test]
    fn sections_titles_and_k8s_names() {
        let toml = "[server]\nport = 1\n\n[cybrid]\nclient_secret = \"x\"\n";
        assert_eq!(texts(toml, "client_secret"), vec!["[cybrid]"]);
        let env = "# Cybrid sandbox\nCLIENT_ID=a\nCLIENT_SECRET=b\n\nOTHER=c\n";
        assert_eq!(texts(env, "CLIENT_SECRET"), vec!["# Cybrid sandbox"]);
        assert!(texts(env, "OTHER").is_empty());
        // Markdown sections: headings set off by a blank line hold what
        // follows, nearest first, then each less deep one above.
        let md = "# Cybrid setup\n\nIntro.\n\n## Production\n\n- **Client Secret**: `x`\n";
        assert_eq!(
            texts(md, "- **Client"),
            vec!["## Production", "# Cybrid setup"]
        );
        // In a comment-titled `.env`, a later paragraph's own title decides;
        // the set-off heading above it does not reach past that title.
        let env = "# Cybrid\n\nCYBRID_CLIENT_ID=a\n\n# Database\nDB_CLIENT_SECRET=b\n\nLATER=c\n";
        assert_eq!(texts(env, "DB_CLIENT_SECRET"), vec!["# Database"]);
        assert!(texts(env, "LATER").is_empty());
        assert_eq!(texts(env, "CYBRID_CLIENT_ID"), vec!["# Cybrid"]);
        let k8s =
            "kind: Secret\nmetadata:\n  name: cybrid-credentials\ndata:\n  client_secret: eA==\n";
        let p = parents(k8s.as_bytes(), k8s.find("client_secret").expect("key"));
        assert!(p
            .iter()
            .any(|p| p.kind == ParentKind::SecretName && p.text == "cybrid-credentials"));
    }

    #[test]
    fn keys_widen_over_words_and_drop_declarations() {
        let md = b"| Cybrid Client Secret | x |";
        let at = 16;
        assert_eq!(key_text(md, at, at + 6), "Cybrid Client Secret");
        let sh = b"export CybridAPI_Secret='x'";
        assert_eq!(key_text(sh, 7, 23), "CybridAPI_Secret");
    }
}
