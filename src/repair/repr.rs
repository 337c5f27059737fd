//! Values in a target system's own representation: the inverse of the
//! spec's mapping (type → value map → text), checked by reading the written
//! text back through the spec. When no exact inverse exists the caller gets
//! the reason and emits a `review`, never a guess.

use chrono::{NaiveDate, TimeZone};

use crate::keys::KeyRing;
use crate::normalize::{FieldType, Value};
use crate::pii::MaskStyle;
use crate::prepare::{convert, Cell};
use crate::spec::write::{bool_spellings, RFC3339};
use crate::spec::{Entity, Field, Side};

/// Why a value has no exact representation on the target side; its text
/// becomes the `detail` of a `review` repair.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoInverse {
    #[error("timestamp out of range")]
    TimestampOutOfRange,
    #[error("date out of range")]
    DateOutOfRange,
    #[error("a null would read back as the {side} side's default")]
    NullReadsAsDefault { side: &'static str },
    #[error("the value is not in the {side} side's value map of `{field}`")]
    NotInValueMap { side: &'static str, field: String },
    #[error("several {side} values of `{field}` map to the same value; no exact inverse")]
    SeveralMapped { side: &'static str, field: String },
    #[error("no {side} representation of `{field}` reads back as the same value")]
    NoRoundTrip { side: &'static str, field: String },
    #[error("the {side} side holds masked values of `{field}`; the clear value cannot be recovered")]
    MaskedSource { side: &'static str, field: String },
    #[error("the {side} side stores its own tokens of `{field}`; recon cannot produce them")]
    OwnTokens { side: &'static str, field: String },
    #[error("no {style} mask of `{field}`")]
    NoMask { style: &'static str, field: String },
    #[error("an element of `{field}` holds the {side} side's separator `{separator}`")]
    SeparatorInElement {
        side: &'static str,
        field: String,
        separator: String,
    },
    #[error("`{field}` cannot be converted on the {side} side")]
    Unconvertible { side: &'static str, field: String },
}

/// Text of `value` for the declared type, before the value map is reversed.
fn format_typed(ty: &FieldType, write: Option<&str>, value: &Value) -> Result<String, NoInverse> {
    if let (Some((t, f)), Value::Bool(b)) = (write.and_then(bool_spellings), value) {
        return Ok(if *b { t } else { f }.to_string());
    }
    Ok(match (ty, value) {
        (FieldType::Bool { true_values, .. }, Value::Bool(true)) => true_values[0].clone(),
        (FieldType::Bool { false_values, .. }, Value::Bool(false)) => false_values[0].clone(),
        (FieldType::Timestamp { timezone, .. }, Value::Ts(at)) => {
            let utc = at.to_utc().ok_or(NoInverse::TimestampOutOfRange)?;
            let local = timezone.from_utc_datetime(&utc.naive_utc());
            match write {
                None | Some(RFC3339) => local.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                Some(fmt) => local.format(fmt).to_string(),
            }
        }
        (FieldType::Date { .. }, Value::Date(days)) => {
            let date = days
                .checked_add(719_163)
                .and_then(NaiveDate::from_num_days_from_ce_opt)
                .ok_or(NoInverse::DateOutOfRange)?;
            date.format(write.unwrap_or("%Y-%m-%d")).to_string()
        }
        (_, v) => v.display(),
    })
}

/// The raw text `side` stores for canonical `value` (None: null), such that
/// the spec reads it back as exactly `value`. Err names why no exact inverse
/// exists.
pub fn to_target(field: &Field, side: Side, value: Option<&Value>) -> Result<Option<String>, NoInverse> {
    let i = side.idx();
    let Some(v) = value else {
        return match convert(field, side, None) {
            Ok(None) => Ok(None),
            _ => Err(NoInverse::NullReadsAsDefault { side: side.as_str() }),
        };
    };
    let ty = &field.ty[i];
    let raw = match (ty, v) {
        (FieldType::Set { separator }, Value::Str(canonical)) => {
            set_text(field, side, separator.as_deref(), canonical)?
        }
        _ => scalar_text(field, side, v)?,
    };
    match convert(field, side, Some(&raw)) {
        Ok(Some(back)) if back == *v => Ok(Some(raw)),
        _ => Err(NoInverse::NoRoundTrip {
            side: side.as_str(),
            field: field.name.clone(),
        }),
    }
}

/// The raw text of one value of a single-valued field: its value map
/// reversed, or the type's own text.
fn scalar_text(field: &Field, side: Side, v: &Value) -> Result<String, NoInverse> {
    let i = side.idx();
    let ty = &field.ty[i];
    Ok(match &field.map[i] {
        None => format_typed(ty, field.write[i].as_deref(), v)?,
        Some(map) => {
            let raws: Vec<&String> = map
                .iter()
                .filter(|(_, canonical)| ty.convert(canonical).as_ref() == Ok(v))
                .map(|(raw, _)| raw)
                .collect();
            match only_raw(field, side, &raws)? {
                Some(raw) => raw.clone(),
                None => format_typed(ty, field.write[i].as_deref(), v)?,
            }
        }
    })
}

/// The one raw value a value map turns into the value sought (`raws`: all
/// that do); None when there is none and unmapped values are kept as they
/// are; an error when there is none or several.
fn only_raw<'a>(field: &Field, side: Side, raws: &[&'a String]) -> Result<Option<&'a String>, NoInverse> {
    match raws {
        [one] => Ok(Some(one)),
        [] if field.keep_unmapped => Ok(None),
        [] => Err(NoInverse::NotInValueMap {
            side: side.as_str(),
            field: field.name.clone(),
        }),
        _ => Err(NoInverse::SeveralMapped {
            side: side.as_str(),
            field: field.name.clone(),
        }),
    }
}

/// The raw text of a set: each element's value map reversed, then the
/// elements joined by the side's separator (or written as a list).
fn set_text(field: &Field, side: Side, separator: Option<&str>, canonical: &str) -> Result<String, NoInverse> {
    let i = side.idx();
    let mut raws = Vec::new();
    for element in crate::normalize::set::elements(canonical) {
        raws.push(match &field.map[i] {
            None => element,
            Some(map) => {
                let found: Vec<&String> = map.iter().filter(|(_, c)| **c == element).map(|(raw, _)| raw).collect();
                match only_raw(field, side, &found)? {
                    Some(raw) => raw.clone(),
                    None => element,
                }
            }
        });
    }
    crate::normalize::set::render(&raws, separator).map_err(|_| NoInverse::SeparatorInElement {
        side: side.as_str(),
        field: field.name.clone(),
        separator: separator.unwrap_or_default().to_string(),
    })
}

/// The value side `to` should hold for side `from`'s `value`, given the
/// field's mask policy on each side: unchanged when both sides use the same
/// style; the target's mask of the clear value when only the target masks;
/// impossible when the source holds masked values (the clear value cannot
/// be recovered) or the target stores tokens of its own.
pub fn transfer(field: &Field, from: Side, to: Side, value: Option<&Value>) -> Result<Option<Value>, NoInverse> {
    let (ms, mt) = (field.mask[from.idx()], field.mask[to.idx()]);
    if ms == mt {
        return Ok(value.cloned());
    }
    if ms != MaskStyle::Clear {
        return Err(NoInverse::MaskedSource {
            side: from.as_str(),
            field: field.name.clone(),
        });
    }
    let Some(v) = value else { return Ok(None) };
    match mt {
        MaskStyle::Absent => Ok(None),
        MaskStyle::Token => Err(NoInverse::OwnTokens {
            side: to.as_str(),
            field: field.name.clone(),
        }),
        style => style
            .apply(&v.display())
            .map(|m| Some(Value::Str(m.into())))
            .ok_or_else(|| NoInverse::NoMask {
                style: style.name(),
                field: field.name.clone(),
            }),
    }
}

/// [`transfer`] then [`to_target`]: the text side `to` stores for side
/// `from`'s value.
pub fn to_target_from(field: &Field, from: Side, to: Side, value: Option<&Value>) -> Result<Option<String>, NoInverse> {
    let v = transfer(field, from, to, value)?;
    to_target(field, to, v.as_ref())
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
    if super::sensitive(f) {
        return Some(keys.mac(&domain(entity, field), &v.display()));
    }
    match to_target(f, side, Some(v)) {
        Ok(Some(raw)) => Some(raw),
        _ => Some(v.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::Instant;
    use crate::spec::write::check_write_format;
    use crate::spec::Spec;

    fn spec(fields: &str) -> Spec {
        let text = format!(
            r#"
[run]
name = "t"
timezone = "Asia/Shanghai"
[sides]
left = "a"
right = "b"
[[entity]]
name = "e"
key = ["id"]
left = {{ path = "l.csv", timezone = "UTC" }}
right = {{ path = "r.csv" }}
  [[entity.field]]
  name = "id"
{fields}
"#
        );
        crate::spec::parse(std::path::Path::new("t.toml"), &text, String::new()).unwrap()
    }

    fn target(s: &Spec, side: Side, v: Option<Value>) -> Result<Option<String>, NoInverse> {
        to_target(&s.entities[0].fields[1], side, v.as_ref())
    }

    #[test]
    fn value_maps_are_reversed_exactly_or_not_at_all() {
        let s = spec(
            r#"  [[entity.field]]
  name = "status"
  map = { left = { "1" = "active", "0" = "inactive" }, right = { "Active" = "active", "A" = "active", "Inactive" = "inactive" } }"#,
        );
        let active = Some(Value::Str("active".into()));
        assert_eq!(target(&s, Side::Left, active.clone()), Ok(Some("1".into())));
        let err = target(&s, Side::Right, active).unwrap_err().to_string();
        assert!(err.contains("no exact inverse"), "{err}");
        assert_eq!(
            target(&s, Side::Right, Some(Value::Str("inactive".into()))),
            Ok(Some("Inactive".into()))
        );
        let err = target(&s, Side::Left, Some(Value::Str("gone".into())))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not in the left side's value map"), "{err}");
    }

    #[test]
    fn sets_are_written_in_each_side_own_representation() {
        let s = spec(
            r#"  [[entity.field]]
  name = "perms"
  type = "set"
  separator = { left = ";" }
  normalize = ["trim"]
  map = { left = { "view" = "view", "export" = "export_pii" }, right = { "View" = "view", "ExportPII" = "export_pii", "Export" = "export_pii" } }"#,
        );
        let v = crate::normalize::set::canonical(["view", "export_pii"]);
        // Left: delimited, each element's map reversed, in canonical order.
        assert_eq!(target(&s, Side::Left, v.clone()), Ok(Some("export;view".into())));
        // Right: a list, but `export_pii` has two right spellings.
        let err = target(&s, Side::Right, v).unwrap_err().to_string();
        assert!(err.contains("no exact inverse"), "{err}");
        let v = crate::normalize::set::canonical(["view"]);
        assert_eq!(target(&s, Side::Right, v), Ok(Some(r#"["View"]"#.into())));
        assert_eq!(target(&s, Side::Left, None), Ok(None));

        let s = spec(
            r#"  [[entity.field]]
  name = "perms"
  type = "set"
  separator = { left = ";" }"#,
        );
        // An element holding the target's separator cannot be written there.
        let v = crate::normalize::set::canonical(["a;b", "c"]);
        let err = target(&s, Side::Left, v.clone()).unwrap_err().to_string();
        assert!(err.contains("separator `;`"), "{err}");
        assert_eq!(target(&s, Side::Right, v), Ok(Some(r#"["a;b","c"]"#.into())));
    }

    #[test]
    fn types_are_formatted_for_the_target() {
        let s = spec(
            r#"  [[entity.field]]
  name = "amount"
  type = "decimal(10,2)""#,
        );
        let v = Value::dec(1230, 2);
        assert_eq!(target(&s, Side::Right, Some(v)), Ok(Some("12.30".into())));
        let s = spec(
            r#"  [[entity.field]]
  name = "vip"
  type = "bool"
  true_values = ["Y", "true"]
  false_values = ["N", "false"]"#,
        );
        assert_eq!(target(&s, Side::Left, Some(Value::Bool(true))), Ok(Some("y".into())));
        assert_eq!(target(&s, Side::Left, Some(Value::Bool(false))), Ok(Some("n".into())));
        let s = spec(
            r#"  [[entity.field]]
  name = "vip"
  type = "bool"
  true_values = ["Y", "true"]
  false_values = ["N", "false"]
  write = { left = "Y/N", right = "true/false" }"#,
        );
        assert_eq!(target(&s, Side::Left, Some(Value::Bool(true))), Ok(Some("Y".into())));
        assert_eq!(
            target(&s, Side::Right, Some(Value::Bool(false))),
            Ok(Some("false".into()))
        );
        let bool_ty = s.entities[0].fields[1].ty[0].clone();
        assert!(check_write_format(&bool_ty, "yes/no").is_err());
        assert!(check_write_format(&bool_ty, "Y").is_err());
    }

    #[test]
    fn timestamps_take_the_target_zone_and_write_format() {
        let s = spec(
            r#"  [[entity.field]]
  name = "at"
  type = "timestamp"
  write = { right = "%Y/%m/%d %H:%M:%S" }"#,
        );
        // 2026-11-23T00:03:44Z
        let v = Value::Ts(Instant::from_micros(1_795_392_224_000_000));
        assert_eq!(
            target(&s, Side::Left, Some(v.clone())),
            Ok(Some("2026-11-23T00:03:44Z".into()))
        );
        assert_eq!(target(&s, Side::Right, Some(v)), Ok(Some("2026/11/23 08:03:44".into())));
        // sub-second precision the write format drops: no exact representation
        let err = target(
            &s,
            Side::Right,
            Some(Value::Ts(Instant::from_micros(1_795_392_224_500_000))),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("reads back"), "{err}");
        let s = spec(
            r#"  [[entity.field]]
  name = "at"
  type = "timestamp""#,
        );
        assert_eq!(
            target(
                &s,
                Side::Right,
                Some(Value::Ts(Instant::from_micros(1_795_392_224_500_000)))
            ),
            Ok(Some("2026-11-23T08:03:44.500+08:00".into()))
        );
    }

    #[test]
    fn a_precondition_holds_the_target_own_text() {
        let s = spec(
            r#"  [[entity.field]]
  name = "status"
  map = { left = { "1" = "active", "0" = "inactive" }, right = { "A" = "active", "I" = "inactive", "Inactive" = "inactive" } }"#,
        );
        let e = &s.entities[0];
        let ring = KeyRing::new(None);
        let active = Cell::Val(Value::Str("active".into()));
        // What the target holds, in its own spelling: `A` on the right, `1` on the left.
        assert_eq!(expected_of(e, 1, Side::Right, &active, &ring), Some("A".into()));
        assert_eq!(expected_of(e, 1, Side::Left, &active, &ring), Some("1".into()));
        // No exact inverse (two right spellings of `inactive`): the canonical display.
        let inactive = Cell::Val(Value::Str("inactive".into()));
        assert_eq!(
            expected_of(e, 1, Side::Right, &inactive, &ring),
            Some("inactive".into())
        );
        assert_eq!(expected_of(e, 1, Side::Right, &Cell::Null, &ring), None);
        assert_eq!(expected_of(e, 1, Side::Right, &Cell::Bad, &ring), None);
    }

    #[test]
    fn personal_data_preconditions_are_macs_kept_apart_by_field() {
        let s = spec(
            r#"  [[entity.field]]
  name = "phone"
  pii = "cn_mobile"
  [[entity.field]]
  name = "backup_phone"
  pii = "cn_mobile""#,
        );
        let e = &s.entities[0];
        assert_eq!(domain(e, 1), "e.phone");
        assert_eq!(domain(e, 2), "e.backup_phone");
        let key = [7u8; 32];
        let ring = KeyRing::with_token_key(&key);
        let tokens = crate::pii::Tokenizer::new(&key).unwrap();
        let cell = Cell::Val(Value::Str("13800138000".into()));
        let phone = expected_of(e, 1, Side::Right, &cell, &ring).unwrap();
        let backup = expected_of(e, 2, Side::Right, &cell, &ring).unwrap();
        // The MAC of the value under its field's domain, never the value itself.
        assert_eq!(phone, tokens.mac_hex("e.phone", "13800138000"));
        assert_eq!(backup, tokens.mac_hex("e.backup_phone", "13800138000"));
        assert_ne!(phone, backup, "one value in two fields must not link");
        assert!(!phone.contains("13800138000"));
    }

    #[test]
    fn null_is_written_only_when_it_reads_back_as_null() {
        let s = spec(
            r#"  [[entity.field]]
  name = "v"
  default = { right = "x" }"#,
        );
        assert_eq!(target(&s, Side::Left, None), Ok(None));
        assert!(target(&s, Side::Right, None).is_err());
    }
}
