//! Planning on small runs: who wins a differing field under `latest`, what
//! a row on one side only becomes (an insert, a delete, a review), and the
//! guard a delete carries.

use super::testing::planned;
use crate::prepare::prepare;
use crate::repair::state::EntityState;
use crate::repair::Repair;
use crate::spec::{Side, Spec};
use crate::test_support::{entity_keyed_by_id, loaded};

/// Text columns of one side: (column, cells).
type Columns<'a> = [(&'a str, &'a [Option<&'a str>])];

/// One run of the spec's entity over `left` and `right` against the state
/// of "run 1": this run's state and its repairs, sorted.
fn run(spec: &Spec, left: &Columns, right: &Columns, previous: Option<&EntityState>) -> (EntityState, Vec<Repair>) {
    let entity = &spec.entities[0];
    let sides = [
        prepare(entity, Side::Left, &loaded(left)),
        prepare(entity, Side::Right, &loaded(right)),
    ];
    planned(spec, [&sides[0], &sides[1]], previous)
}

/// Each repair as `action key field target new_value reason: detail`.
fn shown(repairs: &[Repair]) -> Vec<String> {
    repairs
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {} {}: {}",
                r.action,
                r.key,
                r.field.as_deref().unwrap_or("-"),
                r.target,
                r.new_value.as_deref().unwrap_or("-"),
                r.reason,
                r.detail
            )
        })
        .collect()
}

#[test]
fn latest_takes_the_side_with_the_newer_updated_at() {
    for (ty, old, new) in [
        ("date", "2024-01-01", "2024-01-02"),
        ("timestamp", "2024-01-02T09:00:00", "2024-01-02T10:00:00"),
    ] {
        let spec = entity_keyed_by_id(
            "authority = \"latest\"\nupdated_at = \"updated\"",
            &format!(
                "[[entity.field]]\nname = \"name\"\n\
                 [[entity.field]]\nname = \"updated\"\ntype = \"{ty}\"\ncompare = false\n"
            ),
        );
        let ids: &[Option<&str>] = &[Some("1"), Some("2"), Some("3"), Some("4")];
        let left: &Columns = &[
            ("id", ids),
            ("name", &[Some("l1"), Some("l2"), Some("l3"), Some("l4")]),
            ("updated", &[Some(new), Some(old), Some(old), None]),
        ];
        let right: &Columns = &[
            ("id", ids),
            ("name", &[Some("r1"), Some("r2"), Some("r3"), Some("r4")]),
            ("updated", &[Some(old), Some(new), Some(old), Some(old)]),
        ];
        let (_, repairs) = run(&spec, left, right, None);
        assert_eq!(
            shown(&repairs),
            [
                r#"update {"id":"1"} name b l1 latest: set `name` to the a value"#,
                r#"update {"id":"2"} name a r2 latest: set `name` to the b value"#,
                r#"review {"id":"3"} name both - latest: both sides have the same `updated`; a tie"#,
                r#"review {"id":"4"} name both - latest: `updated` is null or invalid on a side"#,
            ],
            "{ty}"
        );
        for r in &repairs {
            assert_eq!(r.entity, "e");
            let side = if r.action == "review" { "both" } else { &r.target_side };
            assert_eq!(r.target_side, side);
        }
        assert_eq!(repairs[2].target_side, "both");
    }
}

/// Rows 1 and 2 on both sides, then row 2 gone from one side.
fn deleted_since_run_1(spec: &Spec, gone_from: Side) -> Vec<Repair> {
    let both: &Columns = &[("id", &[Some("1"), Some("2")]), ("name", &[Some("x"), Some("y")])];
    let one: &Columns = &[("id", &[Some("1")]), ("name", &[Some("x")])];
    row_gone_since_run_1(spec, both, one, gone_from)
}

/// The repairs of a run where `gone_from` holds `one` against run 1, where
/// both sides held `both`.
fn row_gone_since_run_1(spec: &Spec, both: &Columns, one: &Columns, gone_from: Side) -> Vec<Repair> {
    let (first, _) = run(spec, both, both, None);
    let (left, right) = match gone_from {
        Side::Left => (one, both),
        Side::Right => (both, one),
    };
    run(spec, left, right, Some(&first)).1
}

#[test]
fn a_row_deleted_on_the_authority_is_deleted_and_one_deleted_elsewhere_is_restored() {
    let spec = entity_keyed_by_id(
        "authority = \"b\"\ndeletes = \"propagate\"",
        "[[entity.field]]\nname = \"name\"\n",
    );
    // Deleted on b, the authority: deleted on a too, guarded by the row.
    let deleted = deleted_since_run_1(&spec, Side::Right);
    assert_eq!(
        shown(&deleted),
        [r#"delete {"id":"2"} - a - authority:b: deleted on b since run 1"#]
    );
    assert_eq!(deleted[0].guard.as_deref(), Some(r#"{"name":"y"}"#));
    // Deleted on a: the authority still has it, so it goes back.
    assert_eq!(
        shown(&deleted_since_run_1(&spec, Side::Left)),
        [
            r#"insert {"id":"2"} id a 2 only_on:b: row exists only on b"#,
            r#"insert {"id":"2"} name a y only_on:b: row exists only on b"#,
        ]
    );
}

#[test]
fn a_delete_is_guarded_only_by_text_it_knows_exactly() {
    let guard = |fields: &str| {
        let spec = entity_keyed_by_id("authority = \"b\"", fields);
        let repairs = deleted_since_run_1(&spec, Side::Right);
        assert_eq!(repairs.len(), 1, "{:?}", shown(&repairs));
        assert_eq!(repairs[0].action, "review", "{:?}", shown(&repairs));
        repairs[0].guard.clone()
    };
    // Trimmed: the stored text is the value.
    assert_eq!(
        guard("[[entity.field]]\nname = \"name\"\nnormalize = [\"trim\"]\n").as_deref(),
        Some(r#"{"name":"y"}"#)
    );
    // Lower-cased: the stored text is not known.
    assert_eq!(
        guard("[[entity.field]]\nname = \"name\"\nnormalize = [\"trim\", \"lower\"]\n"),
        None
    );
    // Two fields of one column that agree on its text guard it once.
    assert_eq!(
        guard(
            "[[entity.field]]\nname = \"name\"\n\
             [[entity.field]]\nname = \"alias\"\nleft = \"name\"\nright = \"name\"\n"
        )
        .as_deref(),
        Some(r#"{"name":"y"}"#)
    );
    // Two that do not (`2.5` as text and as `2.50`): no exact guard.
    let amounts = |cell: &str| -> Vec<Repair> {
        let spec = entity_keyed_by_id(
            "authority = \"b\"",
            "[[entity.field]]\nname = \"amount\"\n\
             [[entity.field]]\nname = \"cents\"\ntype = \"decimal(18,2)\"\nleft = \"amount\"\nright = \"amount\"\n",
        );
        let both: &Columns = &[("id", &[Some("1"), Some("2")]), ("amount", &[Some("1.00"), Some(cell)])];
        let one: &Columns = &[("id", &[Some("1")]), ("amount", &[Some("1.00")])];
        row_gone_since_run_1(&spec, both, one, Side::Right)
    };
    assert_eq!(amounts("2.50")[0].guard.as_deref(), Some(r#"{"amount":"2.50"}"#));
    assert_eq!(amounts("2.5")[0].guard, None);
}

#[test]
fn an_insert_leaves_out_the_columns_either_side_lacks() {
    let spec = entity_keyed_by_id(
        "authority = \"a\"",
        "[[entity.field]]\nname = \"name\"\n[[entity.field]]\nname = \"amount\"\n[[entity.field]]\nname = \"note\"\n",
    );
    // a lacks `note`, b lacks `amount`: only `id` and `name` can be inserted.
    let left: &Columns = &[("id", &[Some("1")]), ("name", &[Some("x")]), ("amount", &[Some("1.5")])];
    let right: &Columns = &[("id", &[Some("2")]), ("name", &[Some("y")]), ("note", &[Some("n")])];
    let (_, repairs) = run(&spec, left, right, None);
    let inserts: Vec<String> = shown(&repairs)
        .into_iter()
        .filter(|r| r.starts_with("insert"))
        .collect();
    assert_eq!(
        inserts,
        [
            r#"insert {"id":"1"} id b 1 only_on:a: row exists only on a"#,
            r#"insert {"id":"1"} name b x only_on:a: row exists only on a"#,
            r#"insert {"id":"2"} id a 2 only_on:b: row exists only on b"#,
            r#"insert {"id":"2"} name a y only_on:b: row exists only on b"#,
        ]
    );
}
