//! Runs in a series through state.parquet (tests only): the state of one
//! run written, read back and planned against in the next, in layout 3 and
//! from layout-2 and layout-1 files of earlier builds; compact rows whose
//! fields are recovered from both sides; and short field hashes forced to
//! collide under a differing row hash.

use super::layout::Layout;
use super::legacy::write_v1;
use super::read::read_state_file;
use super::testing::{prepared, text};
use super::{changes, Changes, EntityState, RowComparer, StateWriter, STATE_FILE};
use crate::repair::plan::testing::planned;
use crate::repair::Repair;
use crate::spec::Side;

const SPEC: &str = r#"
[run]
name = "t"
[sides]
left = "a"
right = "b"
[[entity]]
name = "e"
key = ["id"]
authority = "b"
left = { path = "l.csv" }
right = { path = "r.csv" }
  [[entity.field]]
  name = "id"
  [[entity.field]]
  name = "name"
  [[entity.field]]
  name = "amount"
"#;

/// One run's outcome: its state, repairs (sorted) and changes per side.
struct Run {
    state: EntityState,
    repairs: Vec<Repair>,
    changes: Option<[Changes; 2]>,
}

/// A run of `SPEC` over the rows `left` and `right` (id, name, amount)
/// against `previous`.
fn run(left: &[[&str; 3]], right: &[[&str; 3]], previous: Option<&EntityState>) -> Run {
    let spec =
        crate::spec::parse(std::path::Path::new("t.toml"), SPEC, String::new()).unwrap_or_else(|e| panic!("{e}"));
    let columns = |rows: &[[&str; 3]]| {
        (0..3)
            .map(|c| text(&rows.iter().map(|r| r[c]).collect::<Vec<_>>()))
            .collect()
    };
    let sides = [
        prepared(Side::Left, columns(left), &[]),
        prepared(Side::Right, columns(right), &[]),
    ];
    let (state, repairs) = planned(&spec, [&sides[0], &sides[1]], previous);
    let changes = previous.map(|p| Side::BOTH.map(|s| changes(p, &state, s)));
    Run {
        state,
        repairs,
        changes,
    }
}

/// `state` through a file of `layout` and back.
fn through_file(state: &EntityState, layout: Layout) -> EntityState {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join(STATE_FILE);
    match layout {
        Layout::V1 => write_v1(&path, &[("e", state)]).unwrap_or_else(|e| panic!("{e}")),
        _ => {
            let mut w = StateWriter::create_in(&path, layout).unwrap_or_else(|e| panic!("{e}"));
            w.append("e", state).unwrap_or_else(|e| panic!("{e}"));
            w.finish().unwrap_or_else(|e| panic!("{e}"));
        }
    }
    read_state_file(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .remove("e")
        .unwrap_or_default()
}

/// (action, key, field, target, new value, reason) of each repair.
fn shown(repairs: &[Repair]) -> Vec<String> {
    repairs
        .iter()
        .map(|r| {
            format!(
                "{} {} {:?} {} {:?} {}",
                r.action, r.key, r.field, r.target, r.new_value, r.reason
            )
        })
        .collect()
}

const RUN1: ([[&str; 3]; 5], [[&str; 3]; 5]) = (
    [
        ["1", "a", "1.00"],
        ["2", "b", "2.00"],
        ["3", "c", "3.00"],
        ["4", "d", "4.00"],
        ["5", "e", "5.00"],
    ],
    [
        ["1", "a", "1.00"],
        ["2", "b", "2.00"],
        ["3", "c", "3.00"],
        ["4", "d", "4.50"],
        ["5", "e", "5.00"],
    ],
);

#[test]
fn a_previous_state_in_an_earlier_layout_gives_the_repairs_it_gave_before() {
    let (l1, r1) = RUN1;
    let first = run(&l1, &r1, None);
    // Run 2: the left (not the authority) edits row 1.
    let mut l2 = l1;
    l2[0] = ["1", "a2", "1.00"];
    // Run 3: the right edits row 2, both edit row 3 differently, the right
    // deletes row 5.
    let mut l3 = l2;
    l3[2] = ["3", "c", "3.10"];
    let r3 = [
        ["1", "a", "1.00"],
        ["2", "b2", "2.00"],
        ["3", "c", "3.20"],
        ["4", "d", "4.50"],
    ];
    // As the builds before layout 2 planned: the previous state in memory
    // exactly as their layout-1 file held it.
    let want2 = run(&l2, &r1, Some(&first.state));
    let want3 = run(&l3, &r3, Some(&want2.state));
    assert_eq!(
        shown(&want3.repairs),
        [
            r#"update {"id":"1"} Some("name") b Some("a2") three_way"#,
            r#"update {"id":"2"} Some("name") a Some("b2") three_way"#,
            r#"review {"id":"3"} Some("amount") both None three_way"#,
            r#"update {"id":"4"} Some("amount") a Some("4.50") authority:b"#,
            r#"review {"id":"5"} None a None authority:b"#,
        ]
    );
    for old in [Layout::V1, Layout::V2, Layout::V3] {
        // The first run after the upgrade reads layout 1 or 2 (or, later,
        // 3) ...
        let got2 = run(&l2, &r1, Some(&through_file(&first.state, old)));
        assert_eq!(got2.repairs, want2.repairs, "{old:?}");
        assert_eq!(got2.changes, want2.changes, "{old:?}");
        // ... and as the builds before layout 3 (which wrote layout 2),
        // the next run gives the same repairs ...
        let got3 = run(&l3, &r3, Some(&through_file(&got2.state, Layout::V2)));
        assert_eq!(got3.repairs, want3.repairs, "{old:?}");
        assert_eq!(got3.changes, want3.changes, "{old:?}");
        // ... and from layout 3 too, but for row 3, which both sides
        // changed since they agreed (compact in run 2): a review as before,
        // whose detail can no longer say that both changed `amount` (a
        // field changed alike on both sides would read the same).
        let got3 = run(&l3, &r3, Some(&through_file(&got2.state, Layout::V3)));
        assert_eq!(shown(&got3.repairs), shown(&want3.repairs), "{old:?}");
        assert_eq!(got3.changes, want3.changes, "{old:?}");
        for (got, want) in got3.repairs.iter().zip(&want3.repairs) {
            match got.key.as_str() {
                r#"{"id":"3"}"# => assert_eq!(
                    got.detail,
                    "both sides changed the row since they last agreed (base in run 1); its change state cannot tell whether `amount` changed on one side or on both; a person decides"
                ),
                _ => assert_eq!(got, want),
            }
        }
    }
    // A layout-1 file keeps every full hash and base.
    let read = through_file(&want2.state, Layout::V1);
    for side in Side::BOTH {
        for key in &want2.state.sides[side.idx()].keys {
            for field in ["name", "amount"] {
                let (a, b) = (&want2.state, &read);
                assert_eq!(a.field_hash(side, key, field), b.field_hash(side, key, field));
                assert_eq!(a.base(side, key, field), b.base(side, key, field));
            }
        }
    }
}

#[test]
fn short_field_hashes_colliding_under_a_differing_row_hash_still_change_the_row() {
    let (l1, r1) = RUN1;
    let first = run(&l1, &r1, None);
    // The left (not the authority) edits both fields of row 1.
    let mut l2 = l1;
    l2[0] = ["1", "a2", "1.25"];
    // Layout 2 (and the rows of layout 3 that are not compact): short
    // field hashes.
    let mut previous = through_file(&first.state, Layout::V2);
    let honest = run(&l2, &r1, Some(&previous));
    assert_eq!(
        shown(&honest.repairs[..2]),
        [
            r#"update {"id":"1"} Some("amount") b Some("1.25") three_way"#,
            r#"update {"id":"1"} Some("name") b Some("a2") three_way"#,
        ]
    );
    // Force both short field hashes of the left's row 1 to collide with
    // this run's: its row hash still differs.
    let now = entity_state_of(&l2, &r1);
    let key = r#"{"id":"1"}"#;
    let names = previous.names.clone();
    let (p, c) = (&mut previous.sides[0], &now.sides[0]);
    let (j, i) = (p.find(key).expect("row 1"), c.find(key).expect("row 1"));
    let w = p.width();
    for n in 0..w {
        let name = &names[p.slots[n] as usize];
        let col = c
            .slots
            .iter()
            .position(|&s| &now.names[s as usize] == name)
            .expect("field");
        p.hashes[j * w + n] = super::hash::widen(super::hash::short(&c.hashes[i * c.width() + col]));
        p.bases.set_own(j * w + n);
    }
    assert_ne!(p.row_hashes[j], c.row_hashes[i]);
    let collided = run(&l2, &r1, Some(&previous));
    // The row still reads as changed ...
    let rows = RowComparer::new(&collided.state, &previous);
    assert!(rows.changed(Side::Left, key));
    assert_eq!(collided.changes.as_ref().map(|c| c[0].updated), Some(1));
    for field in ["name", "amount"] {
        assert_eq!(rows.since_base(Side::Left, key, field), Some(super::Change::Unknown));
        assert_eq!(rows.since_base(Side::Right, key, field), Some(super::Change::Unchanged));
    }
    // ... and neither field is taken from the authority nor left as is:
    // a person decides; the other rows are planned as without it.
    assert_eq!(
        shown(&collided.repairs[..2]),
        [
            r#"review {"id":"1"} Some("amount") both None three_way"#,
            r#"review {"id":"1"} Some("name") both None three_way"#,
        ]
    );
    assert_eq!(
        collided.repairs[0].detail,
        "the row changed on a since run 1, but its change state cannot tell whether `amount` did; a person decides"
    );
    assert_eq!(
        (
            collided.repairs[0].entity.as_str(),
            collided.repairs[0].target_side.as_str()
        ),
        ("e", "both")
    );
    assert_eq!(collided.repairs[2..], honest.repairs[2..]);
}

/// This run's state of rows `left` and `right` with its bases, against no
/// previous state.
fn entity_state_of(left: &[[&str; 3]], right: &[[&str; 3]]) -> EntityState {
    run(left, right, None).state
}

#[test]
fn a_compact_row_is_recovered_from_the_side_that_did_not_change_or_from_a_mix_of_both() {
    let (l1, r1) = RUN1;
    let first = run(&l1, &r1, None);
    let compact = through_file(&first.state, Layout::V3);
    let key = |id: &str| format!(r#"{{"id":"{id}"}}"#);
    // Rows whose sides agreed are kept as their row hash alone; row 4
    // (its amounts differ) keeps its field hashes and bases.
    for side in Side::BOTH {
        let s = &compact.sides[side.idx()];
        for id in ["1", "2", "3", "5"] {
            let i = s.find(&key(id)).expect("a row");
            assert!(s.compact_row(i).is_some(), "{id}");
            assert_eq!(compact.field_hash(side, &key(id), "name"), None);
        }
        let i = s.find(&key("4")).expect("row 4");
        assert!(s.compact_row(i).is_none());
    }
    // Run 2: row 1 changes on the left only; row 2 changes `name` on the
    // left and `amount` on the right; row 3 changes both fields on the left
    // and `name` alike on the right; row 5 changes `amount` on both sides,
    // to different values.
    let mut l2 = l1;
    let mut r2 = r1;
    l2[0] = ["1", "a2", "1.00"];
    l2[1] = ["2", "b2", "2.00"];
    r2[1] = ["2", "b", "2.50"];
    l2[2] = ["3", "c2", "3.30"];
    r2[2] = ["3", "c2", "3.00"];
    l2[4] = ["5", "e", "5.10"];
    r2[4] = ["5", "e", "5.20"];
    let full = run(&l2, &r2, Some(&through_file(&first.state, Layout::V1)));
    let got = run(&l2, &r2, Some(&compact));
    let now = entity_state_of(&l2, &r2);
    let rows = RowComparer::new(&now, &compact);
    use super::Change::{Changed, Unchanged, Unknown};
    let since = |side: Side, id: &str, field: &str| rows.since_base(side, &key(id), field);
    assert_eq!(since(Side::Left, "1", "name"), Some(Changed));
    assert_eq!(since(Side::Right, "1", "name"), Some(Unchanged));
    assert_eq!(since(Side::Left, "2", "name"), Some(Changed));
    assert_eq!(since(Side::Left, "2", "amount"), Some(Unchanged));
    assert_eq!(since(Side::Right, "2", "name"), Some(Unchanged));
    assert_eq!(since(Side::Right, "2", "amount"), Some(Changed));
    for side in Side::BOTH {
        assert_eq!(since(side, "3", "amount"), Some(Unknown));
        assert_eq!(since(side, "5", "amount"), Some(Unknown));
    }
    // Rows 1, 2 and 4 are planned as from full field hashes; rows 3 and 5
    // go to review, as row 5 did.
    assert_eq!(
        shown(&got.repairs),
        [
            r#"update {"id":"1"} Some("name") b Some("a2") three_way"#,
            r#"update {"id":"2"} Some("amount") a Some("2.50") three_way"#,
            r#"update {"id":"2"} Some("name") b Some("b2") three_way"#,
            r#"review {"id":"3"} Some("amount") both None three_way"#,
            r#"update {"id":"4"} Some("amount") a Some("4.50") authority:b"#,
            r#"review {"id":"5"} Some("amount") both None three_way"#,
        ]
    );
    for (g, f) in got.repairs.iter().zip(&full.repairs) {
        match g.key.as_str() {
            k if k == key("3") => assert_eq!(
                shown(std::slice::from_ref(f)),
                [r#"update {"id":"3"} Some("amount") b Some("3.30") three_way"#],
                "full hashes see that only the left changed `amount`"
            ),
            k if k == key("5") => assert!(g.detail.contains("one side or on both"), "{}", g.detail),
            _ => assert_eq!(g, f),
        }
    }
    assert_eq!(got.changes, full.changes);
    // The bases this run keeps are those full hashes give, where a mix
    // recovers them.
    for side in Side::BOTH {
        for id in ["1", "2", "4"] {
            for field in ["name", "amount"] {
                assert_eq!(
                    got.state.base(side, &key(id), field),
                    full.state.base(side, &key(id), field),
                    "{side:?} {id} {field}"
                );
            }
        }
        assert_eq!(got.state.base(side, &key("3"), "amount"), None);
    }
}
