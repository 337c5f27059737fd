//! Running nightly: one run at a time per reports folder (`OUT/.recon.lock`),
//! so overlapping runs never fork the evidence chain, and a lock left by a
//! killed run is taken over.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{code, copy_demo, report_entries, stderr, Env};

/// `recon run SPEC --out <reports> --run-id ID --wait WAIT`, started and not waited for.
fn spawn_run(env: &Env, spec: &Path, run_id: &str, wait: &str) -> Child {
    let reports = env.reports();
    env.command(&["run", spec.to_str().unwrap(), "--out", reports.to_str().unwrap()])
        .args(["--run-id", run_id, "--wait", wait])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start recon")
}

/// Waits for `child`, failing the test after `limit`.
fn finish(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("recon did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Takes the reports folder's lock the way `recon run` does (`flock`) and
/// names a holder in it.
fn hold_lock(reports: &Path, holder: &str) -> File {
    std::fs::create_dir_all(reports).unwrap();
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(reports.join(".recon.lock"))
        .unwrap();
    // SAFETY: a valid open descriptor.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(rc, 0, "the test could not take the lock");
    file.write_all(holder.as_bytes()).unwrap();
    file
}

fn previous_run(run: &Path) -> Option<String> {
    let text = std::fs::read_to_string(run.join("summary.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["previous_run"].as_str().map(String::from)
}

fn assert_chain_verifies(env: &Env, newest: &str) {
    let newest = env.reports().join(newest);
    let out = env.recon(&["verify", newest.to_str().unwrap(), "--chain"]);
    assert_eq!(code(&out), 0, "verify --chain: {}", stderr(&out));
}

/// Issue 32: two runs into one OUT started 1.2 s apart both linked to the
/// same previous run and forked the chain for good.
#[test]
fn overlapping_runs_wait_their_turn_and_keep_one_chain() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    // The first run also creates the keys, before any overlap.
    let first = env.run(&spec, "n1");
    let ran = code(&first);
    assert!(ran == 0 || ran == 1, "{}", stderr(&first));

    let held = hold_lock(
        &env.reports(),
        r#"{"pid":4242,"host":"test-host","run_id":"held-by-test","since":"2026-01-01T02:00:00Z"}"#,
    );
    let second = spawn_run(&env, &spec, "n2", "60s");
    let third = spawn_run(&env, &spec, "n3", "60s");

    let refused = env.run_in(&spec, &env.reports(), "n4", &["--wait", "0"]);
    let message = stderr(&refused);
    assert_eq!(code(&refused), 2, "{message}");
    for part in ["held-by-test", "4242", "test-host", "2026-01-01T02:00:00Z", "--wait"] {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }

    std::thread::sleep(Duration::from_millis(500));
    let mut waiting = [second, third];
    for child in &mut waiting {
        assert!(child.try_wait().unwrap().is_none(), "a run went ahead without the lock");
    }
    assert!(!env.reports().join("n2").exists() && !env.reports().join("n3").exists());
    drop(held);

    for child in waiting {
        let out = finish(child, Duration::from_secs(120));
        assert_eq!(code(&out), ran, "{}", stderr(&out));
    }
    // One of them went first and linked to n1; the other linked to it.
    let links = (
        previous_run(&env.reports().join("n2")),
        previous_run(&env.reports().join("n3")),
    );
    let newest = match links {
        (Some(a), Some(b)) if a == "n1" && b == "n2" => "n3",
        (Some(a), Some(b)) if a == "n3" && b == "n1" => "n2",
        other => panic!("the chain forked: previous runs of n2 and n3 are {other:?}"),
    };
    assert_chain_verifies(&env, newest);
    let mut entries = report_entries(&env);
    entries.sort();
    assert_eq!(entries, ["n1", "n2", "n3"]);
}

/// Two runs started at the same instant, with no help from the test.
#[test]
fn simultaneous_runs_never_fork_the_chain() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let first = env.run(&spec, "a0");
    assert!(matches!(code(&first), 0 | 1), "{}", stderr(&first));
    let runs: Vec<Child> = ["a1", "a2", "a3"]
        .iter()
        .map(|id| spawn_run(&env, &spec, id, "2m"))
        .collect();
    for child in runs {
        let out = finish(child, Duration::from_secs(180));
        assert!(matches!(code(&out), 0 | 1), "{}", stderr(&out));
    }
    let mut previous: Vec<String> = ["a1", "a2", "a3"]
        .iter()
        .map(|id| previous_run(&env.reports().join(id)).unwrap())
        .collect();
    previous.sort();
    previous.dedup();
    assert_eq!(
        previous.len(),
        3,
        "two runs linked to the same previous run: {previous:?}"
    );
    let newest = ["a1", "a2", "a3"]
        .into_iter()
        .find(|id| !previous.iter().any(|p| p == id))
        .unwrap();
    assert_chain_verifies(&env, newest);
}

/// A run SIGKILLed while it held the lock: the OS released the lock, the
/// next run takes it over, names itself in the lock file and sweeps the
/// killed run's temporary folder.
#[test]
fn lock_of_a_sigkilled_run_is_taken_over() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let first = env.run(&spec, "k0");
    assert!(matches!(code(&first), 0 | 1), "{}", stderr(&first));
    // A larger pair, so the run holds the lock long enough to be killed.
    let generated = env.recon(&["generate", "--out", "fixtures", "--customers", "3000"]);
    assert_eq!(code(&generated), 0, "{}", stderr(&generated));

    let lock_file = env.reports().join(".recon.lock");
    let mut victim = spawn_run(&env, &spec, "k1", "0");
    let pid = format!("\"pid\":{}", victim.id());
    // Killed once it holds the lock and has marked its temporary folder
    // (an unmarked leftover is, by design, never swept).
    let owner = env.reports().join(format!(".tmp-k1-{}.owner", victim.id()));
    let id = victim.id().to_string();
    let marked = || {
        std::fs::read_to_string(&lock_file).unwrap_or_default().contains(&pid)
            && std::fs::read_to_string(&owner).is_ok_and(|o| o.trim_end().ends_with(&format!(" {id}")))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !marked() {
        assert!(
            victim.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(Instant::now() < deadline, "the run never took the lock");
        std::thread::sleep(Duration::from_millis(2));
    }
    // SAFETY: signalling our own child, which has not been reaped yet.
    assert_eq!(unsafe { libc::kill(victim.id() as i32, libc::SIGKILL) }, 0);
    let status = victim.wait().unwrap();
    assert_eq!(status.code(), None, "the run was not killed: {status:?}");
    assert!(!env.reports().join("k1").exists());
    assert!(std::fs::read_to_string(&lock_file)
        .unwrap()
        .contains("\"run_id\":\"k1\""));

    let next = env.run_in(&spec, &env.reports(), "k2", &["--wait", "0"]);
    assert!(matches!(code(&next), 0 | 1), "{}", stderr(&next));
    let holder = std::fs::read_to_string(&lock_file).unwrap();
    assert!(
        holder.contains("\"run_id\":\"k2\"") && !holder.contains(&pid),
        "{holder}"
    );
    assert_eq!(previous_run(&env.reports().join("k2")).as_deref(), Some("k0"));
    assert_chain_verifies(&env, "k2");
    let mut entries = report_entries(&env);
    entries.sort();
    assert_eq!(entries, ["k0", "k2"]);
}

/// A lock file naming a process that is gone, with no OS lock held (as
/// after a crash, a reboot or a copied folder): only informational.
#[test]
fn lock_file_naming_a_dead_process_does_not_block() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    std::fs::create_dir_all(env.reports()).unwrap();
    std::fs::write(
        env.reports().join(".recon.lock"),
        format!(r#"{{"pid":{dead},"host":"elsewhere","run_id":"crashed","since":"2026-01-01T02:00:00Z"}}"#),
    )
    .unwrap();
    let out = env.run_in(&spec, &env.reports(), "r1", &["--wait", "0"]);
    assert!(matches!(code(&out), 0 | 1), "{}", stderr(&out));
    let holder = std::fs::read_to_string(env.reports().join(".recon.lock")).unwrap();
    assert!(
        holder.contains("\"run_id\":\"r1\"") && !holder.contains("crashed"),
        "{holder}"
    );
    // The lock file is not a run: the next run links to r1 and the chain verifies.
    let again = env.run_in(&spec, &env.reports(), "r2", &["--wait", "0"]);
    assert!(matches!(code(&again), 0 | 1), "{}", stderr(&again));
    assert_eq!(previous_run(&env.reports().join("r2")).as_deref(), Some("r1"));
    assert_chain_verifies(&env, "r2");
}
