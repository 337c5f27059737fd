//! The documented exit codes of `recon`. Scripts depend on them: they are part
//! of the public surface (docs/operations.md, "Exit codes"; reports/README.md for `verify`).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Ran; no finding reached its failure threshold / evidence verified.
    Ok = 0,
    /// Ran; findings reached a failure threshold / `verify`: evidence invalid.
    Failed = 1,
    /// Usage, spec or input error, or `run` gave up waiting for another run's
    /// lock on its reports folder; no partial run folder is left behind.
    InputError = 2,
    /// Internal error: a bug in recon.
    Internal = 3,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        self as u8
    }
}
