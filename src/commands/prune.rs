//! `recon prune --out DIR (--keep N | --keep-days D)`: remove old runs,
//! leaving a signed checkpoint so `verify --chain` still passes across the
//! gap. Exit 0 when pruned (or nothing to prune), 1 when the chain does not
//! verify (nothing removed), 2 for usage errors.

use crate::cli::PruneArgs;
use crate::error::Result;
use crate::exit::ExitCode;
use crate::keys::KeyRing;
use crate::retention::{prune, Keep, Pruned};

pub fn execute(args: &PruneArgs) -> Result<ExitCode> {
    let keep = match (args.keep, args.keep_days) {
        (Some(n), _) => Keep::Newest(n as usize),
        (None, Some(d)) => Keep::Days(d),
        (None, None) => Keep::Newest(usize::MAX),
    };
    let keys = KeyRing::new(args.key.clone());
    let key = keys.signing_key()?;
    // The chain is verified with the trusted keys (after a rotation, every
    // key the kept runs and the checkpoint were signed with), else the key
    // the checkpoint is signed with now.
    let trusted = match &args.trusted_keys {
        Some(file) => crate::evidence::TrustedKeys::read_file(file)?,
        None => crate::evidence::TrustedKeys::single(key.public()),
    };
    match prune(&args.out, keep, &key, &trusted, args.wait)? {
        Pruned::Refused(problems) => {
            for p in &problems {
                eprintln!("FAIL: {p}");
            }
            eprintln!(
                "error: {} does not verify; prune removes nothing from a broken chain",
                args.out.display()
            );
            Ok(ExitCode::Failed)
        }
        Pruned::Done { removed, kept } => {
            eprintln!(
                "pruned {} run(s){} from {}; {kept} kept; the checkpoint {} accounts for every pruned run",
                removed.len(),
                if removed.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", removed.join(", "))
                },
                args.out.display(),
                crate::evidence::checkpoint::CHECKPOINT
            );
            Ok(ExitCode::Ok)
        }
    }
}
