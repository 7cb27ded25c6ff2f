//! The properties of the defect classes in [`crate::classes`] that send requests of their own,
//! written byte by byte ([`crate::classes::wire`]): methods, equivalent requests, hostile
//! bodies; and the generated-id quality, judged over the run's generated send_ids. None of
//! them spends a unit: every body is the run's existing pair or a request refused before the
//! quota.
use serde_json::Value;

use super::findings::Shown;
use super::Runner;
use crate::classes::equivalent::{self, Base, Transform, TRANSFORMS};
use crate::classes::wire::{self, RawAnswer, RawRequest};
use crate::classes::{hygiene, ids, methods, robust};
use crate::events::Event;
use crate::http::quote;
use crate::oracle::CheckId;
use crate::spec::OPERATION_PATH;

impl Runner {
    /// Sends one raw request; every answer is held to the framing and hygiene checks. `None`
    /// when nothing came back (tallied as a request without an answer).
    async fn raw(
        &mut self,
        property: &'static str,
        label: &str,
        req: &RawRequest,
    ) -> Option<RawAnswer> {
        self.requests += 1;
        let result = wire::send(
            &self.target.base,
            self.target.timeout,
            req,
            &self.target.api_key,
        )
        .await;
        self.events.event(Event::CaseDone);
        self.cases += 1;
        let answer = match result {
            Ok(a) => a,
            Err(reason) => {
                *self.statuses.entry("no answer".into()).or_default() += 1;
                self.result
                    .absorb_one(CheckId::AnswersEveryRequest, &Err(reason.clone()));
                let shown = self.shown_raw(label, req, None);
                if self.result.claim(CheckId::AnswersEveryRequest) {
                    self.record_shown(
                        CheckId::AnswersEveryRequest,
                        property,
                        reason,
                        shown,
                        0,
                        Vec::new(),
                    );
                }
                return None;
            }
        };
        *self
            .statuses
            .entry(answer.response.status.to_string())
            .or_default() += 1;
        self.result
            .absorb_one(CheckId::AnswersEveryRequest, &Ok(()));
        let framing = match answer.framing.first() {
            Some(f) => Err(format!("the answer's framing: {f}")),
            None => Ok(()),
        };
        self.class_verdict(
            CheckId::FramingAgrees,
            property,
            framing,
            label,
            req,
            &answer,
        );
        let secrets = self.secrets();
        let clean = match hygiene::leaks(&answer.response.headers, &answer.response.body, &secrets)
        {
            Some(why) => Err(why),
            None => Ok(()),
        };
        self.class_verdict(
            CheckId::NoInternalsShown,
            property,
            clean,
            label,
            req,
            &answer,
        );
        Some(answer)
    }

    pub(super) fn secrets(&self) -> hygiene::Secrets {
        let mut keys = vec![(self.config.api_key.as_str(), "the API key (--api-key)")];
        if let Some(k) = self.config.forbidden_api_key.as_deref() {
            keys.push((k, "the forbidden API key (--forbidden-api-key)"));
        }
        hygiene::Secrets::new(&keys)
    }

    fn shown_raw(&self, label: &str, req: &RawRequest, answer: Option<&RawAnswer>) -> Shown {
        let url = self.target.url(&req.path);
        Shown {
            case: label.to_string(),
            request: req.describe(&url),
            request_body: (!req.body.is_empty()).then(|| {
                String::from_utf8_lossy(&req.body[..req.body.len().min(2048)]).into_owned()
            }),
            response: answer.map(|a| a.response.clone()),
            curl: req.curl(&url),
        }
    }

    fn class_verdict(
        &mut self,
        check: CheckId,
        property: &'static str,
        verdict: Result<(), String>,
        label: &str,
        req: &RawRequest,
        answer: &RawAnswer,
    ) {
        self.result.absorb_one(check, &verdict);
        match verdict {
            Ok(()) => {}
            Err(reason) => {
                if self.result.claim(check) {
                    let shown = self.shown_raw(label, req, Some(answer));
                    self.record_shown(check, property, reason, shown, 0, Vec::new());
                }
            }
        }
    }

    /// Whether raw requests can go to this target; says why not.
    fn raw_possible(&mut self, name: &'static str) -> bool {
        if self.target.base.scheme() == "http" {
            return true;
        }
        self.events.event(Event::PropertySkipped {
            name,
            why: "its requests are written byte by byte, over http:// only",
        });
        false
    }

    /// HTTP method semantics: every other method on the path, then each method an `Allow`
    /// lists, held to what the server did.
    pub(super) async fn methods(&mut self, name: &'static str) {
        if !self.raw_possible(name) {
            return;
        }
        self.events.event(Event::PropertyStarted {
            name,
            cases: methods::METHODS.len() as u64,
        });
        let body = Value::Object(self.rctx.harmless_fields())
            .to_string()
            .into_bytes();
        let mut answers: Vec<(String, u16)> = Vec::new();
        let mut allows: Vec<(String, RawRequest, RawAnswer)> = Vec::new();
        let mut failing = 0;
        for method in methods::METHODS {
            let req = methods::probe(method, OPERATION_PATH, &body);
            let label = format!("method {method}");
            let Some(a) = self.raw(name, &label, &req).await else {
                failing += 1;
                continue;
            };
            let verdict = methods::answer_verdict(method, &a);
            failing += u64::from(verdict.is_err());
            self.class_verdict(CheckId::OtherMethodIs405, name, verdict, &label, &req, &a);
            if *method == "HEAD" {
                let verdict = methods::head_verdict(&a);
                self.class_verdict(CheckId::HeadHasNoBody, name, verdict, &label, &req, &a);
            }
            answers.push((method.to_string(), a.response.status));
            if let Some(allow) = a.response.header("allow") {
                allows.push((allow.to_string(), req, a.clone()));
            }
        }
        // Methods an Allow lists that were not sent: once each.
        let sent: Vec<String> = answers.iter().map(|(m, _)| m.clone()).collect();
        let mut extra: Vec<String> = allows
            .iter()
            .flat_map(|(a, _, _)| methods::unsent(a, &sent))
            .collect();
        extra.dedup();
        for method in extra.into_iter().take(4) {
            let req = methods::probe(&method, OPERATION_PATH, &body);
            if let Some(a) = self
                .raw(name, &format!("method {method}, listed in Allow"), &req)
                .await
            {
                answers.push((method, a.response.status));
            }
        }
        for (allow, req, a) in &allows {
            let verdict = methods::allow_verdict(allow, &answers);
            failing += u64::from(verdict.is_err());
            let label = format!("method {} (its Allow)", req.method);
            self.class_verdict(CheckId::AllowMatchesServer, name, verdict, &label, req, a);
        }
        self.events.event(Event::PropertyDone {
            name,
            cases: answers.len() as u64,
            failing,
        });
    }

    /// Equivalent requests: a repeat of the existing pair and a request refused at the body,
    /// each written plainly and then in every equivalent way.
    pub(super) async fn equivalents(&mut self, name: &'static str) {
        let Some(existing) = self.rctx.existing_send_id().map(str::to_string) else {
            self.events.event(Event::PropertySkipped {
                name,
                why: "no existing pair to repeat (the run created none)",
            });
            return;
        };
        if !self.raw_possible(name) {
            return;
        }
        let campaign = quote(self.rctx.campaign_id());
        let bases = [
            (
                "a repeat of the existing pair",
                Base {
                    members: vec![
                        ("campaign_id".into(), campaign),
                        ("send_id".into(), quote(&existing)),
                    ],
                    path: OPERATION_PATH.into(),
                },
                TRANSFORMS.to_vec(),
            ),
            (
                "a body without campaign_id",
                Base {
                    members: vec![("unknown_field".into(), "\"x/y\"".into())],
                    path: OPERATION_PATH.into(),
                },
                TRANSFORMS
                    .iter()
                    .copied()
                    .chain([Transform::NullSendIdAbsent])
                    .collect(),
            ),
        ];
        self.events.event(Event::PropertyStarted {
            name,
            cases: bases.iter().map(|b| b.2.len() as u64 + 1).sum(),
        });
        let mut failing = 0;
        let mut cases = 0;
        for (what, base, transforms) in bases {
            let plain = base.request();
            let Some(base_answer) = self.raw(name, what, &plain).await else {
                continue;
            };
            cases += 1;
            let mut before = base_answer.response.remaining().or(self.remaining);
            for t in transforms {
                let Some(req) = base.transformed(t) else {
                    continue;
                };
                let label = format!("{what}, written with {}", t.label());
                let Some(a) = self.raw(name, &label, &req).await else {
                    continue;
                };
                cases += 1;
                let same = equivalent::same_answer(t, &base_answer.response, &a.response);
                let spent = equivalent::same_quota_effect(t, before, &a.response);
                if let (Some(b), Some(now)) = (before, a.response.remaining()) {
                    // Charged here, not again to the refused requests' checkpoint.
                    self.spent_seen += (b - now).max(0);
                }
                failing += u64::from(same.is_err() || spent.is_err());
                self.class_verdict(CheckId::EquivalentSameAnswer, name, same, &label, &req, &a);
                self.class_verdict(CheckId::EquivalentSameQuota, name, spent, &label, &req, &a);
                before = a.response.remaining().or(before);
            }
            if let Some(r) = before {
                self.remaining = Some(r);
            }
        }
        self.events.event(Event::PropertyDone {
            name,
            cases,
            failing,
        });
    }

    /// Hostile bodies, each around the existing pair.
    pub(super) async fn hostile_bodies(&mut self, name: &'static str) {
        let Some(existing) = self.rctx.existing_send_id().map(str::to_string) else {
            self.events.event(Event::PropertySkipped {
                name,
                why: "no existing pair to build the bodies around (the run created none)",
            });
            return;
        };
        if !self.raw_possible(name) {
            return;
        }
        let bodies = robust::bodies(&self.rctx.harmless_fields());
        self.events.event(Event::PropertyStarted {
            name,
            cases: bodies.len() as u64,
        });
        let mut failing = 0;
        for h in &bodies {
            let req = RawRequest {
                method: "POST".into(),
                path: OPERATION_PATH.into(),
                headers: vec![
                    ("Authorization".into(), "Bearer {secret}".into()),
                    ("Content-Type".into(), "application/json".into()),
                ],
                body: h.body.clone(),
                chunked: false,
            };
            let Some(a) = self.raw(name, h.label, &req).await else {
                failing += 1;
                continue;
            };
            let handled = robust::handled(h, &a.response);
            let status = robust::status(h, &a.response, &existing);
            failing += u64::from(handled.is_err() || status.is_err());
            self.class_verdict(
                CheckId::HostileBodyHandled,
                name,
                handled,
                h.label,
                &req,
                &a,
            );
            self.class_verdict(CheckId::HostileBodyStatus, name, status, h.label, &req, &a);
        }
        self.events.event(Event::PropertyDone {
            name,
            cases: bodies.len() as u64,
            failing,
        });
    }

    /// The run's generated send_ids, in the order they came: without structure.
    pub(super) fn id_quality(&mut self, name: &'static str) {
        let order = self.generated_order.clone();
        let generated: Vec<&str> = order.iter().map(String::as_str).collect();
        if generated.is_empty() {
            self.events.event(Event::PropertySkipped {
                name,
                why: "the run got no generated send_id",
            });
            return;
        }
        let check = CheckId::GeneratedIdsRandom;
        let verdict = ids::structure(&generated).map_or(Ok(()), Err);
        self.result.absorb_one(check, &verdict);
        match verdict {
            Ok(()) => {}
            Err(reason) => {
                if self.result.claim(check) {
                    let shown = Shown {
                        case: format!(
                            "the {} send_ids the server generated in this run, in order",
                            generated.len()
                        ),
                        request: format!(
                            "POST {} without send_id (each one a new pair)",
                            self.target.url(OPERATION_PATH)
                        ),
                        request_body: None,
                        response: None,
                        curl: format!(
                            "# generated: {}",
                            generated
                                .iter()
                                .map(|g| quote(g))
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                    };
                    self.record_shown(check, name, reason, shown, 0, Vec::new());
                }
            }
        }
    }
}
