//! The finding: one problem found in one run, and its stable id.
//!
//! Every detector (compare, quality, masking) produces [`Finding`]s; report
//! writes them, repair plans from them. The id depends only on what the
//! problem is, never on the run, so the same problem keeps its id.

use serde::{Deserialize, Serialize};

use crate::spec::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Drift,
    Quality,
    Masking,
    Schema,
}

impl Category {
    pub const ALL: [Category; 4] = [Category::Drift, Category::Quality, Category::Masking, Category::Schema];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Drift => "drift",
            Category::Quality => "quality",
            Category::Masking => "masking",
            Category::Schema => "schema",
        }
    }
}

/// Serialized only between the shards of one run and their merge
/// (`run::part`); reports write their own columns.
/// Ordered field by field: a total order, so that findings sorted by it
/// come out the same whatever order the threads made them in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub entity: String,
    pub category: Category,
    pub kind: String,
    /// Rule id, or the field name for drift.
    pub rule: String,
    pub severity: Severity,
    /// `left`, `right` or `both`.
    pub side: &'static str,
    /// JSON object of mapped key fields (sensitive parts tokenized).
    pub key: String,
    pub field: Option<String>,
    pub left_value: Option<String>,
    pub right_value: Option<String>,
    pub detail: String,
}

impl Finding {
    /// Stable id over (entity, category, kind, rule, key, field, side): each
    /// part is length-prefixed so no two tuples share an encoding.
    pub fn id(&self) -> String {
        let parts: [&[u8]; 7] = [
            self.entity.as_bytes(),
            self.category.as_str().as_bytes(),
            self.kind.as_bytes(),
            self.rule.as_bytes(),
            self.key.as_bytes(),
            self.field.as_deref().map_or(b"\x00null" as &[u8], str::as_bytes),
            self.side.as_bytes(),
        ];
        hex::encode(&digest_parts(&parts)[..16])
    }
}

/// A finding as read back, its side still text.
#[derive(Deserialize)]
struct FindingText {
    entity: String,
    category: Category,
    kind: String,
    rule: String,
    severity: Severity,
    side: String,
    key: String,
    field: Option<String>,
    left_value: Option<String>,
    right_value: Option<String>,
    detail: String,
}

impl<'de> Deserialize<'de> for Finding {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Finding, D::Error> {
        FindingText::deserialize(d)?
            .try_into()
            .map_err(serde::de::Error::custom)
    }
}

impl TryFrom<FindingText> for Finding {
    type Error = String;
    fn try_from(f: FindingText) -> Result<Finding, String> {
        let side = ["left", "right", "both"]
            .into_iter()
            .find(|s| *s == f.side)
            .ok_or_else(|| format!("unknown side `{}`", f.side))?;
        Ok(Finding {
            entity: f.entity,
            category: f.category,
            kind: f.kind,
            rule: f.rule,
            severity: f.severity,
            side,
            key: f.key,
            field: f.field,
            left_value: f.left_value,
            right_value: f.right_value,
            detail: f.detail,
        })
    }
}

/// SHA-256 over an unambiguous, length-prefixed encoding of `parts`.
pub fn digest_parts(parts: &[&[u8]]) -> [u8; 32] {
    digest_parts_with(parts, &mut Vec::new())
}

/// [`digest_parts`] with `bytes` as scratch: the encoding is laid out once
/// and hashed in one call (the hot path hashes millions of short cells).
pub fn digest_parts_with(parts: &[&[u8]], bytes: &mut Vec<u8>) -> [u8; 32] {
    crate::digest::sha256_parts(parts, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(key: &str, field: Option<&str>) -> Finding {
        Finding {
            entity: "e".into(),
            category: Category::Drift,
            kind: "value_mismatch".into(),
            rule: "x".into(),
            severity: Severity::Error,
            side: "both",
            key: key.into(),
            field: field.map(String::from),
            left_value: Some("a".into()),
            right_value: None,
            detail: "d".into(),
        }
    }

    #[test]
    fn a_finding_travels_between_shards_whole() {
        for side in ["left", "right", "both"] {
            let mut a = f(r#"{"id":"1"}"#, Some("x"));
            a.side = ["left", "right", "both"]
                .into_iter()
                .find(|s| *s == side)
                .unwrap_or("both");
            a.right_value = Some("\"quoted\" \u{7}".into());
            let text = serde_json::to_string(&a).unwrap_or_else(|e| panic!("{e}"));
            let back: Finding = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(back, a);
            assert_eq!(back.id(), a.id());
        }
        let text = serde_json::to_string(&f("{}", None))
            .unwrap_or_else(|e| panic!("{e}"))
            .replace("\"both\"", "\"middle\"");
        let err = serde_json::from_str::<Finding>(&text).expect_err("an unknown side");
        assert!(err.to_string().contains("unknown side `middle`"), "{err}");
    }

    #[test]
    fn findings_are_in_a_total_order() {
        // Two findings that differ only in their detail still order one way.
        let (a, mut b) = (f("{}", None), f("{}", None));
        b.detail = "e".into();
        assert!(a < b);
        let mut sorted = vec![b.clone(), a.clone()];
        sorted.sort();
        assert_eq!(sorted, vec![a, b]);
    }

    #[test]
    fn id_is_stable_and_ignores_values() {
        let mut a = f(r#"{"id":"1"}"#, Some("x"));
        let id = a.id();
        a.left_value = Some("other".into());
        a.detail = "other".into();
        assert_eq!(id, a.id());
        assert_eq!(id.len(), 32);
    }

    #[test]
    fn id_distinguishes_null_field_from_text_null() {
        assert_ne!(f("{}", None).id(), f("{}", Some("null")).id());
        assert_ne!(f("{}", Some("")).id(), f("{}", None).id());
    }

    #[test]
    fn length_prefix_prevents_shifted_boundaries() {
        assert_ne!(digest_parts(&[b"1", b"23"]), digest_parts(&[b"12", b"3"]));
        assert_ne!(digest_parts(&[b"a|b", b"c"]), digest_parts(&[b"a", b"b|c"]));
    }
}
