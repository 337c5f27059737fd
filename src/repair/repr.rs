//! Values in a target system's own representation: the inverse of the
//! spec's mapping (type → value map → text), checked by reading the written
//! text back through the spec. When no exact inverse exists the caller gets
//! the reason and emits a `review`, never a guess.

use chrono::{DateTime, NaiveDate, TimeZone};

use crate::keys::KeyRing;
use crate::normalize::{FieldType, Value};
use crate::prepare::{convert, Cell};
use crate::spec::{Entity, Field, Side};

/// Pseudo-format for RFC 3339 in `write`.
const RFC3339: &str = "rfc3339";

/// Validates a field's `write` format against its type on that side.
pub fn check_write_format(ty: &FieldType, format: &str) -> Result<(), String> {
    let timestamp = match ty {
        FieldType::Timestamp { .. } => true,
        FieldType::Date { .. } => false,
        other => {
            return Err(format!(
                "`write` applies to date and timestamp fields, not {}",
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

/// Text of `value` for the declared type, before the value map is reversed.
fn format_typed(ty: &FieldType, write: Option<&str>, value: &Value) -> Result<String, String> {
    Ok(match (ty, value) {
        (FieldType::Bool { true_values, .. }, Value::Bool(true)) => true_values[0].clone(),
        (FieldType::Bool { false_values, .. }, Value::Bool(false)) => false_values[0].clone(),
        (FieldType::Timestamp { timezone, .. }, Value::Ts(micros)) => {
            let utc = DateTime::from_timestamp_micros(*micros).ok_or("timestamp out of range")?;
            let local = timezone.from_utc_datetime(&utc.naive_utc());
            match write {
                None | Some(RFC3339) => local.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                Some(fmt) => local.format(fmt).to_string(),
            }
        }
        (FieldType::Date { .. }, Value::Date(days)) => {
            let date = NaiveDate::from_num_days_from_ce_opt(days + 719_163).ok_or("date out of range")?;
            date.format(write.unwrap_or("%Y-%m-%d")).to_string()
        }
        (_, v) => v.display(),
    })
}

/// The raw text `side` stores for canonical `value` (None: null), such that
/// the spec reads it back as exactly `value`. Err names why no exact inverse
/// exists.
pub fn to_target(field: &Field, side: Side, value: Option<&Value>) -> Result<Option<String>, String> {
    let i = side.idx();
    let Some(v) = value else {
        return match convert(field, side, None) {
            Ok(None) => Ok(None),
            _ => Err(format!(
                "a null would read back as the {} side's default",
                side.as_str()
            )),
        };
    };
    let ty = &field.ty[i];
    let raw = match &field.map[i] {
        None => format_typed(ty, field.write[i].as_deref(), v)?,
        Some(map) => {
            let raws: Vec<&String> = map
                .iter()
                .filter(|(_, canonical)| ty.convert(canonical).as_ref() == Ok(v))
                .map(|(raw, _)| raw)
                .collect();
            match raws.as_slice() {
                [one] => (*one).clone(),
                [] if field.keep_unmapped => format_typed(ty, field.write[i].as_deref(), v)?,
                [] => {
                    return Err(format!(
                        "the value is not in the {} side's value map of `{}`",
                        side.as_str(),
                        field.name
                    ))
                }
                _ => {
                    return Err(format!(
                        "several {} values of `{}` map to the same value; no exact inverse",
                        side.as_str(),
                        field.name
                    ))
                }
            }
        }
    };
    match convert(field, side, Some(&raw)) {
        Ok(Some(back)) if back == *v => Ok(Some(raw)),
        _ => Err(format!(
            "no {} representation of `{}` reads back as the same value",
            side.as_str(),
            field.name
        )),
    }
}

/// HMAC domain of a field's personal values.
pub fn domain(entity: &Entity, field: usize) -> String {
    format!("{}.{}", entity.name, entity.fields[field].name)
}

/// The precondition text of a target cell: its value in the target's
/// representation (its canonical display when none exists), the keyed MAC
/// for personal data, None for null (and for an unconvertible cell).
pub fn expected_of(entity: &Entity, field: usize, side: Side, cell: &Cell, keys: &KeyRing) -> Option<String> {
    let f = &entity.fields[field];
    let v = cell.value()?;
    if f.is_pii() {
        return Some(keys.mac(&domain(entity, field), &v.display()));
    }
    match to_target(f, side, Some(v)) {
        Ok(Some(raw)) => Some(raw),
        _ => Some(v.display()),
    }
}
