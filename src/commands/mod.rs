//! One file per command: each turns parsed arguments into library calls and
//! returns the exit code; errors go back to `main` for printing.

pub mod apply;
pub mod check;
pub mod generate;
pub mod keygen;
pub mod prune;
pub mod report;
pub mod run;
pub mod sql;
pub mod verify;
