//! Composite keys stay unambiguous: no concatenation collisions, and null,
//! empty and the text "null" are three different key parts.

use crate::util::*;

const SPEC: &str = r#"
[run]
name = "t"
[sides]
left = "a"
right = "b"
[[entity]]
name = "e"
key = ["k1", "k2"]
left = { path = "l.csv" }
right = { path = "r.ndjson" }
  [[entity.field]]
  name = "k1"
  [[entity.field]]
  name = "k2"
  [[entity.field]]
  name = "v"
"#;

#[test]
fn concatenation_lookalikes_stay_distinct() {
    let env = Env::new();
    let spec = env.write("s.toml", SPEC);
    env.write("l.csv", "k1,k2,v\n1,23,x\n12,3,y\na|b,c,z\n");
    env.write(
        "r.ndjson",
        "{\"k1\":\"12\",\"k2\":\"3\",\"v\":\"y\"}\n{\"k1\":\"a\",\"k2\":\"b|c\",\"v\":\"z\"}\n",
    );
    let out = env.run(&spec, "r");
    let set = finding_set(&env.reports().join("r"));
    let kinds: Vec<(String, String)> = set.iter().map(|f| (f.kind.clone(), f.key.clone())).collect();
    assert_eq!(
        kinds,
        vec![
            ("missing_left".into(), r#"{"k1":"a","k2":"b|c"}"#.into()),
            ("missing_right".into(), r#"{"k1":"1","k2":"23"}"#.into()),
            ("missing_right".into(), r#"{"k1":"a|b","k2":"c"}"#.into()),
        ],
        "{}",
        stderr(&out)
    );
    assert!(set.iter().all(|f| f.kind != "duplicate_key"));
}

#[test]
fn null_empty_and_text_null_are_distinct_keys() {
    let env = Env::new();
    let spec = env.write("s.toml", SPEC);
    env.write("l.csv", "k1,k2,v\nnull,x,1\n");
    env.write("r.ndjson", "{\"k1\":null,\"k2\":\"x\",\"v\":\"1\"}\n{\"k1\":\"\",\"k2\":\"x\",\"v\":\"1\"}\n{\"k1\":\"null\",\"k2\":\"x\",\"v\":\"1\"}\n");
    let out = env.run(&spec, "r");
    let set = finding_set(&env.reports().join("r"));
    let got: Vec<(String, String, String)> = set
        .iter()
        .map(|f| (f.kind.clone(), f.side.clone(), f.key.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("null_key".into(), "right".into(), r#"{"k1":"","k2":"x"}"#.into()),
            ("null_key".into(), "right".into(), r#"{"k1":null,"k2":"x"}"#.into()),
        ],
        "the text \"null\" joins its twin; null and empty are reported apart: {}",
        stderr(&out)
    );
    let df = read_parquet(&env.reports().join("r/findings.parquet"));
    let ids = strings(&df, "finding_id");
    assert_ne!(ids[0], ids[1]);
}
