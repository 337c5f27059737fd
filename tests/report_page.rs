//! report.html: its content (an insta snapshot of the demo's page), its
//! numbers as a real browser renders them (headless Chromium), trends over
//! a series of runs, `recon report` rendering the same page again, and
//! the evidence covering it. Under `CI=true` a missing browser fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

/// The `data-k` cells of a page (or of a DOM the browser dumped): key → text.
fn cells(html: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for part in html.split("data-k=\"").skip(1) {
        let Some((key, rest)) = part.split_once('"') else {
            continue;
        };
        let Some(start) = rest.find('>') else { continue };
        let value = &rest[start + 1..];
        let end = value.find('<').unwrap_or(value.len());
        out.insert(key.to_string(), value[..end].to_string());
    }
    out
}

/// The trend points of a page: (chart series, run) → value.
fn points(html: &str) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for part in html.split("data-series=\"").skip(1) {
        let series = &part[..part.find('"').unwrap()];
        let run = part
            .split("data-run=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap();
        let value = part
            .split("data-value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap();
        out.insert((series.to_string(), run.to_string()), value.parse().unwrap());
    }
    out
}

fn summary(run: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap()
}

/// Headless Chromium, or `None` (skip) outside CI when it is not installed.
fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-headless-shell", "chromium-browser"] {
        if let Ok(o) = Command::new("which").arg(name).output() {
            if o.status.success() {
                return Some(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
            }
        }
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("chromium is not installed under CI=true: .ci/run installs it");
    }
    eprintln!("skipped: chromium not installed");
    None
}

/// The browser with the network off and a throwaway profile.
fn browser(exe: &Path, profile: &Path, args: &[&str], page: &Path) -> std::process::Output {
    Command::new(exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--proxy-server=127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium")
}

/// The demo's page with the values that change between runs replaced, one
/// tag per line (so a change reads as a diff of a few lines).
fn redacted(html: &str) -> String {
    let mut out = html.to_string();
    for k in ["started_at", "duration_ms", "key_id"] {
        let needle = format!("data-k=\"{k}\">");
        if let Some(i) = out.find(&needle) {
            let start = i + needle.len();
            let end = start + out[start..].find('<').unwrap();
            out.replace_range(start..end, &format!("[{k}]"));
        }
    }
    out.replace("><", ">\n<")
}

#[test]
fn the_demo_page_matches_its_snapshot() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let o = env.run(&spec, "snapshot");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let html = std::fs::read_to_string(env.reports().join("snapshot/report.html")).unwrap();
    insta::assert_snapshot!("demo_report_html", redacted(&html));
}

#[test]
fn a_browser_shows_the_numbers_of_summary_json_and_the_trends_of_three_runs() {
    let Some(exe) = chromium() else { return };
    let env = Env::new();
    let spec = copy_demo(env.path());
    // Three nights: the call center's export loses rows night by night.
    let calls = env.path().join("fixtures/callcenter/calls.csv");
    let text = std::fs::read_to_string(&calls).unwrap();
    for (i, keep) in [(1, usize::MAX), (2, 150), (3, 120)] {
        let lines: Vec<&str> = text.lines().take(keep).collect();
        std::fs::write(&calls, format!("{}\n", lines.join("\n"))).unwrap();
        let o = env.run(&spec, &format!("n{i}"));
        assert_eq!(code(&o), 1, "{}", stderr(&o));
    }
    let run = env.reports().join("n3");
    let page = run.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    // Nothing the page could fetch: a policy forbidding every fetch, and no
    // reference to anything outside it.
    assert!(html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\""));
    for attr in ["src=", "href=", "url(", "@import"] {
        assert!(!html.contains(attr), "the page references something outside it: {attr}");
    }
    let profile = env.path().join("chromium-profile");
    let o = browser(&exe, &profile, &["--dump-dom", "--virtual-time-budget=2000"], &page);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dom = String::from_utf8_lossy(&o.stdout).to_string();
    let shown = cells(&dom);
    let s = summary(&run);
    assert_eq!(shown["status"], "FAIL");
    assert_eq!(
        shown["thresholds_hit"],
        s["thresholds_hit"].as_array().unwrap().len().to_string()
    );
    assert_eq!(shown["totals.total"], s["totals"]["total"].to_string());
    for (name, e) in s["entities"].as_object().unwrap() {
        for side in ["left", "right"] {
            assert_eq!(
                shown[&format!("{name}.{side}.rows")],
                e[side]["rows"].to_string(),
                "{name} {side}"
            );
            for (k, v) in e[side]["coverage"].as_object().unwrap() {
                if k == "fields_compared_per_matched_row" {
                    continue; // not part of the identity the page shows
                }
                assert_eq!(shown[&format!("{name}.{side}.{k}")], v.to_string(), "{name} {side} {k}");
            }
        }
        assert_eq!(shown[&format!("{name}.matched")], e["matched"].to_string());
        for (kind, n) in e["counts"]["by_kind"].as_object().unwrap() {
            assert_eq!(shown[&format!("{name}.kind.{kind}")], n.to_string(), "{name} {kind}");
            assert_eq!(
                shown[&format!("{name}.sample.{kind}")],
                n.to_string(),
                "{name} {kind} sample"
            );
        }
        for (id, r) in e["quality"]["rules"].as_object().unwrap() {
            for side in ["left", "right"] {
                let want = match &r["violations"][side] {
                    serde_json::Value::Null => "–".to_string(),
                    v => v.to_string(),
                };
                assert_eq!(shown[&format!("{name}.rule.{id}.{side}")], want, "{name} {id}");
            }
        }
    }
    // Trend points: each night's counts, as each night's summary.json says.
    let trend = points(&dom);
    for night in ["n1", "n2", "n3"] {
        let past = summary(&env.reports().join(night));
        for category in ["drift", "quality", "masking"] {
            let want = past["totals"]["by_category"][category].as_f64().unwrap_or(0.0);
            assert_eq!(
                trend[&(category.to_string(), night.to_string())],
                want,
                "{night} {category}"
            );
        }
        let rows = past["entities"]["interaction"]["left"]["rows"].as_f64().unwrap();
        assert_eq!(
            trend[&("interaction left".to_string(), night.to_string())],
            rows,
            "{night} rows"
        );
    }
    assert!(
        trend[&("interaction left".to_string(), "n1".to_string())]
            > trend[&("interaction left".to_string(), "n3".to_string())],
        "the trend shows the export shrinking"
    );
    // A screenshot for people to look at.
    let png = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-demo.png");
    let o = browser(
        &exe,
        &profile,
        &["--window-size=1280,2400", &format!("--screenshot={}", png.display())],
        &page,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "a real screenshot"
    );

    // `recon report` renders the very same page from the sealed run.
    let again = env.path().join("again.html");
    let o = env.recon(&["report", run.to_str().unwrap(), "--output", again.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&again).unwrap(), html);
    let o = env.recon(&[
        "report",
        run.to_str().unwrap(),
        "--history",
        "1",
        "--output",
        again.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let fewer = points(&std::fs::read_to_string(&again).unwrap());
    assert!(fewer.contains_key(&("drift".to_string(), "n2".to_string())));
    assert!(!fewer.contains_key(&("drift".to_string(), "n1".to_string())));
}

#[test]
fn the_evidence_covers_the_page() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let o = env.run(&spec, "sealed");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let run = env.reports().join("sealed");
    let manifest = std::fs::read_to_string(run.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"report.html\""));
    let o = env.recon(&["verify", run.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let page = run.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    std::fs::write(&page, html.replacen("FAIL", "PASS", 1)).unwrap();
    let o = env.recon(&["verify", run.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("report.html"), "{}", stderr(&o));
}
