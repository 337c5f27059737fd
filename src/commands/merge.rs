//! `recon merge --run-id ID --out OUT`: seal the parts of a sharded run
//! into one run folder (in a bucket: parts downloaded, the run built in a
//! local folder, then uploaded as `run` uploads one).

use crate::cli::MergeArgs;
use crate::error::Result;
use crate::exit::ExitCode;
use crate::keys::KeyRing;
use crate::run::{merge_shards, part, MergeOptions};

/// How often a waiting merge looks at the parts again.
const POLL: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits until `look` says every shard is done or `limit` passed (then
/// the merge goes on and names what is missing).
fn await_shards(limit: std::time::Duration, look: &dyn Fn() -> Result<bool>) -> Result<()> {
    let until = std::time::Instant::now() + limit;
    while !look()? {
        let now = std::time::Instant::now();
        if now >= until {
            break;
        }
        std::thread::sleep(POLL.min(until - now));
    }
    Ok(())
}

pub fn execute(args: &MergeArgs) -> Result<ExitCode> {
    let out_url = args.out.to_string_lossy().to_string();
    let keys = KeyRing::new(args.key.clone());
    if !crate::storage::is_url(&out_url) {
        let root = args.out.join(part::SHARDS_DIR).join(&args.run_id);
        await_shards(args.await_shards, &|| {
            let (done, count) = part::progress(&root)?;
            Ok(part::all_done(&done, count))
        })?;
        let opts = MergeOptions {
            out: args.out.clone(),
            run_id: args.run_id.clone(),
            parts: None,
            prev: args.prev.clone(),
            keys,
            repairs_format: args.repairs_format,
            wait: args.wait,
            report_findings: args.report_findings,
        };
        let outcome = merge_shards(&opts)?;
        let shown = outcome.folder.display().to_string();
        return Ok(super::run::tell(&outcome, &shown, args.format));
    }
    // The spec travels inside the parts: storage settings come from the environment.
    let runs = crate::publish::RemoteRuns::open(&out_url, &crate::publish::env_settings()?)?;
    if runs.runs()?.iter().any(|r| r.id == args.run_id) {
        return Err(crate::error::Error::usage(
            format!("run {} already exists", runs.url(&args.run_id)),
            Some("a run is merged once; existing runs are evidence and are never overwritten".into()),
        ));
    }
    // Held from choosing the previous run to uploading the manifest.
    let lease = runs.lease(args.wait)?;
    let staging = crate::publish::staging_folder(args.work_dir.as_deref())?;
    runs.mirror_history(staging.path())?;
    let relative = format!("{}/{}", part::SHARDS_DIR, args.run_id);
    let parts = staging.path().join(part::SHARDS_DIR).join(&args.run_id);
    // Markers are small: they are read until every shard has one, then the parts.
    await_shards(args.await_shards, &|| {
        runs.fetch_folder_files(&relative, part::DONE_FILE, &parts)?;
        let (done, count) = part::progress(&parts)?;
        Ok(part::all_done(&done, count))
    })?;
    runs.fetch_folder(&relative, &parts)?;
    let prev = match &args.prev {
        Some(p) if crate::storage::is_url(&p.to_string_lossy()) => Some(crate::publish::fetch_run(
            &p.to_string_lossy(),
            &staging.path().join(".prev"),
        )?),
        other => other.clone(),
    };
    let opts = MergeOptions {
        out: staging.path().to_path_buf(),
        run_id: args.run_id.clone(),
        parts: Some(parts),
        prev,
        keys,
        repairs_format: args.repairs_format,
        wait: args.wait,
        report_findings: args.report_findings,
    };
    let outcome = merge_shards(&opts)?;
    let uploaded = lease
        .check()
        .and_then(|()| runs.upload_run(&outcome.folder, &outcome.summary.run_id, &|| lease.renew_now()));
    let url = match uploaded {
        Ok(url) => url,
        Err(e) => {
            let kept = staging.keep();
            eprintln!(
                "error: uploading the merged run failed; the sealed run folder is kept at {}",
                kept.join(&outcome.summary.run_id).display()
            );
            return Err(e);
        }
    };
    // The run is uploaded whole: its parts are spent.
    if let Err(e) = runs.delete_folder(&relative) {
        eprintln!("warning: the parts under {} were not removed: {e}", runs.url(&relative));
    }
    Ok(super::run::tell(&outcome, &url, args.format))
}
