//! Recovering the field hashes of a compact row of a previous state
//! (layout 3: the row hash of a key whose sides agreed on every field, and
//! nothing else) from this run's rows of the same key.
//!
//! When the sides agreed, the row's fields were the same on both sides, so
//! each field held then is either what a side holds now or a value neither
//! holds. A side whose row hash over those fields is the stored one did not
//! change: its hashes are the base. Otherwise both sides changed the row,
//! and each field they now hold differently was the left's or the right's
//! value then (when only one side changed it): of the 2ᵈ mixes of the two
//! sides over the d fields they hold differently, the one whose row hash is
//! the stored one is the base. No mix (a field changed on both sides, or
//! two fields changed alike on both) or more than one (a 128-bit collision)
//! leaves the row unplaceable: planning sends its fields to review.

use super::hash::RowHasher;
use super::model::EntityState;
use super::{some, Hash, NONE};
use crate::spec::Side;

/// Fields the two sides hold differently beyond which no mix is tried
/// (2¹² row hashes for one row at most).
const MAX_MIXED: usize = 12;

/// What this run's rows say of a compact row's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Recovered {
    /// Each field's hash when the sides last agreed, by its slot in the
    /// previous state's names.
    Base(Vec<(u16, Hash)>),
    /// Both sides changed the row, and no single mix of their fields has
    /// its row hash.
    Unplaceable,
}

impl Recovered {
    /// The recovered base of `field` (a field of `prev`); None when the
    /// row is unplaceable or the field was not in it (or had no value).
    pub(super) fn base(&self, prev: &EntityState, field: &str) -> Option<Hash> {
        let Recovered::Base(fields) = self else {
            return None;
        };
        let slot = prev.name_idx(field)?;
        fields.iter().find(|(s, _)| *s == slot).and_then(|&(_, h)| some(h))
    }
}

/// The previous field hashes of `key`'s row in `prev`, recovered from its
/// rows in `cur`; None when `prev` has no compact row of `key`.
pub(super) fn recover(prev: &EntityState, cur: &EntityState, key: &str) -> Option<Recovered> {
    let p = &prev.sides[Side::Left.idx()];
    let j = p.find(key)?;
    let slots = p.compact_row(j)?;
    let stored = p.row_hash(j)?;
    let names: Vec<&str> = slots.iter().map(|&s| prev.names[s as usize].as_str()).collect();
    let now: [Option<Vec<Hash>>; 2] = Side::BOTH.map(|side| cur.hashes_of(side, key, &names));
    let base = |hashes: &[Hash]| Recovered::Base(slots.iter().copied().zip(hashes.iter().copied()).collect());
    // A side whose row hash is the stored one did not change. (A row hash
    // of this run covers this run's fields: equal to the stored one, the
    // fields are the same.)
    for side in Side::BOTH {
        let c = &cur.sides[side.idx()];
        if let (Some(hashes), Some(i)) = (&now[side.idx()], c.find(key)) {
            if c.row_hash(i) == Some(stored) {
                return Some(base(hashes));
            }
        }
    }
    let mut row = RowHasher::new(&names);
    for hashes in now.iter().flatten() {
        if row.hash(hashes) == stored {
            return Some(base(hashes));
        }
    }
    let [Some(l), Some(r)] = &now else {
        return Some(Recovered::Unplaceable);
    };
    let differ: Vec<usize> = (0..names.len()).filter(|&n| l[n] != r[n]).collect();
    if differ.len() > MAX_MIXED {
        return Some(Recovered::Unplaceable);
    }
    // The mixes other than all-left and all-right (tried above).
    let mut mix = l.clone();
    let mut hit: Option<Vec<Hash>> = None;
    for choice in 1u32..(1u32 << differ.len()).saturating_sub(1) {
        for (b, &n) in differ.iter().enumerate() {
            mix[n] = if choice >> b & 1 == 1 { r[n] } else { l[n] };
        }
        if row.hash(&mix) == stored {
            if hit.is_some() {
                return Some(Recovered::Unplaceable);
            }
            hit = Some(mix.clone());
        }
    }
    Some(hit.map_or(Recovered::Unplaceable, |h| base(&h)))
}

impl EntityState {
    /// This run's hash of each of the fields `names` in the row of `key` on
    /// `side` ([`NONE`] for a field the side does not hash); None when the
    /// side has no row of `key`.
    pub(super) fn hashes_of(&self, side: Side, key: &str, names: &[&str]) -> Option<Vec<Hash>> {
        let s = &self.sides[side.idx()];
        let i = s.find(key)?;
        let w = s.width();
        Some(
            names
                .iter()
                .map(|name| {
                    let slot = self.name_idx(name);
                    let column = slot.and_then(|slot| s.slots.iter().position(|&x| x == slot));
                    column.map_or(NONE, |j| s.hashes[i * w + j])
                })
                .collect(),
        )
    }

    /// Whether a side has a compact row (read from layout 3).
    pub(super) fn has_compact(&self) -> bool {
        self.sides.iter().any(|s| !s.compact.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state of one key `k` over `n` fields: on each side these hashes,
    /// with this run's row hashes.
    fn current(names: &[String], left: &[Hash], right: &[Hash]) -> EntityState {
        let mut st = EntityState {
            names: names.to_vec(),
            ..EntityState::default()
        };
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        for (side, hashes) in [left, right].into_iter().enumerate() {
            let s = &mut st.sides[side];
            s.slots = (0..names.len() as u16).collect();
            s.push("k", Some(RowHasher::new(&refs).hash(hashes)), hashes, hashes);
        }
        st
    }

    /// A previous state holding `k` as a compact row of the fields `names`
    /// whose hashes were `base`.
    fn compact(names: &[String], base: &[Hash]) -> EntityState {
        let mut st = EntityState {
            names: names.to_vec(),
            ..EntityState::default()
        };
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let slots: Vec<u16> = (0..names.len() as u16).collect();
        for s in &mut st.sides {
            s.slots = slots.clone();
            s.push_compact("k", RowHasher::new(&refs).hash(base), &slots);
        }
        st
    }

    fn hash(n: u8) -> Hash {
        [n; 16]
    }

    #[test]
    fn both_sides_changing_different_fields_is_recovered_up_to_twelve_of_them() {
        for (changed_left, changed_right, placeable) in [(1, 1, true), (6, 6, true), (7, 6, false), (0, 13, true)] {
            let n = changed_left + changed_right + 1;
            let names: Vec<String> = (0..n).map(|i| format!("f{i:02}")).collect();
            let base: Vec<Hash> = (0..n).map(|i| hash(i as u8 + 1)).collect();
            // The left changes the first fields, the right the next ones;
            // the last field is changed by neither.
            let mut left = base.clone();
            let mut right = base.clone();
            for (i, h) in left.iter_mut().enumerate().take(changed_left) {
                *h = hash(100 + i as u8);
            }
            for (i, h) in right.iter_mut().enumerate().skip(changed_left).take(changed_right) {
                *h = hash(200 + i as u8);
            }
            let (prev, cur) = (compact(&names, &base), current(&names, &left, &right));
            let got = recover(&prev, &cur, "k").expect("a compact row");
            let case = format!("{changed_left} + {changed_right}");
            match placeable {
                true => {
                    for (i, name) in names.iter().enumerate() {
                        assert_eq!(got.base(&prev, name), Some(base[i]), "{case}: {name}");
                    }
                }
                false => assert_eq!(got, Recovered::Unplaceable, "{case}: 13 differing fields"),
            }
        }
    }

    #[test]
    fn a_field_changed_on_both_sides_or_a_row_one_side_lacks_is_unplaceable() {
        let names: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let base = [hash(1), hash(2)];
        let prev = compact(&names, &base);
        // `a` changed on both sides, to different values.
        let cur = current(&names, &[hash(3), hash(2)], &[hash(4), hash(2)]);
        assert_eq!(recover(&prev, &cur, "k"), Some(Recovered::Unplaceable));
        // Only one side has the row now, and it changed.
        let mut one = current(&names, &[hash(3), hash(2)], &[hash(3), hash(2)]);
        one.sides[1] = Default::default();
        assert_eq!(recover(&prev, &one, "k"), Some(Recovered::Unplaceable));
        // ... unchanged, it gives the base.
        let mut same = current(&names, &base, &base);
        same.sides[1] = Default::default();
        assert_eq!(
            recover(&prev, &same, "k").and_then(|r| r.base(&prev, "b")),
            Some(base[1])
        );
        // Not a compact row, or no row: nothing to recover.
        assert_eq!(recover(&cur, &cur, "k"), None);
        assert_eq!(recover(&prev, &cur, "other"), None);
    }
}
