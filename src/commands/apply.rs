//! `recon apply RUN_DIR --target SIDE --input FILE --output FILE`: apply a
//! sealed run's repair instructions to a snapshot file of one target system.
//!
//! Exit codes: 0 when every instruction for the target was applied, already
//! applied or is a review left for a person; 1 when any was skipped (the
//! output is still written with what could be applied) or the run's evidence
//! does not verify (nothing written); 2 for usage or input errors. The JSON
//! report goes to `--report FILE`, default `<output>.apply.json`.

use std::path::PathBuf;

use crate::cli::ApplyArgs;
use crate::error::Result;
use crate::exit::ExitCode;
use crate::keys::KeyRing;
use crate::repair::apply::{apply, ApplyOptions, ApplyResult};

pub fn execute(args: &ApplyArgs) -> Result<ExitCode> {
    // A run in a bucket is downloaded and applied from a local copy (its
    // evidence is verified there, as a local run's is).
    let (_staging, run_dir) = crate::publish::local_run(&args.run_dir)?;
    let opts = ApplyOptions {
        run_dir,
        target: args.target.clone(),
        input: args.input.clone(),
        output: args.output.clone(),
        pubkey: args.pubkey.clone(),
        spec: args.spec.clone(),
        entity: args.entity.clone(),
        keys: KeyRing::new(None),
    };
    match apply(&opts)? {
        ApplyResult::Refused(problems) => Ok(super::refused(&args.run_dir, &problems, "apply")),
        ApplyResult::Done(r) => {
            let report = args.report.clone().unwrap_or_else(|| default_report(&args.output));
            r.write_json(&report, &args.run_dir, &args.input, &args.output)?;
            for s in &r.skipped {
                eprintln!("skipped {}: {}: {}", s.repair_id, s.what, s.reason);
            }
            eprintln!(
                "apply {} → {}: {} inserted, {} updated, {} deleted, {} already applied, {} skipped, {} review left for a person; wrote {} (report {})",
                r.entity,
                r.target,
                r.inserted,
                r.updated,
                r.deleted,
                r.already,
                r.skipped.len(),
                r.review,
                args.output.display(),
                report.display()
            );
            Ok(if r.skipped.is_empty() {
                ExitCode::Ok
            } else {
                ExitCode::Failed
            })
        }
    }
}

/// `<output>.apply.json` beside the output.
fn default_report(output: &std::path::Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".apply.json");
    PathBuf::from(name)
}
