//! Change detection between this run's state and the previous run's: rows
//! inserted, updated and deleted per side ([`Changes`]), and whether one
//! row changed ([`RowComparer`]). Fields are matched by name.

use super::model::{EntityState, SideState};
use super::NONE;
use crate::spec::Side;

/// Rows inserted, updated and deleted on one side since the previous state.
#[derive(Debug, Clone, Default, serde::Serialize, PartialEq, Eq)]
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
}

/// Whether row `i` of `c` and row `j` of `p` differ in any of `columns`
/// (from [`EntityState::columns_against`]: a field's column in `c` and `p`);
/// a field one of them does not hash counts as [`NONE`] there.
fn differs(columns: &[[Option<usize>; 2]], c: &SideState, i: usize, p: &SideState, j: usize) -> bool {
    let (wc, wp) = (c.width(), p.width());
    columns.iter().any(|&[a, b]| {
        let here = a.map_or(NONE, |a| c.hashes[i * wc + a]);
        let there = b.map_or(NONE, |b| p.hashes[j * wp + b]);
        here != there
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
}
