//! `recon apply RUN_DIR --target SIDE --input FILE --output FILE`: apply a
//! sealed run's repair instructions to a snapshot file of one target system.

use crate::cli::ApplyArgs;
use crate::error::Result;
use crate::exit::ExitCode;
use crate::keys::KeyRing;
use crate::repair::apply::{apply, ApplyOptions, ApplyResult};

pub fn execute(args: &ApplyArgs) -> Result<ExitCode> {
    let opts = ApplyOptions {
        run_dir: args.run_dir.clone(),
        target: args.target.clone(),
        input: args.input.clone(),
        output: args.output.clone(),
        pubkey: args.pubkey.clone(),
        spec: args.spec.clone(),
        entity: args.entity.clone(),
        keys: KeyRing::new(None),
    };
    match apply(&opts)? {
        ApplyResult::Refused(problems) => {
            for p in &problems {
                eprintln!("FAIL: {}: {p}", args.run_dir.display());
            }
            eprintln!(
                "error: refusing to apply: the evidence of {} does not verify; nothing was written",
                args.run_dir.display()
            );
            Ok(ExitCode::Failed)
        }
        ApplyResult::Done(r) => {
            for s in &r.skipped {
                eprintln!("skipped {}: {}: {}", s.repair_id, s.what, s.reason);
            }
            eprintln!(
                "apply {} → {}: {} inserted, {} updated, {} deleted, {} already applied, {} skipped, {} review left for a person; wrote {}",
                r.entity,
                r.target,
                r.inserted,
                r.updated,
                r.deleted,
                r.already,
                r.skipped.len(),
                r.review,
                args.output.display()
            );
            Ok(ExitCode::Ok)
        }
    }
}
