//! Multi-valued fields (`type = "set"`): a cell holds a set of text
//! elements, written by a system as delimited text (`a;b;c`, with the
//! field's `separator`) or as a list (a Parquet or JSON list, which the
//! loaders render as a JSON array).
//!
//! A set's canonical value is a [`Value::Str`] holding a JSON array of its
//! distinct elements in byte order (`["a","b"]`): two sets are equal exactly
//! when their canonical texts are, so comparison, hashing, the change state
//! and ordering need nothing of their own, and the text shown in findings
//! names every element unambiguously. Empty elements are no elements; a set
//! with no element is null (as blank text is for every typed field).

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::error::ConvertError;
use super::value::Value;

/// Splits a cell's text into its elements as written: by `separator`, or,
/// without one, as a JSON array of strings, numbers or booleans (how the
/// loaders render list columns). Null elements of a list are left out.
pub fn split<'a>(text: &'a str, separator: Option<&str>) -> Result<Vec<Cow<'a, str>>, ConvertError> {
    match separator {
        Some(sep) => Ok(text.split(sep).map(Cow::Borrowed).collect()),
        None => {
            let items: Vec<serde_json::Value> =
                serde_json::from_str(text.trim()).map_err(|_| ConvertError::NotAList(list_hint(text)))?;
            items
                .into_iter()
                .filter_map(|item| match item {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(Ok(Cow::Owned(s))),
                    serde_json::Value::Number(n) => Some(Ok(Cow::Owned(n.to_string()))),
                    serde_json::Value::Bool(b) => Some(Ok(Cow::Owned(b.to_string()))),
                    _ => Some(Err(ConvertError::NotAList(
                        "an element is itself a list or an object".into(),
                    ))),
                })
                .collect()
        }
    }
}

fn list_hint(text: &str) -> String {
    if text.trim_start().starts_with('[') {
        "not a valid JSON array".into()
    } else {
        "expected a list (e.g. [\"a\",\"b\"]); for delimited text declare `separator`".into()
    }
}

/// The canonical value of a set of elements (None: no element, null).
pub fn canonical<I, S>(elements: I) -> Option<Value>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let set: BTreeSet<String> = elements
        .into_iter()
        .filter(|e| !e.as_ref().is_empty())
        .map(|e| e.as_ref().to_string())
        .collect();
    if set.is_empty() {
        return None;
    }
    serde_json::to_string(&set).ok().map(|json| Value::Str(json.into()))
}

/// The elements of a canonical set value, in order (empty for a text that
/// is not one).
pub fn elements(canonical: &str) -> Vec<String> {
    serde_json::from_str(canonical).unwrap_or_default()
}

/// Elements as findings name them: each in JSON quotes (so commas and
/// spaces inside stay clear), comma-separated.
pub fn quoted(elements: &[String]) -> String {
    elements
        .iter()
        .map(|e| serde_json::Value::String(e.clone()).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The elements only in `a` and only in `b` (each in order).
pub fn difference(a: &str, b: &str) -> (Vec<String>, Vec<String>) {
    let (a, b) = (elements(a), elements(b));
    let only = |x: &[String], y: &[String]| x.iter().filter(|e| !y.contains(e)).cloned().collect();
    (only(&a, &b), only(&b, &a))
}

/// The text a system stores for a canonical set: its elements joined by
/// `separator`, or a JSON array without one. Err names an element that the
/// separator would split.
pub fn render(elements: &[String], separator: Option<&str>) -> Result<String, String> {
    match separator {
        Some(sep) => {
            if let Some(bad) = elements.iter().find(|e| e.contains(sep)) {
                return Err(bad.clone());
            }
            Ok(elements.join(sep))
        }
        None => serde_json::to_string(elements).map_err(|e| e.to_string()),
    }
}

/// A set field's text typed without steps or value map: split, empty
/// elements dropped, sorted, duplicates removed.
pub(super) fn convert(text: &str, separator: Option<&str>) -> Result<Option<Value>, ConvertError> {
    Ok(canonical(split(text, separator)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str, sep: Option<&str>) -> Option<String> {
        convert(text, sep).unwrap().map(|v| v.display())
    }

    #[test]
    fn order_duplicates_and_empty_elements_do_not_matter() {
        assert_eq!(set("b;a;b", Some(";")).as_deref(), Some(r#"["a","b"]"#));
        assert_eq!(set("a;b", Some(";")), set("b;;a;", Some(";")));
        assert_eq!(set(";;", Some(";")), None);
        assert_eq!(set(r#"["b","a","a"]"#, None).as_deref(), Some(r#"["a","b"]"#));
        assert_eq!(set(r#"["a", null, ""]"#, None).as_deref(), Some(r#"["a"]"#));
        assert_eq!(set("[]", None), None);
        // A multi-character separator; elements keep inner spaces.
        assert_eq!(set("x y || z", Some("||")).as_deref(), Some(r#"[" z","x y "]"#));
        // Numbers and booleans of a list are their text.
        assert_eq!(set("[2, 10, true]", None).as_deref(), Some(r#"["10","2","true"]"#));
    }

    #[test]
    fn lists_that_are_not_lists_are_refused() {
        for bad in ["a;b", "[\"a\"", "{\"a\":1}", "[[\"a\"]]", "[{\"a\":1}]"] {
            let e = convert(bad, None).expect_err(bad);
            assert!(matches!(e, ConvertError::NotAList(_)), "{bad}: {e}");
        }
        assert!(convert("a;b", None).unwrap_err().to_string().contains("separator"));
    }

    #[test]
    fn elements_needing_escapes_round_trip() {
        let v = canonical(["quote\"d", "back\\slash", "ünï", "tab\t"])
            .unwrap()
            .display();
        let e = elements(&v);
        assert_eq!(e.len(), 4);
        assert!(e.iter().any(|x| x == "quote\"d") && e.iter().any(|x| x == "back\\slash"));
        assert!(!e.iter().any(|x| x == "quote"));
        assert_eq!(
            quoted(&e[..2]),
            format!("{}, {}", serde_json::json!(e[0]), serde_json::json!(e[1]))
        );
        assert_eq!(canonical(&e).unwrap().display(), v);
    }

    #[test]
    fn difference_and_render() {
        let (a, b) = (r#"["a","b","c"]"#, r#"["b","d"]"#);
        assert_eq!(
            difference(a, b),
            (vec!["a".to_string(), "c".into()], vec!["d".to_string()])
        );
        let e = elements(a);
        assert_eq!(render(&e, Some(";")).unwrap(), "a;b;c");
        assert_eq!(render(&e, None).unwrap(), a);
        assert_eq!(render(&["x;y".to_string()], Some(";")), Err("x;y".to_string()));
    }
}
