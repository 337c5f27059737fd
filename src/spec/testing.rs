//! A spec for unit tests: one entity `e`, keyed on `id`, between sides `a`
//! (left, `l.csv`) and `b` (right, `r.csv`), with the fields given as TOML.

use std::path::Path;

use super::Spec;

/// The spec of one entity whose fields are `id` and then `fields`
/// (`[[entity.field]]` tables).
pub(crate) fn one_entity(fields: &str) -> Spec {
    let text = format!(
        "[run]\nname = \"t\"\n[sides]\nleft = \"a\"\nright = \"b\"\n\
         [[entity]]\nname = \"e\"\nkey = [\"id\"]\nleft = {{ path = \"l.csv\" }}\nright = {{ path = \"r.csv\" }}\n\
         [[entity.field]]\nname = \"id\"\n{fields}"
    );
    super::parse(Path::new("t.toml"), &text, String::new()).unwrap_or_else(|e| panic!("{e}"))
}
