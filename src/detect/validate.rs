//! Cheap checks that turn a regex candidate into a credential or drop it:
//! token boundaries, shape, and the placeholders people paste into docs.

/// Characters that continue a base64-ish token; a real match is not flanked by them.
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/' | b'+' | b'=')
}

/// True when `bytes[start..end]` is not glued to a longer token on either side.
/// A `=` before is an assignment (`KEY=value`), not base64 padding, which only ends a token.
pub fn on_boundary(bytes: &[u8], start: usize, end: usize) -> bool {
    let before_ok = start == 0
        || bytes[start - 1] == b'='
        || !is_token_byte(bytes[start - 1])
        || after_percent_escape(bytes, start)
        || after_length_prefix(bytes, start)
        || after_shell_default(bytes, start);
    let after_ok = end >= bytes.len() || !is_token_byte(bytes[end]);
    before_ok && after_ok
}

/// `${NAME:-value}` or `${NAME-value}`: a shell default starts at `at`.
fn after_shell_default(bytes: &[u8], at: usize) -> bool {
    if at < 4 || bytes[at - 1] != b'-' {
        return false;
    }
    let mut i = at - 1;
    if bytes[i - 1] == b':' {
        i -= 1;
    }
    let name_end = i;
    while i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
        i -= 1;
    }
    i < name_end && i >= 2 && &bytes[i - 2..i] == b"${"
}

/// `%22value`: a URL-encoded quote ends right before `at`.
fn after_percent_escape(bytes: &[u8], at: usize) -> bool {
    at >= 3
        && bytes[at - 3] == b'%'
        && bytes[at - 2].is_ascii_hexdigit()
        && bytes[at - 1].is_ascii_hexdigit()
}

/// Binary serializations (Java `writeUTF`, protobuf) put a length before a
/// string; for a 43-byte value that length byte is `+`, after a control byte.
fn after_length_prefix(bytes: &[u8], at: usize) -> bool {
    at >= 2 && bytes[at - 1] == b'+' && bytes[at - 2] < 0x20
}

pub fn is_url_safe_b64(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Words that mark documentation placeholders when they form a whole `_`/`-`
/// separated part of the value (so a random secret that happens to contain
/// the letters "your" is still reported).
const PLACEHOLDER_WORDS: &[&str] = &[
    "your",
    "my",
    "example",
    "placeholder",
    "changeme",
    "redacted",
    "dummy",
    "sample",
    "secret",
    "client",
    "insert",
    "replace",
    "here",
    "goes",
    "fake",
    "test",
    "id",
    "key",
    "cybrid",
    "xxx",
];

/// Shannon entropy in bits per byte.
pub fn entropy(value: &[u8]) -> f64 {
    if value.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in value {
        counts[b as usize] += 1;
    }
    let n = value.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

fn longest_run(value: &[u8]) -> usize {
    let (mut best, mut run) = (0, 0);
    for (i, b) in value.iter().enumerate() {
        run = if i > 0 && value[i - 1] == *b {
            run + 1
        } else {
            1
        };
        best = best.max(run);
    }
    best
}

fn longest_sequence(value: &[u8]) -> usize {
    let (mut best, mut run) = (0, 0);
    for (i, b) in value.iter().enumerate() {
        run = if i > 0 && value[i - 1].wrapping_add(1) == *b {
            run + 1
        } else {
            1
        };
        best = best.max(run);
    }
    best
}

/// True for values that are obviously not a random credential.
pub fn is_placeholder(value: &str) -> bool {
    let bytes = value.as_bytes();
    if entropy(bytes) < 3.0 || longest_run(bytes) >= 6 || longest_sequence(bytes) >= 6 {
        return true;
    }
    let lower = value.to_ascii_lowercase();
    let words: Vec<&str> = lower.split(['_', '-']).filter(|w| !w.is_empty()).collect();
    // Two placeholder words, not one: a random 43-character value has a
    // segment such as `_id` or `-my-` about once in 5,000 (seen by the
    // property tests), and a real secret must not be dropped for it.
    if words
        .iter()
        .filter(|w| PLACEHOLDER_WORDS.contains(w))
        .count()
        >= 2
    {
        return true;
    }
    // Random base64url of 32 bytes has both cases with overwhelming probability.
    let alpha = bytes.iter().any(|b| b.is_ascii_alphabetic());
    let hex = bytes.iter().all(|b| b.is_ascii_hexdigit());
    if alpha && !hex && value.len() >= 40 && is_url_safe_b64(value) {
        let upper = bytes.iter().any(|b| b.is_ascii_uppercase());
        let lower_c = bytes.iter().any(|b| b.is_ascii_lowercase());
        if !(upper && lower_c) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert!(is_placeholder(
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        ));
        assert!(is_placeholder(
            "your_cybrid_client_secret_goes_right_here_ok"
        ));
        assert!(is_placeholder(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
        ));
        assert!(!is_placeholder(
            "O8hyw3d0A7d4cki4N7BGPxeHXwyx4aD7dWlD2Bxw0UY"
        ));
        assert!(!is_placeholder(
            "xTEcwWW0c7oq-mtwsSqt5NOwNQ3MzgsJk2DMs1JNy4w"
        ));
        // Random values that happen to have one word-like segment.
        assert!(!is_placeholder(
            "Vb8kQ2mZr5Tn0Lc7Xw4Hs9Jd1Fg6Pq3Ye8Ua5Ko2_id"
        ));
        assert!(!is_placeholder(
            "Vb8kQ2mZr5Tn0Lc7-my-Xw4Hs9Jd1Fg6Pq3Ye8Ua5Ko"
        ));
        assert!(!is_placeholder(
            "594eb51fb0359279e8ac00ab4521896294bea05d25a49e50b79a2cefe4a35e06"
        ));
    }

    #[test]
    fn boundaries() {
        let s = b"=abc def";
        assert!(on_boundary(s, 1, 4));
        assert!(!on_boundary(b"/abc", 1, 4));
        assert!(!on_boundary(b"abc=", 0, 3));
        assert!(on_boundary(s, 5, 8));
        assert!(on_boundary(b"x abc", 2, 5));
        assert!(on_boundary(b"${A_B:-abc}", 7, 10));
        assert!(on_boundary(b"${AB-abc}", 5, 8));
        assert!(!on_boundary(b"x-abc", 2, 5));
    }
}
