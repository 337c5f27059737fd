//! How values and keys appear in findings, repairs and reports: the
//! [`Display`] policy every stage that writes a value takes, the report's
//! own ([`ReportDisplay`]: personal data masked, personal key parts
//! tokenized, scanned free text redacted), and key parts' JSON text.
//!
//! Owns no detection: detectors, mask styles and tokens are in `pii`, the
//! token key in `keys`.

use crate::keys::KeyRing;
use crate::normalize::Value;
use crate::pii;
use crate::spec::Entity;

/// Display text of a value in reports: masked when the field is personal data.
pub trait Display: Sync {
    fn value(&self, entity: &Entity, field: usize, value: &Value) -> String;
    fn key_part(&self, entity: &Entity, field: usize, value: Option<&Value>) -> serde_json::Value;

    /// Appends [`Display::key_part`] as JSON to `out` (`buf` is scratch).
    /// An implementation may write it without building a JSON value, as
    /// long as the text is the same.
    fn write_key_part(
        &self,
        entity: &Entity,
        field: usize,
        value: Option<&Value>,
        out: &mut String,
        _buf: &mut String,
    ) {
        out.push_str(&self.key_part(entity, field, value).to_string());
    }
}

/// Appends `text` as a JSON string, written by serde_json into `out`'s own
/// buffer. (A hand-written fast path for text without escapes saved 0.6%
/// of a 10M run, within noise: benches/README.md.)
pub fn push_json_str(out: &mut String, text: &str) {
    let mut bytes = std::mem::take(out).into_bytes();
    // Writing a `str` into a Vec cannot fail and leaves the bytes UTF-8.
    let _ = serde_json::to_writer(&mut bytes, text);
    *out = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
}

/// Display of values and keys in reports: personal data masked or tokenized.
pub struct ReportDisplay<'a> {
    pub keys: &'a KeyRing,
}

impl Display for ReportDisplay<'_> {
    fn value(&self, entity: &Entity, field: usize, value: &Value) -> String {
        let f = &entity.fields[field];
        match f.pii {
            Some(v) => pii::display_mask(&value.display(), Some(v)),
            None if f.scan => redact(&value.display()),
            None => value.display(),
        }
    }

    fn key_part(&self, entity: &Entity, field: usize, value: Option<&Value>) -> serde_json::Value {
        let f = &entity.fields[field];
        match (value, f.pii) {
            (None, _) => serde_json::Value::Null,
            (Some(v), Some(_)) => {
                serde_json::Value::String(self.keys.token(&format!("{}.{}", entity.name, f.name), &v.display()))
            }
            (Some(v), None) => serde_json::Value::String(v.display()),
        }
    }

    fn write_key_part(&self, entity: &Entity, field: usize, value: Option<&Value>, out: &mut String, buf: &mut String) {
        match (value, entity.fields[field].pii) {
            (None, _) => out.push_str("null"),
            (Some(v), None) => push_json_str(out, v.text(buf)),
            (Some(_), Some(_)) => out.push_str(&self.key_part(entity, field, value).to_string()),
        }
    }
}

/// Report text of a free-text field: every personal value found by the scan
/// replaced by its mask.
pub fn redact(text: &str) -> String {
    let hits = pii::scan(text);
    if hits.is_empty() {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for h in hits {
        if h.char_offset < at {
            continue;
        }
        out.extend(&chars[at..h.char_offset]);
        out.push_str(&h.masked);
        at = h.char_offset + h.char_len;
    }
    out.extend(&chars[at.min(chars.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_written_as_serde_json_writes_them() {
        for text in [
            "",
            "R-1",
            "a\"b",
            "back\\slash",
            "tab\there",
            "nl\n",
            "\u{1}\u{1f}",
            "del\u{7f}",
            "中文 ☎",
        ] {
            let mut out = String::new();
            push_json_str(&mut out, text);
            assert_eq!(out, serde_json::Value::String(text.into()).to_string(), "{text:?}");
        }
    }

    #[test]
    fn redact_masks_every_hit_and_keeps_the_rest() {
        let text = "电话13912345678。卡号6212261234567890128已核实";
        let red = redact(text);
        assert!(!red.contains("13912345678"), "{red}");
        assert!(!red.contains("6212261234567890128"), "{red}");
        assert!(red.starts_with("电话139****5678。"), "{red}");
        assert!(red.ends_with("已核实"));
        assert_eq!(
            redact("no personal data, order 20261124083015123"),
            "no personal data, order 20261124083015123"
        );
    }
}
