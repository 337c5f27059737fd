//! Parameterized paths: `${NAME}` from `--var NAME=VALUE` or the
//! environment, and `{date}` / `{date:%Y%m%d}` the run's business date, in
//! source paths and storage settings.
//!
//! The spec file (and its SHA-256 in the evidence) keeps the placeholders;
//! the resolved paths are what the run reads and records.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;

/// What placeholders resolve to.
#[derive(Debug, Clone)]
pub struct Params {
    /// `--var NAME=VALUE`, taken before the environment.
    pub vars: BTreeMap<String, String>,
    /// `--as-of DATE`: the business date; default today in `[run] timezone`.
    pub as_of: Option<NaiveDate>,
    /// An unset `${NAME}` is an error (a run, a check); otherwise it stays
    /// as written (commands that read a past run's spec but no source).
    pub strict: bool,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            vars: BTreeMap::new(),
            as_of: None,
            strict: true,
        }
    }
}

/// A `--var` that is not `NAME=VALUE` with a valid name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidVar(pub String);

impl Params {
    /// Placeholders left as written when they cannot be resolved.
    pub fn lenient() -> Params {
        Params {
            strict: false,
            ..Params::default()
        }
    }

    /// Parses `NAME=VALUE` pairs as `--var` gives them.
    pub fn with_vars(mut self, pairs: &[String]) -> Result<Params, InvalidVar> {
        for pair in pairs {
            let Some((name, value)) = pair.split_once('=') else {
                return Err(InvalidVar(format!("--var `{pair}` is not NAME=VALUE")));
            };
            if !valid_name(name) {
                return Err(InvalidVar(format!(
                    "--var `{name}`: a variable name is letters, digits and `_`, not starting with a digit"
                )));
            }
            self.vars.insert(name.to_string(), value.to_string());
        }
        Ok(self)
    }

    /// The business date in `tz`: `--as-of`, else today there.
    pub fn date(&self, tz: Tz) -> NaiveDate {
        self.as_of
            .unwrap_or_else(|| chrono::Utc::now().with_timezone(&tz).date_naive())
    }
}

/// Why a placeholder did not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceholderError {
    /// `${NAME}` with neither `--var NAME=…` nor the environment variable.
    Unset(String),
    /// `${` without its `}`, or an invalid name.
    Malformed(String),
    /// `{date:FORMAT}` with a format chrono cannot use.
    DateFormat(String),
}

impl std::fmt::Display for PlaceholderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlaceholderError::Unset(name) => write!(
                f,
                "variable `{name}` is not set (give --var {name}=VALUE or set the environment variable)"
            ),
            PlaceholderError::Malformed(text) => write!(f, "malformed placeholder `{text}`"),
            PlaceholderError::DateFormat(fmt) => write!(f, "`{{date:{fmt}}}` is not a valid date format"),
        }
    }
}

/// `text` with `${NAME}`, `{date}` and `{date:FORMAT}` replaced; other
/// braces (glob alternatives `{a,b}`) are kept. `$$` is a literal `$`.
pub fn substitute(text: &str, params: &Params, tz: Tz) -> Result<String, PlaceholderError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['$', '{']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                return Err(PlaceholderError::Malformed(rest.to_string()));
            };
            let name = &after[..end];
            if !valid_name(name) {
                return Err(PlaceholderError::Malformed(format!("${{{name}}}")));
            }
            match params.vars.get(name).cloned().or_else(|| std::env::var(name).ok()) {
                Some(value) => out.push_str(&value),
                None if params.strict => return Err(PlaceholderError::Unset(name.to_string())),
                None => out.push_str(&rest[..end + 3]),
            }
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix("{date") {
            let close = after.find('}');
            match (after.chars().next(), close) {
                (Some('}'), _) => {
                    out.push_str(&params.date(tz).format("%Y-%m-%d").to_string());
                    rest = &after[1..];
                }
                (Some(':'), Some(end)) => {
                    let fmt = &after[1..end];
                    out.push_str(&format_date(params.date(tz), fmt)?);
                    rest = &after[end + 1..];
                }
                _ => {
                    out.push('{');
                    rest = &rest[1..];
                }
            }
        } else {
            out.push_str(&rest[..1]);
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn format_date(date: NaiveDate, fmt: &str) -> Result<String, PlaceholderError> {
    use chrono::format::{Item, StrftimeItems};
    let items: Vec<Item> = StrftimeItems::new(fmt).collect();
    if fmt.is_empty() || items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(PlaceholderError::DateFormat(fmt.to_string()));
    }
    let mut out = String::new();
    std::fmt::Write::write_fmt(&mut out, format_args!("{}", date.format_with_items(items.into_iter())))
        .map_err(|_| PlaceholderError::DateFormat(fmt.to_string()))?;
    Ok(out)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params {
            vars: BTreeMap::from([("DT".to_string(), "2026-12-06".to_string())]),
            as_of: NaiveDate::from_ymd_opt(2026, 12, 7),
            strict: true,
        }
    }

    #[test]
    fn variables_and_dates_resolve_and_globs_stay() {
        let p = params();
        let tz = chrono_tz::UTC;
        assert_eq!(
            substitute("s3://b/exports/dt=${DT}/part-*.csv.gz", &p, tz).unwrap(),
            "s3://b/exports/dt=2026-12-06/part-*.csv.gz"
        );
        assert_eq!(substitute("x/{date}/y", &p, tz).unwrap(), "x/2026-12-07/y");
        assert_eq!(substitute("x_{date:%Y%m%d}.csv", &p, tz).unwrap(), "x_20261207.csv");
        assert_eq!(substitute("a/{x,y}/{date", &p, tz).unwrap(), "a/{x,y}/{date");
        assert_eq!(substitute("cost$$5/$", &p, tz).unwrap(), "cost$5/$");
        assert_eq!(substitute("no placeholders", &p, tz).unwrap(), "no placeholders");
    }

    #[test]
    fn an_unset_variable_is_named_unless_lenient() {
        let p = params();
        let err = substitute("s3://b/${RECON_TEST_SURELY_UNSET}/x", &p, chrono_tz::UTC).unwrap_err();
        assert_eq!(err, PlaceholderError::Unset("RECON_TEST_SURELY_UNSET".into()));
        assert!(err.to_string().contains("--var RECON_TEST_SURELY_UNSET=VALUE"));
        let lenient = Params { strict: false, ..p };
        assert_eq!(
            substitute("s3://b/${RECON_TEST_SURELY_UNSET}/x", &lenient, chrono_tz::UTC).unwrap(),
            "s3://b/${RECON_TEST_SURELY_UNSET}/x"
        );
    }

    #[test]
    fn malformed_placeholders_and_formats_are_errors() {
        let p = params();
        assert!(matches!(
            substitute("a/${DT", &p, chrono_tz::UTC),
            Err(PlaceholderError::Malformed(_))
        ));
        assert!(matches!(
            substitute("a/${1X}", &p, chrono_tz::UTC),
            Err(PlaceholderError::Malformed(_))
        ));
        assert!(matches!(
            substitute("a/{date:%Q}", &p, chrono_tz::UTC),
            Err(PlaceholderError::DateFormat(_))
        ));
        assert!(Params::default().with_vars(&["NOEQUALS".into()]).is_err());
        assert!(Params::default().with_vars(&["9X=1".into()]).is_err());
        assert_eq!(Params::default().with_vars(&["A=b=c".into()]).unwrap().vars["A"], "b=c");
    }

    #[test]
    fn the_business_date_is_today_in_the_run_time_zone() {
        let p = Params::default();
        let tz: Tz = "Pacific/Kiritimati".parse().unwrap();
        assert_eq!(p.date(tz), chrono::Utc::now().with_timezone(&tz).date_naive());
    }
}
