//! Change detection between this run's state and the previous run's: rows
//! inserted, updated and deleted per side ([`Changes`]), whether one row
//! changed and whether one field changed since its merge base
//! ([`RowComparer`]). Fields are matched by name.
//!
//! A previous state read from layout 2 or 3 has row hashes: a row changed
//! when its row hash differs. A compact row (layout 3) has no field hash:
//! its fields' bases are recovered from this run's rows ([`recover`]), and
//! a field that cannot be placed is [`Change::Unknown`]. In a row with
//! short field hashes a field changed since its base when their short
//! hashes differ; when the row hash differs but no field's short hash (nor
//! the set of fields) does, the change cannot be placed: every field of the
//! row on that side is [`Change::Unknown`]. A previous state of layout 1 is
//! compared on its full field hashes, as the builds that wrote it did.

use super::hash::short;
use super::model::{EntityState, SideState};
use super::recover::{recover, Recovered};
use super::{Hash, NONE};
use crate::spec::Side;

/// Whether a field changed on a side since its merge base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Unchanged,
    Changed,
    /// The row changed on this side (its row hash differs) but the state
    /// cannot tell whether this field did: short field hashes collided, or
    /// both sides changed a compact row in a way no mix of them explains.
    /// Never taken as unchanged.
    Unknown,
}

/// Rows inserted, updated and deleted on one side since the previous state.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Changes {
    pub inserted: usize,
    pub updated: usize,
    pub deleted: usize,
}

impl Changes {
    pub fn absorb(&mut self, o: &Changes) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.deleted += o.deleted;
    }
}

/// Rows of this run's state against the previous run's, with each side's
/// fields matched by name once (not per row: 200 fields are 40,000 name
/// comparisons). Fields are matched by name, so declaring them in another
/// order changes no row.
pub struct RowComparer<'a> {
    current: &'a EntityState,
    previous: &'a EntityState,
    columns: [Vec<[Option<usize>; 2]>; 2],
}

impl<'a> RowComparer<'a> {
    pub fn new(current: &'a EntityState, previous: &'a EntityState) -> RowComparer<'a> {
        RowComparer {
            current,
            previous,
            columns: Side::BOTH.map(|side| current.columns_against(previous, side)),
        }
    }

    /// Whether the row of `key` on `side` is absent now or differs from its
    /// row in the previous state (which has it).
    pub fn changed(&self, side: Side, key: &str) -> bool {
        let (p, c) = (&self.previous.sides[side.idx()], &self.current.sides[side.idx()]);
        match (p.find(key), c.find(key)) {
            (Some(j), Some(i)) => differs(&self.columns[side.idx()], c, i, p, j),
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Whether `field` of the row of `key` on `side` changed since its
    /// merge base in the previous state; None when there is nothing to
    /// compare (no base, or the field or row absent from either state).
    pub fn since_base(&self, side: Side, key: &str, field: &str) -> Option<Change> {
        let (p, c) = (&self.previous.sides[side.idx()], &self.current.sides[side.idx()]);
        let (j, i) = (p.find(key)?, c.find(key)?);
        let column = |st: &EntityState, s: &SideState| {
            let slot = st.name_idx(field)?;
            s.slots.iter().position(|&x| x == slot)
        };
        let (jp, jc) = (column(self.previous, p)?, column(self.current, c)?);
        if p.compact_row(j).is_some() {
            let now = super::some(c.hashes[i * c.width() + jc])?;
            return match recover(self.previous, self.current, key)? {
                Recovered::Unplaceable => Some(Change::Unknown),
                found => Some(match found.base(self.previous, field)? == now {
                    true => Change::Unchanged,
                    false => Change::Changed,
                }),
            };
        }
        let cell = j * p.width() + jp;
        let base = p.bases.get(cell, p.hashes[cell])?;
        let now = super::some(c.hashes[i * c.width() + jc])?;
        if !(p.short || c.short) {
            // Layout 1: full field hashes, compared as its builds did.
            return Some(match base != now {
                true => Change::Changed,
                false => Change::Unchanged,
            });
        }
        if short(&base) != short(&now) {
            return Some(Change::Changed);
        }
        // A base that is the field's own hash in the previous run: the row
        // hashes tell whether the row changed since, at 128 bits.
        let rows = (p.row_hash(j), c.row_hash(i));
        if p.bases.is_own(cell) {
            if let (Some(before), Some(after)) = rows {
                if before != after && !fields_differ(&self.columns[side.idx()], c, i, p, j) {
                    return Some(Change::Unknown);
                }
            }
        }
        Some(Change::Unchanged)
    }
}

/// Whether row `i` of `c` and row `j` of `p` differ: on their row hashes
/// when both have one, else on their fields ([`fields_differ`]).
fn differs(columns: &[[Option<usize>; 2]], c: &SideState, i: usize, p: &SideState, j: usize) -> bool {
    match (c.row_hash(i), p.row_hash(j)) {
        (Some(a), Some(b)) => a != b,
        _ => fields_differ(columns, c, i, p, j),
    }
}

/// Whether row `i` of `c` and row `j` of `p` differ in any of `columns`
/// (from [`EntityState::columns_against`]: a field's column in `c` and `p`);
/// a field one of them does not hash counts as [`NONE`] there. Hashes are
/// compared on their short prefix when either state holds short hashes.
fn fields_differ(columns: &[[Option<usize>; 2]], c: &SideState, i: usize, p: &SideState, j: usize) -> bool {
    let (wc, wp) = (c.width(), p.width());
    let cut = |h: &Hash| -> Hash {
        match c.short || p.short {
            true => super::hash::widen(short(h)),
            false => *h,
        }
    };
    columns.iter().any(|&[a, b]| {
        let here = a.map_or(NONE, |a| c.hashes[i * wc + a]);
        let there = b.map_or(NONE, |b| p.hashes[j * wp + b]);
        cut(&here) != cut(&there)
    })
}

pub fn changes(prev: &EntityState, cur: &EntityState, side: Side) -> Changes {
    let (p, c) = (&prev.sides[side.idx()], &cur.sides[side.idx()]);
    let columns = cur.columns_against(prev, side);
    let mut out = Changes::default();
    for (i, k) in c.keys.iter().enumerate() {
        match p.find(k) {
            None => out.inserted += 1,
            Some(j) if differs(&columns, c, i, p, j) => out.updated += 1,
            _ => {}
        }
    }
    out.deleted = p.keys.iter().filter(|k| c.find(k).is_none()).count();
    out
}

impl EntityState {
    /// Every field hashed on `side` here or in `other`: its column here
    /// and there.
    fn columns_against(&self, other: &EntityState, side: Side) -> Vec<[Option<usize>; 2]> {
        let (a, b) = (&self.sides[side.idx()], &other.sides[side.idx()]);
        let name_here = |j: usize| self.names[a.slots[j] as usize].as_str();
        let name_there = |j: usize| other.names[b.slots[j] as usize].as_str();
        let mut out: Vec<[Option<usize>; 2]> = (0..a.width())
            .map(|j| [Some(j), (0..b.width()).find(|&k| name_there(k) == name_here(j))])
            .collect();
        out.extend(
            (0..b.width())
                .filter(|&k| !(0..a.width()).any(|j| name_here(j) == name_there(k)))
                .map(|k| [None, Some(k)]),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repair::state::testing::{state_of, text};

    #[test]
    fn changes_compare_field_hashes_and_field_sets() {
        let one = "[[entity.field]]\nname = \"v\"\n";
        let two = "[[entity.field]]\nname = \"v\"\n[[entity.field]]\nname = \"w\"\n";
        let prev = state_of(one, vec![text(&["a", "b", "c"]), text(&["1", "2", "3"])]);
        // b changed, c deleted, d inserted.
        let cur = state_of(one, vec![text(&["a", "b", "d"]), text(&["1", "9", "4"])]);
        let want = Changes {
            inserted: 1,
            updated: 1,
            deleted: 1,
        };
        assert_eq!(changes(&prev, &cur, Side::Left), want);
        let key = |k: &str| format!("{{\"id\":\"{k}\"}}");
        let rows = RowComparer::new(&cur, &prev);
        assert!(!rows.changed(Side::Left, &key("a")));
        assert!(rows.changed(Side::Left, &key("b")));
        assert!(rows.changed(Side::Left, &key("c")), "absent now");
        assert!(!rows.changed(Side::Left, &key("d")), "new: nothing to compare");
        // A field hashed now and not before changes every row, and so does
        // one hashed before and not now.
        let wider = state_of(two, vec![text(&["a", "b"]), text(&["1", "2"]), text(&["x", "y"])]);
        assert_eq!(changes(&prev, &wider, Side::Left).updated, 2);
        assert_eq!(changes(&wider, &prev, Side::Left).updated, 2);
        // Rows with no hashed field are still in the state, unchanged.
        let bare = state_of("", vec![text(&["a", "b"])]);
        assert_eq!(bare.sides[0].keys.len(), 2);
        assert_eq!(changes(&bare, &bare, Side::Left), Changes::default());
    }

    #[test]
    fn a_bucket_s_changes_add_up_count_by_count() {
        // Bucketed runs and merged shards add up each part's counts.
        let mut total = Changes {
            inserted: 4,
            updated: 5,
            deleted: 6,
        };
        total.absorb(&Changes {
            inserted: 1,
            updated: 2,
            deleted: 3,
        });
        assert_eq!(
            total,
            Changes {
                inserted: 5,
                updated: 7,
                deleted: 9
            }
        );
        total.absorb(&Changes::default());
        assert_eq!((total.inserted, total.updated, total.deleted), (5, 7, 9));
    }
}
