//! Alerts: the spec's webhooks told of a run's outcome once its folder is
//! sealed (and uploaded) — a JSON object of counts, or a text message in
//! the shape Slack, DingTalk or WeCom (企业微信) group robots take.
//!
//! A notification carries counts, thresholds and the run folder's
//! location, never a value (so no personal data). It never changes the
//! run: a webhook that fails is retried, then reported on stderr; the
//! evidence and the exit code stay as they are. A webhook URL is a secret
//! (it authorizes posting): messages name its scheme and host only.

use std::time::Duration;

use serde_json::{json, Value};

use crate::spec::{Webhook, WebhookFormat};

/// Attempts per webhook (the first try and two retries).
pub const ATTEMPTS: usize = 3;
/// Time allowed for one attempt.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What became of one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The webhook as it may be shown: scheme and host.
    pub target: String,
    pub attempts: usize,
    /// `None` when delivered; else why the last attempt failed.
    pub error: Option<String>,
}

/// Sends the run's outcome (`summary`, its folder `location`) to every
/// webhook that wants it: all of them after a failed run, the `always`
/// ones after any run.
pub fn send(webhooks: &[Webhook], summary: &Value, location: &str) -> Vec<Delivery> {
    let failed = summary["exit_code"].as_i64() != Some(0);
    webhooks
        .iter()
        .filter(|w| w.always || failed)
        .map(|w| deliver(w, &body(w.format, summary, location)))
        .collect()
}

/// Scheme and host of a URL: all of it that may be shown.
pub fn shown(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
            format!("{scheme}://{host}")
        }
        None => "(webhook)".to_string(),
    }
}

fn deliver(w: &Webhook, body: &Value) -> Delivery {
    let target = shown(&w.url);
    let mut error = None;
    let mut attempts = 0;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(500 << (attempt - 1)));
        }
        attempts += 1;
        // The client and the request live inside the runtime (their timers need it).
        let outcome = crate::runtime::block_on(async {
            let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
            let response = client.post(&w.url).json(body).send().await?;
            let status = response.status();
            // DingTalk and WeCom answer 200 with an error code in the body.
            let text = response.text().await.unwrap_or_default();
            Ok::<_, reqwest::Error>((status, text))
        });
        match outcome {
            Ok(Ok((status, text))) if status.is_success() && !robot_error(&text) => {
                error = None;
                break;
            }
            Ok(Ok((status, text))) => {
                let text: String = text.chars().take(200).collect();
                error = Some(format!("HTTP {status}: {}", without_url(&text, &w.url)));
            }
            Ok(Err(e)) => error = Some(without_url(&e.without_url().to_string(), &w.url)),
            Err(e) => error = Some(e.to_string()),
        }
        tracing::debug!(webhook = %target, attempt = attempts, error = ?error, "notification failed");
    }
    Delivery {
        target,
        attempts,
        error,
    }
}

/// A robot's `{"errcode": N}` other than 0 (DingTalk, WeCom).
fn robot_error(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("errcode").and_then(Value::as_i64))
        .is_some_and(|c| c != 0)
}

/// `text` without the secret URL in it.
fn without_url(text: &str, url: &str) -> String {
    crate::storage::redact(&text.replace(url, &shown(url)))
}

/// The body of a notification in `format`.
pub fn body(format: WebhookFormat, summary: &Value, location: &str) -> Value {
    match format {
        WebhookFormat::Json => counts(summary, location),
        WebhookFormat::Slack => json!({ "text": message(summary, location) }),
        WebhookFormat::DingTalk | WebhookFormat::WeCom => {
            json!({ "msgtype": "text", "text": { "content": message(summary, location) } })
        }
    }
}

/// The run's counts: what the JSON webhook receives.
fn counts(s: &Value, location: &str) -> Value {
    let entities: serde_json::Map<String, Value> = s["entities"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(name, e)| {
                    (
                        name.clone(),
                        json!({
                            "rows": { "left": e["left"]["rows"], "right": e["right"]["rows"] },
                            "matched": e["matched"],
                            "drifted_keys": e["drifted_keys"],
                            "drift_ratio": e["drift_ratio"],
                            "findings": e["counts"]["total"],
                            "by_kind": e["counts"]["by_kind"],
                        }),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "tool": "recon",
        "run_id": s["run_id"],
        "spec": s["spec"]["name"],
        "sides": s["sides"],
        "status": s["status"],
        "exit_code": s["exit_code"],
        "started_at": s["started_at"],
        "finished_at": s["finished_at"],
        "thresholds_hit": s["thresholds_hit"],
        "totals": { "findings": s["totals"]["total"], "by_category": s["totals"]["by_category"] },
        "entities": entities,
        "run_folder": location,
    })
}

/// A few lines for a chat robot.
fn message(s: &Value, location: &str) -> String {
    let status = if s["exit_code"].as_i64() == Some(0) {
        "PASS"
    } else {
        "FAIL"
    };
    let by_category: Vec<String> = s["totals"]["by_category"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k} {v}")).collect())
        .unwrap_or_default();
    let hits = s["thresholds_hit"].as_array().map_or(0, Vec::len);
    let mut lines = vec![format!(
        "recon {} run {}: {status}, {} finding(s) ({}), {hits} threshold(s) hit",
        s["spec"]["name"].as_str().unwrap_or(""),
        s["run_id"].as_str().unwrap_or(""),
        s["totals"]["total"],
        by_category.join(", ")
    )];
    if let Some(entities) = s["entities"].as_object() {
        for (name, e) in entities {
            lines.push(format!(
                "{name}: {} / {} rows, {} drifted key(s) ({:.2}%), {} finding(s)",
                e["left"]["rows"],
                e["right"]["rows"],
                e["drifted_keys"],
                e["drift_ratio"].as_f64().unwrap_or(0.0) * 100.0,
                e["counts"]["total"]
            ));
        }
    }
    for h in s["thresholds_hit"].as_array().into_iter().flatten().take(10) {
        lines.push(format!("- {}", h.as_str().unwrap_or("")));
    }
    if hits > 10 {
        lines.push(format!("- … and {} more", hits - 10));
    }
    lines.push(format!("report: {location}/report.html"));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Value {
        json!({
            "run_id": "r1", "spec": { "name": "cc" }, "exit_code": 1, "status": "failed",
            "sides": { "left": "a", "right": "b" },
            "thresholds_hit": ["e: 2 drift.value_mismatch finding(s) at or above severity error"],
            "totals": { "total": 3, "by_category": { "drift": 2, "quality": 1 } },
            "entities": { "e": { "left": { "rows": 10 }, "right": { "rows": 9 }, "matched": 9,
                "drifted_keys": 2, "drift_ratio": 0.2, "counts": { "total": 3, "by_kind": { "drift.value_mismatch": 2 } } } },
        })
    }

    #[test]
    fn each_format_carries_the_counts_in_the_shape_its_receiver_takes() {
        let s = summary();
        let j = body(WebhookFormat::Json, &s, "s3://b/reports/r1");
        assert_eq!(j["entities"]["e"]["findings"], 3);
        assert_eq!(j["run_folder"], "s3://b/reports/r1");
        let slack = body(WebhookFormat::Slack, &s, "reports/r1");
        let text = slack["text"].as_str().unwrap();
        assert!(text.starts_with("recon cc run r1: FAIL, 3 finding(s) (drift 2, quality 1), 1 threshold(s) hit"));
        assert!(text.contains("e: 10 / 9 rows, 2 drifted key(s) (20.00%), 3 finding(s)"));
        assert!(text.ends_with("report: reports/r1/report.html"));
        for f in [WebhookFormat::DingTalk, WebhookFormat::WeCom] {
            let b = body(f, &s, "reports/r1");
            assert_eq!(b["msgtype"], "text");
            assert_eq!(b["text"]["content"].as_str().unwrap(), text);
        }
    }

    #[test]
    fn a_webhook_url_is_shown_as_its_host_only() {
        assert_eq!(
            shown("https://hooks.slack.com/services/T0/B0/SECRET"),
            "https://hooks.slack.com"
        );
        assert_eq!(
            shown("https://u:p@oapi.dingtalk.com/robot/send?access_token=x"),
            "https://oapi.dingtalk.com"
        );
        assert_eq!(
            without_url(
                "error for https://h.example/x/SECRET: refused",
                "https://h.example/x/SECRET"
            ),
            "error for https://h.example: refused"
        );
        assert!(robot_error(r#"{"errcode":310000,"errmsg":"sign not match"}"#));
        assert!(!robot_error(r#"{"errcode":0,"errmsg":"ok"}"#));
        assert!(!robot_error("ok"));
    }
}
