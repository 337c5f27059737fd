//! `recon run SPEC`: reconcile and write a signed run folder.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::cli::{OutputFormat, RunArgs};
use crate::error::Result;
use crate::exit::ExitCode;
use crate::keys::KeyRing;
use crate::report::human_summary;
use crate::run::{execute as run, RunOptions};

pub fn execute(args: &RunArgs, progress: bool) -> Result<ExitCode> {
    if let Some(shard) = args.shard {
        return run_shard(args, shard);
    }
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
    let staging = remote.as_ref().map(|(_, staging, _)| staging.path());
    let prev = previous(args, staging)?;
    let out = staging.map_or_else(|| args.out.clone(), Path::to_path_buf);
    let opts = options(args, out, args.run_id.clone(), prev, params);
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
    Ok(tell(&outcome, &shown, args.format))
}

/// What a sealed run says on stderr (and stdout with `--format json`),
/// and its webhooks; returns its exit code.
pub(super) fn tell(outcome: &crate::run::RunOutcome, shown: &str, format: OutputFormat) -> ExitCode {
    eprint!("{}", human_summary(&outcome.summary, shown));
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
    notify(outcome, shown);
    if format == OutputFormat::Json {
        print!("{}", outcome.summary_json);
    }
    outcome.exit
}

/// `--prev` as a folder: a run in a bucket is fetched into the staging
/// folder of a run bound for a bucket (and refused for a local one).
fn previous(args: &RunArgs, staging: Option<&Path>) -> Result<Option<PathBuf>> {
    let Some(p) = &args.prev else { return Ok(None) };
    let text = p.to_string_lossy();
    match (crate::storage::is_url(&text), staging) {
        (true, Some(staging)) => Ok(Some(crate::publish::fetch_run(&text, &staging.join(".prev"))?)),
        (true, None) => Err(crate::error::Error::usage(
            "--prev URL needs --out URL (a run in a bucket chains to runs in a bucket)",
            None,
        )),
        (false, _) => Ok(Some(p.clone())),
    }
}

/// The run's options from its arguments, writing into `out`.
fn options(
    args: &RunArgs,
    out: PathBuf,
    run_id: Option<String>,
    prev: Option<PathBuf>,
    params: crate::spec::Params,
) -> RunOptions {
    RunOptions {
        spec: args.spec.clone(),
        out,
        run_id,
        prev,
        keys: KeyRing::new(args.key.clone()).creating(args.create_keys),
        repairs_format: args.repairs_format,
        memory_limit: args.memory_limit,
        buckets: args.buckets.map(|n| n as usize),
        work_dir: args.work_dir.clone(),
        wait: args.wait,
        params,
        report_findings: args.report_findings,
    }
}

/// The environment variables batch engines give each task of an array.
pub const SHARD_INDEX_VARS: [&str; 2] = ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"];

/// The shard this process runs: `I/N` as given, or for `auto/N` the
/// index from --shard-index or the batch engine's environment.
fn shard_of(arg: crate::cli::ShardArg, index: Option<usize>) -> Result<crate::run::Shard> {
    let index = match (arg.index, index) {
        (Some(i), None) => i,
        (Some(i), Some(j)) if i == j => i,
        (Some(i), Some(j)) => {
            return Err(crate::error::Error::usage(
                format!("--shard {i}/{} and --shard-index {j} disagree", arg.count),
                None,
            ))
        }
        (None, Some(j)) => j,
        (None, None) => {
            let found = SHARD_INDEX_VARS
                .iter()
                .find_map(|v| std::env::var(v).ok().map(|text| (*v, text)));
            let Some((var, text)) = found else {
                return Err(crate::error::Error::usage(
                    format!("--shard auto/{} found no shard index", arg.count),
                    Some(format!(
                        "give --shard-index I, or run where {} is set",
                        SHARD_INDEX_VARS.join(" or ")
                    )),
                ));
            };
            text.trim()
                .parse()
                .map_err(|_| crate::error::Error::usage(format!("{var}=`{text}` is not a shard index"), None))?
        }
    };
    if index >= arg.count {
        return Err(crate::error::Error::usage(
            format!("shard index {index} is not below the shard count {}", arg.count),
            None,
        ));
    }
    Ok(crate::run::Shard {
        index,
        count: arg.count,
    })
}

/// `run --shard`: reconcile one shard and write its part next to the runs
/// (a bucket's part is built locally, then uploaded, its marker last).
fn run_shard(args: &RunArgs, arg: crate::cli::ShardArg) -> Result<ExitCode> {
    use crate::run::part;
    let shard = shard_of(arg, args.shard_index)?;
    let run_id = args.run_id.clone().unwrap_or_default();
    let params = args.paths.params()?;
    let out_url = args.out.to_string_lossy().to_string();
    let remote = if crate::storage::is_url(&out_url) {
        let spec = crate::spec::load_with(&args.spec, &params)?;
        let runs = crate::publish::RemoteRuns::open(&out_url, &spec.storage)?;
        if runs.runs()?.iter().any(|r| r.id == run_id) {
            return Err(crate::error::Error::usage(
                format!("run {} already exists", runs.url(&run_id)),
                Some("a shard belongs to a run not yet merged; choose another --run-id".into()),
            ));
        }
        let staging = crate::publish::staging_folder(args.work_dir.as_deref())?;
        runs.mirror_history(staging.path())?;
        Some((runs, staging))
    } else {
        if args.out.join(&run_id).exists() {
            return Err(crate::error::Error::usage(
                format!("run {} already exists", args.out.join(&run_id).display()),
                Some("a shard belongs to a run not yet merged; choose another --run-id".into()),
            ));
        }
        None
    };
    let staging = remote.as_ref().map(|(_, staging)| staging.path());
    let prev = previous(args, staging)?;
    let out = staging.map_or_else(|| args.out.clone(), Path::to_path_buf);
    let opts = options(args, out.clone(), Some(run_id.clone()), prev, params);
    let dir = part::part_dir(&out, &run_id, shard.index);
    let outcome = crate::run::execute_shard(&opts, shard, &dir);
    for note in opts.keys.notes() {
        eprintln!("note: {note}");
    }
    let outcome = outcome?;
    let shown = match &remote {
        None => dir.display().to_string(),
        Some((runs, _)) => {
            let relative = format!("{}/{run_id}/{}", part::SHARDS_DIR, shard.index);
            runs.replace_folder(&dir, &relative, part::DONE_FILE)?
        }
    };
    eprintln!(
        "shard {}/{} of run {run_id}: {} of {} buckets reconciled in {:.1} s; part written to {shown}",
        shard.index,
        shard.count,
        outcome.own_buckets,
        outcome.buckets.iter().sum::<usize>(),
        outcome.done.seconds
    );
    eprintln!(
        "  merge once every shard is done: recon merge --run-id {run_id} --out {}",
        args.out.display()
    );
    Ok(ExitCode::Ok)
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
