//! Typed errors of the library and the exit code each maps to.
//!
//! Every error names the file (and line, column or field where it applies);
//! the binary prints it, then a `hint:` line when a fix is obvious.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::exit::ExitCode;

/// A problem in the spec file, located by line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

impl std::error::Error for SpecError {}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Spec(#[from] SpecError),

    /// Bad input data: the file, and the line or field where it applies.
    #[error("{}{}: {message}", path.display(), location(*line, field.as_deref()))]
    Input {
        path: PathBuf,
        line: Option<u64>,
        field: Option<String>,
        message: String,
        hint: Option<String>,
    },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Wrong use of the command line (an existing run id, a missing folder, ...).
    #[error("{message}")]
    Usage { message: String, hint: Option<String> },

    /// Object storage refused or failed a request. `url` carries no user
    /// info or query, `message` no secret (see `storage::redact`).
    #[error("{url}: {message}")]
    Storage {
        url: String,
        message: String,
        hint: Option<String>,
        #[source]
        source: Option<Box<object_store::Error>>,
    },

    #[error(transparent)]
    Evidence(#[from] crate::evidence::EvidenceError),

    /// Polars failed on a frame recon built or a file it wrote; `context`
    /// says what recon was doing ("writing <path>", ...).
    #[error("internal error: {context}: {source}")]
    Polars {
        context: String,
        #[source]
        source: polars::prelude::PolarsError,
    },

    /// Serializing or reading back one of recon's own JSON records failed.
    #[error("internal error: {context}: {source}")]
    Json {
        context: String,
        #[source]
        source: serde_json::Error,
    },

    /// Writing one of recon's own CSV outputs failed.
    #[error("internal error: {context}: {source}")]
    Csv {
        context: String,
        #[source]
        source: csv::Error,
    },

    /// The operating system refused a worker thread.
    #[error("internal error: cannot start the {what}: {source}")]
    Thread {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// The system random generator failed (creating a key).
    #[error("internal error: system random generator failed")]
    Random(#[source] ring::error::Unspecified),

    /// A broken invariant: a bug in recon, never caused by input.
    #[error("internal error: {0}")]
    Internal(String),
}

fn location(line: Option<u64>, field: Option<&str>) -> String {
    match (line, field) {
        (Some(l), Some(f)) => format!(":{l}: field `{f}`"),
        (Some(l), None) => format!(":{l}"),
        (None, Some(f)) => format!(": field `{f}`"),
        (None, None) => String::new(),
    }
}

impl Error {
    pub fn input(path: &Path, message: impl Into<String>) -> Error {
        Error::Input {
            path: path.to_path_buf(),
            line: None,
            field: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn usage(message: impl Into<String>, hint: Option<String>) -> Error {
        Error::Usage {
            message: message.into(),
            hint,
        }
    }

    pub fn polars(context: impl Into<String>, source: polars::prelude::PolarsError) -> Error {
        Error::Polars {
            context: context.into(),
            source,
        }
    }

    pub fn json(context: impl Into<String>, source: serde_json::Error) -> Error {
        Error::Json {
            context: context.into(),
            source,
        }
    }

    pub fn csv(context: impl Into<String>, source: csv::Error) -> Error {
        Error::Csv {
            context: context.into(),
            source,
        }
    }

    pub fn thread(what: &'static str, source: std::io::Error) -> Error {
        Error::Thread { what, source }
    }

    pub fn with_hint(mut self, text: impl Into<String>) -> Error {
        match &mut self {
            Error::Input { hint, .. } | Error::Usage { hint, .. } | Error::Storage { hint, .. } => {
                *hint = Some(text.into())
            }
            Error::Spec(e) => e.hint = Some(text.into()),
            _ => {}
        }
        self
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Spec(e) => e.hint.clone(),
            Error::Input { hint, .. } | Error::Usage { hint, .. } | Error::Storage { hint, .. } => hint.clone(),
            Error::Evidence(e) => e.hint(),
            _ => None,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Internal(_)
            | Error::Polars { .. }
            | Error::Json { .. }
            | Error::Csv { .. }
            | Error::Thread { .. }
            | Error::Random(_) => ExitCode::Internal,
            Error::Evidence(e) if e.is_invalid_evidence() => ExitCode::Failed,
            _ => ExitCode::InputError,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
