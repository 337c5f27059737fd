//! Personal data never leaves recon unmasked, and the masking audit finds
//! exactly what the generator planted.

use std::collections::BTreeSet;
use std::path::Path;

use polars::prelude::*;
use recon::generate::{generate, Config, Expected};

use crate::util::*;

fn digits(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c),
            '０'..='９' => char::from_u32(c as u32 - 0xFF10 + '0' as u32),
            _ => None,
        })
        .collect()
}

/// Every raw personal value in the demo inputs, as digit strings.
pub fn raw_personal_values(fixtures: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |v: &str| {
        let d = digits(v);
        if d.len() >= 11 {
            out.insert(d);
        }
    };
    let customers = std::fs::read_to_string(fixtures.join("callcenter/customers.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(customers.as_bytes());
    for rec in rdr.records() {
        let rec = rec.unwrap();
        for i in [2, 7, 8] {
            add(&rec[i]);
        }
    }
    let contacts = read_parquet(&fixtures.join("crm/contacts.parquet"));
    for col in ["Phone", "IdNumber__c", "CardNo__c"] {
        for v in strings(&contacts, col).into_iter().flatten() {
            if !v.contains('*') {
                add(&v);
            }
        }
    }
    let calls = std::fs::read_to_string(fixtures.join("callcenter/calls.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(calls.as_bytes());
    for rec in rdr.records() {
        let note = rec.unwrap()[9].to_string();
        let chars: Vec<char> = note.chars().collect();
        for hit in recon::pii::scan(&note) {
            let raw: String = chars[hit.char_offset..hit.char_offset + hit.char_len].iter().collect();
            add(&raw);
        }
    }
    out
}

/// Every string a person or program can read out of a run folder.
fn output_strings(run: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(run).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "parquet") {
            let df = read_parquet(&p);
            for c in df.columns() {
                if let Ok(s) = c.cast(&DataType::String) {
                    out.extend(s.str().unwrap().iter().flatten().map(String::from));
                }
            }
        } else {
            out.push(std::fs::read_to_string(&p).unwrap());
        }
    }
    out
}

fn assert_no_leak(run: &Path, stderr: &str, raw: &BTreeSet<String>) {
    assert!(
        raw.len() > 100,
        "the corpus of raw values is substantial: {}",
        raw.len()
    );
    let mut texts = output_strings(run);
    texts.push(stderr.to_string());
    for t in &texts {
        let d = digits(t);
        for v in raw {
            assert!(
                !t.contains(v.as_str()) && !d.contains(v.as_str()),
                "raw personal value leaked into output: …{}…",
                &v[v.len() - 4..]
            );
        }
    }
}

#[test]
fn no_raw_personal_data_in_any_output_of_the_demo() {
    let env = Env::new();
    let out = env.run(&project_root().join("rules/callcenter-crm.toml"), "leak");
    assert_eq!(code(&out), 1);
    assert_no_leak(
        &env.reports().join("leak"),
        &stderr(&out),
        &raw_personal_values(&project_root().join("fixtures")),
    );
}

#[test]
fn no_raw_personal_data_in_a_generated_pair() {
    let env = Env::new();
    let spec = copy_demo(env.path());
    generate(
        &env.path().join("fixtures"),
        &Config {
            seed: 11,
            customers: 300,
        },
    )
    .unwrap();
    let out = env.run(&spec, "leak");
    assert_eq!(code(&out), 1);
    assert_no_leak(
        &env.reports().join("leak"),
        &stderr(&out),
        &raw_personal_values(&env.path().join("fixtures")),
    );
}

#[test]
fn masking_findings_show_masks_and_scan_hits_carry_offsets() {
    let env = Env::new();
    let out = env.run(&project_root().join("rules/callcenter-crm.toml"), "m");
    assert_eq!(code(&out), 1);
    let df = read_parquet(&env.reports().join("m/findings.parquet"));
    let kinds = strings(&df, "kind");
    let rules = strings(&df, "rule");
    let details = strings(&df, "detail");
    let lv = strings(&df, "left_value");
    let rv = strings(&df, "right_value");
    let mut scan_hits = 0;
    for i in 0..df.height() {
        match kinds[i].as_deref() {
            Some("pii_in_text") => {
                scan_hits += 1;
                let rule = rules[i].clone().unwrap();
                assert!(rule.starts_with("notes:") && rule.contains('@'), "{rule}");
                assert!(details[i].as_deref().unwrap().contains("at character"));
                assert!(lv[i].as_deref().unwrap().contains('*'), "masked match: {:?}", lv[i]);
            }
            Some("unmasked" | "wrong_mask" | "inconsistent_mask") => {
                let v = rv[i].clone().unwrap();
                assert!(v.contains('*'), "display value is masked: {v}");
            }
            _ => {}
        }
    }
    assert!(scan_hits >= 6, "{scan_hits}");
}

/// A run of the one phone field `field` (its spec lines) over `left` and
/// `right` (CSV text): the (kind, side, key) of every finding.
fn phone_findings(env: &Env, field: &str, left: &str, right: &str) -> Vec<(String, String, String)> {
    let spec = env.write("s.toml", spec_keyed_by_id(field));
    env.write("l.csv", left);
    env.write("r.csv", right);
    let out = env.run(&spec, "r");
    assert!(code(&out) <= 1, "{}", stderr(&out));
    finding_set(&env.reports().join("r"))
        .iter()
        .map(|f| (f.kind.clone(), f.side.clone(), f.key.clone()))
        .collect()
}

#[test]
fn mask_aware_comparison_reports_a_masked_mismatch() {
    let env = Env::new();
    let got = phone_findings(
        &env,
        r#"
  [[entity.field]]
  name = "phone"
  normalize = { left = ["phone_e164:CN"], right = ["trim"] }
  pii = "cn_mobile"
  mask = { left = "clear", right = "phone" }
"#,
        "id,phone\n1,13912345678\n2,13912345678\n3,13912345678\n",
        "id,phone\n1,139****5678\n2,139****5679\n3,13912345678\n",
    );
    assert_eq!(
        got,
        vec![
            ("value_mismatch".into(), "both".into(), r#"{"id":"2"}"#.into()),
            ("inconsistent_mask".into(), "right".into(), r#"{"id":"2"}"#.into()),
            ("unmasked".into(), "right".into(), r#"{"id":"3"}"#.into()),
        ]
    );
    let df = read_parquet(&env.reports().join("r/findings.parquet"));
    let i = strings(&df, "kind")
        .iter()
        .position(|k| k.as_deref() == Some("value_mismatch"))
        .unwrap();
    assert_eq!(strings(&df, "left_value")[i].as_deref(), Some("139****5678"));
    assert_eq!(strings(&df, "right_value")[i].as_deref(), Some("139****5679"));
}

/// The mirror of the test above: the *left* side masked, the right clear
/// (issue 37: deleting the comparison's arm for a masked left side survived).
#[test]
fn mask_aware_comparison_works_with_the_left_side_masked() {
    let env = Env::new();
    let got = phone_findings(
        &env,
        r#"
  [[entity.field]]
  name = "phone"
  normalize = { left = ["trim"], right = ["phone_e164:CN"] }
  pii = "cn_mobile"
  mask = { left = "phone", right = "clear" }
"#,
        "id,phone\n1,139****5678\n2,139****5679\n",
        "id,phone\n1,13912345678\n2,13912345678\n",
    );
    assert_eq!(
        got,
        vec![
            ("value_mismatch".into(), "both".into(), r#"{"id":"2"}"#.into()),
            ("inconsistent_mask".into(), "left".into(), r#"{"id":"2"}"#.into()),
        ],
        "a mask that agrees with the clear value is no mismatch"
    );
}

/// Issue 26, item 6: `wrong_mask` ignored over-masking. A CRM showing
/// `**************8325` where the policy is `cn_id` (`110108********8325`),
/// `*******5678` for `phone` or `************7894` for `card` was not
/// reported. Both directions are `wrong_mask` now, the detail says which,
/// and an over-masked value is still compared by the characters it shows.
#[test]
fn wrong_mask_reports_over_masking_and_under_masking() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        spec_keyed_by_id(
            r#"
  [[entity.field]]
  name = "id_number"
  normalize = ["trim", "upper"]
  pii = "cn_resident_id"
  mask = { left = "clear", right = "cn_id" }

  [[entity.field]]
  name = "phone"
  normalize = { left = ["phone_e164:CN"], right = ["trim"] }
  pii = "cn_mobile"
  mask = { left = "clear", right = "phone" }

  [[entity.field]]
  name = "card"
  normalize = { left = ["digits_only"], right = ["trim"] }
  pii = "bank_card"
  mask = { left = "clear", right = "card" }
"#,
        ),
    );
    env.write(
        "l.csv",
        "id,id_number,phone,card\n\
         1,110108199001091438,13912345678,6222021234567894\n\
         2,110108199001048325,13912345678,6222021234567894\n\
         3,110108199001091438,13912345678,6222021234567894\n\
         4,110108199001091438,13912345678,6222021234567894\n\
         5,110108199001091438,13912345678,6222021234567894\n\
         6,110108199001091438,13912345678,6222021234567894\n",
    );
    env.write(
        "r.csv",
        // 1 well-formed; 2 over-masked ID; 3 over-masked ID contradicting
        // the clear one; 4 under-masked ID; 5 ID fully starred; 6
        // over-masked phone and card.
        "id,id_number,phone,card\n\
         1,110108********1438,139****5678,622202******7894\n\
         2,**************8325,139****5678,622202******7894\n\
         3,**************0000,139****5678,622202******7894\n\
         4,1101081990****1438,139****5678,622202******7894\n\
         5,******************,139****5678,622202******7894\n\
         6,110108********1438,*******5678,************7894\n",
    );
    let out = env.run(&spec, "r");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = env.reports().join("r");
    let expected = |category: &str, kind: &str, side: &str, id: &str, field: &str| Expected {
        entity: "e".into(),
        category: category.into(),
        kind: kind.into(),
        side: side.into(),
        key: format!(r#"{{"id":"{id}"}}"#),
        field: Some(field.into()),
    };
    let truth: BTreeSet<Expected> = [
        expected("masking", "wrong_mask", "right", "2", "id_number"),
        expected("masking", "wrong_mask", "right", "3", "id_number"),
        expected("masking", "inconsistent_mask", "right", "3", "id_number"),
        expected("drift", "value_mismatch", "both", "3", "id_number"),
        expected("masking", "wrong_mask", "right", "4", "id_number"),
        expected("masking", "wrong_mask", "right", "5", "id_number"),
        expected("masking", "wrong_mask", "right", "6", "phone"),
        expected("masking", "wrong_mask", "right", "6", "card"),
    ]
    .into_iter()
    .collect();
    assert_same(&finding_set(&run), &truth);

    let df = read_parquet(&run.join("findings.parquet"));
    let (kinds, keys, fields, details, shown) = (
        strings(&df, "kind"),
        strings(&df, "key"),
        strings(&df, "field"),
        strings(&df, "detail"),
        strings(&df, "right_value"),
    );
    let of = |id: &str, field: &str| -> (String, String) {
        let key = format!(r#"{{"id":"{id}"}}"#);
        let i = (0..df.height())
            .find(|&i| {
                kinds[i].as_deref() == Some("wrong_mask")
                    && keys[i].as_deref() == Some(key.as_str())
                    && fields[i].as_deref() == Some(field)
            })
            .unwrap();
        (details[i].clone().unwrap(), shown[i].clone().unwrap())
    };
    assert_eq!(
        of("2", "id_number"),
        (
            "mask shows less than policy `cn_id` (4 of 18 characters visible, policy shows 10)".into(),
            "**************8325".into()
        )
    );
    assert_eq!(
        of("4", "id_number").0,
        "mask shows more than policy `cn_id` (14 of 18 characters visible, policy shows 10)"
    );
    assert!(!of("4", "id_number").1.contains("1990"), "display value re-masked");
    assert_eq!(
        of("5", "id_number").0,
        "mask shows less than policy `cn_id` (0 of 18 characters visible, policy shows 10)"
    );
    assert_eq!(
        of("6", "phone").0,
        "mask shows less than policy `phone` (4 of 11 characters visible, policy shows 7)"
    );
    assert_eq!(
        of("6", "card").0,
        "mask shows less than policy `card` (4 of 16 characters visible, policy shows 10)"
    );
}

#[test]
fn mask_without_pii_is_a_spec_error() {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        "[run]\nname = \"t\"\n[sides]\nleft = \"a\"\nright = \"b\"\n[[entity]]\nname = \"e\"\nkey = [\"id\"]\nleft = { path = \"l.csv\" }\nright = { path = \"r.csv\" }\n[[entity.field]]\nname = \"id\"\nmask = { right = \"phone\" }\n",
    );
    let out = env.run(&spec, "r");
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("s.toml:13:") && stderr(&out).contains("pii"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_named_token_key_file_that_is_missing_is_an_input_error() {
    let env = Env::new();
    let reports = env.reports();
    let spec = project_root().join("rules/callcenter-crm.toml");
    let out = env
        .command(&["run", spec.to_str().unwrap(), "--out", reports.to_str().unwrap()])
        .env("RECON_TOKEN_KEY_FILE", env.path().join("missing.key"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("missing.key") && stderr(&out).contains("hint: create one"),
        "{}",
        stderr(&out)
    );
    assert!(report_entries(&env).is_empty());
}
