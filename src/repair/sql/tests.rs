//! The script's parts on their own: an instruction left for a person as a
//! comment naming it, the counts in the footer, keys written as JSON
//! numbers, and inserts of one column mapped from two fields.

use super::{Dialect, Writer};
use crate::repair::Repair;
use crate::spec::{Entity, Side, Spec};
use crate::test_support::keyed_by_id;

fn spec() -> Spec {
    keyed_by_id(
        "[[entity.field]]\nname = \"name\"\n\
         [[entity.field]]\nname = \"alias\"\nleft = \"name\"\nright = \"name\"\n\
         [[entity.field]]\nname = \"note\"\n\
         [[entity.field]]\nname = \"amount\"\ntype = \"decimal(18,2)\"\n",
    )
}

fn insert(field: &str, value: &str) -> Repair {
    Repair {
        repair_id: format!("r-{field}"),
        entity: "e".into(),
        target: "b".into(),
        target_side: "right".into(),
        action: "insert".into(),
        key: r#"{"id":"1"}"#.into(),
        field: Some(field.into()),
        new_value: Some(value.into()),
        reason: "only_on:a".into(),
        ..Repair::default()
    }
}

/// The lines of `w`'s script after its header.
fn body(w: &Writer) -> Vec<&str> {
    w.out.lines().filter(|l| !l.is_empty()).collect()
}

#[test]
fn an_instruction_left_for_a_person_is_a_comment_naming_it_and_is_counted() {
    let mut w = Writer::new(Dialect::Postgres, Side::Right);
    let r = Repair {
        repair_id: "r1".into(),
        action: "review".into(),
        key: "{\"id\":\"1\nDROP\"}".into(),
        field: Some("name".into()),
        value_ref: Some("{\"mac\":\"ab\"}".into()),
        ..Repair::default()
    };
    w.comment(&r, "review: both changed\nit");
    w.footer();
    let lines = body(&w);
    assert_eq!(
        lines[0],
        "-- r1 review {\"id\":\"1 DROP\"} name: review: both changed it"
    );
    assert_eq!(lines[1], "--   value_ref {\"mac\":\"ab\"}");
    assert_eq!(
        lines.last().copied(),
        Some("-- 0 guarded statement(s), 1 instruction(s) left for a person")
    );
}

#[test]
fn a_key_written_as_a_json_number_is_the_same_key_as_its_text() {
    let spec = spec();
    let entity: &Entity = &spec.entities[0];
    for d in [Dialect::Postgres, Dialect::Mysql] {
        let w = Writer::new(d, Side::Right);
        let text = w.key_where(entity, r#"{"id":"42"}"#).map_err(|e| e.0).unwrap();
        let number = w.key_where(entity, r#"{"id":42}"#).map_err(|e| e.0).unwrap();
        assert_eq!(number, text);
        let none = w.key_where(entity, r#"{"id":true}"#).map(|_| ()).map_err(|e| e.0);
        assert_eq!(none, Err("the key has no value for `id`".to_string()));
    }
}

#[test]
fn a_column_of_two_fields_is_inserted_once_when_they_agree() {
    let spec = spec();
    let entity = &spec.entities[0];
    let mut w = Writer::new(Dialect::Mysql, Side::Right);
    w.insert(entity, &[insert("id", "1"), insert("name", "x"), insert("alias", "x")]);
    let lines = body(&w);
    assert_eq!(lines[0], "-- r-id insert {\"id\":\"1\"} (only_on:a)");
    assert!(
        lines[1].starts_with("INSERT INTO  (`id`, `name`) SELECT '1', 'x' FROM DUAL WHERE NOT EXISTS"),
        "{lines:?}"
    );
    assert_eq!((w.statements, w.comments), (1, 0));

    let mut w = Writer::new(Dialect::Mysql, Side::Right);
    w.insert(entity, &[insert("id", "1"), insert("name", "x"), insert("alias", "y")]);
    assert_eq!((w.statements, w.comments), (0, 3));
    assert!(
        body(&w)[0].ends_with("insert left for a person: two fields give column `name` different values"),
        "{:?}",
        body(&w)
    );
}

#[test]
fn a_value_given_by_reference_is_never_written_in_its_place() {
    // An instruction with a value_ref has no new_value: inserting it would
    // write NULL (say the spec given to `recon sql` no longer marks the
    // field as personal data).
    let spec = spec();
    let entity = &spec.entities[0];
    let mut w = Writer::new(Dialect::Postgres, Side::Right);
    let mut by_ref = insert("note", "");
    by_ref.new_value = None;
    by_ref.value_ref = Some("{\"mac\":\"ab\"}".into());
    w.insert(entity, &[insert("id", "1"), by_ref]);
    assert_eq!((w.statements, w.comments), (0, 2));
    assert!(
        body(&w)[0].contains("insert of a row with personal data (`note`)"),
        "{:?}",
        body(&w)
    );
}

#[test]
fn a_delete_is_guarded_by_every_column_null_included() {
    let spec = spec();
    let entity = &spec.entities[0];
    let delete = Repair {
        repair_id: "r-del".into(),
        action: "delete".into(),
        key: r#"{"id":"1"}"#.into(),
        guard: Some(r#"{"amount":"2.50","name":"x","note":null}"#.into()),
        reason: "authority:a".into(),
        ..Repair::default()
    };
    let mut w = Writer::new(Dialect::Mysql, Side::Right);
    w.delete(entity, &delete);
    assert_eq!((w.statements, w.comments), (1, 0));
    assert_eq!(
        body(&w)[1],
        "DELETE FROM  WHERE (`id` = '1' AND CAST(`id` AS BINARY) = CAST('1' AS BINARY)) \
         AND `amount` <=> 2.50 AND (`name` <=> 'x' AND CAST(`name` AS BINARY) <=> CAST('x' AS BINARY)) AND `note` <=> NULL;",
        "{:?}",
        body(&w)
    );
    let mut number = delete.clone();
    number.guard = Some(r#"{"name":1}"#.into());
    let mut w = Writer::new(Dialect::Mysql, Side::Right);
    w.delete(entity, &number);
    assert_eq!((w.statements, w.comments), (0, 1));
    assert!(body(&w)[0].ends_with("delete left for a person: the guard's `name` is not text"));
}

#[test]
fn an_update_by_reference_is_left_for_a_person() {
    let spec = spec();
    let entity = &spec.entities[0];
    let update = Repair {
        repair_id: "r-up".into(),
        action: "update".into(),
        key: r#"{"id":"1"}"#.into(),
        field: Some("note".into()),
        value_ref: Some("{\"mac\":\"ab\"}".into()),
        ..Repair::default()
    };
    let mut w = Writer::new(Dialect::Postgres, Side::Right);
    w.update(entity, &update);
    assert_eq!((w.statements, w.comments), (0, 1));
    assert!(body(&w)[0].contains("update of personal data"), "{:?}", body(&w));
}
