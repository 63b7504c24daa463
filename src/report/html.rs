//! The datastore's incidents as one self-contained HTML page: inline CSS
//! and a small inline script (sorting, filtering by status, confidence and
//! repository through the URL's `#status=…&confidence=…&repository=…`), no
//! network request (a Content-Security-Policy forbids any). Every value is
//! HTML-escaped; the datastore holds no secret, so the page has none.

use std::io::{self, Write};

use crate::datastore::incidents::{IncidentRecord, OccurrenceRecord};

/// Places listed per incident; the rest are counted.
const SHOWN_PLACES: usize = 20;

/// Escape text for an HTML element or a quoted attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A web page for the commit, when the repository is on GitHub or GitLab.
pub fn commit_url(repository: &str, commit: &str) -> Option<String> {
    if commit.is_empty() || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let r = repository.trim_end_matches('/');
    let r = r.strip_suffix(".git").unwrap_or(r);
    let rest = r
        .strip_prefix("https://")
        .or_else(|| r.strip_prefix("http://"))
        .or_else(|| r.strip_prefix("ssh://git@"))
        .or_else(|| r.strip_prefix("git@"))
        .unwrap_or(r);
    let rest = rest.replacen(':', "/", usize::from(!r.contains("://")));
    let (host, path) = rest.split_once('/')?;
    // Credentials never reach a page, even if a name held them.
    let host = host.rsplit('@').next().unwrap_or(host);
    if path.is_empty() || path.contains("..") {
        return None;
    }
    match host {
        "github.com" => Some(format!("https://github.com/{path}/commit/{commit}")),
        "gitlab.com" => Some(format!("https://gitlab.com/{path}/-/commit/{commit}")),
        _ => None,
    }
}

/// Only http(s) links, so a recorded URL cannot run script.
fn safe_url(url: &str) -> Option<&str> {
    (url.starts_with("https://") || url.starts_with("http://")).then_some(url)
}

fn confidence_rank(c: &str) -> u8 {
    match c {
        "high" => 3,
        "medium" => 2,
        _ => 1,
    }
}

/// Write the page for `incidents`, each with its occurrences.
pub fn write(
    incidents: &[(IncidentRecord, Vec<OccurrenceRecord>)],
    generated: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut statuses: Vec<&str> = incidents.iter().map(|(i, _)| i.status.as_str()).collect();
    statuses.sort();
    statuses.dedup();
    let mut repositories: Vec<&str> = incidents
        .iter()
        .flat_map(|(i, _)| i.repositories.iter().map(String::as_str))
        .collect();
    repositories.sort();
    repositories.dedup();
    let open = incidents.iter().filter(|(i, _)| i.status == "open").count();
    let live = incidents
        .iter()
        .filter(|(i, _)| i.verification.status == "live")
        .count();

    write!(out, "{HEAD}")?;
    writeln!(
        out,
        "<h1>Leaked Cybrid credentials</h1>\n<p class=\"summary\">{} incident(s): {open} open, {live} verified live. Generated {}. No secret is in this page.</p>",
        incidents.len(),
        escape(generated)
    )?;
    writeln!(out, "<form id=\"filters\" onsubmit=\"return false\">")?;
    let select = |out: &mut dyn Write, id: &str, label: &str, values: &[&str]| -> io::Result<()> {
        write!(
            out,
            "<label>{label} <select id=\"f-{id}\" data-filter=\"{id}\"><option value=\"\">all</option>"
        )?;
        for v in values {
            write!(out, "<option value=\"{0}\">{0}</option>", escape(v))?;
        }
        writeln!(out, "</select></label>")
    };
    select(out, "status", "Status", &statuses)?;
    select(out, "confidence", "Confidence", &["high", "medium", "low"])?;
    select(out, "repository", "Repository", &repositories)?;
    writeln!(
        out,
        "<span id=\"shown\">{0} of {0} shown</span></form>",
        incidents.len()
    )?;
    writeln!(out, "<table id=\"incidents\"><thead><tr>")?;
    for (key, label) in [
        ("status", "Status"),
        ("confidence", "Confidence"),
        ("verification", "Verification"),
        ("rule", "Credential"),
        ("first", "First seen"),
        ("last", "Last seen"),
        ("where", "Repositories and sources"),
        ("occurrences", "Occurrences"),
    ] {
        write!(out, "<th data-sort=\"{key}\" title=\"sort\">{label}</th>")?;
    }
    writeln!(out, "</tr></thead><tbody>")?;
    for (i, places) in incidents {
        write_row(i, places, out)?;
    }
    writeln!(out, "</tbody></table>")?;
    write!(out, "{TAIL}")
}

fn write_row(
    i: &IncidentRecord,
    places: &[OccurrenceRecord],
    out: &mut dyn Write,
) -> io::Result<()> {
    let fp = escape(&i.fingerprint);
    let repos = i.repositories.join("\n");
    write!(
        out,
        "<tr data-fingerprint=\"{fp}\" data-status=\"{}\" data-confidence=\"{}\" data-repositories=\"{}\" \
         data-sort-status=\"{}\" data-sort-confidence=\"{}\" data-sort-verification=\"{}\" data-sort-rule=\"{}\" \
         data-sort-first=\"{}\" data-sort-last=\"{}\" data-sort-where=\"{}\" data-sort-occurrences=\"{:010}\">",
        escape(&i.status),
        escape(&i.confidence),
        escape(&repos),
        escape(&i.status),
        confidence_rank(&i.confidence),
        escape(&i.verification.status),
        escape(&i.rule_id),
        escape(&i.first_seen),
        escape(&i.last_seen),
        escape(&repos),
        i.occurrences
    )?;
    write!(
        out,
        "<td><span class=\"status s-{0}\">{0}</span>",
        escape(&i.status)
    )?;
    if !i.status_note.is_empty() {
        write!(out, "<div class=\"note\">{}</div>", escape(&i.status_note))?;
    }
    write!(out, "</td><td>{}</td>", escape(&i.confidence))?;
    let v = &i.verification;
    write!(
        out,
        "<td><span class=\"v-{0}\">{0}</span>{1}{2}</td>",
        escape(&v.status),
        v.environment
            .as_deref()
            .map(|e| format!(" in {}", escape(e)))
            .unwrap_or_default(),
        v.at.as_deref()
            .map(|a| format!("<div class=\"when\">{}</div>", escape(a)))
            .unwrap_or_default()
    )?;
    write!(
        out,
        "<td>{}<div><code>{}</code></div>{}<div class=\"fp\"><code>{}</code></div></td>",
        escape(&i.rule_id),
        escape(&i.secret),
        i.client_id
            .as_deref()
            .map(|c| format!("<div>client_id <code>{}</code></div>", escape(c)))
            .unwrap_or_default(),
        escape(&i.fingerprint[..16.min(i.fingerprint.len())])
    )?;
    write!(
        out,
        "<td>{}</td><td>{}</td>",
        escape(&i.first_seen),
        escape(&i.last_seen)
    )?;
    write!(out, "<td>")?;
    for r in &i.repositories {
        write!(out, "<div>{}</div>", escape(r))?;
    }
    write!(
        out,
        "<div class=\"sources\">{}</div></td>",
        escape(&i.sources.join(", "))
    )?;
    write!(out, "<td><details><summary>{}</summary><ul>", i.occurrences)?;
    for o in places.iter().take(SHOWN_PLACES) {
        write!(out, "<li>{}</li>", place(o))?;
    }
    if places.len() > SHOWN_PLACES {
        write!(out, "<li>+{} more</li>", places.len() - SHOWN_PLACES)?;
    }
    writeln!(out, "</ul></details></td></tr>")
}

/// One occurrence: where, with a link to the commit or the CI run.
fn place(o: &OccurrenceRecord) -> String {
    let mut s = String::new();
    if !o.repository.is_empty() {
        s.push_str(&escape(&o.repository));
        s.push_str(": ");
    }
    s.push_str(&format!("<code>{}:{}</code>", escape(&o.path), o.line));
    if !o.commit.is_empty() {
        let short = escape(&o.commit[..12.min(o.commit.len())]);
        match commit_url(&o.repository, &o.commit) {
            Some(url) => s.push_str(&format!(
                " commit <a href=\"{}\" rel=\"noreferrer\">{short}</a>",
                escape(&url)
            )),
            None => s.push_str(&format!(" commit <code>{short}</code>")),
        }
    }
    if !o.run.is_empty() {
        let what = format!("run {} {}", escape(&o.run), escape(&o.job));
        match o.url.as_deref().and_then(safe_url) {
            Some(url) => s.push_str(&format!(
                " <a href=\"{}\" rel=\"noreferrer\">{what}</a>",
                escape(url)
            )),
            None => s.push_str(&format!(" {what}")),
        }
    }
    s
}

const HEAD: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cybrid-scan: incidents</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d2330; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
.summary { color: #4a5468; margin: 0 0 1em; }
#filters { display: flex; gap: 1.2em; align-items: center; margin-bottom: .8em; flex-wrap: wrap; }
#shown { color: #4a5468; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .35em .6em; border-bottom: 1px solid #e3e6ee; }
th { background: #f3f5f9; cursor: pointer; user-select: none; white-space: nowrap; }
th.asc::after { content: " \25B2"; } th.desc::after { content: " \25BC"; }
tr[hidden] { display: none; }
code { font: 12px ui-monospace, monospace; }
.fp, .when, .note, .sources { color: #6a7387; font-size: 12px; }
.status { padding: .1em .45em; border-radius: .3em; background: #e3e6ee; white-space: nowrap; }
.s-open { background: #fde2e1; color: #8a1c13; }
.s-revoked, .s-rotated { background: #def5e4; color: #1c6130; }
.s-false_positive, .s-test_credential, .s-accepted_risk { background: #eceff5; color: #4a5468; }
.v-live { color: #b3140a; font-weight: 600; }
details ul { margin: .3em 0; padding-left: 1.2em; }
</style>
</head>
<body>
"##;

const TAIL: &str = r##"<script>
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll("#incidents tbody tr"));
  var selects = Array.prototype.slice.call(document.querySelectorAll("#filters select"));
  function wanted() {
    var w = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) { w[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1)); }
    });
    return w;
  }
  function apply() {
    var w = wanted(), shown = 0;
    selects.forEach(function (s) { s.value = w[s.dataset.filter] || ""; });
    rows.forEach(function (r) {
      var ok = (!w.status || r.dataset.status === w.status) &&
        (!w.confidence || r.dataset.confidence === w.confidence) &&
        (!w.repository || r.dataset.repositories.split("\n").indexOf(w.repository) >= 0);
      r.hidden = !ok;
      if (ok) { shown += 1; }
    });
    document.getElementById("shown").textContent = shown + " of " + rows.length + " shown";
  }
  selects.forEach(function (s) {
    s.addEventListener("change", function () {
      var parts = [];
      selects.forEach(function (t) {
        if (t.value) { parts.push(t.dataset.filter + "=" + encodeURIComponent(t.value)); }
      });
      location.hash = parts.join("&");
    });
  });
  Array.prototype.slice.call(document.querySelectorAll("#incidents th")).forEach(function (th) {
    th.addEventListener("click", function () {
      var key = "sort" + th.dataset.sort.charAt(0).toUpperCase() + th.dataset.sort.slice(1);
      var desc = !th.classList.contains("desc");
      document.querySelectorAll("#incidents th").forEach(function (h) { h.classList.remove("asc", "desc"); });
      th.classList.add(desc ? "desc" : "asc");
      var body = document.querySelector("#incidents tbody");
      rows.slice().sort(function (a, b) {
        var x = a.dataset[key], y = b.dataset[key];
        return (x < y ? -1 : x > y ? 1 : 0) * (desc ? -1 : 1);
      }).forEach(function (r) { body.appendChild(r); });
    });
  });
  window.addEventListener("hashchange", apply);
  apply();
})();
</script>
</body>
</html>
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_links_for_github_and_gitlab_only() {
        let c = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            commit_url("https://github.com/acme/pay", c).as_deref(),
            Some("https://github.com/acme/pay/commit/0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(
            commit_url("git@gitlab.com:grp/sub/proj.git", c).as_deref(),
            Some(
                "https://gitlab.com/grp/sub/proj/-/commit/0123456789abcdef0123456789abcdef01234567"
            )
        );
        assert_eq!(commit_url("/srv/repos/pay", c), None);
        assert_eq!(commit_url("https://example.com/a/b", c), None);
        assert_eq!(commit_url("https://github.com/a/b", "\"><script>"), None);
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
