//! The validated spec the rest of the pipeline reads: `Spec`, its
//! entities, fields and sources, and the enums they use (`Side`,
//! `Severity`, `Format`, `Authority`, …). Only `compile` builds them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;

use super::rule;
use crate::normalize::{FieldType, Step, Tolerance};
use crate::pii::{MaskStyle, Validator};

/// One of the two systems being reconciled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    Left,
    Right,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Left, Side::Right];

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }

    pub fn idx(self) -> usize {
        self as usize
    }

    pub fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub const NAMES: &'static [&'static str] = &["info", "warning", "error", "critical"];

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
    Ndjson,
}

impl Format {
    /// The format a file's extension names (`csv`, `tsv`, `txt`, `parquet`,
    /// `pq`, `ndjson`, `jsonl`, `json`), case-insensitively.
    pub fn from_path(path: &Path) -> Option<Format> {
        parse_format(&path.extension()?.to_str()?.to_ascii_lowercase())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Ndjson => "ndjson",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Gbk,
}

/// Who is the source of truth when the sides differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    Side(Side),
    Latest,
    /// Only change detection against the previous run decides; else review.
    ThreeWay,
    None,
}

impl Authority {
    /// Name used in repair `reason`s: `authority:<side display name>`, `latest`, ...
    pub fn reason(self, sides: &[String; 2]) -> String {
        match self {
            Authority::Side(s) => format!("authority:{}", sides[s.idx()]),
            Authority::Latest => "latest".into(),
            Authority::ThreeWay => "three_way".into(),
            Authority::None => "none".into(),
        }
    }
}

/// What repairs do with a row deleted on the authoritative side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletes {
    /// A `review` instruction (default).
    Review,
    /// A `delete` instruction for the other side.
    Propagate,
}

/// Which files hold a run's repair instructions (`[run] repairs_format`,
/// overridden by `run --repairs-format`): the instruction table as
/// `repairs.parquet` (the default), `repairs.jsonl` or both (the same rows),
/// and with `csv` the bulk-upsert `repairs-<target>.csv` files besides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairsFormat {
    pub parquet: bool,
    pub jsonl: bool,
    pub csv: bool,
}

impl Default for RepairsFormat {
    fn default() -> Self {
        RepairsFormat {
            parquet: true,
            jsonl: false,
            csv: false,
        }
    }
}

/// A `repairs_format` item that is none of `parquet`, `jsonl`, `both`, `csv`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown repairs format `{name}`; expected `parquet`, `jsonl` or `both`, optionally with `,csv` (e.g. `both,csv`)"
)]
pub struct UnknownRepairsFormat {
    pub name: String,
}

impl RepairsFormat {
    /// Parses a comma-separated list such as `parquet`, `jsonl`, `both` or
    /// `both,csv`. A list that names no table format (`csv` alone) keeps
    /// the default table, repairs.parquet: a run always writes one.
    pub fn parse(text: &str) -> Result<Self, UnknownRepairsFormat> {
        let mut format = RepairsFormat {
            parquet: false,
            jsonl: false,
            csv: false,
        };
        for name in text.split(',').map(str::trim) {
            match name {
                "parquet" => format.parquet = true,
                "jsonl" => format.jsonl = true,
                "both" => {
                    format.parquet = true;
                    format.jsonl = true;
                }
                "csv" => format.csv = true,
                _ => return Err(UnknownRepairsFormat { name: name.to_string() }),
            }
        }
        if !format.parquet && !format.jsonl {
            format.parquet = true;
        }
        Ok(format)
    }
}

#[derive(Debug, Clone)]
pub struct Source {
    /// Where the source is, as messages name it: the resolved local path
    /// (relative paths are taken from the spec file's folder), or the URL
    /// without user info or query. A glob or a folder names many files.
    pub path: PathBuf,
    pub location: Location,
    /// Object-store settings (`[storage]` with this source's own on top).
    pub storage: crate::storage::Settings,
    pub format: Format,
    pub encoding: Encoding,
    pub delimiter: u8,
    pub quote: u8,
    pub timezone: Tz,
    /// CSV: an unquoted field whose whole text is one of these is null; a
    /// quoted one is always text (so `""` is the empty string). Default
    /// `[""]`: an empty unquoted field is null, as in polars, pandas and
    /// DuckDB.
    pub null_values: Vec<String>,
    /// `allow_empty = true`: a header-only CSV, and an NDJSON file without
    /// records (zero bytes or blank lines only), are zero rows rather than
    /// an input error. A zero-byte CSV is still one (no header, no columns);
    /// a zero-row Parquet file is zero rows either way (it has its schema).
    pub allow_empty: bool,
    /// `table = "schema.name"`: the database table this side was exported
    /// from, for `recon sql` (None: not declared).
    pub table: Option<Table>,
}

/// A database table (`table = "crm.contacts"`): its name and, before it,
/// its schema (PostgreSQL) or database (MySQL), unquoted; `recon sql`
/// quotes each part for the dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub parts: Vec<String>,
}

impl Table {
    /// `name` or `schema.name`: one or two non-empty parts split on `.`,
    /// without control characters.
    pub fn parse(text: &str) -> Option<Table> {
        let parts: Vec<String> = text.split('.').map(str::to_string).collect();
        let fine = |p: &String| !p.is_empty() && p.trim() == p && !p.chars().any(char::is_control);
        (parts.len() <= 2 && parts.iter().all(fine)).then_some(Table { parts })
    }
}

impl Source {
    /// This source read from the local file `path` instead (same format and
    /// dialect): `apply` reads the snapshot it repairs this way.
    pub fn at_local_file(&self, path: &std::path::Path) -> Source {
        Source {
            path: path.to_path_buf(),
            location: Location::Local(path.to_path_buf()),
            ..self.clone()
        }
    }
}

/// Where a source's files are, placeholders resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local file or folder.
    Local(PathBuf),
    /// Local files matching `pattern` (`*`, `?`, `[…]`), a `/`-separated
    /// path relative to `root`, the deepest folder the spec's path names
    /// literally (so glob characters in the spec's own folder are not
    /// taken for a pattern).
    Glob { root: PathBuf, pattern: String },
    /// An object-store URL: an object, a folder (prefix) or a glob pattern.
    Url(String),
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    /// Column name on each side.
    pub columns: [String; 2],
    /// Type per side (timestamps may carry a per-side time zone).
    pub ty: [FieldType; 2],
    pub steps: [Vec<Step>; 2],
    pub map: [Option<BTreeMap<String, String>>; 2],
    pub keep_unmapped: bool,
    pub default: [Option<String>; 2],
    pub tolerance: Tolerance,
    pub compare: bool,
    /// Severity of this field's value mismatches (else the entity's).
    pub severity: Option<Severity>,
    pub pii: Option<Validator>,
    pub mask: [MaskStyle; 2],
    pub scan: bool,
    /// Field-level repair authority; None: the entity's.
    pub authority: Option<Authority>,
    /// How repairs write values on each side: a date/timestamp format or
    /// `<true>/<false>` spellings for bools (None: ISO / RFC 3339 / first spelling).
    pub write: [Option<String>; 2],
}

impl Field {
    pub fn is_pii(&self) -> bool {
        self.pii.is_some()
    }

    /// Every canonical value the field can hold, sorted, when value maps on
    /// both sides decide it (None: any value, e.g. with `unmapped = "keep"`).
    /// Rules naming a value outside it name a typo: they could never fire.
    pub fn mapped_values(&self) -> Option<Vec<&str>> {
        let (Some(l), Some(r), false) = (&self.map[0], &self.map[1], self.keep_unmapped) else {
            return None;
        };
        let mut values: Vec<&str> = l.values().chain(r.values()).map(String::as_str).collect();
        values.sort_unstable();
        values.dedup();
        Some(values)
    }
}

#[derive(Debug, Clone)]
pub struct Entity {
    pub name: String,
    /// Indices into `fields`, in key order.
    pub key: Vec<usize>,
    pub authority: Authority,
    /// Field (index) that orders versions for `latest`.
    pub updated_at: Option<usize>,
    pub deletes: Deletes,
    pub sources: [Source; 2],
    pub fields: Vec<Field>,
    pub rules: Vec<rule::Rule>,
    /// Severity of each drift kind (`missing_left`, `value_mismatch`, ...).
    pub drift_severity: BTreeMap<String, Severity>,
}

impl Entity {
    pub fn field(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// The authority deciding repairs of field `f` (field setting, else the entity's).
    pub fn authority_of(&self, f: usize) -> Authority {
        self.fields[f].authority.unwrap_or(self.authority)
    }

    /// Column names of `side`, each once, in field order.
    pub fn columns(&self, side: Side) -> Vec<String> {
        let mut cols: Vec<String> = Vec::new();
        for f in &self.fields {
            let c = &f.columns[side.idx()];
            if !cols.contains(c) {
                cols.push(c.clone());
            }
        }
        cols
    }

    pub fn drift_severity(&self, kind: &str) -> Severity {
        let default = match kind {
            "column_missing" | "type_changed" => Severity::Warning,
            _ => Severity::Error,
        };
        self.drift_severity.get(kind).copied().unwrap_or(default)
    }
}

#[derive(Debug, Clone)]
pub struct FailPolicy {
    pub on: Severity,
    pub max_drift_ratio: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub path: PathBuf,
    pub sha256: String,
    pub name: String,
    pub timezone: Tz,
    pub sides: [String; 2],
    pub entities: Vec<Entity>,
    pub fail: FailPolicy,
    /// Which repair files a run writes unless `run --repairs-format` says.
    pub repairs_format: RepairsFormat,
    /// `[storage]`: object-store settings for sources and `--out`.
    pub storage: crate::storage::Settings,
    /// `[[notify.webhook]]`: who is told when a run ends.
    pub webhooks: Vec<Webhook>,
}

/// A webhook told of a run's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Resolved (`${NAME}` substituted): a secret, never shown whole.
    pub url: String,
    pub format: WebhookFormat,
    /// Sent only when a threshold is hit (`false`), or after every run.
    pub always: bool,
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// The run's counts as a JSON object.
    Json,
    /// Slack incoming webhook (`{"text": ...}`).
    Slack,
    /// DingTalk group robot (`{"msgtype": "text", ...}`).
    DingTalk,
    /// WeCom (企业微信) group robot (`{"msgtype": "text", ...}`).
    WeCom,
}

impl Spec {
    pub fn side_name(&self, side: Side) -> &str {
        &self.sides[side.idx()]
    }

    pub fn entity(&self, name: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.name == name)
    }

    /// Whether a rule reads the run's clock (`fresh`, `age(...)`): its
    /// findings then depend on when the run started.
    pub fn uses_clock(&self) -> bool {
        use super::rule::Check;
        self.entities.iter().flat_map(|e| &e.rules).any(|r| {
            matches!(r.check, Check::Fresh { .. })
                || matches!(&r.check, Check::Expr(x) if x.uses_clock())
                || r.filter.as_ref().is_some_and(|f| f.uses_clock())
        })
    }
}

pub const DRIFT_KINDS: &[&str] = &[
    "missing_left",
    "missing_right",
    "value_mismatch",
    "duplicate_key",
    "null_key",
    "unconvertible",
];

/// Compression suffixes a file name may end with, after its format's.
pub const COMPRESSION_SUFFIXES: &[&str] = &["gz", "gzip", "zst", "zstd"];

/// The format a file name says (`part-0.csv.gz` is CSV), if it says one.
pub fn format_of_name(name: &str) -> Option<Format> {
    let name = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    let mut parts = name.rsplit('.');
    let mut ext = parts.next()?;
    if COMPRESSION_SUFFIXES.contains(&ext) {
        ext = parts.next()?;
    }
    // A name without a dot has no extension at all.
    name.contains('.').then(|| parse_format(ext)).flatten()
}

pub(super) fn parse_format(s: &str) -> Option<Format> {
    match s {
        "csv" | "tsv" | "txt" => Some(Format::Csv),
        "parquet" | "pq" => Some(Format::Parquet),
        "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::RepairsFormat;

    #[test]
    fn repairs_format_lists_read_as_the_files_they_name() {
        let f = |parquet, jsonl, csv| RepairsFormat { parquet, jsonl, csv };
        for (text, want) in [
            ("parquet", f(true, false, false)),
            ("jsonl", f(false, true, false)),
            ("both", f(true, true, false)),
            ("parquet,jsonl", f(true, true, false)),
            (" jsonl , csv ", f(false, true, true)),
            ("both,csv", f(true, true, true)),
            // `csv` alone keeps the default table: a run always writes one.
            ("csv", f(true, false, true)),
        ] {
            assert_eq!(RepairsFormat::parse(text), Ok(want), "{text}");
        }
        assert_eq!(RepairsFormat::default(), f(true, false, false));
        for bad in ["", "xml", "parquet,", "JSONL", "both;csv"] {
            let err = RepairsFormat::parse(bad).unwrap_err();
            assert!(
                err.to_string().contains("expected `parquet`, `jsonl` or `both`"),
                "{bad}: {err}"
            );
        }
        assert_eq!(RepairsFormat::parse("parquet,xml").unwrap_err().name, "xml");
    }
}
