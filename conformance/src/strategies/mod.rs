//! Request generation: proptest strategies for every valid and invalid class of docs/contract.md
//! §1. They produce [`Case`]s ([`case`]), which [`Case::request`] turns into bytes on the wire.
mod case;

pub use case::*;

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::{json, Value};

fn printable_char() -> impl Strategy<Value = char> {
    (0x20u8..=0x7e).prop_map(char::from)
}

/// Printable ASCII (0x20–0x7E) strings of `len` characters.
pub fn printable(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(printable_char(), len).prop_map(|cs| cs.into_iter().collect())
}

/// A valid `send_id` over the whole printable alphabet, with the length boundaries weighted in.
pub fn valid_send_id(min: usize, max: usize) -> BoxedStrategy<String> {
    prop_oneof![
        1 => printable(min..=min),
        1 => printable(max..=max),
        4 => printable(min..=max),
    ]
    .boxed()
}

fn extras() -> impl Strategy<Value = Vec<(String, Value)>> {
    let names = prop_oneof![
        Just("unknown_field"),
        Just("trigger_properties"),
        Just("priority"),
        Just("x"),
    ];
    let values = prop_oneof![
        Just(Value::Null),
        Just(json!(1)),
        Just(json!("text")),
        Just(json!(true)),
        Just(json!({"nested": [1, 2]})),
        Just(json!([])),
    ];
    proptest::collection::vec((names.prop_map(str::to_string), values), 0..=2)
}

/// New pairs whose send_id the server generates (absent or `null`).
pub fn generated_pair() -> BoxedStrategy<Case> {
    (
        prop_oneof![Just(SendIdField::Absent), Just(SendIdField::Null)],
        extras(),
        any::<bool>(),
    )
        .prop_map(|(send_id, extras, charset)| {
            Case::New(NewPair {
                send_id,
                extras,
                content_type: if charset { JSON_UTF8 } else { JSON },
                ..NewPair::default()
            })
        })
        .boxed()
}

/// New pairs with a given send_id.
pub fn given_pair(min: usize, max: usize) -> BoxedStrategy<Case> {
    (valid_send_id(min, max), extras(), any::<bool>())
        .prop_map(|(s, extras, charset)| {
            Case::New(NewPair {
                send_id: SendIdField::Given(s),
                extras,
                content_type: if charset { JSON_UTF8 } else { JSON },
                ..NewPair::default()
            })
        })
        .boxed()
}

fn wrong_json_type() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(1)),
        Just(json!(1.5)),
        Just(json!(true)),
        Just(json!([])),
        Just(json!(["a"])),
        Just(json!({})),
    ]
}

fn non_ascii_char() -> impl Strategy<Value = char> {
    prop_oneof![
        Just('é'),
        Just('ü'),
        Just('日'),
        Just('€'),
        Just('\u{80}'),
        Just('\u{ff}'),
        Just('\u{1F600}'),
    ]
}

fn control_char() -> impl Strategy<Value = char> {
    prop_oneof![(0u8..=0x1f).prop_map(char::from), Just('\u{7f}')]
}

/// A string that is valid but for one bad character, at a random place.
fn with_one(bad: impl Strategy<Value = char>, max: usize) -> impl Strategy<Value = String> {
    let half = max.saturating_sub(1) / 2;
    (printable(0..=half), bad, printable(0..=half)).prop_map(|(a, c, b)| format!("{a}{c}{b}"))
}

/// Every invalid body / content class of docs/contract.md §1, one strategy per class.
pub fn invalid_arms(max: usize) -> Vec<BoxedStrategy<Invalid>> {
    let malformed: Vec<&'static [u8]> = vec![
        b"{",
        b"{\"campaign_id\":",
        b"{\"campaign_id\":\"c\",}",
        b"{'campaign_id':'c'}",
        b"nope",
        b"{\"campaign_id\":\"c\"}}",
        b"{\"campaign_id\":\"\xff\"}",
        b"\"unterminated",
    ];
    vec![
        Just(Invalid::MissingCampaignId).boxed(),
        Just(Invalid::EmptyCampaignId).boxed(),
        prop_oneof![wrong_json_type(), Just(Value::Null)]
            .prop_map(Invalid::CampaignIdWrongType)
            .boxed(),
        prop_oneof![printable(max + 1..=max + 1), printable(max + 1..=max * 4)]
            .prop_map(Invalid::SendIdTooLong)
            .boxed(),
        with_one(non_ascii_char(), max)
            .prop_map(Invalid::SendIdNonAscii)
            .boxed(),
        with_one(control_char(), max)
            .prop_map(Invalid::SendIdControlChar)
            .boxed(),
        Just(Invalid::SendIdEmpty).boxed(),
        wrong_json_type().prop_map(Invalid::SendIdWrongType).boxed(),
        prop_oneof![
            Just(json!([])),
            Just(json!([{"campaign_id": "c"}])),
            Just(json!("campaign_id")),
            Just(json!(7)),
            Just(json!(true)),
            Just(Value::Null),
        ]
        .prop_map(Invalid::BodyNotAnObject)
        .boxed(),
        proptest::sample::select(malformed)
            .prop_map(|b| Invalid::MalformedJson(b.to_vec()))
            .boxed(),
        Just(Invalid::EmptyBody).boxed(),
        prop_oneof![
            Just(None),
            Just(Some("text/plain".to_string())),
            Just(Some("application/x-www-form-urlencoded".to_string())),
            Just(Some("application/xml".to_string())),
            Just(Some("multipart/form-data; boundary=x".to_string())),
        ]
        .prop_map(Invalid::WrongContentType)
        .boxed(),
        prop_oneof![Just(MAX_BODY + 1), (MAX_BODY + 1)..=(MAX_BODY + 16 * 1024)]
            .prop_map(Invalid::Oversized)
            .boxed(),
    ]
}

/// Any invalid class.
pub fn invalid(max: usize) -> BoxedStrategy<Invalid> {
    proptest::strategy::Union::new(invalid_arms(max)).boxed()
}

pub fn invalid_cases(max: usize) -> Vec<BoxedStrategy<Case>> {
    invalid_arms(max)
        .into_iter()
        .map(|arm| arm.prop_map(Case::Invalid).boxed())
        .collect()
}

/// The prefix of every key the run invents: distinctive, so that an answer echoing one is found.
pub const INVENTED_KEY_PREFIX: &str = "conformance-invented-key-";

/// Invented (invalid) keys: the distinctive prefix and printable ASCII without spaces.
fn garbage_key() -> impl Strategy<Value = String> {
    proptest::collection::vec((0x21u8..=0x7e).prop_map(char::from), 8..=32).prop_map(|cs| {
        format!(
            "{INVENTED_KEY_PREFIX}{}",
            cs.into_iter().collect::<String>()
        )
    })
}

/// Authentication and authorization variants, one strategy each, with a harmless body or
/// (strict) an invalid one, which must not change the answer: auth is decided before the body.
pub fn auth_cases(strict: bool, forbidden: bool, max: usize) -> Vec<BoxedStrategy<Case>> {
    if !strict {
        return vec![garbage_key()
            .prop_map(|k| {
                Case::Auth(AuthCase {
                    variant: AuthVariant::Garbage(k),
                    body: AuthBody::ExistingPair,
                })
            })
            .boxed()];
    }
    let mut variants: Vec<BoxedStrategy<AuthVariant>> = vec![
        Just(AuthVariant::Missing).boxed(),
        garbage_key().prop_map(AuthVariant::Garbage).boxed(),
        prop_oneof![Just("Basic"), Just("Token"), Just("Key"), Just("Digest")]
            .prop_map(|s| AuthVariant::WrongScheme(s.to_string()))
            .boxed(),
        Just(AuthVariant::EmptyBearer).boxed(),
    ];
    if forbidden {
        variants.push(Just(AuthVariant::Forbidden).boxed());
    }
    variants
        .into_iter()
        .map(|variant| {
            let body = prop_oneof![
                3 => Just(AuthBody::ExistingPair),
                1 => invalid(max).prop_map(AuthBody::Invalid),
            ];
            (variant, body)
                .prop_map(|(variant, body)| Case::Auth(AuthCase { variant, body }))
                .boxed()
        })
        .collect()
}

pub fn wrong_methods() -> Vec<BoxedStrategy<Case>> {
    ["GET", "PUT", "PATCH", "DELETE"]
        .into_iter()
        .map(|m| Just(Case::WrongMethod(m.to_string())).boxed())
        .collect()
}

pub fn unknown_paths() -> Vec<BoxedStrategy<Case>> {
    [
        "/sends/id/create/x",
        "/sends/id",
        "/sends/id/creat",
        "/send/id/create",
    ]
    .into_iter()
    .map(|p| Just(Case::UnknownPath(p.to_string())).boxed())
    .collect()
}

pub fn unknown_campaign() -> BoxedStrategy<Case> {
    proptest::collection::vec(
        prop_oneof![
            (b'a'..=b'z').prop_map(char::from),
            (b'0'..=b'9').prop_map(char::from)
        ],
        1..=16,
    )
    .prop_map(|cs| {
        let suffix: String = cs.into_iter().collect();
        Case::UnknownCampaign {
            campaign_id: format!("sendid-conformance-no-such-campaign-{suffix}"),
            like: 0,
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::TestRunner;

    fn ctx() -> RequestContext {
        let mut ctx = RequestContext::new(vec!["c".into()]);
        ctx.set_existing(0, "e");
        ctx
    }

    proptest! {
        #[test]
        fn valid_send_ids_are_printable_and_within_bounds(s in valid_send_id(1, 64)) {
            prop_assert!((1..=64).contains(&s.len()));
            prop_assert!(s.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        }

        #[test]
        fn oversized_bodies_are_over_the_limit_and_json(size in (MAX_BODY + 1)..=(MAX_BODY + 100)) {
            let body = padded(ctx().harmless_fields(), size);
            prop_assert_eq!(body.len(), size);
            prop_assert!(serde_json::from_slice::<Value>(&body).is_ok());
        }
    }

    #[test]
    fn every_invalid_class_is_generated() {
        let mut runner = TestRunner::deterministic();
        let mut classes = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let v = invalid(64).new_tree(&mut runner).expect("tree").current();
            classes.insert(v.class());
        }
        // Every class but the nested one, which the edge coverage phase sends.
        assert_eq!(classes.len(), 13, "{classes:?}");
    }

    #[test]
    fn invalid_send_ids_are_invalid_only_by_their_defect() {
        let mut runner = TestRunner::deterministic();
        for _ in 0..500 {
            match invalid(64).new_tree(&mut runner).expect("tree").current() {
                Invalid::SendIdNonAscii(s) => {
                    assert!(s.chars().count() <= 64 && !s.is_ascii())
                }
                Invalid::SendIdControlChar(s) => {
                    assert!(s.len() <= 64 && s.bytes().any(|b| b < 0x20 || b == 0x7f))
                }
                Invalid::SendIdTooLong(s) => assert!(s.len() > 64),
                _ => {}
            }
        }
    }
}
