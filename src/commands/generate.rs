//! `recon generate`: writes the deterministic demo fixtures and their ground truth.

use crate::cli::GenerateArgs;
use crate::error::Result;
use crate::exit::ExitCode;
use crate::generate::{generate, Config};

pub fn execute(args: &GenerateArgs) -> Result<ExitCode> {
    let g = generate(
        &args.out,
        &Config {
            seed: args.seed,
            customers: args.customers,
        },
    )?;
    eprintln!(
        "wrote {} with {} expected findings (seed {})",
        args.out.display(),
        g.truth.0.len(),
        args.seed
    );
    Ok(ExitCode::Ok)
}
