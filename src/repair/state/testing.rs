//! Shorthands shared by the state unit tests: a spec with one entity, a
//! prepared side from columns of cells, and the state of one side.

use super::{entity_state, EntityState};
use crate::keys::KeyRing;
use crate::normalize::Value;
use crate::prepare::key::{KeyIndex, SideKeys};
use crate::prepare::{Cell, PreparedSide};
use crate::spec::{Entity, Side};

pub(super) use crate::prepare::testing::prepared;
pub(super) use crate::test_support::keyed_by_id as spec;

/// The state of `side` standing for both sides (no pairs).
pub(super) fn one_side_state(entity: &Entity, side: &PreparedSide, keys: &SideKeys, ring: &KeyRing) -> EntityState {
    entity_state(
        entity,
        [side, side],
        [keys, keys],
        &KeyIndex::new([keys, keys]),
        ring,
        &[],
    )
}

/// The state of a one-side entity keyed on field 0, hashing the rest.
pub(super) fn state_of(fields: &str, columns: Vec<Vec<Cell>>) -> EntityState {
    let spec = spec(fields);
    let entity = &spec.entities[0];
    let side = prepared(Side::Left, columns, &[]);
    let ring = KeyRing::new(None);
    let display = crate::display::ReportDisplay { keys: &ring };
    let keys = crate::prepare::key::side_keys(entity, &side, &display);
    one_side_state(entity, &side, &keys, &ring)
}

pub(super) fn text(values: &[&str]) -> Vec<Cell> {
    values.iter().map(|v| Cell::Val(Value::Str((*v).into()))).collect()
}
