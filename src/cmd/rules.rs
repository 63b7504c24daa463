//! `cybrid-scan rules check|list`.

use anyhow::Result;
use cybrid_scan::cli::{RulesArgs, RulesCommand};
use cybrid_scan::detect::check::check;
use cybrid_scan::detect::Engine;
use cybrid_scan::exit::Outcome;
use cybrid_scan::rules::{load_rule_set, load_rules};

pub fn run(args: RulesArgs) -> Result<Outcome> {
    match args.command {
        RulesCommand::Check { rules } => {
            let set = load_rule_set(&rules)?;
            let engine = Engine::with_providers(set.rules, set.other_providers);
            let failures = check(&engine);
            let examples: usize = engine
                .rules()
                .iter()
                .map(|r| r.examples.len() + r.negative_examples.len())
                .sum();
            for f in &failures {
                eprintln!("FAIL {} ({}): {}", f.rule, f.origin, f.message);
            }
            for r in engine.rules() {
                for (n, p) in r.patterns.iter().enumerate() {
                    if p.has_unicode_word_boundary() {
                        eprintln!(
                            "WARN {} ({}): pattern {} uses a Unicode word boundary; write (?-u:\\b) so non-ASCII input keeps the fast matcher",
                            r.id,
                            r.origin,
                            n + 1
                        );
                    }
                }
            }
            if failures.is_empty() {
                println!(
                    "{} rules, {} examples: all pass",
                    engine.rules().len(),
                    examples
                );
                Ok(Outcome::Clean)
            } else {
                eprintln!("{} failure(s)", failures.len());
                Ok(Outcome::Findings(1))
            }
        }
        RulesCommand::List { rules } => {
            for r in load_rules(&rules)? {
                println!("{:<30} {:<8} {}", r.id, r.confidence.as_str(), r.name);
            }
            Ok(Outcome::Clean)
        }
    }
}
