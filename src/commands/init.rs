//! `recon init LEFT RIGHT`: propose a first spec from samples of two sources.

use std::io::Write;

use crate::cli::InitArgs;
use crate::error::{Error, Result};
use crate::exit::ExitCode;
use crate::infer::{init, InitOptions};

pub fn execute(args: &InitArgs) -> Result<ExitCode> {
    if let Some(out) = &args.output {
        if out.exists() {
            return Err(Error::usage(
                format!("{} exists; init never overwrites a spec", out.display()),
                Some("choose another --output, or remove the file".into()),
            ));
        }
    }
    let done = init(&InitOptions {
        left: args.left.clone(),
        right: args.right.clone(),
        key: args.key.clone(),
        name: args.name.clone(),
        output: args.output.clone(),
        sample: args.sample,
    })?;
    let p = &done.proposal;
    for (side, s) in ["left", "right"].iter().zip(&done.samples) {
        eprintln!("{side}: {} — sampled: {}", s.path, s.extent());
    }
    let Some(key) = &p.key else {
        eprintln!("no key found: no column is unique on both sides with values the other side shares");
        eprintln!("these files may not describe the same things; if they do, give --key LEFT_COLUMN=RIGHT_COLUMN");
        return Ok(ExitCode::Failed);
    };
    let review = p.fields.iter().filter(|f| f.review).count();
    eprintln!(
        "key {} ({:.0}% of sampled keys on both sides); {} field(s) paired, {} to review; unpaired: {} left, {} right",
        key.describe(),
        100.0 * key.overlap,
        p.fields.len(),
        review,
        p.unpaired[0].len(),
        p.unpaired[1].len()
    );
    match &args.output {
        Some(path) => {
            crate::files::write_file(path, done.text.as_bytes())?;
            eprintln!("spec written to {}; next: recon check {0}", path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(done.text.as_bytes())
                .map_err(|e| Error::io(std::path::Path::new("<stdout>"), e))?;
        }
    }
    Ok(ExitCode::Ok)
}
