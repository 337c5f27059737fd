//! Facts about whole sides that rules need when entities are reconciled one
//! bucket at a time (see [`crate::bucket`]): how often each `unique` tuple
//! occurs, which tuples a `references` target holds, the newest `fresh`
//! timestamp and the side's row count.
//!
//! They are gathered in one pass over the buckets before any bucket is
//! checked, reading only the columns these rules need. Tuples are kept as
//! 128-bit hashes (two independent SipHash-2-4 digests of the typed
//! values), so a false match needs a 128-bit collision.

use std::hash::{Hash, Hasher};

use polars::prelude::{PlHashMap as HashMap, PlHashSet as HashSet};

use super::expr::Clock;
use crate::error::Result;
use crate::normalize::Value;
use crate::prepare::{self, Cell, PreparedSide};
use crate::source::Loaded;
use crate::spec::rule::{Check, Rule};
use crate::spec::{Entity, Side};

/// 128-bit hash of a tuple of typed values.
pub fn tuple_hash(values: &[&Value]) -> u128 {
    let mut out = 0u128;
    for salt in [0x5265_636f_6e31u64, 0x5265_636f_6e32] {
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new_with_keys(salt, !salt);
        values.hash(&mut h);
        out = (out << 64) | h.finish() as u128;
    }
    out
}

/// Whether a `unique` rule can be judged inside a bucket: its fields
/// include every key field, so equal tuples share a key and a bucket.
pub fn unique_is_local(entity: &Entity, rule: &Rule) -> bool {
    entity.key.iter().all(|k| rule.fields.contains(k))
}

/// What one (entity, rule, side) needs from the whole side.
pub enum Fact {
    /// `unique`: occurrences of each tuple.
    Counts(HashMap<u128, u32>),
    /// `fresh`: the newest timestamp among the checked rows.
    Newest(Option<crate::normalize::Instant>),
}

/// A `references` target: one side of an entity, seen through some fields.
#[derive(Default)]
pub struct Target {
    /// False when the target side lacks one of the fields.
    pub present: bool,
    pub tuples: HashSet<u128>,
}

/// Everything gathered before the buckets are checked.
#[derive(Default)]
pub struct Global {
    facts: HashMap<(usize, usize, usize), Fact>,
    targets: HashMap<(usize, Vec<usize>, usize), Target>,
    /// Rows per entity and side in the whole files.
    rows: Vec<[usize; 2]>,
}

/// A bucket's view of the global facts: `first` is true for one bucket per
/// entity, the one that reports findings about a whole side.
#[derive(Clone, Copy)]
pub struct Buckets<'a> {
    pub global: &'a Global,
    pub first: bool,
}

impl Global {
    pub fn fact(&self, entity: usize, rule: usize, side: Side) -> Option<&Fact> {
        self.facts.get(&(entity, rule, side.idx()))
    }

    pub fn target(&self, entity: usize, fields: &[usize], side: Side) -> Option<&Target> {
        self.targets.get(&(entity, fields.to_vec(), side.idx()))
    }

    pub fn rows(&self, entity: usize, side: Side) -> usize {
        self.rows.get(entity).map_or(0, |r| r[side.idx()])
    }
}

/// Fields of entity `e` the global pass must read.
pub fn needed_fields(entities: &[Entity], e: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for rule in &entities[e].rules {
        let global = match &rule.check {
            Check::Unique => !unique_is_local(&entities[e], rule),
            Check::Fresh { .. } => true,
            _ => false,
        };
        if global {
            out.extend(&rule.fields);
            if let Some(f) = &rule.filter {
                out.extend(&f.fields);
            }
        }
    }
    for other in entities {
        for rule in &other.rules {
            if let Check::References(r) = &rule.check {
                if r.target == e {
                    out.extend(&r.to);
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Loads bucket `b` of entity `e`, only the given columns.
pub type LoadBucket<'a> = dyn Fn(usize, usize, &[String]) -> Result<[Loaded; 2]> + 'a;

/// Gathers the facts of every entity. `rows[e]` are the whole files' row
/// counts; `load(e, b, columns)` loads bucket `b` of entity `e` (only those
/// columns); `buckets[e]` is the entity's bucket count.
pub fn gather(
    entities: &[Entity],
    rows: Vec<[usize; 2]>,
    buckets: &[usize],
    clock: Clock,
    load: &LoadBucket<'_>,
) -> Result<Global> {
    let mut g = Global {
        rows,
        ..Global::default()
    };
    for (e, entity) in entities.iter().enumerate() {
        let fields = needed_fields(entities, e);
        if fields.is_empty() {
            continue;
        }
        for b in 0..buckets[e] {
            let columns: Vec<String> = Side::BOTH
                .iter()
                .flat_map(|s| fields.iter().map(move |&f| entity.fields[f].columns[s.idx()].clone()))
                .collect();
            let loaded = load(e, b, &columns)?;
            let (l, r) = rayon::join(
                || prepare::prepare_fields(entity, Side::Left, &loaded[0], Some(&fields)),
                || prepare::prepare_fields(entity, Side::Right, &loaded[1], Some(&fields)),
            );
            let sides = [l, r];
            g.absorb(entities, e, &sides, clock);
        }
    }
    Ok(g)
}

impl Global {
    /// Adds one bucket of entity `e` (prepared with the needed fields).
    fn absorb(&mut self, entities: &[Entity], e: usize, sides: &[PreparedSide; 2], clock: Clock) {
        let entity = &entities[e];
        for (ri, rule) in entity.rules.iter().enumerate() {
            for &side in &rule.sides {
                let s = &sides[side.idx()];
                match &rule.check {
                    Check::Unique if !unique_is_local(entity, rule) => {
                        let fact = self
                            .facts
                            .entry((e, ri, side.idx()))
                            .or_insert_with(|| Fact::Counts(HashMap::default()));
                        let Fact::Counts(counts) = fact else { continue };
                        for row in checked_rows(rule, s, clock) {
                            if let Some(t) = values(s, &rule.fields, row) {
                                *counts.entry(tuple_hash(&t)).or_default() += 1;
                            }
                        }
                    }
                    Check::Fresh { .. } => {
                        let f = rule.fields[0];
                        let newest = checked_rows(rule, s, clock)
                            .filter_map(|row| match s.cell(f, row) {
                                Cell::Val(Value::Ts(t)) => Some(*t),
                                _ => None,
                            })
                            .max();
                        let fact = self.facts.entry((e, ri, side.idx())).or_insert(Fact::Newest(None));
                        if let Fact::Newest(n) = fact {
                            *n = (*n).max(newest);
                        }
                    }
                    _ => {}
                }
            }
        }
        // Each target (fields, side) once per bucket, however many rules share it.
        let mut wanted: Vec<(&[usize], Side)> = Vec::new();
        for other in entities {
            for rule in &other.rules {
                let Check::References(r) = &rule.check else { continue };
                for &side in rule.sides.iter().filter(|_| r.target == e) {
                    let target = (r.to.as_slice(), r.on.target(side));
                    if !wanted.contains(&target) {
                        wanted.push(target);
                    }
                }
            }
        }
        for (to, target_side) in wanted {
            let t = &sides[target_side.idx()];
            let target = self.targets.entry((e, to.to_vec(), target_side.idx())).or_default();
            target.present = to.iter().all(|&f| t.fields[f].present);
            for row in 0..t.rows {
                if let Some(v) = values(t, to, row) {
                    target.tuples.insert(tuple_hash(&v));
                }
            }
        }
    }
}

/// Rows a rule checks on a side (those its `where` holds for).
fn checked_rows<'a>(rule: &'a Rule, s: &'a PreparedSide, clock: Clock) -> impl Iterator<Item = usize> + 'a {
    (0..s.rows).filter(move |&r| rule.filter.as_ref().is_none_or(|f| f.eval(s, r, clock) == Some(true)))
}

/// The typed values of `fields` in `row`; None when one is null or unconvertible.
pub fn values<'a>(s: &'a PreparedSide, fields: &[usize], row: usize) -> Option<Vec<&'a Value>> {
    fields.iter().map(|&f| s.cell(f, row).value()).collect()
}
