//! The reconciliation spec: parsing the TOML file and validating it into a
//! [`Spec`] the rest of the pipeline can trust.
//!
//! Owns every spec error and its location (file, line, column). Does not open
//! data sources: `recon check` does that through `source`.
//!
//! `rule` compiles the quality rules (`expr` their expressions) and `write`
//! checks the formats repairs write in, as the spec is read; running rules
//! and writing repairs happen downstream (`quality`, `repair`).

pub mod expr;
mod model;
pub mod rule;
pub mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use toml::Spanned;

use crate::error::SpecError;
use crate::normalize::{FieldType, Step, Tolerance, TypeOptions};
use crate::pii::{MaskStyle, Validator};
pub use model::PerSide;
use model::{RawEntity, RawField, RawRule, RawSource, RawSpec};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

#[derive(Debug, Clone)]
pub struct Source {
    /// Resolved path (relative paths are taken from the spec file's folder).
    pub path: PathBuf,
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
}

impl Spec {
    pub fn side_name(&self, side: Side) -> &str {
        &self.sides[side.idx()]
    }

    pub fn entity(&self, name: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.name == name)
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

/// Reads and validates a spec file.
pub fn load(path: &Path) -> Result<Spec, crate::error::Error> {
    let bytes = std::fs::read(path).map_err(|e| crate::error::Error::io(path, e))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| crate::error::Error::input(path, format!("spec is not valid UTF-8: {e}")))?;
    let sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()));
    let spec = parse(path, &text, sha256)?;
    Ok(spec)
}

/// Parses spec text; `path` is used for messages and to resolve source paths.
pub fn parse(path: &Path, text: &str, sha256: String) -> Result<Spec, SpecError> {
    let loc = Locator { file: path, text };
    let raw: RawSpec = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim().to_string();
        let hint = unknown_field_hint(&message);
        let mut err = loc.error(span, message);
        err.hint = hint;
        err
    })?;
    Compiler { loc }.spec(raw, sha256)
}

fn unknown_field_hint(message: &str) -> Option<String> {
    message
        .contains("unknown field")
        .then(|| "every key is documented in rules/README.md".to_string())
}

struct Locator<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> SpecError {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rfind('\n')
            .map_or(before.chars().count(), |nl| before[nl + 1..].chars().count())
            + 1;
        SpecError {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
            hint: None,
        }
    }

    fn at<T>(&self, item: &Spanned<T>, message: impl Into<String>) -> SpecError {
        self.error(item.span(), message)
    }
}

fn hint(mut err: SpecError, text: impl Into<String>) -> SpecError {
    err.hint = Some(text.into());
    err
}

struct Compiler<'a> {
    loc: Locator<'a>,
}

impl Compiler<'_> {
    fn spec(&self, raw: RawSpec, sha256: String) -> Result<Spec, SpecError> {
        let timezone = match &raw.run.timezone {
            Some(tz) => self.timezone(tz)?,
            None => Tz::UTC,
        };
        let sides = [raw.sides.left.clone(), raw.sides.right.clone()];
        if sides[0] == sides[1] {
            return Err(self.loc.error(0..0, "[sides] left and right must differ"));
        }
        let mut entities = Vec::new();
        let mut names = BTreeSet::new();
        for e in &raw.entities {
            if !names.insert(e.name.get_ref().clone()) {
                return Err(self.loc.at(&e.name, format!("duplicate entity `{}`", e.name.get_ref())));
            }
            entities.push(self.entity(e, timezone, &sides)?);
        }
        if entities.is_empty() {
            return Err(self.loc.error(0..0, "the spec declares no [[entity]]"));
        }
        rule::link_rules(&mut entities).map_err(|e| {
            let r = &raw.entities[e.entity].rules[e.rule];
            let span = match e.at {
                rule::LinkAt::Entity => r.entity.as_ref().map(|x| x.span()),
                rule::LinkAt::To => {
                    r.to.as_ref()
                        .map(|x| x.span())
                        .or(r.to_fields.as_ref().map(|x| x.span()))
                }
            }
            .unwrap_or(r.id.span());
            let err = self.loc.error(span, e.message);
            match e.hint {
                Some(h) => hint(err, h),
                None => err,
            }
        })?;
        let fail = self.fail(&raw.fail)?;
        Ok(Spec {
            path: self.loc.file.to_path_buf(),
            sha256,
            name: raw.run.name,
            timezone,
            sides,
            entities,
            fail,
        })
    }

    fn timezone(&self, tz: &Spanned<String>) -> Result<Tz, SpecError> {
        tz.get_ref().parse::<Tz>().map_err(|_| {
            hint(
                self.loc.at(tz, format!("unknown time zone `{}`", tz.get_ref())),
                "use an IANA name such as `Asia/Shanghai` or `UTC`",
            )
        })
    }

    fn severity(&self, s: &Spanned<String>) -> Result<Severity, SpecError> {
        Severity::parse(s.get_ref()).ok_or_else(|| {
            hint(
                self.loc.at(s, format!("unknown severity `{}`", s.get_ref())),
                format!("valid severities: {}", Severity::NAMES.join(", ")),
            )
        })
    }

    fn fail(&self, raw: &model::RawFail) -> Result<FailPolicy, SpecError> {
        let on = match &raw.on {
            Some(s) => self.severity(s)?,
            None => Severity::Error,
        };
        if let Some(r) = raw.max_drift_ratio {
            if !(0.0..=1.0).contains(&r) {
                return Err(self.loc.error(0..0, "[fail] max_drift_ratio must be between 0 and 1"));
            }
        }
        Ok(FailPolicy {
            on,
            max_drift_ratio: raw.max_drift_ratio,
        })
    }

    fn entity(&self, e: &RawEntity, run_tz: Tz, sides: &[String; 2]) -> Result<Entity, SpecError> {
        let sources = [self.source(&e.left, run_tz)?, self.source(&e.right, run_tz)?];
        let mut fields: Vec<Field> = Vec::new();
        for f in &e.fields {
            if fields.iter().any(|x| x.name == *f.name.get_ref()) {
                return Err(self.loc.at(&f.name, format!("duplicate field `{}`", f.name.get_ref())));
            }
            fields.push(self.field(f, [sources[0].timezone, sources[1].timezone])?);
        }
        if e.key.get_ref().is_empty() {
            return Err(self.loc.at(&e.key, "`key` must name at least one field"));
        }
        let mut key = Vec::new();
        for k in e.key.get_ref() {
            let idx = fields.iter().position(|f| f.name == *k.get_ref()).ok_or_else(|| {
                hint(
                    self.loc.at(
                        k,
                        format!("key field `{}` is not declared as an [[entity.field]]", k.get_ref()),
                    ),
                    format!("declared fields: {}", field_names(&fields)),
                )
            })?;
            if key.contains(&idx) {
                return Err(self.loc.at(k, format!("key field `{}` is listed twice", k.get_ref())));
            }
            key.push(idx);
        }
        let updated_at = match &e.updated_at {
            None => None,
            Some(u) => {
                let idx = fields.iter().position(|f| f.name == *u.get_ref()).ok_or_else(|| {
                    hint(
                        self.loc
                            .at(u, format!("`updated_at` field `{}` is not declared", u.get_ref())),
                        format!("declared fields: {}", field_names(&fields)),
                    )
                })?;
                let typed = fields[idx]
                    .ty
                    .iter()
                    .all(|t| matches!(t, FieldType::Timestamp { .. } | FieldType::Date { .. }));
                if !typed {
                    return Err(self
                        .loc
                        .at(u, "the `updated_at` field must have type timestamp or date"));
                }
                Some(idx)
            }
        };
        let latest_needs = |a: &Spanned<String>| {
            hint(
                self.loc
                    .at(a, "authority `latest` needs the entity's `updated_at` field"),
                "add updated_at = \"<timestamp field>\" to the [[entity]]",
            )
        };
        let authority = match &e.authority {
            None => Authority::None,
            Some(a) => {
                let auth = self.authority(a, sides)?;
                if auth == Authority::Latest && updated_at.is_none() {
                    return Err(latest_needs(a));
                }
                auth
            }
        };
        for (field, raw) in fields.iter_mut().zip(&e.fields) {
            if let Some(a) = &raw.authority {
                let auth = self.authority(a, sides)?;
                if auth == Authority::Latest && updated_at.is_none() {
                    return Err(latest_needs(a));
                }
                field.authority = Some(auth);
            }
        }
        let deletes = match &e.deletes {
            None => Deletes::Review,
            Some(d) => match d.get_ref().as_str() {
                "review" => Deletes::Review,
                "propagate" => Deletes::Propagate,
                other => {
                    return Err(hint(
                        self.loc.at(d, format!("unknown `deletes` value `{other}`")),
                        "use review or propagate",
                    ))
                }
            },
        };
        let mut drift_severity = BTreeMap::new();
        for (kind, sev) in &e.severity {
            if !DRIFT_KINDS.contains(&kind.as_str()) {
                return Err(hint(
                    self.loc.at(sev, format!("unknown drift kind `{kind}` in `severity`")),
                    format!("valid kinds: {}", DRIFT_KINDS.join(", ")),
                ));
            }
            drift_severity.insert(kind.clone(), self.severity(sev)?);
        }
        let mut rules = Vec::new();
        for (i, r) in e.rules.iter().enumerate() {
            if e.rules[..i].iter().any(|x| x.id.get_ref() == r.id.get_ref()) {
                return Err(self.loc.at(
                    &r.id,
                    format!(
                        "duplicate rule id `{}` in entity `{}`",
                        r.id.get_ref(),
                        e.name.get_ref()
                    ),
                ));
            }
            rules.push(self.rule(r, &fields)?);
        }
        Ok(Entity {
            name: e.name.get_ref().clone(),
            key,
            authority,
            updated_at,
            deletes,
            sources,
            fields,
            rules,
            drift_severity,
        })
    }

    fn authority(&self, a: &Spanned<String>, sides: &[String; 2]) -> Result<Authority, SpecError> {
        let v = a.get_ref().as_str();
        Ok(match v {
            "left" => Authority::Side(Side::Left),
            "right" => Authority::Side(Side::Right),
            "latest" => Authority::Latest,
            "three_way" => Authority::ThreeWay,
            "none" => Authority::None,
            _ if v == sides[0] => Authority::Side(Side::Left),
            _ if v == sides[1] => Authority::Side(Side::Right),
            _ => {
                return Err(hint(
                    self.loc.at(a, format!("unknown authority `{v}`")),
                    format!(
                        "use left, right, latest, three_way, none, `{}` or `{}`",
                        sides[0], sides[1]
                    ),
                ))
            }
        })
    }

    fn source(&self, s: &RawSource, run_tz: Tz) -> Result<Source, SpecError> {
        let written = PathBuf::from(s.path.get_ref());
        let base = self.loc.file.parent().unwrap_or(Path::new(""));
        let path = if written.is_absolute() {
            written.clone()
        } else {
            base.join(&written)
        };
        let format = match &s.format {
            Some(f) => parse_format(f.get_ref()).ok_or_else(|| {
                hint(
                    self.loc.at(f, format!("unknown format `{}`", f.get_ref())),
                    "use csv, parquet or ndjson",
                )
            })?,
            None => {
                let ext = written
                    .extension()
                    .and_then(|e| e.to_str())
                    .unwrap_or("")
                    .to_ascii_lowercase();
                parse_format(&ext).ok_or_else(|| {
                    hint(
                        self.loc.at(
                            &s.path,
                            format!("cannot tell the format of `{}` from its extension", s.path.get_ref()),
                        ),
                        "add format = \"csv\" | \"parquet\" | \"ndjson\"",
                    )
                })?
            }
        };
        let encoding = match &s.encoding {
            None => Encoding::Utf8,
            Some(e) => match e.get_ref().to_ascii_lowercase().as_str() {
                "utf-8" | "utf8" => Encoding::Utf8,
                "gbk" | "gb2312" | "gb18030" => Encoding::Gbk,
                other => {
                    return Err(hint(
                        self.loc.at(e, format!("unknown encoding `{other}`")),
                        "use utf-8 or gbk",
                    ))
                }
            },
        };
        if encoding == Encoding::Gbk && format != Format::Csv {
            return Err(self.loc.at(
                s.encoding.as_ref().unwrap_or(&s.path),
                "`encoding` applies to CSV sources only",
            ));
        }
        let delimiter = self.single_byte(s.delimiter.as_ref(), b',')?;
        let quote = self.single_byte(s.quote.as_ref(), b'"')?;
        let timezone = match &s.timezone {
            Some(tz) => self.timezone(tz)?,
            None => run_tz,
        };
        let null_values = match &s.null_values {
            None => vec![String::new()],
            Some(v) if format != Format::Csv => {
                return Err(self.loc.at(v, "`null_values` applies to CSV sources only"))
            }
            Some(v) => v.get_ref().clone(),
        };
        Ok(Source {
            path,
            format,
            encoding,
            delimiter,
            quote,
            timezone,
            null_values,
        })
    }

    fn single_byte(&self, v: Option<&Spanned<String>>, default: u8) -> Result<u8, SpecError> {
        let Some(v) = v else { return Ok(default) };
        let s = v.get_ref();
        let s = if s == "\\t" { "\t" } else { s.as_str() };
        match s.as_bytes() {
            [b] if b.is_ascii() => Ok(*b),
            _ => Err(self
                .loc
                .at(v, format!("`{}` must be a single ASCII character", v.get_ref()))),
        }
    }

    fn field(&self, f: &RawField, tz: [Tz; 2]) -> Result<Field, SpecError> {
        let name = f.name.get_ref().clone();
        if name.is_empty() {
            return Err(self.loc.at(&f.name, "field name must not be empty"));
        }
        let columns = [
            f.left.clone().unwrap_or_else(|| name.clone()),
            f.right.clone().unwrap_or_else(|| name.clone()),
        ];
        let ty = [self.field_type(f, tz[0])?, self.field_type(f, tz[1])?];
        let steps = match &f.normalize {
            None => [Vec::new(), Vec::new()],
            Some(n) => [self.steps(n, n.get_ref().left())?, self.steps(n, n.get_ref().right())?],
        };
        let map = match &f.map {
            None => [None, None],
            Some(m) => [m.get_ref().left(), m.get_ref().right()],
        };
        let keep_unmapped = match &f.unmapped {
            None => false,
            Some(u) => match u.get_ref().as_str() {
                "error" => false,
                "keep" => true,
                other => {
                    return Err(hint(
                        self.loc.at(u, format!("unknown `unmapped` value `{other}`")),
                        "use error or keep",
                    ))
                }
            },
        };
        let default = match &f.default {
            None => [None, None],
            Some(d) => [d.left(), d.right()],
        };
        let tolerance = match &f.tolerance {
            None => Tolerance::default(),
            Some(t) => self.tolerance(t)?,
        };
        let severity = match &f.severity {
            Some(s) => Some(self.severity(s)?),
            None => None,
        };
        let pii = match &f.pii {
            None => None,
            Some(p) => Some(Validator::parse(p.get_ref()).map_err(|m| self.loc.at(p, m))?),
        };
        let mask = match &f.mask {
            None => [MaskStyle::Clear, MaskStyle::Clear],
            Some(m) => {
                if pii.is_none() {
                    return Err(hint(
                        self.loc.at(m, "`mask` needs `pii` on the same field"),
                        "add pii = \"cn_mobile\" (or another detector)",
                    ));
                }
                let style = |s: Option<String>| -> Result<MaskStyle, SpecError> {
                    match s {
                        None => Ok(MaskStyle::Clear),
                        Some(s) => MaskStyle::parse(&s).map_err(|msg| self.loc.at(m, msg)),
                    }
                };
                [style(m.get_ref().left())?, style(m.get_ref().right())?]
            }
        };
        let scan = match &f.scan {
            None => false,
            Some(s) => {
                if *s.get_ref() && !matches!(ty[0], FieldType::String) {
                    return Err(self.loc.at(s, "`scan = true` needs a text field (type = \"string\")"));
                }
                *s.get_ref()
            }
        };
        let write = match &f.write {
            None => [None, None],
            Some(w) => {
                let per = [w.get_ref().left(), w.get_ref().right()];
                for (fmt, t) in per.iter().zip(&ty) {
                    if let Some(fmt) = fmt {
                        write::check_write_format(t, fmt).map_err(|m| self.loc.at(w, m))?;
                    }
                }
                per
            }
        };
        Ok(Field {
            authority: None,
            write,
            name,
            columns,
            ty,
            steps,
            map,
            keep_unmapped,
            default,
            tolerance,
            compare: f.compare.unwrap_or(true),
            severity,
            pii,
            mask,
            scan,
        })
    }

    fn field_type(&self, f: &RawField, side_tz: Tz) -> Result<FieldType, SpecError> {
        let opts = TypeOptions {
            formats: f.formats.clone(),
            timezone: f.timezone.as_ref().map(|t| t.get_ref().clone()),
            true_values: f.true_values.clone(),
            false_values: f.false_values.clone(),
        };
        let (ty, span) = match &f.ty {
            Some(t) => (t.get_ref().as_str(), t.span()),
            None => ("string", f.name.span()),
        };
        FieldType::from_spec(ty, &opts, side_tz).map_err(|m| self.loc.error(span, m.to_string()))
    }

    fn steps<T>(&self, at: &Spanned<T>, tokens: Option<Vec<String>>) -> Result<Vec<Step>, SpecError> {
        tokens
            .unwrap_or_default()
            .iter()
            .map(|t| Step::parse(t).map_err(|m| self.loc.at(at, m.to_string())))
            .collect()
    }

    fn tolerance(&self, t: &Spanned<model::RawTolerance>) -> Result<Tolerance, SpecError> {
        let raw = t.get_ref();
        let abs = match &raw.abs {
            None => None,
            Some(toml::Value::Integer(i)) => Some(i.to_string()),
            Some(toml::Value::Float(f)) => Some(f.to_string()),
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(self.loc.at(t, "tolerance `abs` must be a number")),
        };
        Tolerance::from_spec(abs.as_deref(), raw.rel, raw.seconds, raw.date.unwrap_or(false))
            .map_err(|m| self.loc.at(t, m.to_string()))
    }

    fn rule(&self, r: &RawRule, fields: &[Field]) -> Result<rule::Rule, SpecError> {
        rule::Rule::compile(r, fields, self.loc.text, |span, msg, h| {
            let e = self.loc.error(span, msg);
            match h {
                Some(h) => hint(e, h),
                None => e,
            }
        })
    }
}

fn field_names(fields: &[Field]) -> String {
    fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
}

fn parse_format(s: &str) -> Option<Format> {
    match s {
        "csv" | "tsv" | "txt" => Some(Format::Csv),
        "parquet" | "pq" => Some(Format::Parquet),
        "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
        _ => None,
    }
}

pub use model::RawRule as RuleSource;
