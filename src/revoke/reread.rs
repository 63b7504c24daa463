//! A redacted report is enough (issue #29, point 4): when a live finding's
//! secret is not in the report (written without `--show-secrets`), it is
//! read again from the finding's recorded location, under one of the
//! report's `roots`: the file and line (`dir`), or the git blob (`git`).
//! A candidate is taken only if it has the finding's fingerprint, so a
//! file that changed since the scan yields nothing rather than a wrong
//! value. Nothing read here is kept beyond the returned [`Secret`].

use std::path::Path;

use crate::finding::{Fingerprint, Location, SourceKind};
use crate::secret::Secret;

/// Files larger than this are not read again.
const MAX_BYTES: u64 = 64 << 20;

fn line_of(bytes: &[u8], line: u64) -> Option<String> {
    let index = usize::try_from(line.checked_sub(1)?).ok()?;
    let text = bytes.split(|b| *b == b'\n').nth(index)?;
    Some(String::from_utf8_lossy(text).into_owned())
}

/// The token on `text` whose fingerprint under `rule_id` is `fingerprint`
/// (and that is not the client id).
fn matching(text: &str, rule_id: &str, fingerprint: &str, client_id: &str) -> Option<Secret> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .filter(|t| (30..=128).contains(&t.len()) && *t != client_id)
        .map(Secret::new)
        .find(|s| Fingerprint::of(rule_id, s).as_str() == fingerprint)
}

fn from_file(root: &Path, loc: &Location) -> Option<Vec<u8>> {
    if loc.path.contains('!') || loc.entry.is_some() {
        return None;
    }
    let path = if loc.path.is_empty() {
        root.to_path_buf()
    } else {
        root.join(&loc.path)
    };
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > MAX_BYTES {
        return None;
    }
    std::fs::read(&path).ok()
}

fn from_blob(root: &Path, loc: &Location) -> Option<Vec<u8>> {
    let oid = git2::Oid::from_str(loc.blob.as_deref()?).ok()?;
    let repo = git2::Repository::open(root).ok()?;
    let blob = repo.find_blob(oid).ok()?;
    (blob.size() as u64 <= MAX_BYTES).then(|| blob.content().to_vec())
}

/// The finding's secret, read again from its location under `roots`.
pub fn secret_at(
    roots: &[String],
    loc: &Location,
    rule_id: &str,
    fingerprint: &str,
    client_id: &str,
) -> Option<Secret> {
    for root in roots {
        let root = Path::new(root);
        let bytes = match loc.source {
            SourceKind::File => from_file(root, loc),
            SourceKind::Git => from_blob(root, loc),
            _ => None,
        };
        let Some(mut bytes) = bytes else { continue };
        let found =
            line_of(&bytes, loc.line).and_then(|l| matching(&l, rule_id, fingerprint, client_id));
        bytes.fill(0);
        if found.is_some() {
            return found;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_value_with_the_fingerprint_is_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = "SSSSssssTTTTttttUUUUuuuuVVVVvvvvWWWWwwwwXXX";
        let id = "AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK";
        std::fs::write(
            dir.path().join(".env"),
            format!("CYBRID_CLIENT_ID={id}\nCYBRID_CLIENT_SECRET={secret}\n"),
        )
        .expect("write");
        let fp = Fingerprint::of("cybrid-client-secret", &Secret::new(secret));
        let loc = Location {
            path: ".env".into(),
            line: 2,
            ..Location::default()
        };
        let roots = vec![dir.path().display().to_string()];
        let got = secret_at(&roots, &loc, "cybrid-client-secret", fp.as_str(), id);
        assert_eq!(got.as_ref().map(Secret::expose), Some(secret));
        let wrong_line = Location {
            line: 1,
            ..loc.clone()
        };
        assert!(secret_at(&roots, &wrong_line, "cybrid-client-secret", fp.as_str(), id).is_none());
        std::fs::write(dir.path().join(".env"), "CYBRID_CLIENT_SECRET=changed\n").expect("write");
        assert!(secret_at(&roots, &loc, "cybrid-client-secret", fp.as_str(), id).is_none());
        assert!(secret_at(&[], &loc, "cybrid-client-secret", fp.as_str(), id).is_none());
    }
}
