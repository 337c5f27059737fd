//! `recon init`: a first spec inferred from two exports. On the demo's
//! customers (and a generated pair of another seed) it proposes the demo's
//! key, pairs every column the demo spec maps, finds the status code map,
//! the personal data and the CRM's masks; the spec passes `recon check`, is
//! the same on a rerun, and `recon run` with it finds the ground truth's
//! drift on those fields. Unrelated files get no key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use recon::generate::{generate, Config, Expected};

use crate::util::*;

type Table = toml::Table;

fn init(env: &Env, left: &Path, right: &Path, out: &str) -> (std::process::Output, PathBuf) {
    let spec = env.path().join(out);
    let o = env.recon(&[
        "init",
        left.to_str().unwrap(),
        right.to_str().unwrap(),
        "--output",
        spec.to_str().unwrap(),
    ]);
    (o, spec)
}

/// The proposed fields: left column → the field's table.
fn fields(spec: &Path) -> (Table, BTreeMap<String, Table>) {
    let doc: Table = toml::from_str(&std::fs::read_to_string(spec).unwrap()).unwrap();
    let entity = doc["entity"].as_array().unwrap()[0].as_table().unwrap().clone();
    let fields = entity["field"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let f = f.as_table().unwrap().clone();
            (f["left"].as_str().unwrap().to_string(), f)
        })
        .collect();
    (entity, fields)
}

/// One demo entity as the demo spec maps it: its files (under `fixtures/`),
/// its key fields and each field's (left column, right column, compared).
struct Demo {
    entity: String,
    files: [String; 2],
    key: Vec<String>,
    fields: BTreeMap<String, (String, String, bool)>,
}

fn demo(entity: &str) -> Demo {
    let spec = recon::spec::load(&project_root().join("rules/callcenter-crm.toml")).unwrap();
    let e = spec.entity(entity).unwrap();
    let file = |s: usize| {
        let p = e.sources[s].path.to_string_lossy().to_string();
        p[p.find("fixtures/").unwrap() + "fixtures/".len()..].to_string()
    };
    Demo {
        entity: entity.into(),
        files: [file(0), file(1)],
        key: e.key.iter().map(|&k| e.fields[k].name.clone()).collect(),
        fields: e
            .fields
            .iter()
            .map(|f| (f.name.clone(), (f.columns[0].clone(), f.columns[1].clone(), f.compare)))
            .collect(),
    }
}

/// A key's JSON with every value as text (the demo may type a key part).
fn key_text(json: &str) -> BTreeMap<String, String> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A finding as compared here: kind, side, key (as text), field.
type Drift = (String, String, BTreeMap<String, String>, Option<String>);

/// The ground truth's drift of `d` in the proposed spec's names, on the
/// fields the proposal compares (and row-level drift, whose field is none).
fn truth_in(truth: &BTreeSet<Expected>, d: &Demo, proposed: &BTreeMap<String, Table>) -> BTreeSet<Drift> {
    let name_of = |demo_field: &str| -> String {
        let left = &d.fields[demo_field].0;
        proposed[left]["name"].as_str().unwrap().to_string()
    };
    truth
        .iter()
        .filter(|t| t.entity == d.entity && t.category == "drift")
        .filter(|t| t.field.as_deref().is_none_or(|f| compared(&proposed[&d.fields[f].0])))
        .map(|t| {
            let key = key_text(&t.key).into_iter().map(|(k, v)| (name_of(&k), v)).collect();
            (t.kind.clone(), t.side.clone(), key, t.field.as_deref().map(name_of))
        })
        .collect()
}

fn compared(field: &Table) -> bool {
    field.get("compare").and_then(|c| c.as_bool()).unwrap_or(true)
}

fn drift(run: &Path) -> BTreeSet<Drift> {
    finding_set(run)
        .into_iter()
        .filter(|f| f.category == "drift")
        .map(|f| (f.kind, f.side, key_text(&f.key), f.field))
        .collect()
}

/// Proposes a spec for demo entity `d` from the files under `fixtures`,
/// checks it, runs it, and compares its drift with `truth`.
fn end_to_end(env: &Env, fixtures: &Path, d: &Demo, truth: &BTreeSet<Expected>, tag: &str) -> Table {
    let [l, r] = [0, 1].map(|s| fixtures.join(&d.files[s]));
    let (o, spec) = init(env, &l, &r, &format!("{tag}.toml"));
    assert_eq!(code(&o), 0, "{}: {}", d.entity, stderr(&o));
    assert!(stderr(&o).contains("sampled"), "the sample is stated: {}", stderr(&o));
    let (entity, proposed) = fields(&spec);
    // The demo's key, part by part.
    let key: Vec<&str> = entity["key"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let want: Vec<String> = d
        .key
        .iter()
        .map(|k| proposed[&d.fields[k].0]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(key, want, "{}: the key", d.entity);
    // Every column the demo maps, paired with the demo's partner.
    for (name, (left, right, _)) in &d.fields {
        let f = proposed
            .get(left)
            .unwrap_or_else(|| panic!("{}: {name}: {left} not paired", d.entity));
        assert_eq!(f["right"].as_str(), Some(right.as_str()), "{}: {name}", d.entity);
    }
    // A spec recon accepts, and the same one again.
    let c = env.recon(&["check", spec.to_str().unwrap()]);
    assert_eq!(code(&c), 0, "{}", stderr(&c));
    let (again, spec2) = init(env, &l, &r, &format!("{tag}-again.toml"));
    assert_eq!(code(&again), 0);
    assert_eq!(
        std::fs::read_to_string(&spec).unwrap(),
        std::fs::read_to_string(&spec2).unwrap()
    );
    // Its drift is the ground truth's on the fields it compares.
    let out = env.path().join(format!("{tag}-reports"));
    let o = env.run_in(&spec, &out, "i1", &[]);
    assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
    let want = truth_in(truth, d, &proposed);
    assert!(want.len() >= 5, "{}: {}", d.entity, want.len());
    let got = drift(&out.join("i1"));
    let missed: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "{}: missed {missed:?}\nextra {extra:?}",
        d.entity
    );
    let mut table = Table::new();
    for (left, f) in proposed {
        table.insert(left, toml::Value::Table(f));
    }
    table
}

fn demo_truth() -> BTreeSet<Expected> {
    std::fs::read_to_string(project_root().join("fixtures/ground_truth.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn init_proposes_the_demo_customers_and_finds_their_drift() {
    let env = Env::new();
    let f = end_to_end(
        &env,
        &project_root().join("fixtures"),
        &demo("customer"),
        &demo_truth(),
        "demo",
    );
    // The status codes, the personal data and the CRM's masks.
    let map = f["state"]["map"].as_table().unwrap();
    assert_eq!(map["left"]["1"].as_str(), map["right"]["Active"].as_str());
    assert_eq!(map["left"]["0"].as_str(), map["right"]["Inactive"].as_str());
    assert_eq!(f["caller_number"]["pii"].as_str(), Some("cn_mobile"));
    assert_eq!(f["id_number"]["pii"].as_str(), Some("cn_resident_id"));
    assert_eq!(f["card_no"]["pii"].as_str(), Some("bank_card"));
    assert_eq!(f["id_number"]["mask"]["right"].as_str(), Some("cn_id"));
    assert_eq!(f["card_no"]["mask"]["right"].as_str(), Some("card"));
    assert_eq!(f["vip"]["type"].as_str(), Some("bool"));
    assert_eq!(f["balance"]["tolerance"]["abs"].as_float(), Some(0.01));
}

#[test]
fn init_proposes_the_demo_calls_with_their_composite_key_and_dispositions() {
    let env = Env::new();
    let f = end_to_end(
        &env,
        &project_root().join("fixtures"),
        &demo("interaction"),
        &demo_truth(),
        "calls",
    );
    assert!(f["disposition"]["map"].as_table().is_some(), "{:?}", f["disposition"]);
}

#[test]
fn init_on_a_generated_pair_of_another_seed_holds_too() {
    let env = Env::new();
    let fixtures = env.path().join("fixtures");
    let g = generate(
        &fixtures,
        &Config {
            seed: 23,
            customers: 800,
        },
    )
    .unwrap();
    for entity in ["customer", "interaction", "ticket", "agent_account"] {
        end_to_end(&env, &fixtures, &demo(entity), &g.truth.0, &format!("seed23-{entity}"));
    }
}

#[test]
fn unrelated_files_get_no_key_and_no_spec() {
    let env = Env::new();
    let root = project_root().join("fixtures");
    let (o, spec) = init(
        &env,
        &root.join("callcenter/customers.csv"),
        &root.join("crm/users.parquet"),
        "x.toml",
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("no key found"), "{}", stderr(&o));
    assert!(!spec.exists());
    // A declared key that one side lacks is a usage error naming the file.
    let o = env.recon(&[
        "init",
        root.join("callcenter/customers.csv").to_str().unwrap(),
        root.join("crm/contacts.parquet").to_str().unwrap(),
        "--key",
        "cust_no=nope",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("contacts.parquet has no column `nope`"),
        "{}",
        stderr(&o)
    );
    // A missing input, and an output that exists.
    let o = env.recon(&[
        "init",
        "missing.csv",
        root.join("crm/contacts.parquet").to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("missing.csv"), "{}", stderr(&o));
    let taken = env.write("taken.toml", "keep me");
    let o = env.recon(&[
        "init",
        root.join("callcenter/customers.csv").to_str().unwrap(),
        root.join("crm/contacts.parquet").to_str().unwrap(),
        "--output",
        taken.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "keep me");
}

#[test]
fn init_proposes_the_demo_tickets_from_a_gbk_export() {
    let env = Env::new();
    let f = end_to_end(
        &env,
        &project_root().join("fixtures"),
        &demo("ticket"),
        &demo_truth(),
        "tickets",
    );
    assert!(f["status"]["map"].as_table().is_some(), "{:?}", f["status"]);
}

#[test]
fn init_proposes_the_demo_agent_accounts() {
    let env = Env::new();
    end_to_end(
        &env,
        &project_root().join("fixtures"),
        &demo("agent_account"),
        &demo_truth(),
        "agents",
    );
}
