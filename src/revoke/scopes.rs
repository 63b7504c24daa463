//! Which scopes the admin token asks for: exactly those the planned steps
//! use. Deleting needs `{bank,organization}_applications:execute` for the
//! application's type; the `:read` scopes are asked for only when a target's
//! type is unknown and must be looked up (CYBRID.md). Confirmation uses the
//! leaked pair at the token endpoint, so it needs no admin scope.

use std::collections::{BTreeMap, BTreeSet};

use super::plan::{AppType, Target};

/// The scope that `action` (`read` or `execute`) on `kind`'s applications needs.
pub fn scope(kind: AppType, action: &str) -> String {
    format!("{}_applications:{action}", kind.as_str())
}

/// The scopes one target's steps use, each with why.
pub fn for_target(t: &Target) -> Vec<(String, &'static str)> {
    match t.app_type {
        Some(kind) => vec![(scope(kind, "execute"), "deleting")],
        None => {
            let both = [AppType::Bank, AppType::Organization];
            both.iter()
                .map(|k| (scope(*k, "read"), "looking up the type of"))
                .chain(both.iter().map(|k| (scope(*k, "execute"), "deleting")))
                .collect()
        }
    }
}

/// The scopes a set of targets in one environment needs, and for each the
/// targets that need it (for the message when one is missing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    pub by_scope: BTreeMap<String, BTreeSet<String>>,
}

impl Needs {
    pub fn add(&mut self, t: &Target) {
        for (scope, why) in for_target(t) {
            self.by_scope.entry(scope).or_default().insert(format!(
                "{why} the {} application {}",
                t.type_label(),
                t.shown_client_id()
            ));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_scope.is_empty()
    }

    /// The `scope` parameter of the token request: space-separated, sorted.
    pub fn request(&self) -> String {
        self.scopes().collect::<Vec<_>>().join(" ")
    }

    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.by_scope.keys().map(String::as_str)
    }

    /// Why `scope` is needed, in words.
    pub fn why(&self, scope: &str) -> String {
        self.by_scope
            .get(scope)
            .map(|w| w.iter().cloned().collect::<Vec<_>>().join("; "))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn target(ty: Option<AppType>) -> Target {
        Target {
            fingerprint: "aa".into(),
            fingerprints: vec!["aa".into()],
            client_id: Secret::new("AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"),
            secret: None,
            environment: "sandbox".into(),
            app_type: ty,
            locations: vec![],
        }
    }

    #[test]
    fn known_types_need_execute_only_and_unknown_types_add_read() {
        let mut n = Needs::default();
        n.add(&target(Some(AppType::Bank)));
        assert_eq!(n.request(), "bank_applications:execute");
        n.add(&target(Some(AppType::Organization)));
        assert_eq!(
            n.request(),
            "bank_applications:execute organization_applications:execute"
        );
        let mut u = Needs::default();
        u.add(&target(None));
        assert_eq!(
            u.request(),
            "bank_applications:execute bank_applications:read organization_applications:execute organization_applications:read"
        );
        assert!(u.why("bank_applications:read").contains("looking up"));
        assert!(!u.why("bank_applications:read").contains("AAAAbbbbCCCC"));
    }
}
