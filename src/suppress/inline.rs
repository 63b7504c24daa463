//! Inline allow comments: `cybrid-scan:allow` on a finding's line, or on a
//! comment line just before it, marks a deliberate test value. The marker is matched as
//! plain text, so it works in every comment style (`#`, `//`, `/* */`,
//! `<!-- -->`, `--`, `;`, `REM`, …) without knowing the file's language.

use memchr::{memchr, memmem, memrchr};

/// The marker users write.
pub const MARKER: &str = "cybrid-scan:allow";

/// How far from the secret the marker is looked for on a very long line
/// (minified bundles, one-line JSON): keeps lookups bounded per finding.
const MAX_REACH: usize = 4096;

/// Whether the secret at `start..end` in `bytes` is allowed: by a marker
/// anywhere on its own line(s), or by a comment line just before it that
/// carries the marker (a trailing marker after code on the line before
/// belongs to that line's value, not to this one).
pub fn allows(bytes: &[u8], start: usize, end: usize) -> bool {
    let start = start.min(bytes.len());
    let end = end.clamp(start, bytes.len());
    let line_start = memrchr(b'\n', &bytes[..start]).map_or(0, |i| i + 1);
    let line_end = memchr(b'\n', &bytes[end..]).map_or(bytes.len(), |i| end + i);
    // Bound the window on very long lines; a marker that far away is not about this value.
    let lo = line_start.max(start.saturating_sub(MAX_REACH));
    let hi = line_end.min(end.saturating_add(MAX_REACH));
    if memmem::find(&bytes[lo..hi], MARKER.as_bytes()).is_some() {
        return true;
    }
    if line_start == 0 {
        return false;
    }
    let prev_start = memrchr(b'\n', &bytes[..line_start - 1]).map_or(0, |i| i + 1);
    let prev = &bytes[prev_start.max((line_start - 1).saturating_sub(MAX_REACH))..line_start - 1];
    memmem::find(prev, MARKER.as_bytes()).is_some_and(|at| is_comment_opener(&prev[..at]))
}

/// Whether the text before a marker is only a comment opener (`#`, `//`,
/// `/*`, `*`, `<!--`, `--`, `;`, `%`, `'`, `REM`) and blanks.
fn is_comment_opener(prefix: &[u8]) -> bool {
    let trimmed = prefix.trim_ascii();
    trimmed.eq_ignore_ascii_case(b"rem")
        || trimmed.iter().all(|b| {
            matches!(
                b,
                b'#' | b'/' | b'*' | b'<' | b'!' | b'-' | b';' | b'%' | b'\'' | b' ' | b'\t'
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, needle: &str) -> bool {
        let start = text.find(needle).expect("needle in text");
        allows(text.as_bytes(), start, start + needle.len())
    }

    #[test]
    fn same_line_previous_line_and_not_further() {
        assert!(at("KEY=SECRET # cybrid-scan:allow\n", "SECRET"));
        assert!(at("// cybrid-scan:allow\nKEY=SECRET\n", "SECRET"));
        assert!(at(
            "a\r\n<!-- cybrid-scan:allow -->\r\nKEY=SECRET\r\n",
            "SECRET"
        ));
        assert!(!at("-- cybrid-scan:allow\n\nKEY=SECRET\n", "SECRET"));
        assert!(!at("KEY=SECRET\n# cybrid-scan:allow\n", "SECRET"));
        assert!(!at("KEY=SECRET # cybrid-scan:deny\n", "SECRET"));
        // A trailing marker after code covers its own line only.
        assert!(!at("A=1 # cybrid-scan:allow\nKEY=SECRET\n", "SECRET"));
        assert!(at("  REM cybrid-scan:allow\r\nKEY=SECRET\n", "SECRET"));
        assert!(at("    /* cybrid-scan:allow */\nKEY=SECRET\n", "SECRET"));
        assert!(!at("SECRET", "SECRET"));
    }

    #[test]
    fn very_long_lines_are_bounded() {
        let mut text = String::from("/* cybrid-scan:allow */");
        text.push_str(&"x".repeat(MAX_REACH + 10));
        text.push_str("SECRET");
        assert!(!at(&text, "SECRET"));
        let near = format!(
            "{}/* cybrid-scan:allow */ SECRET",
            "x".repeat(10 * MAX_REACH)
        );
        assert!(at(&near, "SECRET"));
    }
}
