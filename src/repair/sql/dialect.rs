//! What differs between PostgreSQL and MySQL/MariaDB in a repair script:
//! quoting identifiers, writing a value as an exact literal, null-safe
//! equality, and how a statement's outcome is recorded.
//!
//! Literals are exact text: PostgreSQL takes a quoted literal as the
//! column's own type (numeric, timestamptz, boolean: no float in between),
//! and one holding a backslash is written `E'…'` so it reads alike whatever
//! `standard_conforming_strings` says; MySQL compares a quoted string with a
//! DECIMAL column as doubles, so its numbers are written unquoted, as exact
//! decimal literals. MySQL's usual collations are case-, accent- and
//! trailing-space-insensitive: its text comparisons also compare bytes.

use crate::normalize::FieldType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Mysql,
}

/// A value the dialect cannot hold as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwritable(pub &'static str);

impl Dialect {
    pub fn parse(text: &str) -> Option<Dialect> {
        match text.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::Mysql),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }

    /// An identifier, quoted (`"a""b"` / `` `a``b` ``).
    pub fn ident(self, name: &str) -> String {
        let q = match self {
            Dialect::Postgres => '"',
            Dialect::Mysql => '`',
        };
        let mut out = String::with_capacity(name.len() + 2);
        out.push(q);
        for c in name.chars() {
            if c == q {
                out.push(q);
            }
            out.push(c);
        }
        out.push(q);
        out
    }

    /// A table's parts, each quoted, joined by `.`.
    pub fn table(self, parts: &[String]) -> String {
        parts.iter().map(|p| self.ident(p)).collect::<Vec<_>>().join(".")
    }

    /// `text` as an exact literal of a column of type `ty` (None: NULL).
    pub fn literal(self, ty: &FieldType, text: Option<&str>) -> Result<String, Unwritable> {
        let Some(text) = text else {
            return Ok("NULL".into());
        };
        if text.contains('\0') {
            return Err(Unwritable(
                "the value holds a NUL character, which SQL text cannot carry",
            ));
        }
        let numeric = matches!(ty, FieldType::Int | FieldType::Decimal { .. }) && is_plain_number(text);
        match self {
            Dialect::Postgres => Ok(pg_quoted(text)),
            Dialect::Mysql if numeric => Ok(text.to_string()),
            // A backslash is an escape in MySQL's default mode and a plain
            // character under NO_BACKSLASH_ESCAPES: such text (and control
            // characters) is written as UTF-8 bytes in hex, which both read
            // alike.
            Dialect::Mysql if text.chars().any(|c| c == '\\' || c.is_control()) => {
                Ok(format!("_utf8mb4 X'{}'", hex::encode_upper(text.as_bytes())))
            }
            Dialect::Mysql => Ok(quoted(text)),
        }
    }

    /// `column` holds `literal` (from [`Dialect::literal`]), nulls equal;
    /// in MySQL a text literal matches only the same bytes.
    pub fn same(self, column: &str, literal: &str) -> String {
        match self {
            Dialect::Postgres => format!("{column} IS NOT DISTINCT FROM {literal}"),
            Dialect::Mysql if is_text(literal) => {
                format!("({column} <=> {literal} AND CAST({column} AS BINARY) <=> CAST({literal} AS BINARY))")
            }
            Dialect::Mysql => format!("{column} <=> {literal}"),
        }
    }

    /// `column = literal` (a key part, never null), exactly as [`Dialect::same`].
    pub fn equal(self, column: &str, literal: &str) -> String {
        match self {
            Dialect::Mysql if is_text(literal) => {
                format!("({column} = {literal} AND CAST({column} AS BINARY) = CAST({literal} AS BINARY))")
            }
            _ => format!("{column} = {literal}"),
        }
    }

    /// A JSON text as a string literal (PostgreSQL's json_populate_record).
    pub fn text(self, text: &str) -> String {
        match self {
            Dialect::Postgres => pg_quoted(text),
            Dialect::Mysql => quoted(text),
        }
    }
}

/// Whether a literal of [`Dialect::literal`] is text (quoted or hex).
fn is_text(literal: &str) -> bool {
    literal.starts_with('\'') || literal.starts_with("_utf8mb4 X'") || literal.starts_with("E'")
}

/// A PostgreSQL string literal that reads the same whether
/// `standard_conforming_strings` is on or off: `'…'`, or `E'…'` with
/// backslashes doubled when the text holds one.
fn pg_quoted(text: &str) -> String {
    match text.contains('\\') {
        true => format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''")),
        false => quoted(text),
    }
}

/// `'text'` with quotes doubled (standard SQL; PostgreSQL's
/// standard_conforming_strings, on by default, takes backslashes as they are).
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `-?digits[.digits]`: a number both dialects read exactly.
fn is_plain_number(text: &str) -> bool {
    let t = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec() -> FieldType {
        FieldType::Decimal {
            precision: 38,
            scale: 10,
        }
    }

    #[test]
    fn identifiers_are_quoted_with_their_quote_doubled() {
        assert_eq!(Dialect::Postgres.ident(r#"we"ird"#), r#""we""ird""#);
        assert_eq!(Dialect::Mysql.ident("we`ird"), "`we``ird`");
        assert_eq!(
            Dialect::Postgres.table(&["crm".into(), "contacts".into()]),
            r#""crm"."contacts""#
        );
    }

    #[test]
    fn literals_are_exact_and_escaped_for_the_dialect() {
        let s = FieldType::String;
        assert_eq!(Dialect::Postgres.literal(&s, Some("O'Brien")), Ok("'O''Brien'".into()));
        assert_eq!(Dialect::Postgres.literal(&s, Some(r"C:\x'")), Ok(r"E'C:\\x'''".into()));
        assert_eq!(Dialect::Postgres.literal(&s, None), Ok("NULL".into()));
        assert_eq!(
            Dialect::Postgres.literal(&dec(), Some("12345678901234567890.0123456789")),
            Ok("'12345678901234567890.0123456789'".into())
        );
        assert_eq!(Dialect::Mysql.literal(&dec(), Some("-0.10")), Ok("-0.10".into()));
        assert_eq!(Dialect::Mysql.literal(&FieldType::Int, Some("42")), Ok("42".into()));
        // Not a plain number: quoted (the target reads it as it can).
        assert_eq!(Dialect::Mysql.literal(&dec(), Some("1e5")), Ok("'1e5'".into()));
        assert_eq!(
            Dialect::Mysql.literal(&s, Some("O'Brien 😀")),
            Ok("'O''Brien 😀'".into())
        );
        assert_eq!(
            Dialect::Mysql.literal(&s, Some(r"a\b")),
            Ok("_utf8mb4 X'615C62'".into())
        );
        assert_eq!(
            Dialect::Mysql.literal(&s, Some("a\nb")),
            Ok("_utf8mb4 X'610A62'".into())
        );
        for d in [Dialect::Postgres, Dialect::Mysql] {
            assert!(d.literal(&s, Some("a\0b")).is_err());
        }
    }

    #[test]
    fn plain_numbers_are_digits_with_an_optional_sign_and_fraction() {
        for yes in ["0", "-1", "12.50", "-0.001"] {
            assert!(is_plain_number(yes), "{yes}");
        }
        for no in ["", "-", ".5", "5.", "1e5", "+1", "1,000", "0x10", " 1"] {
            assert!(!is_plain_number(no), "{no}");
        }
    }

    #[test]
    fn dialects_parse_by_their_names() {
        assert_eq!(Dialect::parse("PostgreSQL"), Some(Dialect::Postgres));
        assert_eq!(Dialect::parse("mariadb"), Some(Dialect::Mysql));
        assert_eq!(Dialect::parse("oracle"), None);
    }
}
