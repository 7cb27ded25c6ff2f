//! Generated-id quality (contract §1: a generated send_id is unique, printable ASCII, at most 64
//! characters, with at least 96 bits of randomness). Uniqueness and shape are checked per
//! answer; this is the statistical part, over the few ids a run has (2 to 5 at the default
//! budget): ids without structure — no shared prefix or suffix beyond chance, no counter, not
//! time-ordered, long enough for 96 bits in their alphabet.
//!
//! The false-alarm bound. Take a correct generator: each id (after a type tag such as `snd_`
//! common to all) a string of characters drawn uniformly and independently from an alphabet of
//! the chains below, long enough for 96 bits (a UUID, hex, base32/36, base62 or base64url id).
//! Each test alarms only on an event whose chance under that generator is below [`P_ALARM`],
//! computed with the smallest alphabet that holds the characters seen (a larger true alphabet
//! makes every coincidence rarer still):
//! - capacity: the alphabet is taken as the largest of its chain not ruled out, one being ruled
//!   out when a generator over it would show only characters of the smaller one with chance
//!   below `P_ALARM`; so the capacity is underestimated with chance below `P_ALARM` per step of
//!   the chain (5 steps);
//! - shared prefix, shared suffix: all n ids agree on their first (last) m characters with
//!   chance k^-(m(n-1));
//! - closeness (a counter, a clock): two equal-length ids agree at a positions with the binomial
//!   tail chance, divided among the pairs (Bonferroni);
//! - order: n ≥ 12 ids in strictly increasing order in the order they were generated, 1/n!.
//!
//! With `P_ALARM` = 1e-7 the run's false-alarm rate is at most 5e-7 + 1e-7 + 1e-7 + 1e-7 +
//! 1/12! < 1e-6 (the union bound). A unit test runs 10,000 runs of correct generators of
//! several shapes and counts no alarm.

/// The chance below which a test alarms.
pub const P_ALARM: f64 = 1e-7;
/// Bits of randomness the contract asks of a generated send_id.
pub const MIN_BITS: f64 = 96.0;

const DIGITS: &str = "0123456789";
const HEX_LOWER: &str = "0123456789abcdef";
const HEX_UPPER: &str = "0123456789ABCDEF";
const ALNUM_LOWER: &str = "0123456789abcdefghijklmnopqrstuvwxyz";
const ALNUM_UPPER: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const BASE64URL: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_";

/// The alphabet chains, each from the smallest: a generator's alphabet is one of these.
const CHAINS: [&[&str]; 2] = [
    &[DIGITS, HEX_LOWER, ALNUM_LOWER, ALNUM, BASE64URL],
    &[DIGITS, HEX_UPPER, ALNUM_UPPER, ALNUM, BASE64URL],
];
/// Printable ASCII: the alphabet of last resort.
const PRINTABLE: usize = 95;

/// What the ids tell of their alphabet: the smallest that holds every character seen, and the
/// largest not ruled out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alphabet {
    pub smallest: usize,
    pub largest: usize,
}

pub fn alphabet(ids: &[&str]) -> Alphabet {
    let seen = |a: &str| ids.iter().all(|id| id.chars().all(|c| a.contains(c)));
    let chars: usize = ids.iter().map(|id| id.len()).sum();
    let mut best: Option<Alphabet> = None;
    for chain in CHAINS {
        let Some(start) = chain.iter().position(|a| seen(a)) else {
            continue;
        };
        let smallest = chain[start].len();
        let mut largest = smallest;
        for a in &chain[start + 1..] {
            // A generator over `a` shows only characters of the smallest with this chance.
            let chance = (smallest as f64 / a.len() as f64).powi(chars as i32);
            if chance < P_ALARM {
                break;
            }
            largest = a.len();
        }
        let here = Alphabet { smallest, largest };
        best = Some(match best {
            Some(b) if b.smallest <= here.smallest => b,
            _ => here,
        });
    }
    best.unwrap_or(Alphabet {
        smallest: PRINTABLE,
        largest: PRINTABLE,
    })
}

/// A type tag common to every id (`snd_`, `send-`, `id:`): letters then one of `-_:.`. It is
/// not random, and not structure either.
pub fn common_tag<'a>(ids: &[&'a str]) -> &'a str {
    let Some(first) = ids.first() else {
        return "";
    };
    let letters = first.bytes().take_while(u8::is_ascii_alphabetic).count();
    let tagged = (1..=16).contains(&letters)
        && first
            .as_bytes()
            .get(letters)
            .is_some_and(|b| b"-_:.".contains(b));
    if !tagged {
        return "";
    }
    let tag = &first[..=letters];
    // The rest must be longer than the tag (an id that is all tag is all structure).
    if ids
        .iter()
        .all(|id| id.starts_with(tag) && id.len() > tag.len() + 8)
    {
        tag
    } else {
        ""
    }
}

/// UUIDs (with or without dashes) carry 6 fixed bits (version 4, the variant): their random
/// part is the other 30 hex digits. Other ids are their own random part.
fn uuid_random_part(ids: &[&str]) -> Vec<String> {
    let undashed: Vec<String> = ids
        .iter()
        .map(|id| {
            let b = id.as_bytes();
            let dashed = b.len() == 36 && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-');
            if dashed {
                id.replace('-', "")
            } else {
                id.to_string()
            }
        })
        .collect();
    let v4 = undashed.iter().all(|h| {
        let b = h.as_bytes();
        b.len() == 32
            && h.bytes().all(|c| c.is_ascii_hexdigit())
            && b[12] == b'4'
            && b"89abAB".contains(&b[16])
    });
    if !v4 {
        return ids.iter().map(|s| s.to_string()).collect();
    }
    undashed
        .into_iter()
        .map(|h| format!("{}{}{}", &h[..12], &h[13..16], &h[17..]))
        .collect()
}

fn ln_choose(n: usize, k: usize) -> f64 {
    (1..=k).map(|i| ((n - k + i) as f64 / i as f64).ln()).sum()
}

/// The chance that two random strings of `len` characters over `k` symbols agree at `a` or more
/// positions.
fn agree_tail(len: usize, k: usize, a: usize) -> f64 {
    let p = 1.0 / k as f64;
    (a..=len)
        .map(|j| (ln_choose(len, j) + j as f64 * p.ln() + (len - j) as f64 * (1.0 - p).ln()).exp())
        .sum()
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Why these generated ids (in the order the server generated them) show structure that ids
/// with ≥ 96 bits of randomness would not; `None` when they do not.
pub fn structure(ids_in_order: &[&str]) -> Option<String> {
    let tag = common_tag(ids_in_order);
    let normal = uuid_random_part(
        &ids_in_order
            .iter()
            .map(|id| &id[tag.len()..])
            .collect::<Vec<_>>(),
    );
    let rest: Vec<&str> = normal.iter().map(String::as_str).collect();
    let n = rest.len();
    if n == 0 {
        return None;
    }
    // The capacity counts every character, the tag's too (an overestimate: never a false alarm).
    let whole = uuid_random_part(ids_in_order);
    let whole: Vec<&str> = whole.iter().map(String::as_str).collect();
    let capacity = alphabet(&whole);
    let shortest = whole.iter().map(|r| r.len()).min().unwrap_or(0);
    let bits = shortest as f64 * (capacity.largest as f64).log2();
    let show = |s: &str| crate::http::quote(s);
    if bits < MIN_BITS {
        return Some(format!(
            "generated send_id {} has room for at most {bits:.0} bits of randomness \
             ({shortest} random characters over an alphabet of at most {} symbols): the \
             contract asks for at least 96",
            show(ids_in_order[0]),
            capacity.largest
        ));
    }
    let alpha = alphabet(&rest);
    if n < 2 {
        return None;
    }
    let k = alpha.smallest as f64;
    let times = (n - 1) as f64;
    let m_prefix = rest
        .iter()
        .map(|r| common_prefix(rest[0].as_bytes(), r.as_bytes()))
        .min()
        .unwrap_or(0);
    if k.powf(-(m_prefix as f64) * times) < P_ALARM {
        return Some(format!(
            "the {n} generated send_ids {} all begin with the same {m_prefix} characters {}: \
             random ids would share so long a prefix with chance {:.0e}",
            list(ids_in_order),
            show(&rest[0][..m_prefix]),
            k.powf(-(m_prefix as f64) * times)
        ));
    }
    let rev = |s: &str| s.bytes().rev().collect::<Vec<u8>>();
    let m_suffix = rest
        .iter()
        .map(|r| common_prefix(&rev(rest[0]), &rev(r)))
        .min()
        .unwrap_or(0);
    if k.powf(-(m_suffix as f64) * times) < P_ALARM {
        return Some(format!(
            "the {n} generated send_ids {} all end with the same {m_suffix} characters {}: \
             random ids would share so long a suffix with chance {:.0e}",
            list(ids_in_order),
            show(&rest[0][rest[0].len() - m_suffix..]),
            k.powf(-(m_suffix as f64) * times)
        ));
    }
    let pairs = (n * (n - 1) / 2) as f64;
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (rest[i].as_bytes(), rest[j].as_bytes());
            if a.len() != b.len() {
                continue;
            }
            let agree = a.iter().zip(b).filter(|(x, y)| x == y).count();
            // Within three standard deviations of chance the tail is far above any threshold.
            let mean = a.len() as f64 / alpha.smallest as f64;
            if (agree as f64) <= mean + 3.0 * mean.sqrt() + 1.0 {
                continue;
            }
            let chance = agree_tail(a.len(), alpha.smallest, agree);
            if chance * pairs < P_ALARM {
                return Some(format!(
                    "generated send_ids {} and {} agree at {agree} of their {} positions (a \
                     counter or a clock): random ids would agree so much with chance {chance:.0e}",
                    show(ids_in_order[i]),
                    show(ids_in_order[j]),
                    a.len()
                ));
            }
        }
    }
    if n >= 12 && rest.windows(2).all(|w| w[0] < w[1]) {
        return Some(format!(
            "the {n} generated send_ids are in strictly increasing order, as generated (time- \
             or counter-ordered): random ids would be with chance 1/{n}!"
        ));
    }
    None
}

fn list(ids: &[&str]) -> String {
    let shown: Vec<String> = ids.iter().take(3).map(|s| crate::http::quote(s)).collect();
    if ids.len() > 3 {
        format!("{}, …", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::Rng;
    use proptest::test_runner::{RngAlgorithm, TestRng};

    fn random(rng: &mut TestRng, alphabet: &str, len: usize) -> String {
        let a = alphabet.as_bytes();
        (0..len)
            .map(|_| char::from(a[(rng.next_u32() as usize) % a.len()]))
            .collect()
    }

    fn uuid(rng: &mut TestRng) -> String {
        let mut h = random(rng, HEX_LOWER, 32).into_bytes();
        h[12] = b'4';
        h[16] = b"89ab"[(rng.next_u32() % 4) as usize];
        let h = String::from_utf8(h).expect("ascii");
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    /// A correct generator of each shape: the least length that holds 96 bits, or a UUID.
    fn correct(rng: &mut TestRng, shape: usize) -> String {
        match shape % 7 {
            0 => random(rng, HEX_LOWER, 32),
            1 => random(rng, HEX_LOWER, 24),
            2 => random(rng, ALNUM, 17),
            3 => format!("snd_{}", random(rng, ALNUM_UPPER, 19)),
            4 => random(rng, BASE64URL, 16),
            5 => uuid(rng),
            _ => random(rng, HEX_UPPER, 24),
        }
    }

    #[test]
    fn no_false_alarm_in_10_000_runs_of_a_correct_generator() {
        let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
        let mut alarms = Vec::new();
        for run in 0..10_000 {
            // A run sees 1 to 12 generated ids.
            let n = 1 + run % 12;
            let ids: Vec<String> = (0..n).map(|_| correct(&mut rng, run)).collect();
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            if let Some(why) = structure(&refs) {
                alarms.push(why);
            }
        }
        assert!(
            alarms.is_empty(),
            "{} alarms: {:?}",
            alarms.len(),
            &alarms[..alarms.len().min(3)]
        );
    }

    #[test]
    fn structured_ids_are_found_with_two_of_them() {
        let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[9; 32]);
        let cases: Vec<(Vec<String>, &str)> = vec![
            (
                vec!["send-000000000001".into(), "send-000000000002".into()],
                "counter",
            ),
            (
                vec![
                    "gen-0000000000000004-6b0ed406".into(),
                    "gen-0000000000000008-6b0ed406".into(),
                ],
                "counter and clock",
            ),
            (
                vec![
                    random(&mut rng, HEX_LOWER, 16),
                    random(&mut rng, HEX_LOWER, 16),
                ],
                "64 bits",
            ),
            (
                vec![
                    format!("0193a1f2{}", random(&mut rng, HEX_LOWER, 24)),
                    format!("0193a1f3{}", random(&mut rng, HEX_LOWER, 24)),
                ],
                "a clock first",
            ),
            (
                vec![
                    format!("{}-1764633600", random(&mut rng, ALNUM, 20)),
                    format!("{}-1764633601", random(&mut rng, ALNUM, 20)),
                ],
                "a clock last",
            ),
        ];
        for (ids, what) in cases {
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            assert!(structure(&refs).is_some(), "{what}: {ids:?}");
        }
    }

    #[test]
    fn a_single_short_id_is_found_by_its_capacity() {
        assert!(structure(&["3f2a9c01d4e5b6a7"]).is_some_and(|w| w.contains("bits")));
        assert!(structure(&["0f8d2c4e6a1b3d5f7e9c0a2b"]).is_none());
    }
}
