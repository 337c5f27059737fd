//! `recon verify RUN_DIR [--pubkey FILE] [--chain]`: recompute every hash,
//! check both signatures and, with `--chain`, the links between runs.

use std::path::Path;

use crate::cli::VerifyArgs;
use crate::error::{Error, Result};
use crate::evidence;
use crate::exit::ExitCode;
use crate::keys::trusted_public_key;

pub fn execute(args: &VerifyArgs) -> Result<ExitCode> {
    let (pk, pub_path) = trusted_public_key(args.pubkey.as_deref())?;
    eprintln!("trusting key id {} from {}", pk.key_id_hex(), pub_path.display());
    let reports = if args.chain {
        let dir = args.run_dir.canonicalize().map_err(|e| Error::io(&args.run_dir, e))?;
        let parent = if dir.join(evidence::MANIFEST).exists() {
            dir.parent().map(Path::to_path_buf).unwrap_or(dir)
        } else {
            dir
        };
        evidence::verify_chain(&parent, &pk)?
    } else if !args.run_dir.join(evidence::MANIFEST).exists() && args.run_dir.join("summary.json").exists() {
        // A run folder whose manifest is gone is invalid evidence, not a usage error.
        eprintln!("FAIL: {}: {} is missing", args.run_dir.display(), evidence::MANIFEST);
        return Ok(ExitCode::Failed);
    } else {
        vec![evidence::verify_run(&args.run_dir, &pk)?]
    };
    let mut ok = true;
    for r in &reports {
        if r.ok() {
            eprintln!("ok: {} ({} files)", r.run_dir.display(), r.checked_files);
        } else {
            ok = false;
            for p in &r.problems {
                eprintln!("FAIL: {}: {}", r.run_dir.display(), p.what);
            }
        }
    }
    Ok(if ok { ExitCode::Ok } else { ExitCode::Failed })
}
