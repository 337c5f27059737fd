//! One file per command: each turns parsed arguments into library calls and
//! returns the exit code; errors go back to `main` for printing.

pub mod apply;
pub mod check;
pub mod generate;
pub mod init;
pub mod keygen;
pub mod merge;
pub mod prune;
pub mod report;
pub mod run;
pub mod sql;
pub mod verify;

/// What `apply` and `sql` say when the run's evidence does not verify: each
/// problem, then that nothing was written (`doing`: "apply", "write SQL").
fn refused(run_dir: &std::path::Path, problems: &[String], doing: &str) -> crate::exit::ExitCode {
    for p in problems {
        eprintln!("FAIL: {}: {p}", run_dir.display());
    }
    eprintln!(
        "error: refusing to {doing}: the evidence of {} does not verify; nothing was written",
        run_dir.display()
    );
    crate::exit::ExitCode::Failed
}
