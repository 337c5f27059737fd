//! Quality-rule spec errors: exit 2, `file:line:col`, a hint, no run folder.

use crate::util::*;

fn base() -> String {
    spec_keyed_by_id(
        r#"  [[entity.field]]
  name = "n"
  type = "int"
  [[entity.field]]
  name = "at"
  type = "timestamp"
"#,
    )
}

/// `s.toml:LINE:COL` of byte `offset` in `text`.
fn location(text: &str, offset: usize) -> String {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.chars().count(), |nl| before[nl + 1..].chars().count())
        + 1;
    format!("s.toml:{line}:{col}")
}

/// Appends `rule` to the base spec, runs it and expects a spec error at
/// `needle` (+ `shift` bytes) with all of `expected` in the message.
fn spec_error(rule: &str, needle: &str, shift: usize, expected: &[&str]) {
    let env = Env::new();
    let text = format!("{}{rule}", base());
    let spec = env.write("s.toml", &text);
    env.write("l.csv", "id,n,at\n1,2,2026-01-01T00:00:00Z\n");
    env.write("r.csv", "id,n,at\n1,2,2026-01-01T00:00:00Z\n");
    let at = text.rfind(needle).unwrap_or_else(|| panic!("needle {needle}")) + shift;
    let out = env.run(&spec, "r1");
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    let loc = location(&text, at);
    assert!(err.contains(&loc), "expected {loc} in:\n{err}");
    for e in expected {
        assert!(err.contains(e), "expected `{e}` in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(report_entries(&env).is_empty(), "{:?}", report_entries(&env));
    let check = env.recon(&["check", spec.to_str().unwrap()]);
    assert_eq!(code(&check), 2, "check agrees: {}", stderr(&check));
}

fn rule(body: &str) -> String {
    format!("  [[entity.rule]]\n  id = \"r\"\n{body}")
}

#[test]
fn spec_error_unknown_field() {
    spec_error(
        &rule("  check = \"not_null\"\n  field = \"nope\"\n"),
        "\"nope\"",
        0,
        &["unknown field `nope`", "hint: declared fields: id, n, at"],
    );
}

#[test]
fn spec_error_unknown_entity_and_target_field() {
    spec_error(
        &rule("  check = \"references\"\n  field = \"id\"\n  entity = \"ghost\"\n"),
        "\"ghost\"",
        0,
        &["unknown entity `ghost`", "hint: declared entities: e"],
    );
    spec_error(
        &rule("  check = \"references\"\n  field = \"id\"\n  entity = \"e\"\n  to = \"zzz\"\n"),
        "\"zzz\"",
        0,
        &["unknown field `zzz` of entity `e`", "hint: fields of `e`: id, n, at"],
    );
    spec_error(
        &rule("  check = \"references\"\n  field = \"id\"\n  entity = \"e\"\n  to = \"n\"\n"),
        "\"n\"\n",
        0,
        &["values of different types never match"],
    );
    spec_error(
        &rule("  check = \"references\"\n  field = \"id\"\n  entity = \"e\"\n  on = \"sideways\"\n"),
        "\"sideways\"",
        0,
        &["unknown `on` value", "same, other, left or right"],
    );
}

#[test]
fn spec_error_unknown_validator() {
    spec_error(
        &rule("  check = \"valid\"\n  field = \"id\"\n  validator = \"cn_passport\"\n"),
        "\"cn_passport\"",
        0,
        &[
            "unknown validator `cn_passport`",
            "hint: valid validators: cn_resident_id, ",
        ],
    );
}

#[test]
fn spec_error_invalid_regex() {
    spec_error(
        &rule("  check = \"pattern\"\n  field = \"id\"\n  pattern = \"([a-z\"\n"),
        "\"([a-z\"",
        0,
        &["invalid regex", "hint:"],
    );
}

#[test]
fn spec_error_range_min_above_max() {
    spec_error(
        &rule("  check = \"range\"\n  field = \"n\"\n  min = 10\n  max = 1\n"),
        "10\n",
        0,
        &["range min 10 is greater than max 1"],
    );
    spec_error(
        &rule("  check = \"length\"\n  field = \"id\"\n  min = 5\n  max = 2\n"),
        "5\n",
        0,
        &["length min 5 is greater than max 2"],
    );
    spec_error(
        &rule("  check = \"range\"\n  field = \"n\"\n  min = \"ten\"\n"),
        "\"ten\"",
        0,
        &["range bound `ten` is not a int"],
    );
}

#[test]
fn spec_error_unknown_severity_and_check() {
    spec_error(
        &rule("  check = \"not_null\"\n  field = \"id\"\n  severity = \"fatal\"\n"),
        "\"fatal\"",
        0,
        &[
            "unknown severity `fatal`",
            "hint: valid severities: info, warning, error, critical",
        ],
    );
    spec_error(
        &rule("  check = \"sparkly\"\n  field = \"id\"\n"),
        "\"sparkly\"",
        0,
        &["unknown check `sparkly`", "hint: valid checks: not_null, unique, pattern, range, allowed, length, valid, references, fresh, expr, row_count"],
    );
}

#[test]
fn spec_error_unparsable_expr_points_inside_the_expression() {
    // The column is that of the offending token inside the string.
    spec_error(
        &rule("  check = \"expr\"\n  expr = \"n >= 0 AND\"\n"),
        "\"n >= 0 AND\"",
        1 + "n >= 0 AND".len(),
        &["rule `r`: expr: expected a field or a value but found the end of the expression"],
    );
    spec_error(
        &rule("  check = \"expr\"\n  expr = \"n >= 0 AND bogus = 1\"\n"),
        "bogus",
        0,
        &["unknown field `bogus`", "hint: declared fields: id, n, at"],
    );
    spec_error(
        &rule("  check = \"expr\"\n  expr = 'at > n'\n"),
        ">",
        0,
        &["cannot compare `at` (timestamp) with `n` (int)"],
    );
    spec_error(
        &rule("  check = \"expr\"\n  expr = \"n = null\"\n"),
        "null",
        0,
        &["cannot compare with NULL", "IS NULL"],
    );
    spec_error(
        &rule("  check = \"not_null\"\n  field = \"id\"\n  where = \"(n > 1\"\n"),
        "\"(n > 1\"",
        1 + "(n > 1".len(),
        &["rule `r`: where: expected `)`"],
    );
}

#[test]
fn spec_error_misplaced_options_and_shapes() {
    spec_error(
        &rule("  check = \"not_null\"\n  field = \"id\"\n  pattern = \"x\"\n"),
        "\"x\"",
        0,
        &[
            "option `pattern` does not apply to check `not_null`",
            "takes no options",
        ],
    );
    spec_error(
        &rule("  check = \"row_count\"\n  where = \"n > 1\"\n"),
        "\"n > 1\"",
        0,
        &["takes no `where`"],
    );
    spec_error(
        &rule("  check = \"expr\"\n  field = \"n\"\n  expr = \"n > 1\"\n"),
        "field = \"n\"",
        8,
        &["check `expr` takes no `field`"],
    );
    spec_error(
        &rule("  check = \"fresh\"\n  field = \"n\"\n  max_age = \"1h\"\n"),
        "\"fresh\"",
        0,
        &["needs a timestamp field"],
    );
    spec_error(
        &rule("  check = \"fresh\"\n  field = \"at\"\n  max_age = \"3 weeks\"\n"),
        "\"3 weeks\"",
        0,
        &["invalid duration", "hint: durations are"],
    );
    spec_error(
        &format!(
            "{}{}",
            rule("  check = \"not_null\"\n  field = \"id\"\n"),
            rule("  check = \"not_null\"\n  field = \"n\"\n")
        ),
        "\"r\"",
        0,
        &["duplicate rule id `r`"],
    );
}
