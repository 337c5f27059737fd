//! Coverage accounting and mismatch details, end to end: every row read is
//! counted in exactly one bucket of the identity, and each bucket is
//! counted by what put it there (issue 37: the counting of unconvertible
//! keys and of rows paired with a duplicate could change unnoticed, and no
//! test read a mismatch's `detail`).

use crate::util::*;

fn summary(env: &Env, run: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(env.reports().join(run).join("summary.json")).unwrap()).unwrap()
}

#[test]
fn every_row_lands_in_the_one_coverage_bucket_that_describes_it() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        spec_keyed_by_id("  [[entity.field]]\n  name = \"v\"\n").replace(
            "  [[entity.field]]\n  name = \"id\"\n",
            "  [[entity.field]]\n  name = \"id\"\n  type = \"int\"\n",
        ),
    );
    // Left: 1 matched, 2 paired with the right's duplicate, x unconvertible,
    // an empty key, 3 missing on the right.
    env.write("l.csv", "id,v\n1,a\n2,b\nx,c\n,d\n3,e\n");
    // Right: 1 matched, 2 twice (duplicate key), 4 missing on the left.
    env.write("r.csv", "id,v\n1,a\n2,b\n2,b\n4,f\n");
    let o = env.run(&spec, "c1");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let s = summary(&env, "c1");
    let left = &s["entities"]["e"]["left"]["coverage"];
    let right = &s["entities"]["e"]["right"]["coverage"];
    let counts = |c: &serde_json::Value| {
        [
            "rows_read",
            "rows_matched",
            "rows_missing_other_side",
            "rows_duplicate_key",
            "rows_paired_with_duplicate",
            "rows_null_key",
            "rows_unconvertible_key",
        ]
        .map(|k| c[k].as_u64().unwrap())
    };
    assert_eq!(counts(left), [5, 1, 1, 0, 1, 1, 1], "{left}");
    assert_eq!(counts(right), [4, 1, 1, 2, 0, 0, 0], "{right}");
}

#[test]
fn a_mismatch_says_which_side_is_null_or_that_values_differ_beyond_tolerance() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        spec_keyed_by_id(
            "  [[entity.field]]\n  name = \"v\"\n  [[entity.field]]\n  name = \"amt\"\n  type = \"decimal(10,2)\"\n  tolerance = { abs = 0.01 }\n",
        ),
    );
    env.write("l.csv", "id,v,amt\n1,,1.00\n2,x,1.00\n3,y,1.00\n4,z,1.00\n");
    env.write("r.csv", "id,v,amt\n1,a,1.00\n2,,1.00\n3,w,1.00\n4,z,1.50\n");
    let o = env.run(&spec, "d1");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let df = read_parquet(&env.reports().join("d1/findings.parquet"));
    let (kinds, keys, fields, details) = (
        strings(&df, "kind"),
        strings(&df, "key"),
        strings(&df, "field"),
        strings(&df, "detail"),
    );
    let detail = |id: &str, field: &str| -> String {
        (0..df.height())
            .find(|&i| {
                kinds[i].as_deref() == Some("value_mismatch")
                    && keys[i].as_deref() == Some(&format!("{{\"id\":\"{id}\"}}")[..])
                    && fields[i].as_deref() == Some(field)
            })
            .and_then(|i| details[i].clone())
            .unwrap_or_else(|| panic!("no value_mismatch for {id} {field}"))
    };
    assert_eq!(detail("1", "v"), "left is null, right has a value");
    assert_eq!(detail("2", "v"), "left has a value, right is null");
    assert_eq!(detail("3", "v"), "values differ");
    assert_eq!(detail("4", "amt"), "values differ beyond the declared tolerance");
}
