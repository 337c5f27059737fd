//! `recon generate`: writes the deterministic demo fixtures and their ground truth.

use crate::cli::GenerateArgs;
use crate::error::Result;
use crate::exit::ExitCode;
use crate::generate::{generate, Config};

pub fn execute(args: &GenerateArgs) -> Result<ExitCode> {
    if let Some(rows) = args.large {
        crate::generate::large(&args.out, rows, args.seed)?;
        eprintln!(
            "wrote {} rows per side to {} (spec: large.toml)",
            rows,
            args.out.display()
        );
        return Ok(ExitCode::Ok);
    }
    if let Some(cols) = args.wide {
        let truth = crate::generate::wide(&args.out, args.rows, cols, args.seed)?;
        eprintln!(
            "wrote {} rows x {cols} columns to {} (spec: wide.toml, {} mismatches)",
            args.rows,
            args.out.display(),
            truth.0.len()
        );
        return Ok(ExitCode::Ok);
    }
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
