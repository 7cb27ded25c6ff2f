//! Checks of the order of decisions (§1): method, path, key, permission, body, campaign; and
//! the rate-limit headers every permitted answer carries.
use super::*;

pub fn wrong_method_is_405_with_allow(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::WrongMethod(method) = ex.case else {
        return Verdict::Skip;
    };
    if ex.response.status != 405 {
        return Verdict::Fail(format!("{method} answered {}, not 405", ex.response.status));
    }
    let allow = ex.response.header("allow").unwrap_or("");
    let has_post = allow
        .split(',')
        .any(|m| m.trim().eq_ignore_ascii_case("POST"));
    pass_if(has_post, || {
        format!("405 with Allow {}, not listing POST", quote(allow))
    })
}

pub fn unknown_path_is_404(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::UnknownPath(path) = ex.case else {
        return Verdict::Skip;
    };
    let s = ex.response.status;
    pass_if(s == 404, || format!("{path} answered {s}, not 404"))
}

pub fn bad_key_is_401(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::Auth(a) = ex.case else {
        return Verdict::Skip;
    };
    if a.variant == AuthVariant::Forbidden {
        return Verdict::Skip;
    }
    let s = ex.response.status;
    pass_if(s == 401, || {
        format!("{} answered {s}, not 401", a.variant.label())
    })
}

pub fn forbidden_key_is_403(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::Auth(a) = ex.case else {
        return Verdict::Skip;
    };
    if a.variant != AuthVariant::Forbidden {
        return Verdict::Skip;
    }
    let s = ex.response.status;
    pass_if(s == 403, || {
        format!("a valid key without sends.id.create answered {s}, not 403")
    })
}

pub fn invalid_request_is_refused(_: &Ctx, ex: &Exchange) -> Verdict {
    if !must_be_refused(ex) {
        return Verdict::Skip;
    }
    let s = ex.response.status;
    pass_if(!(200..300).contains(&s), || {
        format!("{} was accepted with {s}", ex.case.label())
    })
}

pub fn invalid_request_gets_its_status(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::Invalid(inv) = ex.case else {
        return Verdict::Skip;
    };
    let (want, got) = (inv.expected_status(), ex.response.status);
    pass_if(want == got, || {
        format!("{} answered {got}, not {want}", inv.class())
    })
}

pub fn error_names_the_field(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::Invalid(inv) = ex.case else {
        return Verdict::Skip;
    };
    let Some(field) = inv.field() else {
        return Verdict::Skip;
    };
    if ex.response.status != 400 {
        return Verdict::Skip;
    }
    let text = ex
        .response
        .json
        .as_ref()
        .map(|j| {
            let mut t = j
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("")
                .to_string();
            if let Some(errs) = j.get("errors").and_then(|e| e.as_array()) {
                for e in errs {
                    t.push(' ');
                    t.push_str(e.as_str().unwrap_or(""));
                }
            }
            t
        })
        .unwrap_or_default();
    pass_if(text.contains(field), || {
        format!("the message {} does not name {field}", quote(&text))
    })
}

pub fn unknown_campaign_is_400(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::UnknownCampaign { .. } = ex.case else {
        return Verdict::Skip;
    };
    let s = ex.response.status;
    if s != 400 {
        return Verdict::Fail(format!("an unknown campaign answered {s}, not 400"));
    }
    let m = ex.response.message().unwrap_or("");
    pass_if(m == "Invalid campaign_id", || {
        format!("message {}, not \"Invalid campaign_id\"", quote(m))
    })
}

pub fn invalid_request_spends_nothing(_: &Ctx, ex: &Exchange) -> Verdict {
    if !must_be_refused(ex) {
        return Verdict::Skip;
    }
    match (ex.remaining_before, ex.response.remaining()) {
        (Some(before), Some(after)) => pass_if(before == after, || {
            format!(
                "{} (sent alone): expected X-RateLimit-Remaining {before} (unchanged), saw \
                 {after}",
                ex.case.label()
            )
        }),
        _ => Verdict::Skip,
    }
}

// ---------------------------------------------------------------------------------------------
// Rate-limit headers.

pub fn rate_limit_headers_on_permitted_requests(_: &Ctx, ex: &Exchange) -> Verdict {
    if !is_operation(ex) || !permitted(ex) || ex.response.status >= 500 {
        return Verdict::Skip;
    }
    let missing: Vec<&str> = [
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    ]
    .into_iter()
    .filter(|h| ex.response.header(h).is_none())
    .collect();
    pass_if(missing.is_empty(), || {
        format!(
            "a {} to a permitted key lacks {}",
            ex.response.status,
            missing.join(", ")
        )
    })
}

pub fn remaining_within_limit(_: &Ctx, ex: &Exchange) -> Verdict {
    match (ex.response.remaining(), ex.response.limit()) {
        (Some(r), Some(l)) => pass_if(0 <= r && r <= l, || {
            format!("X-RateLimit-Remaining {r} is not within 0..={l} (X-RateLimit-Limit)")
        }),
        _ => Verdict::Skip,
    }
}

pub fn reset_is_next_utc_midnight(_: &Ctx, ex: &Exchange) -> Verdict {
    let Some(reset) = ex.response.reset() else {
        return Verdict::Skip;
    };
    let now = ex.response.received_at;
    if reset <= now - SKEW {
        return Verdict::Fail(format!(
            "X-RateLimit-Reset {reset} is in the past (now {now})"
        ));
    }
    if reset > now + DAY + SKEW {
        return Verdict::Fail(format!(
            "X-RateLimit-Reset {reset} is more than a day away (now {now})"
        ));
    }
    pass_if(reset % DAY == 0, || {
        format!("X-RateLimit-Reset {reset} is not a 00:00 UTC")
    })
}
