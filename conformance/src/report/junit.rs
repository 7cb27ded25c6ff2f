//! `--report junit=PATH`: a testsuite with one testcase per check.
use std::fmt::Write as _;

use super::Report;

pub fn render(report: &Report) -> String {
    let failures = report.checks.iter().filter(|c| c.failed > 0).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"sendid-conformance\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">",
        report.checks.len(),
        report.duration_seconds
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\">",
        escape(&format!("{} ({} profile, seed {})", report.target, report.profile, report.seed)),
        report.checks.len(),
        report.checks.iter().filter(|c| c.passed + c.failed == 0).count(),
        report.duration_seconds
    );
    let _ = writeln!(
        out,
        "    <properties><property name=\"seed\" value=\"{}\"/><property name=\"profile\" value=\"{}\"/></properties>",
        report.seed, report.profile
    );
    for c in &report.checks {
        let _ = write!(
            out,
            "    <testcase classname=\"sendid-conformance.{}\" name=\"{}\"",
            report.profile, c.name
        );
        if c.failed > 0 {
            out.push_str(">\n");
            let detail: Vec<String> = report
                .failures
                .iter()
                .filter(|f| f.breaks(c.id))
                .map(|f| {
                    let response = match &f.response {
                        Some(r) => {
                            let headers: String = r
                                .headers
                                .iter()
                                .map(|(n, v)| format!("\n  {n}: {v}"))
                                .collect();
                            format!("{}{headers}\n  body: {}", r.status, r.body)
                        }
                        None => "none".into(),
                    };
                    let reason = f
                        .broken()
                        .find(|b| b.check == c.id)
                        .map(|b| b.reason)
                        .unwrap_or_default();
                    let also: Vec<&str> = f
                        .broken()
                        .map(|b| b.check)
                        .filter(|n| *n != c.id)
                        .map(|n| n.name())
                        .collect();
                    let also = if also.is_empty() {
                        String::new()
                    } else {
                        format!("\nthe same request also breaks: {}", also.join(", "))
                    };
                    format!(
                        "{reason}{also}\ncase: {}\nrequest: {}\nresponse: {response}\ncurl: {}\nreplay: {}\nseed: {}",
                        f.case, f.request, f.curl, f.replay, f.seed
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "      <failure message=\"{}\" type=\"violation\">{}</failure>",
                escape(&format!(
                    "{} of {} failed: {}",
                    c.failed,
                    c.failed + c.passed,
                    c.rule
                )),
                escape(&detail.join("\n\n"))
            );
            out.push_str("    </testcase>\n");
        } else if c.passed == 0 {
            let why = c
                .not_run
                .as_deref()
                .map(|w| format!("not run: {w}"))
                .unwrap_or_else(|| "no exchange this check applies to".into());
            let _ = write!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                escape(&why)
            );
        } else {
            out.push_str("/>\n");
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// XML text and attribute escaping; characters XML 1.0 cannot hold are replaced.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            escape("a<b & \"c\"\u{1}"),
            "a&lt;b &amp; &quot;c&quot;\\u{1}"
        );
    }
}
