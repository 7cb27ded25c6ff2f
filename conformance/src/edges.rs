//! The edge classes every run covers before its random cases, whatever `--cases` is (a coverage
//! phase, as Schemathesis has): the boundaries of `send_id`, the characters implementations get
//! wrong, every control character, unknown campaigns derived from the real ones, bodies that
//! are almost right, and the spellings of the JSON media type.
use serde_json::json;

use crate::strategies::{Case, Invalid, NewPair, RequestContext, SendIdField, JSON_VARIANTS};

/// A tag unique to this run (not to the seed): send_ids carrying it cannot exist before.
pub fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut x = (nanos as u64) ^ u64::from(std::process::id()).rotate_left(40);
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..8)
        .map(|_| {
            x = crate::seed::splitmix64(x);
            ALPHABET[(x % 36) as usize] as char
        })
        .collect()
}

/// Refused-class edges (free): every control character, one character over the limit, arrays
/// holding a valid object, nested objects, `send_id` of every other JSON type.
pub fn refused(ctx: &RequestContext, max: usize) -> Vec<Case> {
    let mut out: Vec<Case> = (0u8..=0x1f)
        .chain(std::iter::once(0x7f))
        .map(|b| Case::Invalid(Invalid::SendIdControlChar(format!("ctl{}x", b as char))))
        .collect();
    out.push(Case::Invalid(Invalid::SendIdTooLong(fill(
        "over-",
        max + 1,
    ))));
    for v in [json!(true), json!(5), json!({}), json!([])] {
        out.push(Case::Invalid(Invalid::SendIdWrongType(v)));
    }
    let campaign = ctx.campaign_id();
    if let Some(existing) = ctx.existing_send_id() {
        let valid = json!({"campaign_id": campaign, "send_id": existing});
        out.push(Case::Invalid(Invalid::BodyNotAnObject(json!([
            valid.clone()
        ]))));
        out.push(Case::Invalid(Invalid::BodyNotAnObject(json!([
            valid.clone(),
            valid.clone()
        ]))));
        out.push(Case::Invalid(Invalid::Wrapped(json!({ "body": valid }))));
        out.push(Case::Invalid(Invalid::SendIdWrongType(
            json!({ "send_id": existing }),
        )));
        out.push(Case::Invalid(Invalid::CampaignIdWrongType(
            json!({ "campaign_id": campaign }),
        )));
    }
    out
}

/// A printable string of exactly `len` characters starting with `prefix`.
pub fn fill(prefix: &str, len: usize) -> String {
    let mut s: String = prefix.chars().take(len).collect();
    let pad = "abcdefghijklmnopqrstuvwxyz0123456789";
    let mut i = 0;
    while s.len() < len {
        s.push(pad.as_bytes()[i % pad.len()] as char);
        i += 1;
    }
    s
}

/// Unknown campaigns derived from each real one: case flipped, shortened, a prefix or suffix
/// added, a leading or trailing space, a look-alike Unicode letter. None equals a real one.
pub fn unknown_campaigns(campaigns: &[String]) -> Vec<Case> {
    let mut out = Vec::new();
    for (i, c) in campaigns.iter().enumerate() {
        let mut derived = vec![
            flip_case(c),
            format!("x{c}"),
            format!("{c}x"),
            format!("{c} "),
            format!(" {c}"),
            look_alike(c),
        ];
        if c.chars().count() > 1 {
            derived.push(c.chars().take(c.chars().count() - 1).collect());
        }
        for d in derived {
            if !d.is_empty() && !campaigns.contains(&d) && !out.iter().any(|o| same(o, &d)) {
                out.push(Case::UnknownCampaign {
                    campaign_id: d,
                    like: i,
                });
            }
        }
    }
    out
}

fn same(case: &Case, id: &str) -> bool {
    matches!(case, Case::UnknownCampaign { campaign_id, .. } if campaign_id == id)
}

pub fn flip_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// The first letter that has a Cyrillic or Greek twin, replaced by it; without one, a Cyrillic
/// `а` appended.
pub fn look_alike(s: &str) -> String {
    let twin = |c: char| -> Option<char> {
        Some(match c {
            'a' => 'а',
            'c' => 'с',
            'e' => 'е',
            'o' => 'о',
            'p' => 'р',
            'x' => 'х',
            'y' => 'у',
            'i' => 'і',
            'A' => 'А',
            'B' => 'В',
            'C' => 'С',
            'E' => 'Е',
            'H' => 'Н',
            'K' => 'К',
            'M' => 'М',
            'O' => 'О',
            'P' => 'Р',
            'T' => 'Т',
            'X' => 'Х',
            'n' => 'η',
            'v' => 'ν',
            _ => return None,
        })
    };
    let mut done = false;
    let out: String = s
        .chars()
        .map(|c| match twin(c) {
            Some(t) if !done => {
                done = true;
                t
            }
            _ => c,
        })
        .collect();
    if done {
        out
    } else {
        format!("{s}а")
    }
}

/// The JSON media type spelled with parameters and in other cases, on the existing pair.
pub fn media_types(ctx: &RequestContext) -> Vec<Case> {
    let Some(existing) = ctx.existing_send_id() else {
        return Vec::new();
    };
    JSON_VARIANTS
        .iter()
        .map(|ct| Case::Repeat {
            campaign: 0,
            send_id: existing.to_string(),
            content_type: ct,
        })
        .collect()
}

fn given(send_id: String, fresh: bool) -> NewPair {
    NewPair {
        send_id: SendIdField::Given(send_id),
        fresh,
        ..NewPair::default()
    }
}

/// The send_id holding every character implementations get wrong: spaces leading, inner and
/// trailing, `~ ! " \ /`, and letters of both cases.
fn all_characters(tag: &str) -> String {
    format!(" Edge~!\"\\/{tag} ")
}

/// The most telling pair-creating edges (the budget may cut what follows): the longest
/// send_id, and one send_id holding every character implementations get wrong.
pub fn new_pairs(tag: &str, max: usize) -> Vec<Case> {
    vec![
        Case::New(given(fill(&format!("len{max}-{tag}-"), max), true)),
        Case::New(given(all_characters(tag), true)),
    ]
}

/// The upper- and lower-case variants of [`new_pairs`]'s send_id: pairs of their own.
pub fn case_variants(tag: &str) -> Vec<Case> {
    let all = all_characters(tag);
    [all.to_ascii_uppercase(), all.to_ascii_lowercase()]
        .into_iter()
        .map(|variant| {
            Case::New(NewPair {
                variant_of: Some(all.clone()),
                ..given(variant, true)
            })
        })
        .collect()
}

/// The other lengths: max − 1 and min.
pub fn lengths(tag: &str, min: usize, max: usize) -> Vec<Case> {
    let mut out = Vec::new();
    if max > 1 {
        out.push(Case::New(given(
            fill(&format!("len{}-{tag}-", max - 1), max - 1),
            true,
        )));
    }
    // Too short to carry the tag: it may exist from an earlier run.
    let short: String = tag.chars().take(min.max(1)).collect();
    out.push(Case::New(given(fill(&short, min.max(1)), min > 8)));
    out
}

/// Each character implementations get wrong, in a send_id of its own: spaces leading, inner and
/// trailing, `~`, `!`, `"`, `\`, `/` (after [`new_pairs`], which holds them all in one).
pub fn characters(tag: &str, max: usize) -> Vec<Case> {
    let mut out = Vec::new();
    for id in [
        format!(" lead-{tag}"),
        format!("in ner-{tag}"),
        format!("trail-{tag} "),
        format!("~tilde-{tag}"),
        format!("!bang-{tag}"),
        format!("\"quote-{tag}"),
        format!("\\bs-{tag}"),
        format!("/slash-{tag}"),
    ] {
        if id.len() <= max {
            out.push(Case::New(given(id, true)));
        }
    }
    out
}

/// What one pair-creating edge case puts into a send_id. Several share one send_id (group
/// testing): a conformant server pays one unit for the whole group, and only a group that fails
/// is split to name the culprit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// The longest send_id the document allows.
    MaxLength,
    LeadingSpace,
    InnerSpace,
    TrailingSpace,
    Tilde,
    Bang,
    Quote,
    Backslash,
    Slash,
}

/// Every feature, in the order groups are split.
pub const FEATURES: [Feature; 9] = [
    Feature::MaxLength,
    Feature::LeadingSpace,
    Feature::InnerSpace,
    Feature::TrailingSpace,
    Feature::Tilde,
    Feature::Bang,
    Feature::Quote,
    Feature::Backslash,
    Feature::Slash,
];

impl Feature {
    pub fn describe(self, max: usize) -> String {
        match self {
            Feature::MaxLength => format!("length {max}"),
            Feature::LeadingSpace => "a leading space".into(),
            Feature::InnerSpace => "an inner space".into(),
            Feature::TrailingSpace => "a trailing space".into(),
            Feature::Tilde => "~".into(),
            Feature::Bang => "!".into(),
            Feature::Quote => "\"".into(),
            Feature::Backslash => "\\".into(),
            Feature::Slash => "/".into(),
        }
    }
}

/// A fresh send_id carrying `features` (and letters of both cases, always): `n` makes each
/// group's send_id its own.
pub fn group_send_id(tag: &str, n: u32, features: &[Feature], max: usize) -> String {
    let has = |f: Feature| features.contains(&f);
    let mut s = String::new();
    if has(Feature::LeadingSpace) {
        s.push(' ');
    }
    s.push_str("Edge");
    if has(Feature::InnerSpace) {
        s.push_str(" in");
    }
    for (f, c) in [
        (Feature::Tilde, '~'),
        (Feature::Bang, '!'),
        (Feature::Quote, '"'),
        (Feature::Backslash, '\\'),
        (Feature::Slash, '/'),
    ] {
        if has(f) {
            s.push(c);
        }
    }
    s.push_str(&format!("-{tag}-{n}"));
    let trailing = usize::from(has(Feature::TrailingSpace));
    if has(Feature::MaxLength) {
        let pad = "abcdefghijklmnopqrstuvwxyz0123456789";
        let mut i = 0;
        while s.len() + trailing < max {
            s.push(pad.as_bytes()[i % pad.len()] as char);
            i += 1;
        }
    }
    s.truncate(max.saturating_sub(trailing).max(1));
    if trailing == 1 {
        s.push(' ');
    }
    s
}

/// The shortest send_id the document allows (too short to carry the tag: it may exist from an
/// earlier run, so it is not fresh when `min` is small).
pub fn min_length(tag: &str, min: usize) -> Case {
    let short: String = tag.chars().take(min.max(1)).collect();
    Case::New(given(fill(&short, min.max(1)), min > 8))
}

/// A padded variant of an existing send_id: one space fewer (or more) at an end, a pair of its
/// own (a server that trims send_ids takes it for the existing one). `None` when it cannot be
/// written within `max` characters.
pub fn padded_variant(of: &str, max: usize) -> Option<Case> {
    let v = if let Some(rest) = of.strip_prefix(' ') {
        rest.to_string()
    } else if let Some(rest) = of.strip_suffix(' ') {
        rest.to_string()
    } else if of.len() < max {
        format!(" {of}")
    } else {
        return None;
    };
    (!v.trim().is_empty()).then(|| {
        Case::New(NewPair {
            variant_of: Some(of.to_string()),
            ..given(v, true)
        })
    })
}

/// A case variant of an existing send_id: every ASCII letter's case flipped, a pair of its own.
pub fn case_variant(of: &str) -> Case {
    Case::New(NewPair {
        variant_of: Some(of.to_string()),
        ..given(flip_case(of), true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_campaigns_are_all_unknown() {
        let cases = unknown_campaigns(&["welcome-series".into(), "Promo".into()]);
        let ids: Vec<String> = cases
            .iter()
            .filter_map(|c| match c {
                Case::UnknownCampaign { campaign_id, .. } => Some(campaign_id.clone()),
                _ => None,
            })
            .collect();
        assert!(ids.contains(&"WELCOME-SERIES".to_string()));
        assert!(ids.contains(&"welcome-series ".to_string()));
        assert!(ids.contains(&"wеlcome-series".to_string()), "{ids:?}");
        assert!(ids.contains(&"pROMO".to_string()));
        assert!(!ids.contains(&"Promo".to_string()));
    }

    #[test]
    fn new_pair_edges_are_valid_send_ids_of_their_lengths() {
        let mut edges = new_pairs("abc12345", 64);
        edges.extend(case_variants("abc12345"));
        edges.extend(lengths("abc12345", 1, 64));
        edges.extend(characters("abc12345", 64));
        let mut lengths = Vec::new();
        for e in &edges {
            let Case::New(NewPair {
                send_id: SendIdField::Given(s),
                ..
            }) = e
            else {
                panic!("{e:?}")
            };
            assert!((1..=64).contains(&s.len()), "{s:?}");
            assert!(s.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{s:?}");
            lengths.push(s.len());
        }
        for l in [1, 63, 64] {
            assert!(lengths.contains(&l), "{lengths:?}");
        }
        let ids: std::collections::HashSet<_> = edges.iter().map(|e| format!("{e:?}")).collect();
        assert_eq!(ids.len(), edges.len());
    }

    #[test]
    fn every_control_character_is_covered() {
        let mut ctx = RequestContext::new(vec!["c".into()]);
        ctx.set_existing(0, "e");
        let controls = refused(&ctx, 64)
            .into_iter()
            .filter(|c| matches!(c, Case::Invalid(Invalid::SendIdControlChar(_))))
            .count();
        assert_eq!(controls, 33);
    }
}
