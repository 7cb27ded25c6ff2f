//! Classes of defect (docs/contract.md §5 "Classes, not cases"): every check belongs to one,
//! and says the rule behind it. The catalogue `--list-checks` prints — class, rule, checks,
//! the properties that exercise them and the units those cost — is built here from the check
//! tables and the property table, and conformance/README.md carries it (a test keeps them
//! equal).
//!
//! The modules below are the classes that need requests or statistics of their own: each
//! builds its requests from one known to be valid or known to be refused, so that none costs a
//! unit of quota where a repeat or a refused request can carry it, and judges with pure
//! functions.
pub mod equivalent;
pub mod hygiene;
pub mod ids;
pub mod methods;
pub mod robust;
pub mod wire;

use std::fmt::Write as _;

use crate::oracle::{CheckId, CHECKS};
use crate::properties::{Spend, PROPERTIES};

/// A class of defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Responses,
    HttpMethods,
    Auth,
    Validation,
    Parser,
    Equivalent,
    Hygiene,
    Pairs,
    GeneratedIds,
    Quota,
    RateLimitHeaders,
    Races,
}

pub const CLASSES: &[Class] = &[
    Class::Responses,
    Class::HttpMethods,
    Class::Auth,
    Class::Validation,
    Class::Parser,
    Class::Equivalent,
    Class::Hygiene,
    Class::Pairs,
    Class::GeneratedIds,
    Class::Quota,
    Class::RateLimitHeaders,
    Class::Races,
];

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Responses => "Response shape",
            Class::HttpMethods => "HTTP method semantics and message framing",
            Class::Auth => "Authentication and authorization",
            Class::Validation => "Request validation",
            Class::Parser => "Parser robustness",
            Class::Equivalent => "Equivalent requests (metamorphic)",
            Class::Hygiene => "Error hygiene",
            Class::Pairs => "Pairs and send_ids",
            Class::GeneratedIds => "Generated-id quality",
            Class::Quota => "Daily quota",
            Class::RateLimitHeaders => "Rate-limit headers",
            Class::Races => "Races on every scope",
        }
    }

    /// The rule behind the class: the contract's section, or the RFC's.
    pub fn rule(self) -> &'static str {
        match self {
            Class::Responses => "contract §1 Responses; the OpenAPI document (openapi/sends.json)",
            Class::HttpMethods => "contract §1 step 1; RFC 9110 §8.6, §9, §10.2.1, §15.5.6; RFC 9112 §6",
            Class::Auth => "contract §1 steps 2–3; RFC 9110 §11",
            Class::Validation => "contract §1 Request, steps 4–5",
            Class::Parser => "contract §1 step 4, Responses; RFC 8259 §8.1, §9",
            Class::Equivalent => "contract §1 Request; RFC 8259 §2, §4, §7; RFC 9110 §5.1, §5.6.6, §8.3.1, §11.1; RFC 9112 §7.1",
            Class::Hygiene => "contract §1 Responses (no stack traces, never the API key)",
            Class::Pairs => "contract §1 steps 6–8",
            Class::GeneratedIds => "contract §1 (a generated send_id: unique, printable, ≤ 64, ≥ 96 random bits)",
            Class::Quota => "contract §1 Daily quota, steps 6–7",
            Class::RateLimitHeaders => "contract §1 Daily quota and rate-limit headers",
            Class::Races => "contract §1 Daily quota (under any concurrency), §5 bursts",
        }
    }
}

/// The checks of a class, in registry order.
pub fn checks_of(class: Class) -> impl Iterator<Item = CheckId> {
    CHECKS
        .iter()
        .map(|c| c.id)
        .filter(move |c| c.class() == class)
}

/// The properties that exercise a class: those built for it (their `covers`), or for the
/// classes whose checks hold every answer, all of them.
fn properties_of(class: Class) -> Vec<&'static str> {
    let names: &[&str] = match class {
        Class::Responses | Class::Hygiene => return vec!["every property (every answer)"],
        Class::HttpMethods => &["wrong_method", "unknown_path", "other_methods"],
        Class::Auth => &["auth"],
        Class::Validation => &[
            "invalid_body",
            "edge_refused",
            "unknown_campaign",
            "edge_media_types",
            "edge_new_pairs",
            "new_pair_given_id",
        ],
        Class::Parser => &["hostile_bodies"],
        Class::Equivalent => &["equivalent_requests"],
        Class::Pairs => &[
            "edge_new_pairs",
            "cross_campaign",
            "new_pair_generated_id",
            "new_pair_given_id",
        ],
        Class::GeneratedIds => &[
            "new_pair_generated_id",
            "burst_new_pairs",
            "generated_id_quality",
        ],
        Class::Quota => &[
            "refused_spent_nothing",
            "cross_campaign",
            "new_pair_given_id",
            "stateful_sequences",
            "quota_exhaustion",
        ],
        Class::RateLimitHeaders => &["every property (every permitted answer)"],
        Class::Races => &["burst_same_pair", "burst_new_pairs", "quota_exhaustion"],
    };
    names.to_vec()
}

/// What a property costs, in units of the daily quota.
fn cost(property: &str) -> String {
    let Some(p) = PROPERTIES.iter().find(|p| p.name == property) else {
        return String::new();
    };
    let units = |n: u64| {
        if n == 1 {
            "1 unit".to_string()
        } else {
            format!("{n} units")
        }
    };
    match p.spend {
        Spend::Nothing => units(0),
        Spend::Units { min, max, .. } => match max {
            crate::properties::Max::Fixed(n) if n == min => units(n),
            crate::properties::Max::Fixed(n) => format!("{min} to {n} units"),
            crate::properties::Max::Cases => format!("{min} to --cases units"),
            crate::properties::Max::TwiceCases => format!("{min} to 2 × --cases units"),
            crate::properties::Max::Burst => format!("{min} units to a burst's size"),
        },
        Spend::Everything => "the rest of the day's quota, with --exhaust-quota".into(),
    }
}

/// The catalogue, as Markdown: what `--list-checks` prints and conformance/README.md carries.
pub fn catalogue() -> String {
    let mut out = String::new();
    for class in CLASSES {
        let _ = writeln!(out, "### {}\n\nRule: {}.\n", class.name(), class.rule());
        let props: Vec<String> = properties_of(*class)
            .into_iter()
            .map(|p| {
                let c = cost(p);
                if c.is_empty() {
                    p.to_string()
                } else {
                    format!("`{p}` ({c})")
                }
            })
            .collect();
        let _ = writeln!(out, "Properties: {}.\n", props.join(", "));
        out.push_str("| check | what it holds | rule |\n|---|---|---|\n");
        for check in checks_of(*class) {
            let _ = writeln!(
                out,
                "| `{check}` | {} | {} |",
                check.statement().replace('|', "\\|"),
                check.info().rule
            );
        }
        out.push('\n');
    }
    out.trim_end().to_string() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_a_check_and_its_properties_exist() {
        for class in CLASSES {
            assert!(checks_of(*class).next().is_some(), "{class:?} has no check");
            for p in properties_of(*class) {
                assert!(
                    p.starts_with("every") || PROPERTIES.iter().any(|q| q.name == p),
                    "{p}"
                );
            }
        }
    }
}
