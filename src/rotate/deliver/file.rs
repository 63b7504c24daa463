//! `file:PATH`: a `.env`-style file, `NAME=value` per line. Lines of other
//! names are kept; the two names are replaced (or added). The file is
//! written whole to a temporary file in the same directory, mode 0600,
//! synced, then renamed over the old one: a reader sees the old file or the
//! new one, never half of it.

use std::io::Write;
use std::path::Path;

use super::Values;

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The file's directory exists (nothing is created before the run).
pub fn check_dir(path: &Path) -> Result<(), String> {
    let dir = parent(path);
    if dir.is_dir() {
        Ok(())
    } else {
        Err(format!("the directory {} does not exist", dir.display()))
    }
}

/// `text` with `NAME=…` lines for both names replaced or appended.
fn updated(text: &str, values: &Values) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut seen = [false, false];
    let pairs = values.pairs();
    for line in text.lines() {
        let key = line
            .trim_start()
            .trim_start_matches("export ")
            .split('=')
            .next()
            .unwrap_or_default()
            .trim();
        match pairs.iter().position(|(n, _)| *n == key) {
            Some(i) if line.contains('=') => {
                if !seen[i] {
                    seen[i] = true;
                    lines.push(format!("{}={}", pairs[i].0, pairs[i].1.expose()));
                }
            }
            _ => lines.push(line.to_string()),
        }
    }
    for (i, (name, value)) in pairs.iter().enumerate() {
        if !seen[i] {
            lines.push(format!("{name}={}", value.expose()));
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

pub fn write(path: &Path, values: &Values) -> Result<String, String> {
    let old = match std::fs::read(path) {
        Ok(b) => String::from_utf8(b)
            .map_err(|_| "the file is not UTF-8 text: left as it was".to_string())?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    let existed = !old.is_empty() || path.exists();
    let mut text = updated(&old, values).into_bytes();
    let mut tmp = tempfile::NamedTempFile::new_in(parent(path))
        .map_err(|e| format!("cannot create a temporary file beside it: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot set mode 0600: {e}"))?;
    }
    let written = tmp.write_all(&text).and_then(|_| tmp.as_file().sync_all());
    // Wipe our copy, whatever happened.
    text.fill(0);
    written.map_err(|e| format!("cannot write: {e}"))?;
    tmp.persist(path)
        .map_err(|e| format!("cannot replace it: {}", e.error))?;
    Ok(if existed {
        "file updated"
    } else {
        "file written"
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotate::plan::SecretNames;
    use crate::secret::Secret;

    #[test]
    fn other_lines_kept_names_replaced_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".env");
        std::fs::write(
            &path,
            "A=1\nCYBRID_CLIENT_ID=old\n# note\nexport CYBRID_CLIENT_SECRET=old\n",
        )
        .expect("seed");
        let names = SecretNames::default();
        let (id, secret) = (Secret::new("NEWID"), Secret::new("NEWSECRET"));
        let v = Values {
            names: &names,
            client_id: &id,
            secret: &secret,
        };
        write(&path, &v).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            text,
            "A=1\nCYBRID_CLIENT_ID=NEWID\n# note\nCYBRID_CLIENT_SECRET=NEWSECRET\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
    }
}
