//! `recon sql RUN --target SIDE --dialect postgres|mysql [--output FILE]`:
//! a sealed run's repair instructions for one target system as one guarded
//! SQL script (the library's `repair::sql`), written with its minisign
//! signature (`FILE.minisig`, by the run signing key) unless `--unsigned`.
//!
//! Exit codes: 0 when the script is written; 1 when the run's evidence
//! does not verify (nothing written); 2 for usage or input errors (an
//! entity whose target source names no `table`, among them).

use crate::cli::{SqlArgs, SqlDialect};
use crate::error::Result;
use crate::exit::ExitCode;
use crate::keys::KeyRing;
use crate::repair::sql::{sql, Dialect, SqlOptions, SqlResult};

pub fn execute(args: &SqlArgs) -> Result<ExitCode> {
    // A run in a bucket is downloaded and read from a local copy (its
    // evidence is verified there, as a local run's is).
    let (_staging, run_dir) = crate::publish::local_run(&args.run_dir)?;
    let opts = SqlOptions {
        run_dir,
        target: args.target.clone(),
        dialect: match args.dialect {
            SqlDialect::Postgres => Dialect::Postgres,
            SqlDialect::Mysql => Dialect::Mysql,
        },
        entity: args.entity.clone(),
        pubkey: args.pubkey.clone(),
        spec: args.spec.clone(),
    };
    match sql(&opts)? {
        SqlResult::Refused(problems) => Ok(super::refused(&args.run_dir, &problems, "write SQL")),
        SqlResult::Done(script) => {
            match &args.output {
                Some(path) => {
                    // The signature first: a script on disk always has its own.
                    let signature = match args.unsigned {
                        true => None,
                        false => Some(script.signature(&KeyRing::new(args.key.clone()).signing_key()?)),
                    };
                    let sig_path = minisig_path(path);
                    match signature {
                        Some(sig) => crate::repair::apply::write_atomically(&sig_path, sig.as_bytes())?,
                        None => {
                            let _ = std::fs::remove_file(&sig_path);
                        }
                    }
                    crate::repair::apply::write_atomically(path, script.text.as_bytes())?;
                }
                None => {
                    use std::io::Write;
                    let mut out = std::io::stdout().lock();
                    out.write_all(script.text.as_bytes())
                        .and_then(|()| out.flush())
                        .map_err(|e| crate::error::Error::io(std::path::Path::new("<stdout>"), e))?;
                }
            }
            eprintln!(
                "sql {} ({}): {} guarded statement(s), {} instruction(s) left for a person as comments{}",
                script.target,
                opts.dialect.as_str(),
                script.statements,
                script.comments,
                args.output
                    .as_ref()
                    .map(|p| match args.unsigned {
                        true => format!("; wrote {} (unsigned)", p.display()),
                        false => format!("; wrote {} and {}", p.display(), minisig_path(p).display()),
                    })
                    .unwrap_or_default()
            );
            Ok(ExitCode::Ok)
        }
    }
}

/// `FILE.minisig` beside `FILE`.
fn minisig_path(path: &std::path::Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".minisig");
    std::path::PathBuf::from(name)
}
