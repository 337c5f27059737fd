//! `fresh` rules: the newest timestamp measured against the run's start time.

use super::{expect, quality_set, summary, HEAD};
use crate::util::*;

#[test]
fn fresh_measures_the_newest_timestamp_against_the_run_start() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        format!(
            "{HEAD}{}",
            r#"
[[entity]]
name = "e"
key = ["id"]
left = { path = "l.csv" }
right = { path = "r.csv" }
  [[entity.field]]
  name = "id"
  [[entity.field]]
  name = "kind"
  [[entity.field]]
  name = "updated_at"
  type = "timestamp"
  compare = false
  [[entity.rule]]
  id = "fresh"
  check = "fresh"
  field = "updated_at"
  max_age = "36h"
  [[entity.rule]]
  id = "fresh-web"
  check = "fresh"
  field = "updated_at"
  max_age = "1d"
  where = "kind = 'web'"
  side = "left"
  severity = "warning"
"#
        ),
    );
    let now = chrono::Utc::now();
    let ts = |hours: i64| {
        (now - chrono::Duration::hours(hours))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    env.write(
        "l.csv",
        format!("id,kind,updated_at\n1,phone,{}\n2,web,{}\n3,web,\n", ts(1), ts(50)),
    );
    env.write(
        "r.csv",
        format!(
            "id,kind,updated_at\n1,phone,{}\n2,web,{}\n3,web,{}\n",
            ts(72),
            ts(96),
            ts(80)
        ),
    );
    let out = env.run(&spec, "f1");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("f1");
    assert_eq!(
        quality_set(&run),
        expect(&[("fresh", "right", "{}"), ("fresh-web", "left", "{}")])
    );
    let df = read_parquet(&run.join("findings.parquet"));
    let [rule, rv, detail] = ["rule", "right_value", "detail"].map(|c| strings(&df, c));
    let i = (0..df.height()).find(|&i| rule[i].as_deref() == Some("fresh")).unwrap();
    assert_eq!(rv[i], Some(ts(72)));
    assert!(detail[i].as_deref().unwrap().contains("3d0h old"), "{:?}", detail[i]);
    let s = summary(&run);
    let obs = &s["entities"]["e"]["quality"]["rules"]["fresh"]["observed"];
    assert_eq!(obs["left"]["max_age_s"], 36 * 3600);
    let age = obs["left"]["age_s"].as_i64().unwrap();
    assert!((3600..3700).contains(&age), "{age}");
}
