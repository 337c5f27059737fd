//! The reconciliation spec: parsing the TOML file and validating it into a
//! [`Spec`] the rest of the pipeline can trust.
//!
//! Owns every spec error and its location (file, line, column). Does not open
//! data sources: `recon check` does that through `source`.
//!
//! `model` mirrors the TOML file; `compile` validates it into the types of
//! `resolved` (`Spec`, `Entity`, `Field`, …). `rule` compiles the quality
//! rules (`expr` their expressions) and `write` checks the formats repairs
//! write in, as the spec is read; running rules and writing repairs happen
//! downstream (`quality`, `repair`).

mod compile;
pub mod expr;
mod model;
mod params;
mod resolved;
pub mod rule;
pub mod write;

use std::path::Path;

use crate::error::SpecError;
use compile::{Compiler, Locator};
pub use model::PerSide;
use model::RawSpec;
pub use params::{substitute, Params, PlaceholderError};
pub use resolved::{
    format_of_name, Authority, Deletes, Encoding, Entity, FailPolicy, Field, Format, Location, RepairsFormat, Severity,
    Side, Source, Spec, Table, UnknownRepairsFormat, Webhook, WebhookFormat, COMPRESSION_SUFFIXES, DRIFT_KINDS,
};

/// Reads and validates a spec file; `${NAME}` and `{date}` in source paths
/// from the environment and today's date (see [`load_with`]).
pub fn load(path: &Path) -> Result<Spec, crate::error::Error> {
    load_with(path, &Params::default())
}

/// Reads and validates a spec file, placeholders resolved by `params`.
pub fn load_with(path: &Path, params: &Params) -> Result<Spec, crate::error::Error> {
    let bytes = std::fs::read(path).map_err(|e| crate::error::Error::io(path, e))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| crate::error::Error::input(path, format!("spec is not valid UTF-8: {e}")))?;
    let sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()));
    let spec = parse_with(path, &text, sha256, params)?;
    Ok(spec)
}

/// Parses spec text; `path` is used for messages and to resolve source paths.
pub fn parse(path: &Path, text: &str, sha256: String) -> Result<Spec, SpecError> {
    parse_with(path, text, sha256, &Params::default())
}

/// [`parse`] with placeholders resolved by `params`.
pub fn parse_with(path: &Path, text: &str, sha256: String, params: &Params) -> Result<Spec, SpecError> {
    let loc = Locator { file: path, text };
    let raw: RawSpec = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim().to_string();
        let hint = unknown_field_hint(&message);
        let mut err = loc.error(span, message);
        err.hint = hint;
        err
    })?;
    Compiler { loc, params }.spec(raw, sha256)
}

fn unknown_field_hint(message: &str) -> Option<String> {
    message
        .contains("unknown field")
        .then(|| "every key is documented in rules/README.md".to_string())
}

pub use model::RawRule as RuleSource;
