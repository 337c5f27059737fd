//! Helpers shared by the unit tests: a side loaded from literal text
//! columns, a spec of one entity, and a display that shows values as they
//! are.

use polars::prelude::{Column, DataFrame};

use crate::display::Display;
use crate::normalize::Value;
use crate::source::Loaded;
use crate::spec::{Entity, Spec};

/// A side of text columns (`name`, cells) as if read from `t.csv`.
pub fn loaded(columns: &[(&str, &[Option<&str>])]) -> Loaded {
    let rows = columns.first().map_or(0, |(_, v)| v.len());
    let cols = columns
        .iter()
        .map(|(n, v)| Column::new((*n).into(), v.to_vec()))
        .collect();
    Loaded {
        path: "t.csv".into(),
        frame: DataFrame::new(rows, cols).unwrap_or_else(|e| panic!("{e}")),
        missing: Vec::new(),
        physical_types: Default::default(),
        rows,
        sha256: String::new(),
        size: 0,
        hash_micros: 0,
        files: Vec::new(),
    }
}

/// A spec of one entity `e` keyed by a text field `id` (declared first),
/// read from `l.csv` and `r.csv`, with the further `fields` (their
/// `[[entity.field]]` tables).
pub fn keyed_by_id(fields: &str) -> Spec {
    entity_keyed_by_id("", fields)
}

/// [`keyed_by_id`] with the further `settings` of the entity (lines of its
/// table, e.g. `authority = "b"`), between sides `a` (left) and `b`.
pub fn entity_keyed_by_id(settings: &str, fields: &str) -> Spec {
    let text = format!(
        "[run]\nname = \"t\"\n[sides]\nleft = \"a\"\nright = \"b\"\n\
         [[entity]]\nname = \"e\"\nkey = [\"id\"]\nleft = {{ path = \"l.csv\" }}\nright = {{ path = \"r.csv\" }}\n\
         {settings}\n[[entity.field]]\nname = \"id\"\n{fields}"
    );
    crate::spec::parse(std::path::Path::new("t.toml"), &text, String::new()).unwrap_or_else(|e| panic!("{e}"))
}

/// Values and key parts shown as their display text, unmasked.
pub struct Plain;

impl Display for Plain {
    fn value(&self, _: &Entity, _: usize, v: &Value) -> String {
        v.display()
    }
    fn key_part(&self, _: &Entity, _: usize, v: Option<&Value>) -> serde_json::Value {
        v.map_or(serde_json::Value::Null, |v| serde_json::Value::String(v.display()))
    }
}
