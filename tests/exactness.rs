//! Values reach comparison exactly as the source wrote them, through every
//! loader: no false "equal" (a cut precision, a clamped instant), no false
//! finding (a number read through an f64, an empty CSV cell read as text).
//! Each test states the exact finding set (kind, side, key, field).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use recon::generate::Expected;

use crate::util::*;

/// `(category, kind, side, key id, field)` of the expected findings of
/// entity `e`.
fn expected(rows: &[(&str, &str, &str, &str, Option<&str>)]) -> BTreeSet<Expected> {
    rows.iter()
        .map(|(category, kind, side, id, field)| Expected {
            entity: "e".into(),
            category: category.to_string(),
            kind: kind.to_string(),
            side: side.to_string(),
            key: format!("{{\"id\":\"{id}\"}}"),
            field: field.map(String::from),
        })
        .collect()
}

/// A spec of entity `e` keyed by `id` over `left`/`right` with `fields`.
fn spec(env: &Env, left: &str, right: &str, fields: &str) -> PathBuf {
    env.write(
        "s.toml",
        format!(
            "[run]\nname = \"t\"\n[sides]\nleft = \"a\"\nright = \"b\"\n\
             [[entity]]\nname = \"e\"\nkey = [\"id\"]\nleft = {left}\nright = {right}\n\
             [[entity.field]]\nname = \"id\"\n{fields}"
        ),
    )
}

/// Runs the spec and returns its findings (exit 0 or 1: findings are not
/// errors).
fn findings(env: &Env, spec: &Path) -> BTreeSet<Expected> {
    let out = env.run(spec, "r1");
    assert!(matches!(code(&out), 0 | 1), "{}", stderr(&out));
    finding_set(&env.reports().join("r1"))
}

fn write_parquet(path: &Path, mut df: DataFrame) {
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .finish(&mut df)
        .unwrap();
}

/// A frame of `id` (text) and `t`: `counts` of `unit` since the epoch.
fn instants(ids: &[&str], counts: &[i64], unit: TimeUnit, zone: Option<TimeZone>) -> DataFrame {
    let t = Series::new("t".into(), counts.to_vec())
        .cast(&DataType::Datetime(unit, zone))
        .unwrap();
    DataFrame::new(ids.len(), vec![Column::new("id".into(), ids.to_vec()), t.into_column()]).unwrap()
}

#[test]
fn nanosecond_parquet_timestamps_compare_at_full_precision() {
    let env = Env::new();
    let base: i64 = 1_764_000_000_123_456_000;
    for (name, zone) in [("naive", None), ("zoned", Some(TimeZone::UTC))] {
        let (l, r) = (format!("{name}-l.parquet"), format!("{name}-r.parquet"));
        let ids = ["1", "2", "3"];
        // Key 2 differs by 789 ns, key 3 by exactly one microsecond.
        let left = [base, base + 5, base];
        let right = [base, base + 5 + 789, base + 1_000];
        write_parquet(
            &env.path().join(&l),
            instants(&ids, &left, TimeUnit::Nanoseconds, zone.clone()),
        );
        write_parquet(
            &env.path().join(&r),
            instants(&ids, &right, TimeUnit::Nanoseconds, zone),
        );
        let s = spec(
            &env,
            &format!("{{ path = \"{l}\" }}"),
            &format!("{{ path = \"{r}\" }}"),
            "[[entity.field]]\nname = \"t\"\ntype = \"timestamp\"\n",
        );
        let _ = std::fs::remove_dir_all(env.reports());
        assert_same(
            &findings(&env, &s),
            &expected(&[
                ("drift", "value_mismatch", "both", "2", Some("t")),
                ("drift", "value_mismatch", "both", "3", Some("t")),
            ]),
        );
        // The finding shows both instants to the nanosecond.
        let df = read_parquet(&env.reports().join("r1/findings.parquet"));
        let shown: Vec<_> = strings(&df, "left_value").into_iter().flatten().collect();
        assert!(shown.iter().any(|v| v.ends_with(".123456005Z")), "{name}: {shown:?}");
    }
}

#[test]
fn a_timestamp_beyond_the_calendar_is_unconvertible_not_the_epoch() {
    let env = Env::new();
    // 10^17 ms is about three million years after 1970: no calendar date.
    write_parquet(
        &env.path().join("l.parquet"),
        instants(&["1", "2"], &[100_000_000_000_000_000, 0], TimeUnit::Milliseconds, None),
    );
    env.write("r.csv", "id,t\n1,1970-01-01T00:00:00Z\n2,1970-01-01T00:00:00Z\n");
    let s = spec(
        &env,
        "{ path = \"l.parquet\" }",
        "{ path = \"r.csv\" }",
        "[[entity.field]]\nname = \"t\"\ntype = \"timestamp\"\n",
    );
    assert_same(
        &findings(&env, &s),
        &expected(&[("drift", "unconvertible", "left", "1", Some("t"))]),
    );
    // The finding shows the raw count, never a date.
    let df = read_parquet(&env.reports().join("r1/findings.parquet"));
    let shown: Vec<_> = strings(&df, "left_value").into_iter().flatten().collect();
    assert!(shown.iter().any(|v| v.contains("100000000000000000 ms")), "{shown:?}");
}

#[test]
fn ndjson_numbers_keep_their_exact_digits() {
    let env = Env::new();
    env.write(
        "l.ndjson",
        "{\"id\":\"1\",\"amount\":12345678901234567.89}\n\
         {\"id\":\"2\",\"amount\":12345678901234567.89}\n\
         {\"id\":\"3\",\"amount\":1.5e3}\n\
         {\"id\":\"4\",\"amount\":123456789012345678901234567890}\n\
         {\"id\":\"5\",\"amount\":-25E-3}\n",
    );
    env.write(
        "r.csv",
        "id,amount\n1,12345678901234567.89\n2,12345678901234567.88\n3,1500\n\
         4,123456789012345678901234567890\n5,-0.025\n",
    );
    let s = spec(
        &env,
        "{ path = \"l.ndjson\" }",
        "{ path = \"r.csv\" }",
        "[[entity.field]]\nname = \"amount\"\ntype = \"decimal(38,3)\"\n",
    );
    assert_same(
        &findings(&env, &s),
        &expected(&[("drift", "value_mismatch", "both", "2", Some("amount"))]),
    );
}

/// The phone field of the issue: `7,,Li` on one side, a phone on the other.
const PHONE_FIELDS: &str = r#"[[entity.field]]
name = "phone"
normalize = ["phone_e164:CN"]
[[entity.field]]
name = "name"
[[entity.rule]]
id = "phone-required"
check = "not_null"
field = "phone"
side = "both"
"#;

#[test]
fn an_empty_csv_field_is_null_and_a_quoted_empty_one_is_text() {
    let env = Env::new();
    env.write("l.csv", "id,phone,name\n7,,Li\n8,13912345678,\"\"\n9,13912345678,\n");
    env.write(
        "r.csv",
        "id,phone,name\n7,13912345678,Li\n8,13912345678,\n9,13912345678,\n",
    );
    let s = spec(&env, "{ path = \"l.csv\" }", "{ path = \"r.csv\" }", PHONE_FIELDS);
    assert_same(
        &findings(&env, &s),
        &expected(&[
            // The rule the user declared speaks, and the other side's phone
            // is drift; nothing is "unconvertible".
            ("quality", "not_null", "left", "7", Some("phone")),
            ("drift", "value_mismatch", "both", "7", Some("phone")),
            // A quoted "" is the empty string, an unquoted empty cell null.
            ("drift", "value_mismatch", "both", "8", Some("name")),
        ]),
    );
}

#[test]
fn null_values_choose_which_unquoted_texts_are_null() {
    let env = Env::new();
    env.write("l.csv", "id,phone,name\n1,NULL,Li\n2,\\N,\"NULL\"\n3,,\n");
    env.write("r.csv", "id,phone,name\n1,,Li\n2,,NULL\n3,,\n");
    let both = "{ path = \"l.csv\", null_values = [\"\", \"NULL\", \"\\\\N\"] }";
    let s = spec(&env, both, "{ path = \"r.csv\" }", PHONE_FIELDS);
    assert_same(
        &findings(&env, &s),
        &expected(&[
            ("quality", "not_null", "left", "1", Some("phone")),
            ("quality", "not_null", "right", "1", Some("phone")),
            ("quality", "not_null", "left", "2", Some("phone")),
            ("quality", "not_null", "right", "2", Some("phone")),
            ("quality", "not_null", "left", "3", Some("phone")),
            ("quality", "not_null", "right", "3", Some("phone")),
        ]),
    );
    // `null_values = []`: every cell is text, so an empty phone is not one.
    let _ = std::fs::remove_dir_all(env.reports());
    let s = spec(
        &env,
        "{ path = \"l.csv\", null_values = [] }",
        "{ path = \"r.csv\", null_values = [] }",
        PHONE_FIELDS,
    );
    let found = findings(&env, &s);
    assert!(
        found.contains(
            &expected(&[("drift", "unconvertible", "left", "1", Some("phone"))])
                .pop_first()
                .unwrap()
        ),
        "{found:#?}"
    );
}

#[test]
fn null_values_on_a_non_csv_source_is_a_spec_error() {
    let env = Env::new();
    env.write("l.ndjson", "{\"id\":\"1\"}\n");
    env.write("r.csv", "id\n1\n");
    let s = spec(
        &env,
        "{ path = \"l.ndjson\", null_values = [\"\"] }",
        "{ path = \"r.csv\" }",
        "",
    );
    let out = env.run(&s, "r1");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("null_values"), "{}", stderr(&out));
}

#[test]
fn a_csv_header_naming_a_column_twice_or_not_at_all_is_an_input_error() {
    for (header, needle) in [("id,id,v", "`id` twice"), ("id,,v", "column 2 has no name")] {
        let env = Env::new();
        let s = env.write("s.toml", TWO_COLUMN_SPEC);
        env.write("l.csv", format!("{header}\n1,2,3\n"));
        env.write("r.csv", "id,v\n1,3\n");
        let out = env.run(&s, "r1");
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{err}");
        assert!(err.contains("l.csv") && err.contains(needle), "{err}");
        assert!(report_entries(&env).is_empty(), "no run folder");
    }
}

/// A Parquet file as pyarrow writes it (tests/data/exports/pyarrow.parquet):
/// `decimal128(38,2)`, `uint64`, `double`, `timestamp[ns]` and
/// `timestamp[ns, tz=Asia/Shanghai]`, against a CSV of the exact values.
/// Key 1 differs by one nanosecond, key 4 by one in an integer above 2^53
/// (equal through an f64): exactly those two findings.
#[test]
fn parquet_decimals_large_integers_floats_and_nanoseconds_stay_exact() {
    let env = Env::new();
    std::fs::copy(
        project_root().join("tests/data/exports/pyarrow.parquet"),
        env.path().join("l.parquet"),
    )
    .unwrap();
    env.write(
        "r.csv",
        "id,amount,big,ratio,at_ns,at_ns_utc\n\
         1,12345678901234567.89,18446744073709551615,0.1,2025-11-24 16:00:00.123456788,2025-11-24T16:00:00.123456789Z\n\
         2,-0.01,0,100000000000000000000,2025-11-24T16:00:00.123456789,2025-11-25T00:00:00+08:00\n\
         3,,1,3,,1970-01-01T00:00:00.000000005Z\n\
         4,99999999999999999999999999999999999.99,9007199254740992,0.00000015,1969-12-31 23:59:59.999999999,1969-12-31T23:59:59.999999999Z\n",
    );
    let s = spec(
        &env,
        "{ path = \"l.parquet\" }",
        "{ path = \"r.csv\" }",
        "[[entity.field]]\nname = \"amount\"\ntype = \"decimal(38,2)\"\n\
         [[entity.field]]\nname = \"big\"\ntype = \"decimal(20,0)\"\n\
         [[entity.field]]\nname = \"ratio\"\ntype = \"decimal(38,8)\"\n\
         [[entity.field]]\nname = \"at_ns\"\ntype = \"timestamp\"\n\
         [[entity.field]]\nname = \"at_ns_utc\"\ntype = \"timestamp\"\n",
    );
    assert_same(
        &findings(&env, &s),
        &expected(&[
            ("drift", "value_mismatch", "both", "1", Some("at_ns")),
            ("drift", "value_mismatch", "both", "4", Some("big")),
        ]),
    );
}

/// Keys keep their strictness: an empty key cell, quoted or not, is a
/// `null_key` (the quoted one shows as `""`, the unquoted one as null).
#[test]
fn empty_key_parts_are_null_keys_quoted_or_not() {
    let env = Env::new();
    env.write("l.csv", "id,v\n1,a\n,b\n\"\",c\n");
    env.write("r.csv", "id,v\n1,a\n");
    let s = env.write("s.toml", TWO_COLUMN_SPEC);
    let found = findings(&env, &s);
    let null_keys: BTreeSet<(String, String)> = found.iter().map(|f| (f.kind.clone(), f.key.clone())).collect();
    assert_eq!(
        null_keys,
        BTreeSet::from([
            ("null_key".to_string(), "{\"id\":null}".to_string()),
            ("null_key".to_string(), "{\"id\":\"\"}".to_string()),
        ]),
        "{found:#?}"
    );
}
