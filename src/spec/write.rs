//! The `write` format of a field: how a target system spells a bool
//! (`"Y/N"`), a date or a timestamp (strftime, or `rfc3339`) when repairs
//! write a value into it. Checked against the field's type here, when the
//! spec is read; applied by `repair`.

use crate::normalize::FieldType;

/// Pseudo-format for RFC 3339 in `write`.
pub const RFC3339: &str = "rfc3339";

/// Why a field's `write` format does not fit its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteFormatError {
    #[error("`write` of a bool field is \"<true>/<false>\", e.g. \"Y/N\", not `{format}`")]
    NotBoolSpellings { format: String },
    #[error("`write = \"{format}\"` must use spellings declared in true_values / false_values")]
    UndeclaredSpellings { format: String },
    #[error("`write` applies to bool, date and timestamp fields, not {ty}")]
    WrongType { ty: String },
    #[error("`write = \"rfc3339\"` is only valid for timestamps")]
    Rfc3339NotTimestamp,
    #[error("invalid `write` format `{format}` (chrono strftime syntax expected)")]
    BadStrftime { format: String },
}

/// Validates a field's `write` format against its type on that side.
pub fn check_write_format(ty: &FieldType, format: &str) -> Result<(), WriteFormatError> {
    if let FieldType::Bool {
        true_values,
        false_values,
    } = ty
    {
        let (t, f) = bool_spellings(format).ok_or_else(|| WriteFormatError::NotBoolSpellings {
            format: format.to_string(),
        })?;
        if !true_values.contains(&t.to_lowercase()) || !false_values.contains(&f.to_lowercase()) {
            return Err(WriteFormatError::UndeclaredSpellings {
                format: format.to_string(),
            });
        }
        return Ok(());
    }
    let timestamp = match ty {
        FieldType::Timestamp { .. } => true,
        FieldType::Date { .. } => false,
        other => {
            return Err(WriteFormatError::WrongType {
                ty: other.name().to_string(),
            })
        }
    };
    if format == RFC3339 {
        return if timestamp {
            Ok(())
        } else {
            Err(WriteFormatError::Rfc3339NotTimestamp)
        };
    }
    let bad = chrono::format::StrftimeItems::new(format).any(|i| matches!(i, chrono::format::Item::Error));
    if format.is_empty() || bad {
        return Err(WriteFormatError::BadStrftime {
            format: format.to_string(),
        });
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
