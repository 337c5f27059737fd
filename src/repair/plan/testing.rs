//! One run's planning for unit tests: two prepared sides keyed, compared,
//! their state (with its bases from the previous run's) and the repairs,
//! as a run makes them.

use super::{plan, Inputs};
use crate::display::ReportDisplay;
use crate::keys::KeyRing;
use crate::prepare::key::{side_keys, KeyIndex};
use crate::prepare::PreparedSide;
use crate::repair::state::{entity_state, EntityState};
use crate::repair::Repair;
use crate::spec::Spec;

/// The spec's first entity planned over `sides` against `previous` (the
/// state of "run 1"): this run's state and its repairs, sorted by key,
/// field and action.
pub(crate) fn planned(
    spec: &Spec,
    sides: [&PreparedSide; 2],
    previous: Option<&EntityState>,
) -> (EntityState, Vec<Repair>) {
    let entity = &spec.entities[0];
    let ring = KeyRing::new(None);
    let display = ReportDisplay { keys: &ring };
    let keys = [
        side_keys(entity, sides[0], &display),
        side_keys(entity, sides[1], &display),
    ];
    let index = KeyIndex::new([&keys[0], &keys[1]]);
    let keys = [&keys[0], &keys[1]];
    let drift = crate::compare::compare(entity, sides, keys, &index, chrono_tz::UTC, &display);
    let mut state = entity_state(entity, sides, keys, &index, &ring, &drift.pairs);
    state.set_bases(entity, sides, keys, &drift, previous);
    let mut repairs = plan(&Inputs {
        entity,
        side_names: &spec.sides,
        sides,
        keys,
        drift: &drift,
        current: &state,
        previous,
        previous_run: Some("1"),
        ring: &ring,
    });
    repairs.sort_by(|a, b| (&a.key, &a.field, &a.action).cmp(&(&b.key, &b.field, &b.action)));
    (state, repairs)
}
