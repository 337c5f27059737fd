//! Scale and trust: wide tables, the large benchmark pair at small size, and
//! proof that equality is never decided by a hash.

use recon::generate::{large, wide};

use crate::util::*;

#[test]
fn a_200_column_pair_runs_end_to_end_with_exact_findings() {
    let env = Env::new();
    let truth = wide(&env.path().join("w"), 300, 200, 5).unwrap();
    assert!(truth.0.len() > 30);
    let out = env.run(&env.path().join("w/wide.toml"), "w");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_same(&finding_set(&env.reports().join("w")), &truth.0);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.reports().join("w/summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["entities"]["wide"]["left"]["coverage"]["fields_compared_per_matched_row"],
        200
    );
    assert_eq!(
        summary["entities"]["wide"]["left"]["coverage"]["cells_compared"],
        200 * 300
    );
}

#[test]
fn the_large_pair_at_small_scale_reports_every_drift_kind_and_adds_up() {
    let env = Env::new();
    large(&env.path().join("l"), 20_000, 1).unwrap();
    let out = env.run(&env.path().join("l/large.toml"), "l");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.reports().join("l/summary.json")).unwrap()).unwrap();
    let kinds = &summary["entities"]["record"]["counts"]["by_kind"];
    for k in [
        "drift.missing_left",
        "drift.missing_right",
        "drift.value_mismatch",
        "drift.unconvertible",
        "masking.pii_in_text",
    ] {
        assert!(kinds[k].as_u64().unwrap_or(0) > 0, "{k}: {kinds}");
    }
    assert_coverage_adds_up(&env.reports().join("l"));
    let ratio = summary["entities"]["record"]["drift_ratio"].as_f64().unwrap();
    assert!((0.005..0.02).contains(&ratio), "about 1% drift: {ratio}");
}

/// recon has no row-hash fast path: every matched pair is compared field by
/// field on typed values, so rows that differ in one field among many (and
/// whose 64-bit hashes of the other fields agree trivially) are reported.
#[test]
fn a_single_differing_field_among_many_is_always_reported() {
    let env = Env::new();
    let n = 60;
    let header: Vec<String> = std::iter::once("id".to_string())
        .chain((0..n).map(|c| format!("f{c}")))
        .collect();
    let row: Vec<String> = std::iter::once("1".to_string())
        .chain((0..n).map(|c| format!("same{c}")))
        .collect();
    let mut other = row.clone();
    other[n] = "same59 ".into(); // differs only by a trailing space
    env.write("l.csv", format!("{}\n{}\n", header.join(","), row.join(",")));
    env.write("r.csv", format!("{}\n{}\n", header.join(","), other.join(",")));
    let fields: String = header[1..]
        .iter()
        .map(|h| format!("[[entity.field]]\nname = \"{h}\"\n"))
        .collect();
    let spec = env.write("s.toml", spec_keyed_by_id(&fields));
    let out = env.run(&spec, "r");
    let set = finding_set(&env.reports().join("r"));
    assert_eq!(set.len(), 1, "{}", stderr(&out));
    assert_eq!(set.iter().next().unwrap().field.as_deref(), Some("f59"));
}
