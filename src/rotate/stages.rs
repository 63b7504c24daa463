//! Where each rotation stands, from the audit log's `rotate` lines: a
//! replacement `created` (its secret should be in the pending store), or
//! `delivered` (delivered everywhere and checked: only the deletion of the
//! leaked application is left). Finished rotations are known from the
//! `revoke` lines, as for `revoke` itself.

use std::collections::HashMap;
use std::path::Path;

use crate::revoke::audit::Entry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Created,
    Delivered,
}

#[derive(Debug, Clone, Default)]
pub struct Stages {
    by_target: HashMap<(String, String), Stage>,
}

impl Stages {
    /// Read from the audit log at `path` (none yet: nothing stands anywhere).
    pub fn read(path: &Path) -> Self {
        let text = std::fs::read(path).unwrap_or_default();
        Self::parse(&String::from_utf8_lossy(&text))
    }

    pub fn parse(text: &str) -> Self {
        let mut s = Stages::default();
        for line in text.lines() {
            let Ok(e) = serde_json::from_str::<Entry>(line) else {
                continue;
            };
            let (Some(fp), Some(env)) = (e.fingerprint, e.environment) else {
                continue;
            };
            let stage = match (e.action.as_str(), e.outcome.as_str()) {
                ("rotate", "created") => Stage::Created,
                ("rotate", "delivered") => Stage::Delivered,
                _ => continue,
            };
            s.by_target.insert((fp, env), stage);
        }
        s
    }

    pub fn get(&self, fingerprint: &str, environment: &str) -> Option<Stage> {
        self.by_target
            .get(&(fingerprint.to_string(), environment.to_string()))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_stage_wins() {
        let line = |outcome: &str| {
            format!(
                r#"{{"time":"t","run":"r","fingerprint":"aa","environment":"sandbox","action":"rotate","outcome":"{outcome}"}}"#
            )
        };
        let s = Stages::parse(&[line("created"), line("pending")].join("\n"));
        assert_eq!(s.get("aa", "sandbox"), Some(Stage::Created));
        let s = Stages::parse(&[line("created"), line("delivered"), line("failed")].join("\n"));
        assert_eq!(s.get("aa", "sandbox"), Some(Stage::Delivered));
        assert_eq!(s.get("bb", "sandbox"), None);
    }
}
