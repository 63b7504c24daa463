//! `rules check`: every rule's examples must behave, so a rule change that
//! breaks detection fails before it ships.

use super::{Engine, Scratch};

/// One misbehaving example or rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure {
    pub rule: String,
    pub origin: String,
    pub message: String,
}

/// Run every rule's positive and negative examples through the full engine.
pub fn check(engine: &Engine) -> Vec<CheckFailure> {
    let mut failures = Vec::new();
    let mut scratch = Scratch::default();
    for (ri, rule) in engine.rules().iter().enumerate() {
        let fail = |message: String| CheckFailure {
            rule: rule.id.clone(),
            origin: rule.origin.clone(),
            message,
        };
        if rule.examples.is_empty() {
            failures.push(fail("has no positive examples".into()));
        }
        for (n, ex) in rule.examples.iter().enumerate() {
            let lower = ex.to_ascii_lowercase();
            let has_keyword = rule.keywords.iter().any(|k| {
                if rule.keywords_case_sensitive {
                    ex.contains(k.as_str())
                } else {
                    lower.contains(&k.to_ascii_lowercase())
                }
            });
            if !has_keyword {
                failures.push(fail(format!(
                    "example {} contains none of the rule's keywords",
                    n + 1
                )));
            }
            if !engine
                .scan(ex.as_bytes(), &mut scratch)
                .iter()
                .any(|d| d.rule == ri)
            {
                failures.push(fail(format!("example {} is not detected", n + 1)));
            }
        }
        for (n, ex) in rule.negative_examples.iter().enumerate() {
            if engine
                .scan(ex.as_bytes(), &mut scratch)
                .iter()
                .any(|d| d.rule == ri)
            {
                failures.push(fail(format!("negative example {} is detected", n + 1)));
            }
        }
    }
    failures
}
