//! `recon run SPEC`: reconcile and write a signed run folder.

use std::io::IsTerminal;

use crate::cli::{OutputFormat, RunArgs};
use crate::error::Result;
use crate::exit::ExitCode;
use crate::keys::KeyRing;
use crate::report::human_summary;
use crate::run::{execute as run, RunOptions};

pub fn execute(args: &RunArgs, progress: bool) -> Result<ExitCode> {
    let spinner =
        (progress && std::io::stderr().is_terminal() && std::env::var_os("NO_PROGRESS").is_none()).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_message(format!("reconciling {}", args.spec.display()));
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
    let params = args.paths.params()?;
    // A run bound for a bucket is built and sealed in a local folder that
    // mirrors what it needs of the bucket, then uploaded (`publish`).
    let out_url = args.out.to_string_lossy().to_string();
    let remote = if crate::storage::is_url(&out_url) {
        let spec = crate::spec::load_with(&args.spec, &params)?;
        let runs = crate::publish::RemoteRuns::open(&out_url, &spec.storage)?;
        if let Some(id) = &args.run_id {
            if runs.runs()?.iter().any(|r| &r.id == id) {
                return Err(crate::error::Error::usage(
                    format!("run {} already exists", runs.url(id)),
                    Some("choose another --run-id; existing runs are evidence and are never overwritten".into()),
                ));
            }
        }
        // Held from choosing the previous run to uploading the manifest.
        let lease = runs.lease(args.wait)?;
        let staging = crate::publish::staging_folder(args.work_dir.as_deref())?;
        runs.mirror_history(staging.path())?;
        Some((runs, staging, lease))
    } else {
        None
    };
    let prev = match (&args.prev, &remote) {
        (Some(p), Some((_, staging, _))) if crate::storage::is_url(&p.to_string_lossy()) => Some(
            crate::publish::fetch_run(&p.to_string_lossy(), &staging.path().join(".prev"))?,
        ),
        (Some(p), None) if crate::storage::is_url(&p.to_string_lossy()) => {
            return Err(crate::error::Error::usage(
                "--prev URL needs --out URL (a run in a bucket chains to runs in a bucket)",
                None,
            ))
        }
        _ => args.prev.clone(),
    };
    let opts = RunOptions {
        spec: args.spec.clone(),
        out: match &remote {
            Some((_, staging, _)) => staging.path().to_path_buf(),
            None => args.out.clone(),
        },
        run_id: args.run_id.clone(),
        prev,
        keys: KeyRing::new(args.key.clone()).creating(args.create_keys),
        repairs_format: args.repairs_format,
        memory_limit: args.memory_limit,
        buckets: args.buckets.map(|n| n as usize),
        work_dir: args.work_dir.clone(),
        wait: args.wait,
        params,
        report_findings: args.report_findings,
    };
    let outcome = run(&opts);
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    for note in opts.keys.notes() {
        eprintln!("note: {note}");
    }
    let outcome = outcome?;
    let shown = match remote {
        None => outcome.folder.display().to_string(),
        Some((runs, staging, lease)) => match lease
            .check()
            .and_then(|()| runs.upload_run(&outcome.folder, &outcome.summary.run_id, &|| lease.renew_now()))
        {
            Ok(url) => url,
            Err(e) => {
                // The sealed run is not lost: say where it is.
                let kept = staging.keep();
                eprintln!(
                    "error: uploading the run failed; the sealed run folder is kept at {}",
                    kept.join(&outcome.summary.run_id).display()
                );
                return Err(e);
            }
        },
    };
    eprint!("{}", human_summary(&outcome.summary, &shown));
    // Only when there is something to repair (no authority: no instructions).
    let total: usize = outcome.repairs.values().sum();
    if total > 0 {
        let parts: Vec<String> = outcome.repairs.iter().map(|(a, n)| format!("{n} {a}")).collect();
        eprintln!(
            "  repairs: {total} instruction(s) in {} ({})",
            outcome.repairs_files.join(" and "),
            parts.join(", ")
        );
    }
    notify(&outcome, &shown);
    if args.format == OutputFormat::Json {
        print!("{}", outcome.summary_json);
    }
    Ok(outcome.exit)
}

/// Tells the spec's webhooks; a failure is reported here and changes
/// neither the run folder nor the exit code.
fn notify(outcome: &crate::run::RunOutcome, location: &str) {
    if outcome.webhooks.is_empty() {
        return;
    }
    let Ok(summary) = serde_json::from_str::<serde_json::Value>(&outcome.summary_json) else {
        return;
    };
    for d in crate::notify::send(&outcome.webhooks, &summary, location) {
        match &d.error {
            None => eprintln!("  notified {} ({} attempt(s))", d.target, d.attempts),
            Some(e) => eprintln!(
                "warning: notifying {} failed after {} attempt(s): {e} (the run and its exit code are unchanged)",
                d.target, d.attempts
            ),
        }
    }
}
