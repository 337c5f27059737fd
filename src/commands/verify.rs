//! `recon verify RUN_DIR [--pubkey FILE | --trusted-keys FILE] [--chain]
//! [--latest RUN_ID]`: recompute every hash, check both signatures and, with
//! `--chain`, the links between runs.

use std::path::Path;

use crate::cli::VerifyArgs;
use crate::error::{Error, Result};
use crate::evidence;
use crate::exit::ExitCode;
use crate::keys::trusted_public_key;

pub fn execute(args: &VerifyArgs) -> Result<ExitCode> {
    let keys = match &args.trusted_keys {
        Some(file) => {
            let keys = evidence::TrustedKeys::read_file(file)?;
            eprintln!("trusting key ids {} from {}", keys.ids().join(", "), file.display());
            keys
        }
        None => {
            let (pk, pub_path) = trusted_public_key(args.pubkey.as_deref())?;
            eprintln!("trusting key id {} from {}", pk.key_id_hex(), pub_path.display());
            evidence::TrustedKeys::single(pk)
        }
    };
    let pk = &keys;
    let url = args.run_dir.to_string_lossy().to_string();
    if crate::storage::is_url(&url) {
        return verify_remote(args, &url, pk);
    }
    let reports = if args.chain {
        let dir = args.run_dir.canonicalize().map_err(|e| Error::io(&args.run_dir, e))?;
        let parent = if dir.join(evidence::MANIFEST).exists() {
            dir.parent().map(Path::to_path_buf).unwrap_or(dir)
        } else {
            dir
        };
        evidence::verify_chain_trusting(&parent, pk)?
    } else if !args.run_dir.join(evidence::MANIFEST).exists() && args.run_dir.join("summary.json").exists() {
        // A run folder whose manifest is gone is invalid evidence, not a usage error.
        eprintln!("FAIL: {}: {} is missing", args.run_dir.display(), evidence::MANIFEST);
        return Ok(ExitCode::Failed);
    } else {
        vec![evidence::verify_run_trusting(&args.run_dir, pk)?]
    };
    let ok = print(&reports, |dir| dir.display().to_string());
    Ok(latest_is(args, &reports, ok))
}

/// With `--latest ID`: the newest run of the chain must be `ID`, else a
/// newer run was removed (the chain alone cannot tell).
fn latest_is(args: &VerifyArgs, reports: &[evidence::Report], ok: ExitCode) -> ExitCode {
    let Some(want) = &args.latest else { return ok };
    let newest = reports
        .iter()
        .rev()
        .find(|r| r.run_dir.join(evidence::MANIFEST).exists())
        .and_then(|r| r.run_dir.file_name())
        .map(|n| n.to_string_lossy().to_string());
    if newest.as_deref() == Some(want.as_str()) {
        return ok;
    }
    eprintln!(
        "FAIL: the newest run is {}, not {want}: a newer run was removed, or --latest names a run of another chain",
        newest.as_deref().unwrap_or("(none)")
    );
    ExitCode::Failed
}

/// Verifies a run folder (or, with `--chain`, every complete run) in a
/// bucket from a local copy; messages name the URLs.
fn verify_remote(args: &VerifyArgs, url: &str, pk: &evidence::TrustedKeys) -> Result<ExitCode> {
    let staging = crate::publish::staging_folder(None)?;
    let local = staging.path();
    let (reports, base) = if args.chain {
        let base = crate::publish::fetch_chain(url, local)?;
        (evidence::verify_chain_trusting(local, pk)?, base)
    } else {
        let dir = crate::publish::fetch_run(url, local)?;
        let (base, _) = crate::publish::split_run_url(url)?;
        if !dir.join(evidence::MANIFEST).exists() {
            eprintln!(
                "FAIL: {url}: {} is missing (the upload never completed)",
                evidence::MANIFEST
            );
            return Ok(ExitCode::Failed);
        }
        (vec![evidence::verify_run_trusting(&dir, pk)?], base)
    };
    let shown = |dir: &Path| match dir.strip_prefix(local) {
        Ok(rel) => format!("{}/{}", base.trim_end_matches('/'), rel.to_string_lossy()),
        Err(_) => dir.display().to_string(),
    };
    let ok = print(&reports, shown);
    Ok(latest_is(args, &reports, ok))
}

fn print(reports: &[evidence::Report], shown: impl Fn(&Path) -> String) -> ExitCode {
    if !reports.iter().any(|r| r.run_dir.join(evidence::MANIFEST).exists()) {
        // Nothing to vouch for is not evidence that verified.
        eprintln!("FAIL: no sealed run folder to verify");
        return ExitCode::Failed;
    }
    let mut ok = true;
    for r in reports {
        if r.ok() {
            eprintln!("ok: {} ({} files)", shown(&r.run_dir), r.checked_files);
        } else {
            ok = false;
            for p in &r.problems {
                eprintln!("FAIL: {}: {}", shown(&r.run_dir), p.what);
            }
        }
    }
    if ok {
        ExitCode::Ok
    } else {
        ExitCode::Failed
    }
}
