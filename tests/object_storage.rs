//! Sources and run folders in object storage, against a real S3-compatible
//! server (moto, started by `.ci/services`; its endpoint in
//! `RECON_TEST_S3_ENDPOINT`). Under `CI=true` a missing server fails these
//! tests; elsewhere they are skipped with a note.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Output;

use recon::storage::{Location, Settings, Store};

use crate::util::*;

/// The secret `.ci/services` exports: it must never be printed.
fn secret() -> String {
    std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default()
}

/// The S3 endpoint, or `None` (skip) outside CI when no server runs.
pub(crate) fn endpoint(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(e) if !e.is_empty() => Some(e),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{var} is not set under CI=true: .ci/services start must run before the tests")
        }
        _ => {
            eprintln!("skipped: {var} not set (run `.ci/services start` and source its env file)");
            None
        }
    }
}

/// Creates `bucket` (object_store cannot): an unsigned `PUT /bucket`.
pub(crate) fn create_bucket(endpoint: &str, bucket: &str) {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the S3 server");
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "create bucket {bucket}: {response}"
    );
}

/// A bucket name unique to this test process and `tag`.
pub(crate) fn bucket(tag: &str) -> String {
    format!("recon-{tag}-{}", std::process::id())
}

pub(crate) fn store(bucket: &str) -> Store {
    Store::open(
        &Location::parse(&format!("s3://{bucket}")).unwrap(),
        &Settings::default(),
    )
    .unwrap()
}

/// The prefix's lease is free: absent, or expired (released leases are
/// set to expired by compare-and-set, never deleted from under another run).
fn lease_released(store: &Store) -> bool {
    match store.head("reports/.recon.lock").unwrap() {
        None => true,
        Some(_) => {
            let v: serde_json::Value = serde_json::from_slice(&store.read("reports/.recon.lock").unwrap()).unwrap();
            let expires = chrono::DateTime::parse_from_rfc3339(v["expires_at"].as_str().unwrap()).unwrap();
            expires < chrono::Utc::now()
        }
    }
}

fn upload(store: &Store, key: &str, bytes: Vec<u8>) {
    store.put(key, bytes, false).unwrap();
}

/// Asserts no output of `o` holds the secret.
fn no_secret(o: &Output) {
    let s = secret();
    assert!(s.len() >= 6, "the test secret is set");
    for text in [String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)] {
        assert!(!text.contains(&s), "the secret appears in: {text}");
    }
}

/// The demo's fixtures laid out as exports are: calls split in two under a
/// `dt=` partition (one part gzipped), activities a folder of two parts,
/// the other tables one file each. Written to `dir` and uploaded to `bucket`
/// under the same relative paths.
pub(crate) fn exports(dir: &Path, store: &Store) {
    let root = project_root().join("fixtures");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for (rel, name) in [
        ("callcenter/customers.csv", "customers.csv"),
        ("callcenter/tickets.csv", "tickets.csv"),
        ("crm/contacts.parquet", "contacts.parquet"),
        ("crm/cases.csv", "cases.csv"),
        ("callcenter/agents.csv", "agents.csv"),
        ("crm/users.parquet", "users.parquet"),
    ] {
        files.push((format!("exports/{name}"), std::fs::read(root.join(rel)).unwrap()));
    }
    let calls = std::fs::read_to_string(root.join("callcenter/calls.csv")).unwrap();
    let mut lines: Vec<&str> = calls.lines().collect();
    let header = lines.remove(0);
    let (a, b) = lines.split_at(lines.len() / 2);
    let part = |rows: &[&str]| format!("{header}\n{}\n", rows.join("\n"));
    files.push((
        "exports/calls/dt=2026-12-06/part-0000.csv.gz".into(),
        gzip(part(a).as_bytes()),
    ));
    files.push(("exports/calls/dt=2026-12-06/part-0001.csv".into(), part(b).into_bytes()));
    files.push(("exports/calls/_SUCCESS".into(), Vec::new()));
    let acts = std::fs::read_to_string(root.join("crm/activities.ndjson")).unwrap();
    let lines: Vec<&str> = acts.lines().collect();
    let (a, b) = lines.split_at(lines.len() / 3);
    files.push((
        "exports/activities/part-0.ndjson".into(),
        format!("{}\n", a.join("\n")).into_bytes(),
    ));
    files.push((
        "exports/activities/part-1.ndjson".into(),
        format!("{}\n", b.join("\n")).into_bytes(),
    ));
    for (rel, bytes) in files {
        let path = dir.join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        upload(store, &rel, bytes);
    }
}

/// The demo spec pointed at `root` (`../exports` or `s3://bucket/exports`).
pub(crate) fn demo_spec(env: &Env, name: &str, root: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(project_root().join("rules/callcenter-crm.toml")).unwrap();
    let text = text
        .replace("../fixtures/callcenter/customers.csv", &format!("{root}/customers.csv"))
        .replace("../fixtures/callcenter/tickets.csv", &format!("{root}/tickets.csv"))
        .replace("../fixtures/crm/contacts.parquet", &format!("{root}/contacts.parquet"))
        .replace("../fixtures/crm/cases.csv", &format!("{root}/cases.csv"))
        .replace("../fixtures/callcenter/agents.csv", &format!("{root}/agents.csv"))
        .replace("../fixtures/crm/users.parquet", &format!("{root}/users.parquet"))
        .replace(
            "\"../fixtures/callcenter/calls.csv\"",
            &format!("\"{root}/calls/dt=${{DT}}/part-*\", format = \"csv\""),
        )
        .replace(
            "\"../fixtures/crm/activities.ndjson\"",
            &format!("\"{root}/activities\", format = \"ndjson\""),
        );
    env.write(&format!("rules/{name}.toml"), text)
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn the_demo_read_from_and_sealed_into_a_bucket_matches_the_local_run() {
    let Some(_) = endpoint("RECON_TEST_S3_ENDPOINT") else {
        return;
    };
    let ep = std::env::var("RECON_TEST_S3_ENDPOINT").unwrap();
    let env = Env::new();
    let (data, evidence) = (bucket("data"), bucket("evidence"));
    create_bucket(&ep, &data);
    create_bucket(&ep, &evidence);
    let data_store = store(&data);
    exports(env.path(), &data_store);
    let local_spec = demo_spec(&env, "local", "../exports");
    let remote_spec = demo_spec(&env, "remote", &format!("s3://{data}/exports"));
    let reports = format!("s3://{evidence}/reports");

    let o = env.recon(&[
        "run",
        local_spec.to_str().unwrap(),
        "--out",
        "local",
        "--run-id",
        "n1",
        "--var",
        "DT=2026-12-06",
    ]);
    assert!(code(&o) <= 1, "{}", stderr(&o));
    let o = env.recon(&[
        "check",
        remote_spec.to_str().unwrap(),
        "--var",
        "DT=2026-12-06",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("s3://{data}/exports/calls/dt=2026-12-06/part-0000.csv.gz")));
    no_secret(&o);
    let o = env.recon(&[
        "run",
        remote_spec.to_str().unwrap(),
        "--out",
        &reports,
        "--run-id",
        "n1",
        "--var",
        "DT=2026-12-06",
    ]);
    assert!(code(&o) <= 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("run folder: {reports}/n1")),
        "{}",
        stderr(&o)
    );
    no_secret(&o);

    // The bucket's run, downloaded, equals the local one: findings and
    // repairs to the byte, the summary but for inputs and timings.
    let evidence_store = store(&evidence);
    let fetched = env.path().join("fetched/n1");
    std::fs::create_dir_all(&fetched).unwrap();
    let objects = evidence_store.list("reports/n1").unwrap();
    assert!(objects.iter().any(|o| o.key == "reports/n1/manifest.json"));
    for object in &objects {
        let name = object.key.trim_start_matches("reports/n1/");
        let bytes = evidence_store.read(&object.key).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&secret()),
            "{name} holds the secret"
        );
        std::fs::write(fetched.join(name), bytes).unwrap();
    }
    let local = env.path().join("local/n1");
    for file in ["findings.parquet", "repairs.parquet"] {
        assert_eq!(
            std::fs::read(local.join(file)).unwrap(),
            std::fs::read(fetched.join(file)).unwrap(),
            "{file}"
        );
    }
    let (l, r) = (summary(&local), summary(&fetched));
    for k in ["totals", "entities", "exit_code", "thresholds_hit", "baseline"] {
        assert_eq!(l[k], r[k], "summary {k}");
    }
    // Remote sources in the bucketed mode: the same findings and repairs.
    let o = env.recon(&[
        "run",
        remote_spec.to_str().unwrap(),
        "--out",
        "bucketed",
        "--run-id",
        "n1",
        "--var",
        "DT=2026-12-06",
        "--buckets",
        "3",
    ]);
    assert!(code(&o) <= 1, "{}", stderr(&o));
    for file in ["findings.parquet", "repairs.parquet"] {
        assert_eq!(
            std::fs::read(local.join(file)).unwrap(),
            std::fs::read(env.path().join("bucketed/n1").join(file)).unwrap(),
            "bucketed {file}"
        );
    }
    // Each file read is listed: URL, size, ETag, and the stored bytes' SHA-256.
    let calls = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["entity"] == "interaction" && i["side"] == "left")
        .unwrap();
    let files = calls["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{calls}");
    let gz = data_store.read("exports/calls/dt=2026-12-06/part-0000.csv.gz").unwrap();
    assert_eq!(
        files[0]["name"],
        format!("s3://{data}/exports/calls/dt=2026-12-06/part-0000.csv.gz")
    );
    assert_eq!(files[0]["size"], gz.len() as u64);
    assert_eq!(
        files[0]["sha256"],
        hex::encode(ring::digest::digest(&ring::digest::SHA256, &gz))
    );
    assert!(files[0]["etag"].is_string(), "{calls}");

    // A second run chains to the first in the bucket; the chain verifies,
    // and stops verifying once an object is altered.
    let o = env.recon(&[
        "run",
        remote_spec.to_str().unwrap(),
        "--out",
        &reports,
        "--run-id",
        "n2",
        "--var",
        "DT=2026-12-06",
    ]);
    assert!(code(&o) <= 1, "{}", stderr(&o));
    let second: serde_json::Value =
        serde_json::from_slice(&evidence_store.read("reports/n2/summary.json").unwrap()).unwrap();
    assert_eq!(second["previous_run"], "n1");
    let o = env.recon(&["verify", &reports, "--chain"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("ok: {reports}/n2")), "{}", stderr(&o));
    let o = env.recon(&["verify", &format!("{reports}/n1")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // An existing run id is never replaced.
    let o = env.recon(&[
        "run",
        remote_spec.to_str().unwrap(),
        "--out",
        &reports,
        "--run-id",
        "n2",
        "--var",
        "DT=2026-12-06",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));

    // Apply reads a run in the bucket.
    let out = env.path().join("applied.csv");
    let o = env.recon(&[
        "apply",
        &format!("{reports}/n2"),
        "--target",
        "callcenter",
        "--input",
        "exports/customers.csv",
        "--output",
        out.to_str().unwrap(),
        "--spec",
        remote_spec.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(out.exists());

    upload(&evidence_store, "reports/n1/findings.parquet", b"altered".to_vec());
    let o = env.recon(&["verify", &reports, "--chain"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("FAIL: {reports}/n1: findings.parquet")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_run_without_its_manifest_in_the_bucket_is_never_the_previous_run() {
    let Some(ep) = endpoint("RECON_TEST_S3_ENDPOINT") else {
        return;
    };
    let env = Env::new();
    let evidence = bucket("partial");
    create_bucket(&ep, &evidence);
    let spec = copy_demo(env.path());
    let reports = format!("s3://{evidence}/reports");
    let o = env.recon(&["run", spec.to_str().unwrap(), "--out", &reports, "--run-id", "a1"]);
    assert!(code(&o) <= 1, "{}", stderr(&o));
    // An upload that stopped halfway: a later run folder without a manifest.
    let s = store(&evidence);
    upload(
        &s,
        "reports/z9/summary.json",
        s.read("reports/a1/summary.json").unwrap(),
    );
    let o = env.recon(&["run", spec.to_str().unwrap(), "--out", &reports, "--run-id", "b2"]);
    assert!(code(&o) <= 1, "{}", stderr(&o));
    let b2: serde_json::Value = serde_json::from_slice(&s.read("reports/b2/summary.json").unwrap()).unwrap();
    assert_eq!(b2["previous_run"], "a1");
    // Verifying the incomplete folder fails; the chain skips it.
    let o = env.recon(&["verify", &format!("{reports}/z9")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("manifest.json is missing"), "{}", stderr(&o));
    let o = env.recon(&["verify", &reports, "--chain"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn bad_buckets_objects_patterns_endpoints_and_credentials_are_exit_2_naming_the_url() {
    let Some(ep) = endpoint("RECON_TEST_S3_ENDPOINT") else {
        return;
    };
    let env = Env::new();
    let data = bucket("bad");
    create_bucket(&ep, &data);
    let s = store(&data);
    upload(&s, "l.csv", b"id,v\n1,a\n".to_vec());
    upload(&s, "r.csv", b"id,v\n1,a\n".to_vec());
    upload(&s, "broken.csv.gz", b"not gzip at all".to_vec());
    let spec_for = |name: &str, left: &str, storage: &str| {
        let text = spec_keyed_by_id("  [[entity.field]]\n  name = \"v\"\n")
            .replace("path = \"l.csv\"", &format!("path = \"{left}\""))
            .replace("path = \"r.csv\"", &format!("path = \"s3://{data}/r.csv\""));
        env.write(&format!("{name}.toml"), format!("{storage}{text}"))
    };
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "missing bucket",
            "s3://recon-no-such-bucket-x/l.csv".into(),
            "",
            "recon-no-such-bucket-x",
        ),
        ("missing object", format!("s3://{data}/nothing.csv"), "", "nothing.csv"),
        (
            "empty glob",
            format!("s3://{data}/exports/*.csv"),
            "",
            "no file matches",
        ),
        (
            "corrupt gzip",
            format!("s3://{data}/broken.csv.gz"),
            "",
            "broken.csv.gz",
        ),
    ];
    for (what, left, storage, needle) in cases {
        let spec = spec_for(what.replace(' ', "_").as_str(), &left, storage);
        let o = env.recon(&["run", spec.to_str().unwrap(), "--out", "reports"]);
        assert_eq!(code(&o), 2, "{what}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{what}: {}", stderr(&o));
        no_secret(&o);
        assert!(
            !env.path().join("reports").exists() || report_entries(&env).is_empty(),
            "{what}: no run"
        );
    }

    // An unreachable endpoint, retries off: fails fast, names the URL.
    let spec = spec_for(
        "unreachable",
        &format!("s3://{data}/l.csv"),
        "[storage]\nmax_retries = 0\nretry_timeout = \"1s\"\n",
    );
    let o = env.recon_with(
        &["run", spec.to_str().unwrap(), "--out", "reports"],
        &[("AWS_ENDPOINT", "http://127.0.0.1:9")],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("s3://{data}/")), "{}", stderr(&o));
    no_secret(&o);

    // --out to a bucket that does not exist: exit 2, nothing counted as a run.
    let spec = spec_for("good", &format!("s3://{data}/l.csv"), "");
    let o = env.recon(&[
        "run",
        spec.to_str().unwrap(),
        "--out",
        "s3://recon-no-such-bucket-y/reports",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("recon-no-such-bucket-y"), "{}", stderr(&o));
    no_secret(&o);

    // A credential in the spec is refused; one in the environment never shown.
    let spec = spec_for(
        "secret_in_spec",
        &format!("s3://{data}/l.csv"),
        "[storage]\naws_secret_access_key = \"x\"\n",
    );
    let o = env.recon(&["check", spec.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("credential"), "{}", stderr(&o));

    // Wrong credentials: a server that knows no key refuses them.
    if let Some(strict) = endpoint("RECON_TEST_S3_STRICT_ENDPOINT") {
        let o = env.recon_with(
            &[
                "run",
                spec_for("strict", &format!("s3://{data}/l.csv"), "").to_str().unwrap(),
                "--out",
                "reports",
            ],
            &[("AWS_ENDPOINT", strict.as_str()), ("RUST_LOG", "debug")],
        );
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(stderr(&o).contains("access denied"), "{}", stderr(&o));
        assert!(stderr(&o).contains(&format!("s3://{data}/")), "{}", stderr(&o));
        no_secret(&o);
    }
}

/// A proxy to `upstream` that forwards each request on a fresh connection
/// and, like a server stopped halfway, drops the connection of any `PUT`
/// whose path contains `fail_on`, answering nothing. Returns its endpoint.
fn flaky_proxy(upstream: &str, fail_on: &'static str) -> String {
    use std::io::BufRead;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let upstream = upstream.trim_start_matches("http://").to_string();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let upstream = upstream.clone();
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(client.try_clone().unwrap());
                let mut client = client;
                loop {
                    let mut head = Vec::new();
                    let mut length = 0usize;
                    let mut first = String::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if first.is_empty() {
                            first = line.clone();
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if lower.starts_with("connection:") {
                            continue;
                        }
                        if line == "\r\n" {
                            head.extend_from_slice(b"Connection: close\r\n\r\n");
                            break;
                        }
                        head.extend_from_slice(line.as_bytes());
                    }
                    let mut body = vec![0u8; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    if first.starts_with("PUT ") && first.contains(fail_on) {
                        return; // the server "stops": no answer, connection gone
                    }
                    let Ok(mut up) = std::net::TcpStream::connect(&upstream) else {
                        return;
                    };
                    if up.write_all(&head).and_then(|()| up.write_all(&body)).is_err() {
                        return;
                    }
                    let mut response = Vec::new();
                    if up.read_to_end(&mut response).is_err() || client.write_all(&response).is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn an_upload_stopped_before_the_manifest_leaves_no_run_and_a_rerun_succeeds() {
    let Some(ep) = endpoint("RECON_TEST_S3_ENDPOINT") else {
        return;
    };
    let env = Env::new();
    let evidence = bucket("stopped");
    create_bucket(&ep, &evidence);
    let spec = copy_demo(env.path());
    let reports = format!("s3://{evidence}/reports");
    let proxy = flaky_proxy(&ep, "manifest.json");
    let o = env.recon_with(
        &["run", spec.to_str().unwrap(), "--out", &reports, "--run-id", "cut"],
        &[("AWS_ENDPOINT", proxy.as_str()), ("RECON_STORAGE_MAX_RETRIES", "0")],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&format!("{reports}/cut/manifest.json")), "{err}");
    assert!(err.contains("the sealed run folder is kept at"), "{err}");
    no_secret(&o);
    let s = store(&evidence);
    let keys: Vec<String> = s.list("reports/cut").unwrap().into_iter().map(|o| o.key).collect();
    assert!(keys.contains(&"reports/cut/summary.json".to_string()), "{keys:?}");
    assert!(!keys.contains(&"reports/cut/manifest.json".to_string()), "{keys:?}");
    // The rerun succeeds and does not take the incomplete run as its previous one.
    let o = env.recon(&["run", spec.to_str().unwrap(), "--out", &reports, "--run-id", "again"]);
    assert!(code(&o) <= 1, "{}", stderr(&o));
    let again: serde_json::Value = serde_json::from_slice(&s.read("reports/again/summary.json").unwrap()).unwrap();
    assert!(again["previous_run"].is_null(), "{again}");
    let o = env.recon(&["verify", &reports, "--chain"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn runs_into_one_bucket_prefix_take_turns_and_never_fork_the_chain() {
    let Some(ep) = endpoint("RECON_TEST_S3_ENDPOINT") else {
        return;
    };
    let env = Env::new();
    let evidence = bucket("lease");
    create_bucket(&ep, &evidence);
    let spec = copy_demo(env.path());
    let reports = format!("s3://{evidence}/reports");
    let s = store(&evidence);
    // Two runs started together, as a scheduler's retry and a manual run.
    let start = |id: &str| {
        env.command(&["run", spec.to_str().unwrap(), "--out", &reports, "--run-id", id])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Keys exist before the race (the first run would create them).
    let o = env.recon(&["keygen"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (a, b) = (start("a"), start("b"));
    for o in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
        assert!(code(&o) <= 1, "{}", stderr(&o));
    }
    let prev = |id: &str| -> serde_json::Value {
        serde_json::from_slice::<serde_json::Value>(&s.read(&format!("reports/{id}/summary.json")).unwrap()).unwrap()
            ["previous_run"]
            .clone()
    };
    let links = [prev("a"), prev("b")];
    assert!(
        links == [serde_json::Value::Null, "a".into()] || links == ["b".into(), serde_json::Value::Null],
        "one run chains to the other: {links:?}"
    );
    assert!(lease_released(&s), "the lease is released");
    let o = env.recon(&["verify", &reports, "--chain"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // A live lease held elsewhere: --wait 0 gives up at once, naming the holder.
    let later = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    let live = format!(r#"{{"pid": 4242, "host": "batch-7", "since": "x", "expires_at": "{later}"}}"#);
    upload(&s, "reports/.recon.lock", live.into_bytes());
    let o = env.recon(&[
        "run",
        spec.to_str().unwrap(),
        "--out",
        &reports,
        "--run-id",
        "c",
        "--wait",
        "0",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("locked by another run (pid 4242 on batch-7"),
        "{}",
        stderr(&o)
    );
    assert!(s.list("reports/c").unwrap().is_empty(), "nothing of the refused run");
    // The same lease, expired: its holder is gone, the run takes it over.
    let earlier = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let stale = format!(r#"{{"pid": 4242, "host": "batch-7", "since": "x", "expires_at": "{earlier}"}}"#);
    upload(&s, "reports/.recon.lock", stale.into_bytes());
    let o = env.recon(&[
        "run",
        spec.to_str().unwrap(),
        "--out",
        &reports,
        "--run-id",
        "c",
        "--wait",
        "0",
    ]);
    assert!(code(&o) <= 1, "{}", stderr(&o));
    assert!(lease_released(&s), "the lease is released");
}
