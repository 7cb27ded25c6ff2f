//! Checks of pairs: the success answer, the quota, and the edges of the valid classes.
use super::*;

pub fn message_is_success(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !status_ok(ctx, ex) || !is_operation(ex) {
        return Verdict::Skip;
    }
    let m = ex.response.message();
    pass_if(m == Some("success"), || {
        format!("message {}, not \"success\"", quote_or(m, "absent"))
    })
}

pub fn send_id_is_echoed(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !status_ok(ctx, ex) {
        return Verdict::Skip;
    }
    let Some(given) = given_send_id(ex) else {
        return Verdict::Skip;
    };
    let got = ex.response.send_id();
    pass_if(got == Some(given), || {
        format!(
            "sent send_id {}, answered {}",
            quote(given),
            quote_or(got, "no send_id")
        )
    })
}

pub fn send_id_is_printable_ascii(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !status_ok(ctx, ex) || !is_valid_request(ex) {
        return Verdict::Skip;
    }
    let Some(id) = ex.response.send_id() else {
        return Verdict::Fail(format!("a {} without a string send_id", ex.response.status));
    };
    let max = ctx.spec.send_id_max;
    let ok_chars = if strict(ctx) {
        id.bytes().all(|b| (0x20..=0x7e).contains(&b))
    } else {
        id.is_ascii()
    };
    pass_if(ok_chars && !id.is_empty() && id.len() <= max, || {
        format!("send_id {} is not 1 to {max} ASCII characters", quote(id))
    })
}

pub fn generated_id_is_unique(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !status_ok(ctx, ex) || !generated_pair(ex) {
        return Verdict::Skip;
    }
    let Some(id) = ex.response.send_id() else {
        return Verdict::Skip;
    };
    pass_if(!ex.generated_before.contains(id), || {
        format!(
            "generated send_id {} was generated before in this run",
            quote(id)
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Quota.

pub fn repeat_returns_pair_and_spends_nothing(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::Repeat { .. } = ex.case else {
        return Verdict::Skip;
    };
    let s = ex.response.status;
    if s != 200 {
        return Verdict::Fail(format!(
            "a repeat of an existing pair answered {s}, not 200"
        ));
    }
    match (ex.remaining_before, ex.response.remaining()) {
        (Some(before), Some(after)) => pass_if(before == after, || {
            format!(
                "a repeat of an existing pair: expected X-RateLimit-Remaining {before} \
                 (unchanged), saw {after}"
            )
        }),
        _ => Verdict::Pass,
    }
}

pub fn new_pair_spends_exactly_one(ctx: &Ctx, ex: &Exchange) -> Verdict {
    let Case::New(pair) = ex.case else {
        return Verdict::Skip;
    };
    if pair.variant_of.is_some() {
        // Its unit is case_variant_is_a_new_pair's to judge (one cause, one report).
        return Verdict::Skip;
    }
    if !status_ok(ctx, ex) {
        return Verdict::Skip;
    }
    let (Some(before), Some(after)) = (ex.remaining_before, ex.response.remaining()) else {
        return Verdict::Skip;
    };
    let spent = before - after;
    match pair.send_id {
        // A generated id is always a new pair.
        SendIdField::Absent | SendIdField::Null => pass_if(spent == 1, || {
            format!(
                "a new pair ({}): expected X-RateLimit-Remaining {} (one unit), saw {after}",
                given_text(pair),
                before - 1
            )
        }),
        // A fresh id (this run's own tag) is new: exactly one.
        SendIdField::Given(_) if pair.fresh => pass_if(spent == 1, || {
            format!(
                "a new pair ({}): expected X-RateLimit-Remaining {} (one unit), saw {after}",
                given_text(pair),
                before - 1
            )
        }),
        // A given id may exist from an earlier run: new (1) or a repeat (0).
        SendIdField::Given(_) => pass_if(spent == 0 || spent == 1, || {
            format!(
                "one pair: expected X-RateLimit-Remaining {before} or {} (a repeat or a new \
                 pair), saw {after}",
                before - 1
            )
        }),
    }
}

pub fn new_pair_over_quota_is_429(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !generated_pair(ex) {
        return Verdict::Skip;
    }
    let Some(before) = ex.remaining_before else {
        return Verdict::Skip;
    };
    let s = ex.response.status;
    if before <= 0 {
        pass_if(s == 429, || {
            format!("a new pair with X-RateLimit-Remaining {before} answered {s}, not 429")
        })
    } else if strict(ctx) && s == 429 {
        Verdict::Fail(format!(
            "429 with X-RateLimit-Remaining {before} before the request"
        ))
    } else {
        // A new pair answered while quota is left says nothing of the quota's end: the check
        // has run only once a new pair met a used-up quota (or a 429 came too early).
        Verdict::Skip
    }
}

pub fn over_quota_answer_has_retry_after(_: &Ctx, ex: &Exchange) -> Verdict {
    if ex.response.status != 429 {
        return Verdict::Skip;
    }
    let Some(raw) = ex.response.header("retry-after") else {
        return Verdict::Fail("429 without Retry-After".into());
    };
    let Ok(retry) = raw.trim().parse::<i64>() else {
        return Verdict::Fail(format!(
            "Retry-After {} is not a number of seconds",
            quote(raw)
        ));
    };
    if let Some(r) = ex.response.remaining() {
        if r != 0 {
            return Verdict::Fail(format!("429 with X-RateLimit-Remaining {r}, not 0"));
        }
    }
    let Some(reset) = ex.response.reset() else {
        return Verdict::Fail("429 without X-RateLimit-Reset".into());
    };
    let until = reset - ex.response.received_at;
    pass_if(retry >= 0 && (retry - until).abs() <= SKEW, || {
        format!("Retry-After {retry}, but the reset is {until} s away")
    })
}

pub fn existing_pair_ok_over_quota(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::Repeat { .. } = ex.case else {
        return Verdict::Skip;
    };
    if ex.remaining_before != Some(0) {
        return Verdict::Skip;
    }
    let s = ex.response.status;
    pass_if(s == 200, || {
        format!("an existing pair answered {s} with the quota used up, not 200")
    })
}

// ---------------------------------------------------------------------------------------------
// Edges of the valid classes.

fn given_text(pair: &crate::strategies::NewPair) -> String {
    match &pair.send_id {
        SendIdField::Given(s) => format!("send_id {}", quote(s)),
        SendIdField::Absent => "no send_id".into(),
        SendIdField::Null => "send_id null".into(),
    }
}

pub fn valid_new_pair_is_accepted(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::New(pair) = ex.case else {
        return Verdict::Skip;
    };
    let s = ex.response.status;
    let message = ex.response.message().unwrap_or("");
    match ex.remaining_before {
        Some(r) if r <= 0 => Verdict::Skip,
        Some(r) => pass_if(s == 200, || {
            format!(
                "a valid new pair ({}) answered {s} {} with {r} left, not 200",
                given_text(pair),
                quote(message)
            )
        }),
        None => pass_if(s == 200 || s == 429, || {
            format!(
                "a valid new pair ({}) answered {s} {}, not 200 (or 429 over quota)",
                given_text(pair),
                quote(message)
            )
        }),
    }
}

pub fn json_media_type_variants_accepted(_: &Ctx, ex: &Exchange) -> Verdict {
    let ct = match ex.case {
        Case::New(p) => p.content_type,
        Case::Repeat { content_type, .. } => content_type,
        _ => return Verdict::Skip,
    };
    if ct == JSON {
        return Verdict::Skip;
    }
    let s = ex.response.status;
    let over_quota = matches!(ex.case, Case::New(_)) && s == 429;
    pass_if(s == 200 || over_quota, || {
        format!("Content-Type {} answered {s}, not 200", quote(ct))
    })
}

pub fn case_variant_is_a_new_pair(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::New(pair) = ex.case else {
        return Verdict::Skip;
    };
    let (Some(original), SendIdField::Given(sent)) = (&pair.variant_of, &pair.send_id) else {
        return Verdict::Skip;
    };
    let (sent_q, original_q) = (quote(sent), quote(original));
    if let Some(before) = ex.remaining_before.filter(|r| *r <= 0) {
        // Over quota a new pair is refused; the existing pair would be answered 200.
        let s = ex.response.status;
        return pass_if(s == 429, || {
            format!(
                "{sent_q}, a case variant of the existing {original_q}, answered {s} with \
                 X-RateLimit-Remaining {before}: a new pair gets 429 then; it was taken for the \
                 existing pair"
            )
        });
    }
    let s = ex.response.status;
    if s != 200 {
        return Verdict::Fail(format!(
            "{sent_q}, a case variant of the existing {original_q}, answered {s}, not 200"
        ));
    }
    let got = ex.response.send_id();
    if got != Some(sent.as_str()) {
        return Verdict::Fail(format!(
            "{sent_q}, a case variant of the existing {original_q}, answered send_id {}: \
             send_ids were compared without their case",
            quote_or(got, "none")
        ));
    }
    match (ex.remaining_before, ex.response.remaining()) {
        (Some(before), Some(after)) => pass_if(before - after == 1, || {
            format!(
                "{sent_q}, a case variant of the existing {original_q}: expected \
                 X-RateLimit-Remaining {} (a new pair, one unit), saw {after}: it was taken for \
                 the same pair",
                before - 1
            )
        }),
        _ => Verdict::Pass,
    }
}
