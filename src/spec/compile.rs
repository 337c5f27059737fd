//! Validating the TOML model into a [`Spec`]: every key checked, every
//! error placed at its line and column (`Locator`) with a hint where one
//! helps.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use toml::Spanned;

use super::model::{self, RawEntity, RawField, RawRule, RawSource, RawSpec};
use super::resolved::{format_of_name, parse_format, Location};
use super::{
    rule, write, Authority, Deletes, Encoding, Entity, FailPolicy, Field, Format, RepairsFormat, Severity, Side,
    Source, Spec, Webhook, WebhookFormat, DRIFT_KINDS,
};
use crate::error::SpecError;
use crate::normalize::{DeclarationError, FieldType, Step, Tolerance, TypeOptions};
use crate::pii::{MaskStyle, Validator};

pub(super) struct Locator<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
}

impl Locator<'_> {
    pub(super) fn error(&self, span: Range<usize>, message: impl Into<String>) -> SpecError {
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

pub(super) struct Compiler<'a> {
    pub(super) loc: Locator<'a>,
    pub(super) params: &'a super::Params,
}

impl Compiler<'_> {
    pub(super) fn spec(&self, raw: RawSpec, sha256: String) -> Result<Spec, SpecError> {
        let timezone = match &raw.run.timezone {
            Some(tz) => self.timezone(tz)?,
            None => Tz::UTC,
        };
        let sides = [raw.sides.left.clone(), raw.sides.right.clone()];
        if sides[0] == sides[1] {
            return Err(self.loc.error(0..0, "[sides] left and right must differ"));
        }
        let base = crate::storage::Settings::from_env().map_err(|e| self.loc.error(0..0, e.to_string()))?;
        let storage = self.storage(&base, raw.storage.as_ref(), timezone)?;
        let mut entities = Vec::new();
        let mut names = BTreeSet::new();
        for e in &raw.entities {
            if !names.insert(e.name.get_ref().clone()) {
                return Err(self.loc.at(&e.name, format!("duplicate entity `{}`", e.name.get_ref())));
            }
            entities.push(self.entity(e, timezone, &sides, &storage)?);
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
        let repairs_format = match &raw.run.repairs_format {
            Some(f) => RepairsFormat::parse(f.get_ref()).map_err(|e| {
                hint(
                    self.loc.at(f, e.to_string()),
                    "`parquet` writes repairs.parquet, `jsonl` repairs.jsonl, `both` both; `,csv` adds repairs-<target>.csv",
                )
            })?,
            None => RepairsFormat::default(),
        };
        Ok(Spec {
            path: self.loc.file.to_path_buf(),
            sha256,
            name: raw.run.name,
            timezone,
            sides,
            entities,
            fail,
            repairs_format,
            storage,
            webhooks: self.webhooks(raw.notify.as_ref(), timezone)?,
        })
    }

    /// `[notify]` and its webhooks, URLs resolved.
    fn webhooks(&self, notify: Option<&model::RawNotify>, tz: Tz) -> Result<Vec<Webhook>, SpecError> {
        let Some(notify) = notify else { return Ok(Vec::new()) };
        let when = |w: Option<&Spanned<String>>, default: bool| -> Result<bool, SpecError> {
            match w.map(|w| (w, w.get_ref().as_str())) {
                None => Ok(default),
                Some((_, "always")) => Ok(true),
                Some((_, "failure")) => Ok(false),
                Some((w, other)) => Err(hint(
                    self.loc.at(w, format!("unknown `when = \"{other}\"`")),
                    "use `failure` (a threshold was hit) or `always`",
                )),
            }
        };
        let always = when(notify.when.as_ref(), false)?;
        let mut out = Vec::new();
        for w in &notify.webhooks {
            let url = super::substitute(w.url.get_ref(), self.params, tz).map_err(|e| {
                hint(
                    self.loc.at(&w.url, format!("webhook url: {e}")),
                    "a webhook URL is a secret: keep it in an environment variable, `url = \"${NAME}\"`",
                )
            })?;
            let resolved = !url.contains("${");
            if resolved && !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(self
                    .loc
                    .at(&w.url, "a webhook url must start with https:// (or http://)"));
            }
            let format = match w.format.as_ref().map(|f| (f, f.get_ref().as_str())) {
                None | Some((_, "json")) => WebhookFormat::Json,
                Some((_, "slack")) => WebhookFormat::Slack,
                Some((_, "dingtalk")) => WebhookFormat::DingTalk,
                Some((_, "wecom")) => WebhookFormat::WeCom,
                Some((f, other)) => {
                    return Err(hint(
                        self.loc.at(f, format!("unknown webhook format `{other}`")),
                        "use json, slack, dingtalk or wecom",
                    ))
                }
            };
            out.push(Webhook {
                url,
                format,
                always: when(w.when.as_ref(), always)?,
            });
        }
        Ok(out)
    }

    /// `base` with the settings of a `[storage]` or `storage = { ... }`
    /// table on top (values may hold placeholders).
    fn storage(
        &self,
        base: &crate::storage::Settings,
        table: Option<&model::RawStorage>,
        tz: Tz,
    ) -> Result<crate::storage::Settings, SpecError> {
        let Some(table) = table else { return Ok(base.clone()) };
        let mut pairs = Vec::new();
        for (k, v) in table.get_ref() {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => v.to_string(),
                _ => {
                    return Err(self.loc.at(
                        table,
                        format!("storage setting `{k}` must be a string, a number or a boolean"),
                    ))
                }
            };
            let text = super::substitute(&text, self.params, tz)
                .map_err(|e| self.loc.at(table, format!("storage setting `{k}`: {e}")))?;
            pairs.push((k.clone(), text));
        }
        base.merged(&pairs).map_err(|e| {
            hint(
                self.loc.at(table, e.to_string()),
                "storage settings are documented in rules/README.md, \"Object storage\"",
            )
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

    fn entity(
        &self,
        e: &RawEntity,
        run_tz: Tz,
        sides: &[String; 2],
        storage: &crate::storage::Settings,
    ) -> Result<Entity, SpecError> {
        let sources = [
            self.source(&e.left, run_tz, storage)?,
            self.source(&e.right, run_tz, storage)?,
        ];
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

    fn source(&self, s: &RawSource, run_tz: Tz, storage: &crate::storage::Settings) -> Result<Source, SpecError> {
        let resolved = super::substitute(s.path.get_ref(), self.params, run_tz).map_err(|e| {
            hint(
                self.loc.at(&s.path, format!("path `{}`: {e}", s.path.get_ref())),
                "`${NAME}` takes --var NAME=VALUE or the environment; `{date}` and `{date:%Y%m%d}` the \
                 business date (--as-of DATE, else today in [run] timezone)",
            )
        })?;
        let base = self.loc.file.parent().unwrap_or(Path::new(""));
        let (location, path) = if crate::storage::is_url(&resolved) {
            let shown = crate::storage::display_url(&resolved);
            (Location::Url(resolved.clone()), PathBuf::from(shown))
        } else {
            let written = crate::storage::file_url_path(&resolved).unwrap_or_else(|| PathBuf::from(&resolved));
            let path = if written.is_absolute() {
                written.clone()
            } else {
                base.join(&written)
            };
            // Only the path as written can be a pattern: the spec's own
            // folder may hold `[`, `*` or `?` in its name.
            let glob = |c: &std::path::Component<'_>| c.as_os_str().to_string_lossy().contains(['*', '?', '[']);
            match written.components().position(|c| glob(&c)) {
                None => (Location::Local(path.clone()), path),
                Some(first) => {
                    let literal: PathBuf = written.components().take(first).collect();
                    let root = if written.is_absolute() {
                        literal
                    } else {
                        base.join(literal)
                    };
                    let pattern: Vec<String> = written
                        .components()
                        .skip(first)
                        .map(|c| c.as_os_str().to_string_lossy().to_string())
                        .collect();
                    (
                        Location::Glob {
                            root,
                            pattern: pattern.join("/"),
                        },
                        path,
                    )
                }
            }
        };
        let storage = self.storage(storage, s.storage.as_ref(), run_tz)?;
        let format = match &s.format {
            Some(f) => parse_format(f.get_ref()).ok_or_else(|| {
                hint(
                    self.loc.at(f, format!("unknown format `{}`", f.get_ref())),
                    "use csv, parquet or ndjson",
                )
            })?,
            None => format_of_name(&resolved).ok_or_else(|| {
                hint(
                    self.loc.at(
                        &s.path,
                        format!("cannot tell the format of `{}` from its extension", s.path.get_ref()),
                    ),
                    "add format = \"csv\" | \"parquet\" | \"ndjson\" (a folder or a pattern without an \
                     extension needs it)",
                )
            })?,
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
            location,
            storage,
            format,
            encoding,
            delimiter,
            quote,
            timezone,
            null_values,
            allow_empty: s.allow_empty.as_ref().is_some_and(|a| *a.get_ref()),
            table: match &s.table {
                None => None,
                Some(t) => Some(crate::spec::Table::parse(t.get_ref()).ok_or_else(|| {
                    self.loc.at(
                        t,
                        format!(
                            "`table` must be `name` or `schema.name` (non-empty parts, no control characters), not `{}`",
                            t.get_ref()
                        ),
                    )
                })?),
            },
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
        let ty = [
            self.field_type(f, tz[0], Side::Left)?,
            self.field_type(f, tz[1], Side::Right)?,
        ];
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
            Some(t) if matches!(ty[0], FieldType::Set { .. }) => {
                return Err(self
                    .loc
                    .at(t, "`tolerance` does not apply to a set field: sets are equal or not"))
            }
            Some(t) => self.tolerance(t)?,
        };
        let severity = match &f.severity {
            Some(s) => Some(self.severity(s)?),
            None => None,
        };
        let pii = match &f.pii {
            None => None,
            Some(p) => Some(Validator::parse(p.get_ref()).map_err(|m| self.loc.at(p, m.to_string()))?),
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
                        Some(s) => MaskStyle::parse(&s).map_err(|msg| self.loc.at(m, msg.to_string())),
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
                        write::check_write_format(t, fmt).map_err(|m| self.loc.at(w, m.to_string()))?;
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

    fn field_type(&self, f: &RawField, side_tz: Tz, side: Side) -> Result<FieldType, SpecError> {
        let opts = TypeOptions {
            formats: f.formats.clone(),
            timezone: f.timezone.as_ref().map(|t| t.get_ref().clone()),
            true_values: f.true_values.clone(),
            false_values: f.false_values.clone(),
            separator: f.separator.as_ref().and_then(|s| match side {
                Side::Left => s.get_ref().left(),
                Side::Right => s.get_ref().right(),
            }),
        };
        let (ty, span) = match &f.ty {
            Some(t) => (t.get_ref().as_str(), t.span()),
            None => ("string", f.name.span()),
        };
        FieldType::from_spec(ty, &opts, side_tz).map_err(|m| match (&m, &f.separator) {
            (DeclarationError::EmptySeparator, Some(sep)) => self.loc.at(sep, m.to_string()),
            _ => self.loc.error(span, m.to_string()),
        })
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
