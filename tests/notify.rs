//! Webhook alerts against local HTTP servers on 127.0.0.1: what they
//! receive (counts, no personal data), retries, and a failing webhook that
//! changes neither the run nor its exit code.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::util::*;

/// A webhook receiver answering the statuses of `answers` in turn (the last
/// one from then on); returns its URL (with a secret-looking path) and the
/// bodies it received.
fn receiver(answers: &[u16]) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/T000/B000/s3cr3t-path", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let (got, answers) = (Arc::clone(&bodies), answers.to_vec());
    std::thread::spawn(move || {
        let mut n = 0;
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut stream = stream;
            loop {
                let mut length = 0usize;
                let mut line = String::new();
                let mut any = false;
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    any = true;
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                if !any {
                    break;
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_err() {
                    break;
                }
                got.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
                let status = answers[n.min(answers.len() - 1)];
                n += 1;
                let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok");
                if stream.write_all(reply.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    (url, bodies)
}

/// The demo spec with `[notify]` webhooks whose URLs come from variables.
fn spec_with_hooks(env: &Env, hooks: &str) -> std::path::PathBuf {
    let spec = copy_demo(env.path());
    let text = std::fs::read_to_string(&spec).unwrap();
    env.write(
        "rules/hooked.toml",
        format!("{text}\n[notify]\nwhen = \"failure\"\n{hooks}"),
    )
}

#[test]
fn webhooks_get_the_counts_and_no_personal_data_and_failures_are_retried_and_reported() {
    let env = Env::new();
    let (json_url, json_got) = receiver(&[200]);
    let (slack_url, slack_got) = receiver(&[503, 200]);
    let (down_url, down_got) = receiver(&[500]);
    let spec = spec_with_hooks(
        &env,
        "[[notify.webhook]]\nurl = \"${HOOK_JSON}\"\n\
         [[notify.webhook]]\nurl = \"${HOOK_SLACK}\"\nformat = \"slack\"\n\
         [[notify.webhook]]\nurl = \"${HOOK_DOWN}\"\nformat = \"wecom\"\n",
    );
    let o = env.recon_with(
        &["run", spec.to_str().unwrap(), "--out", "reports", "--run-id", "n1"],
        &[
            ("HOOK_JSON", &json_url),
            ("HOOK_SLACK", &slack_url),
            ("HOOK_DOWN", &down_url),
        ],
    );
    let err = stderr(&o);
    // The demo fails its thresholds: exit 1 whatever the webhooks did.
    assert_eq!(code(&o), 1, "{err}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.reports().join("n1/summary.json")).unwrap()).unwrap();

    let json: Vec<String> = json_got.lock().unwrap().clone();
    assert_eq!(json.len(), 1, "delivered once");
    let body: serde_json::Value = serde_json::from_str(&json[0]).unwrap();
    assert_eq!(body["run_id"], "n1");
    assert_eq!(body["totals"]["findings"], summary["totals"]["total"]);
    assert_eq!(body["thresholds_hit"], summary["thresholds_hit"]);
    for (name, e) in summary["entities"].as_object().unwrap() {
        assert_eq!(body["entities"][name]["findings"], e["counts"]["total"], "{name}");
        assert_eq!(body["entities"][name]["rows"]["left"], e["left"]["rows"], "{name}");
    }
    assert!(err.contains("notified http://127.0.0.1:"), "{err}");

    let slack = slack_got.lock().unwrap().clone();
    assert_eq!(slack.len(), 2, "a 503 is retried");
    let text: serde_json::Value = serde_json::from_str(&slack[1]).unwrap();
    assert!(
        text["text"]
            .as_str()
            .unwrap()
            .starts_with("recon callcenter-crm run n1: FAIL"),
        "{text}"
    );
    assert!(err.contains("(2 attempt(s))"), "{err}");

    assert_eq!(
        down_got.lock().unwrap().len(),
        recon::notify::ATTEMPTS,
        "a failing webhook is tried, then given up"
    );
    assert!(err.contains("failed after 3 attempt(s): HTTP 500"), "{err}");
    assert!(
        !err.contains("s3cr3t-path"),
        "a webhook URL is never shown whole: {err}"
    );

    // No personal value in anything a webhook received.
    let raw = crate::masking::raw_personal_values(&env.path().join("fixtures"));
    for b in json.iter().chain(&slack).chain(down_got.lock().unwrap().iter()) {
        for v in &raw {
            assert!(
                !b.contains(v.as_str()),
                "a personal value was sent: …{}",
                &v[v.len() - 4..]
            );
        }
    }
    // The run folder is as without webhooks: it verifies.
    let o = env.recon(&["verify", env.reports().join("n1").to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn an_unset_webhook_variable_is_exit_2_and_a_passing_run_tells_only_always_hooks() {
    let env = Env::new();
    let spec = spec_with_hooks(&env, "[[notify.webhook]]\nurl = \"${HOOK_UNSET_IN_TEST}\"\n");
    let o = env.recon(&["check", spec.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("HOOK_UNSET_IN_TEST"), "{}", stderr(&o));

    // A passing run: the `failure` hook stays quiet, the `always` one is told.
    env.write("l.csv", "id,v\n1,a\n");
    env.write("r.csv", "id,v\n1,a\n");
    let (quiet_url, quiet_got) = receiver(&[200]);
    let (always_url, always_got) = receiver(&[200]);
    let spec = env.write(
        "pass.toml",
        format!(
            "{TWO_COLUMN_SPEC}\n[notify]\n[[notify.webhook]]\nurl = \"{quiet_url}\"\n\
             [[notify.webhook]]\nurl = \"{always_url}\"\nformat = \"dingtalk\"\nwhen = \"always\"\n"
        ),
    );
    let o = env.run(&spec, "p1");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(quiet_got.lock().unwrap().is_empty());
    let got = always_got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(body["msgtype"], "text");
    assert!(
        body["text"]["content"]
            .as_str()
            .unwrap()
            .contains(": PASS, 0 finding(s)"),
        "{body}"
    );
}
