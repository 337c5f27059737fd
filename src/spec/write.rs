//! The `write` format of a field: how a target system spells a bool
//! (`"Y/N"`), a date or a timestamp (strftime, or `rfc3339`) when repairs
//! write a value into it. Checked against the field's type here, when the
//! spec is read; applied by `repair`.

use crate::normalize::FieldType;

/// Pseudo-format for RFC 3339 in `write`.
pub const RFC3339: &str = "rfc3339";

/// Validates a field's `write` format against its type on that side.
pub fn check_write_format(ty: &FieldType, format: &str) -> Result<(), String> {
    if let FieldType::Bool {
        true_values,
        false_values,
    } = ty
    {
        let (t, f) = bool_spellings(format)
            .ok_or_else(|| format!("`write` of a bool field is \"<true>/<false>\", e.g. \"Y/N\", not `{format}`"))?;
        if !true_values.contains(&t.to_lowercase()) || !false_values.contains(&f.to_lowercase()) {
            return Err(format!(
                "`write = \"{format}\"` must use spellings declared in true_values / false_values"
            ));
        }
        return Ok(());
    }
    let timestamp = match ty {
        FieldType::Timestamp { .. } => true,
        FieldType::Date { .. } => false,
        other => {
            return Err(format!(
                "`write` applies to bool, date and timestamp fields, not {}",
                other.name()
            ))
        }
    };
    if format == RFC3339 {
        return if timestamp {
            Ok(())
        } else {
            Err("`write = \"rfc3339\"` is only valid for timestamps".into())
        };
    }
    let bad = chrono::format::StrftimeItems::new(format).any(|i| matches!(i, chrono::format::Item::Error));
    if format.is_empty() || bad {
        return Err(format!(
            "invalid `write` format `{format}` (chrono strftime syntax expected)"
        ));
    }
    Ok(())
}

/// `"Y/N"` → (`Y`, `N`).
pub fn bool_spellings(write: &str) -> Option<(&str, &str)> {
    let (t, f) = write.split_once('/')?;
    (!t.is_empty() && !f.is_empty() && !f.contains('/')).then_some((t, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_formats_are_checked() {
        let ts = FieldType::from_spec("timestamp", &Default::default(), chrono_tz::Tz::UTC).unwrap();
        assert!(check_write_format(&ts, "%Y/%m/%d %H:%M:%S").is_ok());
        assert!(check_write_format(&ts, "rfc3339").is_ok());
        assert!(check_write_format(&ts, "%Q").is_err());
        assert!(check_write_format(&FieldType::Int, "%Y").is_err());
        let date = FieldType::from_spec("date", &Default::default(), chrono_tz::Tz::UTC).unwrap();
        assert!(check_write_format(&date, "rfc3339").is_err());
    }
}
