//! Project context: inside a project that integrates Cybrid, a generic
//! `clientId`/`clientSecret` pair of Cybrid's shape is Cybrid's even where no
//! line says so (a test-runner config, a compiled bundle).
//!
//! A project integrates Cybrid when one of its dependency manifests names a
//! Cybrid SDK (`@cybrid/…`, `cybrid-api-*`, `cybrid_api_*`, `CybridApi…`,
//! `cybrid-sdk-*`) or one of its files names a Cybrid host. Evidence is
//! gathered as files go by (one cheap look per file, at the keyword hits the
//! engine already found); candidates that need it are held until the whole
//! root or repository has been read, then kept (with the evidence) or dropped.

use std::sync::Mutex;

use crate::detect::Scratch;
use crate::finding::{Finding, Via};

/// File names of dependency manifests (and their lock files).
const MANIFESTS: &[&str] = &[
    "package.json",
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "requirements.txt",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "Pipfile",
    "Pipfile.lock",
    "poetry.lock",
    "Gemfile",
    "Gemfile.lock",
    "Podfile",
    "Podfile.lock",
    "Cartfile",
    "build.gradle",
    "build.gradle.kts",
    "settings.gradle",
    "settings.gradle.kts",
    "libs.versions.toml",
    "pom.xml",
    "go.mod",
    "Package.swift",
    "Package.resolved",
    "composer.json",
    "packages.config",
    "pubspec.yaml",
];

/// Is `path`'s file name a dependency manifest?
pub fn is_manifest(path: &str) -> bool {
    let name = file_name(path);
    MANIFESTS.contains(&name)
        || (name.starts_with("requirements") && name.ends_with(".txt"))
        || name.ends_with(".gemspec")
        || name.ends_with(".csproj")
}

/// Manifests that declare dependencies by hand (no lock files): what
/// `git --staged` reads from the index for project evidence. Lock files are
/// left out: they can be megabytes, and each names what its manifest does.
const DECLARING_MANIFESTS: &[&str] = &[
    "package.json",
    "pyproject.toml",
    "Gemfile",
    "Podfile",
    "build.gradle",
    "build.gradle.kts",
    "pom.xml",
    "go.mod",
    "Package.swift",
];

/// Is `path` a manifest worth reading for project evidence when it was not
/// scanned (a pre-commit scan sees only staged files)?
pub fn is_declaring_manifest(path: &str) -> bool {
    let name = file_name(path);
    DECLARING_MANIFESTS.contains(&name)
        || (name.starts_with("requirements") && name.ends_with(".txt"))
}

/// The Cybrid SDK a manifest's text depends on, if any.
pub fn sdk_dependency(bytes: &[u8]) -> Option<String> {
    let finder = memchr::memmem::Finder::new(b"cybrid");
    let lower = bytes.to_ascii_lowercase();
    for at in finder.find_iter(&lower) {
        let is_name =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'@' | b'/' | b'_' | b'-' | b'.');
        let mut lo = at;
        while lo > 0 && at - lo < 64 && is_name(bytes[lo - 1]) {
            lo -= 1;
        }
        let mut hi = at + 6;
        while hi < bytes.len() && hi - at < 96 && is_name(bytes[hi]) {
            hi += 1;
        }
        let token = &lower[lo..hi];
        let names_sdk = memchr::memmem::find(token, b"@cybrid/").is_some()
            || [
                &b"cybrid-api"[..],
                b"cybrid_api",
                b"cybridapi",
                b"cybrid-sdk",
                b"cybrid_sdk",
                b"cybridsdk",
            ]
            .iter()
            .any(|p| memchr::memmem::find(token, p).is_some());
        if names_sdk {
            let name = String::from_utf8_lossy(&bytes[lo..hi]);
            // A URL or path names its last segment.
            let name = name.rsplit('/').find(|s| !s.is_empty()).unwrap_or(&name);
            let name = if memchr::memmem::find(token, b"@cybrid/").is_some() {
                String::from_utf8_lossy(&bytes[lo..hi])
                    .trim_start_matches(|c: char| c != '@')
                    .to_string()
            } else {
                name.to_string()
            };
            return Some(name.trim_end_matches(['.', '-', '_']).to_string());
        }
    }
    None
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn parent_dir(path: &str) -> &str {
    path.rfind(['/', '\\']).map_or("", |i| &path[..i])
}

/// `dir` is `ancestor` or below it (paths relative to one root, `/`-separated).
fn within(dir: &str, ancestor: &str) -> bool {
    ancestor.is_empty()
        || dir == ancestor
        || (dir.starts_with(ancestor) && dir.as_bytes().get(ancestor.len()) == Some(&b'/'))
}

/// One piece of evidence: where it applies (a package root) and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Evidence {
    /// The directory of the file that gave it.
    dir: String,
    /// A manifest's evidence counts for its directory; a host's, for the
    /// package root around its file (known only at the end).
    manifest: bool,
    text: String,
}

/// Evidence and held candidates for one scanned root or repository.
#[derive(Debug, Default)]
pub struct Projects {
    /// Directories holding a manifest: the package roots.
    roots: Mutex<Vec<String>>,
    /// Directories holding a Gradle `settings.gradle[.kts]`: one build with
    /// its subprojects (`app/build.gradle` names the SDK, the build caches sit
    /// beside settings.gradle), so a subproject's evidence counts for all of it.
    gradle_builds: Mutex<Vec<String>>,
    evidence: Mutex<Vec<Evidence>>,
    held: Mutex<Vec<Finding>>,
}

impl Projects {
    /// Look at a scanned file for evidence; `scratch` is the engine's after
    /// scanning `bytes`, so a file with no Cybrid keyword costs a name check.
    pub fn observe(&self, path: &str, bytes: &[u8], scratch: &Scratch) {
        let manifest = is_manifest(path);
        if manifest {
            lock(&self.roots).push(parent_dir(path).to_string());
            if matches!(file_name(path), "settings.gradle" | "settings.gradle.kts") {
                lock(&self.gradle_builds).push(parent_dir(path).to_string());
            }
        }
        if !scratch.saw_cybrid() {
            return;
        }
        let found = if manifest {
            sdk_dependency(bytes).map(|sdk| format!("{path} depends on {sdk}"))
        } else {
            None
        };
        let found = found.map(|t| (t, true)).or_else(|| {
            scratch
                .first_host(bytes)
                .map(|h| (format!("{path} names the Cybrid host {h}"), false))
        });
        if let Some((text, manifest)) = found {
            let mut ev = lock(&self.evidence);
            // One piece per directory and kind is enough to decide and to show.
            let dir = parent_dir(path).to_string();
            if !ev.iter().any(|e| e.dir == dir && e.manifest == manifest) {
                ev.push(Evidence {
                    dir,
                    manifest,
                    text,
                });
            }
        }
    }

    /// Evidence from a manifest that was not scanned (read from the index by
    /// `git --staged`): only its dependencies count, it holds no findings.
    pub fn observe_manifest(&self, path: &str, bytes: &[u8]) {
        lock(&self.roots).push(parent_dir(path).to_string());
        if let Some(sdk) = sdk_dependency(bytes) {
            let mut ev = lock(&self.evidence);
            let dir = parent_dir(path).to_string();
            if !ev.iter().any(|e| e.dir == dir && e.manifest) {
                ev.push(Evidence {
                    dir,
                    manifest: true,
                    text: format!("{path} depends on {sdk}"),
                });
            }
        }
    }

    /// Split off the findings that wait for project evidence; the rest pass through.
    pub fn hold(&self, findings: Vec<Finding>) -> Vec<Finding> {
        let (pending, ready): (Vec<Finding>, Vec<Finding>) =
            findings.into_iter().partition(awaits_project);
        if !pending.is_empty() {
            lock(&self.held).extend(pending);
        }
        ready
    }

    /// The held findings whose package (or an enclosing one) has evidence,
    /// each saying which; the others are dropped.
    pub fn resolve(&self) -> Vec<Finding> {
        let held = std::mem::take(&mut *lock(&self.held));
        if held.is_empty() {
            return held;
        }
        let mut roots = std::mem::take(&mut *lock(&self.roots));
        roots.sort();
        roots.dedup();
        let evidence = lock(&self.evidence).clone();
        let gradle_builds = lock(&self.gradle_builds).clone();
        // The outermost Gradle build around a manifest's directory, if any.
        let build_root = |dir: &str| -> Option<String> {
            gradle_builds
                .iter()
                .filter(|b| within(dir, b))
                .min_by_key(|b| b.len())
                .cloned()
        };
        let package_root = |dir: &str| -> String {
            roots
                .iter()
                .filter(|r| within(dir, r))
                .max_by_key(|r| r.len())
                .cloned()
                .unwrap_or_default()
        };
        let scoped: Vec<(String, String)> = evidence
            .iter()
            .map(|e| {
                let scope = if e.manifest {
                    build_root(&e.dir).unwrap_or_else(|| e.dir.clone())
                } else {
                    package_root(&e.dir)
                };
                (scope, e.text.clone())
            })
            .collect();
        held.into_iter()
            .filter_map(|mut f| {
                let root = package_root(parent_dir(&f.location.path));
                let (_, text) = scoped
                    .iter()
                    .filter(|(scope, _)| within(&root, scope))
                    .max_by_key(|(scope, _)| scope.len())?;
                set_project(&mut f, text);
                Some(f)
            })
            .collect()
    }

    /// Any evidence at all (a git repository is one project).
    pub fn repository_evidence(&self) -> Option<String> {
        let ev = lock(&self.evidence);
        ev.iter()
            .find(|e| e.manifest)
            .or_else(|| ev.first())
            .map(|e| e.text.clone())
    }
}

/// Does this finding wait for project evidence?
pub fn awaits_project(f: &Finding) -> bool {
    f.location
        .context
        .as_ref()
        .is_some_and(|c| c.awaits_project())
}

/// Keep the findings that wait for project evidence only when there is some
/// (`evidence`), recording it in them; the others are untouched.
pub fn keep_with(findings: &mut Vec<Finding>, evidence: Option<&str>) {
    findings.retain_mut(|f| {
        if !awaits_project(f) {
            return true;
        }
        match evidence {
            Some(e) => {
                set_project(f, e);
                true
            }
            None => false,
        }
    });
}

/// Record the project evidence that made `f` Cybrid's.
pub fn set_project(f: &mut Finding, evidence: &str) {
    if let Some(c) = f.location.context.as_mut() {
        c.via = Some(Via::Project);
        c.evidence = evidence.to_string();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_and_sdks() {
        assert!(is_manifest("web/package.json"));
        assert!(is_manifest("requirements-dev.txt"));
        assert!(!is_manifest("src/config.ts"));
        assert_eq!(
            sdk_dependency(br#"{"dependencies": {"@cybrid/cybrid-api-bank-angular": "^0.1"}}"#)
                .as_deref(),
            Some("@cybrid/cybrid-api-bank-angular")
        );
        assert_eq!(
            sdk_dependency(b"cybrid-api-bank-python==0.80.0\n").as_deref(),
            Some("cybrid-api-bank-python")
        );
        assert_eq!(
            sdk_dependency(b"  pod 'CybridApiBankSwift', '~> 0.1'").as_deref(),
            Some("CybridApiBankSwift")
        );
        assert_eq!(
            sdk_dependency(b"require github.com/Cybrid-app/cybrid-api-bank-go v0.1.0").as_deref(),
            Some("cybrid-api-bank-go")
        );
        assert_eq!(sdk_dependency(b"{\"name\": \"cybrid-demo\"}"), None);
    }

    #[test]
    fn declaring_manifests_leave_lock_files_out() {
        assert!(is_declaring_manifest("web/package.json"));
        assert!(is_declaring_manifest("requirements-dev.txt"));
        assert!(is_declaring_manifest("app/build.gradle.kts"));
        assert!(!is_declaring_manifest("package-lock.json"));
        assert!(!is_declaring_manifest("yarn.lock"));
        assert!(!is_declaring_manifest("src/package.ts"));
        let p = Projects::default();
        p.observe_manifest(
            "web/package.json",
            br#"{"dependencies": {"left-pad": "1"}}"#,
        );
        assert_eq!(p.repository_evidence(), None);
        p.observe_manifest(
            "package.json",
            br#"{"dependencies": {"@cybrid/cybrid-api-bank-angular": "1"}}"#,
        );
        assert_eq!(
            p.repository_evidence().as_deref(),
            Some("package.json depends on @cybrid/cybrid-api-bank-angular")
        );
    }

    #[test]
    fn scopes() {
        assert!(within("packages/web/src", "packages/web"));
        assert!(!within("packages/website", "packages/web"));
        assert!(within("anything", ""));
    }
}
