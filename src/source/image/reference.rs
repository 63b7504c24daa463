//! `REGISTRY/NAME:TAG` and `REGISTRY/NAME@DIGEST`, read as Docker reads
//! them: a first component with a `.` or `:` (or `localhost`) is a registry
//! host, anything else is on Docker Hub, where one-component names are under
//! `library/`.

/// What to fetch from a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRef {
    /// The registry as named (`docker.io` when none was).
    pub host: String,
    /// The repository inside it (`library/alpine`, `org/app`).
    pub repository: String,
    /// A tag, or a digest (`sha256:…`).
    pub reference: String,
}

impl RegistryRef {
    /// `None` when `spec` is not a valid image reference.
    pub fn parse(spec: &str) -> Option<Self> {
        let (name, reference) = match spec.split_once('@') {
            Some((name, digest)) => {
                if !is_digest(digest) {
                    return None;
                }
                // A tag beside a digest (`name:tag@sha256:…`) is ignored, as Docker does.
                let name = match name.rsplit_once(':') {
                    Some((n, t)) if !t.contains('/') => n,
                    _ => name,
                };
                (name, digest.to_string())
            }
            None => match spec.rsplit_once(':') {
                Some((n, t)) if !t.contains('/') && !n.is_empty() => (n, t.to_string()),
                _ => (spec, "latest".to_string()),
            },
        };
        if !reference.contains(':') && !is_tag(&reference) {
            return None;
        }
        let (host, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        let repository = if host == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        let valid = !repository.is_empty()
            && repository.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        valid.then_some(RegistryRef {
            host,
            repository,
            reference,
        })
    }

    /// The host the API is on (Docker Hub's name is not its API's).
    pub fn api_host(&self) -> &str {
        match self.host.as_str() {
            "docker.io" | "index.docker.io" => "registry-1.docker.io",
            h => h,
        }
    }

    /// Whether the reference is a digest (the content is then checked against it).
    pub fn is_digest(&self) -> bool {
        is_digest(&self.reference)
    }
}

fn is_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `ALG:HEX`, where a sha256 digest has 64 hex digits.
pub fn is_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        Some((alg, hex)) => {
            !alg.is_empty()
                && alg.bytes().all(|b| b.is_ascii_alphanumeric())
                && hex.len() >= 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(spec: &str) -> (String, String, String) {
        let r = RegistryRef::parse(spec).expect(spec);
        (r.host, r.repository, r.reference)
    }

    #[test]
    fn docker_reads_names_this_way() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            r("alpine"),
            ("docker.io".into(), "library/alpine".into(), "latest".into())
        );
        assert_eq!(
            r("org/app:1.2"),
            ("docker.io".into(), "org/app".into(), "1.2".into())
        );
        assert_eq!(
            r("ghcr.io/org/app:v1"),
            ("ghcr.io".into(), "org/app".into(), "v1".into())
        );
        assert_eq!(
            r("127.0.0.1:5000/app"),
            ("127.0.0.1:5000".into(), "app".into(), "latest".into())
        );
        assert_eq!(
            r("localhost/a/b"),
            ("localhost".into(), "a/b".into(), "latest".into())
        );
        assert_eq!(
            r(&format!("registry.gitlab.com/g/p:tag@{d}")),
            ("registry.gitlab.com".into(), "g/p".into(), d.clone())
        );
        assert!(RegistryRef::parse(&format!("ghcr.io/o/a@{d}"))
            .expect("digest")
            .is_digest());
        assert_eq!(
            RegistryRef::parse("alpine").expect("hub").api_host(),
            "registry-1.docker.io"
        );
    }

    #[test]
    fn bad_references_are_refused() {
        for bad in [
            "Upper/Case",
            "a//b",
            "a@sha256:xyz",
            "a:tag with space",
            "",
            "ghcr.io/",
        ] {
            assert!(RegistryRef::parse(bad).is_none(), "{bad}");
        }
    }
}
