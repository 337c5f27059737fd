//! Row keys of a prepared side: each row's key as report JSON (personal
//! parts tokenized by the [`Display`] policy) and as a typed tuple, and the
//! [`KeyIndex`] that joins the two sides' keys, computed once per side (or
//! bucket) and shared by drift, quality, masking and the change state.
//!
//! Keys are tuples of typed values, hashed and compared part by part: no
//! concatenation, so `("1","23")` and `("12","3")` never meet, and null, `""`
//! and `"null"` stay three different things.

use rayon::prelude::*;

use super::{Cell, PreparedSide};
use crate::display::Display;
use crate::normalize::Value;
use crate::spec::{Entity, Side};

/// Per-row key of one side, as computed once and shared with quality and masking.
#[derive(Debug, Default)]
pub struct SideKeys {
    /// Key JSON for every row (display form; sensitive parts tokenized),
    /// inline up to 24 bytes.
    pub json: Vec<compact_str::CompactString>,
    /// Typed key tuple; None when a part is null, empty or unconvertible.
    pub tuple: Vec<Option<KeyTuple>>,
}

/// The typed values of a key, inline for a one-field key (no allocation
/// per row).
pub type KeyTuple = smallvec::SmallVec<[Value; 1]>;

/// Scratch of one key-JSON job: the JSON being built and a value's text.
#[derive(Default)]
struct KeyScratch {
    json: String,
    text: String,
}

/// Writes the key JSON of `row` into `scratch.json` and returns it:
/// `{"name":part,...}` in key order, `names` being the key fields' names
/// already quoted. (Built in a reused `String`: pushing into a
/// `CompactString` a piece at a time was a tenth of the partition's CPU.)
fn key_json<'s>(
    entity: &Entity,
    side: &PreparedSide,
    display: &dyn Display,
    names: &[String],
    row: usize,
    scratch: &'s mut KeyScratch,
) -> &'s str {
    let (json, buf) = (&mut scratch.json, &mut scratch.text);
    json.clear();
    json.push('{');
    for (i, &f) in entity.key.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&names[i]);
        json.push(':');
        match side.cell(f, row) {
            // An empty text is shown as it is (and is no key: see the tuple).
            Cell::Val(Value::Str(s)) if s.is_empty() => json.push_str("\"\""),
            Cell::Val(v) => display.write_key_part(entity, f, Some(v), json, buf),
            Cell::Null | Cell::Bad => display.write_key_part(entity, f, None, json, buf),
        }
    }
    json.push('}');
    json
}

/// The key fields' names, quoted for JSON.
fn quoted_key_names(entity: &Entity) -> Vec<String> {
    entity
        .key
        .iter()
        .map(|&f| serde_json::Value::String(entity.fields[f].name.clone()).to_string())
        .collect()
}

/// `each` of every row's key JSON, in row order (no key strings nor typed
/// tuples are kept): what routing rows to buckets needs.
pub fn map_key_jsons<T: Send>(
    entity: &Entity,
    side: &PreparedSide,
    display: &dyn Display,
    each: impl Fn(&str) -> T + Sync + Send,
) -> Vec<T> {
    let names = quoted_key_names(entity);
    (0..side.rows)
        .into_par_iter()
        .map_init(KeyScratch::default, |scratch, row| {
            each(key_json(entity, side, display, &names, row, scratch))
        })
        .collect()
}

pub fn side_keys(entity: &Entity, side: &PreparedSide, display: &dyn Display) -> SideKeys {
    // Field names quoted once; each row's key JSON is then built by hand, in
    // key order, without an intermediate map.
    let names = quoted_key_names(entity);
    let (json, tuple) = (0..side.rows)
        .into_par_iter()
        .map_init(KeyScratch::default, |scratch, row| {
            let json = compact_str::CompactString::from(key_json(entity, side, display, &names, row, scratch));
            (json, key_tuple(entity, side, row))
        })
        .unzip();
    SideKeys { json, tuple }
}

/// The typed key of `row`; None when a part is null, empty or
/// unconvertible. (Built part by part: collecting the parts' options into
/// an option of a tuple went through the generic collection machinery and
/// was most of the keys' cost.)
fn key_tuple(entity: &Entity, side: &PreparedSide, row: usize) -> Option<KeyTuple> {
    let part = |f: usize| match side.cell(f, row) {
        Cell::Val(Value::Str(s)) if s.is_empty() => None,
        Cell::Val(v) => Some(v.clone()),
        Cell::Null | Cell::Bad => None,
    };
    if let [f] = entity.key[..] {
        return part(f).map(|v| KeyTuple::from_buf([v]));
    }
    let mut tuple = KeyTuple::with_capacity(entity.key.len());
    for &f in &entity.key {
        tuple.push(part(f)?);
    }
    Some(tuple)
}

/// Rows of one key on each side: the first row and how many there are.
/// (A duplicate is reported with its first row; no per-key allocation.)
#[derive(Debug, Default, Clone, Copy)]
pub struct Rows {
    pub first: [u32; 2],
    pub count: [u32; 2],
}

/// A hash of a table that holds one partition of a set partitioned by the
/// hash's top bits (all alike within the partition, while hashbrown takes
/// its 7-bit tags from the top and its slots from the bottom): an odd
/// multiplier keeps the low bits as varied as they were and makes every
/// top bit depend on all of them (and is one-to-one).
pub(crate) fn within_partition(h: u64) -> u64 {
    h.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Partitions of the key index: 2^bits, by the top bits of the key's hash.
const INDEX_BITS: u32 = 6;

/// One key while the index is built: its hash, its typed tuple and its rows.
type IndexEntry<'a> = (u64, &'a [Value], Rows);

/// The rows of every non-null key on both sides (its first row and count
/// per side), built once per bucket from the typed keys and shared: drift
/// joins through it, the right side is typed beside its rows' left twins
/// ([`KeyIndex::twins`]), and the change state fingerprints the keys seen
/// once on a side ([`KeyIndex::unique_rows`]). Keys are equal when their
/// typed tuples are.
#[derive(Debug, Default)]
pub struct KeyIndex {
    /// One entry per distinct key, in the order drift reports them.
    keys: Vec<Rows>,
}

impl KeyIndex {
    /// The keys are hashed in parallel and scattered by hash into
    /// partitions, each indexed on its own in parallel (a partition's
    /// table stays in cache; one table over every key of a million-row side
    /// missed the cache on nearly every insert, on one core). Rows are
    /// visited in order: a key's `first` row is its first.
    pub fn new(keys: [&SideKeys; 2]) -> KeyIndex {
        use std::hash::BuildHasher;
        // Seeded afresh per run, as a map's hasher is: keys chosen to collide
        // cannot be aimed at one partition.
        let seed = polars::prelude::PlRandomState::default();
        let mut parts: Vec<[Vec<(u64, u32)>; 2]> =
            (0..1usize << INDEX_BITS).map(|_| [Vec::new(), Vec::new()]).collect();
        for side in Side::BOTH {
            let hashed: Vec<(u64, u32)> = keys[side.idx()]
                .tuple
                .par_iter()
                .enumerate()
                .filter_map(|(row, t)| t.as_ref().map(|t| (seed.hash_one(t.as_slice()), row as u32)))
                .collect();
            for (h, row) in hashed {
                parts[(h >> (64 - INDEX_BITS)) as usize][side.idx()].push((h, row));
            }
        }
        let tables: Vec<Vec<Rows>> = parts
            .into_par_iter()
            .map(|part| {
                let mut table: hashbrown::HashTable<IndexEntry<'_>> =
                    hashbrown::HashTable::with_capacity(part[0].len().max(part[1].len()));
                for side in Side::BOTH {
                    let i = side.idx();
                    for &(h, row) in &part[i] {
                        let Some(key) = keys[i].tuple[row as usize].as_deref() else {
                            continue;
                        };
                        match table.find_mut(within_partition(h), |e| e.0 == h && e.1 == key) {
                            Some(e) => {
                                if e.2.count[i] == 0 {
                                    e.2.first[i] = row;
                                }
                                e.2.count[i] += 1;
                            }
                            None => {
                                let mut rows = Rows::default();
                                rows.first[i] = row;
                                rows.count[i] = 1;
                                table.insert_unique(within_partition(h), (h, key, rows), |e| within_partition(e.0));
                            }
                        }
                    }
                }
                table.iter().map(|e| e.2).collect()
            })
            .collect();
        KeyIndex { keys: tables.concat() }
    }

    /// One entry per distinct key, in the order drift reports them.
    pub fn keys(&self) -> &[Rows] {
        &self.keys
    }

    /// Per right row, the first left row of its key (`u32::MAX`: none).
    /// Only the first right row of a key is given one: twins let equal
    /// cells be copied instead of worked out again, and a repeated key is
    /// rare.
    pub fn twins(&self, right_rows: usize) -> Vec<u32> {
        let mut twins = vec![u32::MAX; right_rows];
        for rows in &self.keys {
            if rows.count[0] > 0 && rows.count[1] > 0 {
                if let Some(t) = twins.get_mut(rows.first[1] as usize) {
                    *t = rows.first[0];
                }
            }
        }
        twins
    }

    /// The rows of `side` whose key is non-null and appears once on that
    /// side, with its key JSON, in row order. (Within a run the JSON is
    /// one-to-one with the typed key: the display text of one field's type,
    /// or a keyed token for personal data.)
    pub fn unique_rows<'k>(&self, side: Side, keys: &'k SideKeys) -> Vec<(&'k str, usize)> {
        let i = side.idx();
        // Marked, then read in row order (cheaper than sorting them).
        let mut unique = vec![false; keys.json.len()];
        for r in self.keys.iter().filter(|r| r.count[i] == 1) {
            if let Some(u) = unique.get_mut(r.first[i] as usize) {
                *u = true;
            }
        }
        unique
            .iter()
            .enumerate()
            .filter(|(_, &u)| u)
            .map(|(row, _)| (keys.json[row].as_str(), row))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prepare::PreparedField;

    #[test]
    fn the_partitioned_key_index_equals_one_map_over_both_sides() {
        // Keys 0..3000 with repeats on both sides, a two-part key, nulls.
        let side_keys = |rows: &[(i64, i64)]| SideKeys {
            json: rows.iter().map(|r| format!("{r:?}").into()).collect(),
            tuple: rows
                .iter()
                .map(|&(a, b)| {
                    (a % 97 != 0).then(|| [Value::Int(a), Value::Str(b.to_string().into())].into_iter().collect())
                })
                .collect(),
        };
        let left: Vec<(i64, i64)> = (0..4000).map(|i| (i * 7 % 3000, i % 3)).collect();
        let right: Vec<(i64, i64)> = (0..5000).map(|i| (i * 11 % 3100, i % 2)).collect();
        let keys = [side_keys(&left), side_keys(&right)];
        let mut want: std::collections::HashMap<&[Value], ([u32; 2], [u32; 2])> = Default::default();
        for side in Side::BOTH {
            let i = side.idx();
            for (row, t) in keys[i].tuple.iter().enumerate() {
                let Some(t) = t else { continue };
                let e = want.entry(t.as_slice()).or_insert(([0, 0], [0, 0]));
                if e.1[i] == 0 {
                    e.0[i] = row as u32;
                }
                e.1[i] += 1;
            }
        }
        let index = KeyIndex::new([&keys[0], &keys[1]]);
        let mut got: std::collections::HashMap<&[Value], ([u32; 2], [u32; 2])> = Default::default();
        for rows in &index.keys {
            let i = if rows.count[0] > 0 { 0 } else { 1 };
            let key = keys[i].tuple[rows.first[i] as usize].as_deref().unwrap();
            assert!(
                got.insert(key, (rows.first, rows.count)).is_none(),
                "{key:?} indexed twice"
            );
        }
        assert!(want.values().any(|v| v.1[0] > 1) && want.values().any(|v| v.1 == [1, 1]));
        assert_eq!(got, want);
        // Twins: the first right row of a key shared by both sides.
        let mut twins = vec![u32::MAX; right.len()];
        for (first, count) in want.values() {
            if count[0] > 0 && count[1] > 0 {
                twins[first[1] as usize] = first[0];
            }
        }
        assert_eq!(index.twins(right.len()), twins);
        // Unique rows: a key seen once on its side, in row order.
        for side in Side::BOTH {
            let i = side.idx();
            let mut unique: Vec<(&str, usize)> = want
                .values()
                .filter(|(_, count)| count[i] == 1)
                .map(|(first, _)| (keys[i].json[first[i] as usize].as_str(), first[i] as usize))
                .collect();
            unique.sort_unstable_by_key(|u| u.1);
            assert!(unique.len() > 100 && unique.len() < keys[i].json.len());
            assert_eq!(index.unique_rows(side, &keys[i]), unique);
        }
    }

    #[test]
    fn key_tuples_are_the_typed_parts_or_none_for_a_missing_part() {
        use crate::test_support::{keyed_by_id, loaded};
        let mut spec = keyed_by_id("[[entity.field]]\nname = \"n\"\ntype = \"int\"\n");
        let rows = loaded(&[
            ("id", &[Some("a"), Some(""), None, Some("b"), Some("c")]),
            ("n", &[Some("1"), Some("2"), Some("3"), Some("x"), None]),
        ]);
        let single = crate::prepare::prepare(&spec.entities[0], Side::Left, &rows);
        let tuples = |e: &Entity, p: &PreparedSide| -> Vec<Option<Vec<Value>>> {
            (0..p.rows).map(|r| key_tuple(e, p, r).map(|t| t.to_vec())).collect()
        };
        let text = |s: &str| Value::Str(s.into());
        // Empty and null texts are no key.
        assert_eq!(
            tuples(&spec.entities[0], &single),
            [
                Some(vec![text("a")]),
                None,
                None,
                Some(vec![text("b")]),
                Some(vec![text("c")])
            ]
        );
        // A two-part key, in key order: a null or unconvertible part makes none.
        spec.entities[0].key = vec![1, 0];
        let double = crate::prepare::prepare(&spec.entities[0], Side::Left, &rows);
        assert_eq!(
            tuples(&spec.entities[0], &double),
            [Some(vec![Value::Int(1), text("a")]), None, None, None, None]
        );
    }

    /// ReportDisplay, but key parts through the trait's default writer.
    struct Slow<'a>(crate::display::ReportDisplay<'a>);

    impl Display for Slow<'_> {
        fn value(&self, entity: &Entity, field: usize, value: &Value) -> String {
            self.0.value(entity, field, value)
        }
        fn key_part(&self, entity: &Entity, field: usize, value: Option<&Value>) -> serde_json::Value {
            self.0.key_part(entity, field, value)
        }
    }

    #[test]
    fn key_json_written_directly_equals_the_json_value_form() {
        let text = "[run]\nname = \"t\"\n[sides]\nleft = \"a\"\nright = \"b\"\n\
             [[entity]]\nname = \"e\"\nkey = [\"id\", \"n\", \"at\", \"amt\"]\n\
             left = { path = \"l.csv\" }\nright = { path = \"r.csv\" }\n\
             [[entity.field]]\nname = \"id\"\n[[entity.field]]\nname = \"n\"\ntype = \"int\"\n\
             [[entity.field]]\nname = \"at\"\ntype = \"timestamp\"\n\
             [[entity.field]]\nname = \"amt\"\ntype = \"decimal(10,2)\"\n";
        let spec =
            crate::spec::parse(std::path::Path::new("t.toml"), text, String::new()).unwrap_or_else(|e| panic!("{e}"));
        let entity = &spec.entities[0];
        let ids = ["A-1", "", "q\"uote", "中", "x\\y"];
        let column = |f: usize| -> Vec<Cell> {
            (0..ids.len())
                .map(|r| match (f, r) {
                    (0, r) => Cell::Val(Value::Str(ids[r].into())),
                    (1, 2) => Cell::Null,
                    (1, r) => Cell::Val(Value::Int(r as i64 * -7)),
                    (2, 3) => Cell::Bad,
                    (2, r) => Cell::Val(Value::Ts(crate::normalize::Instant::from_micros(
                        1_764_000_000_000_000 + r as i64,
                    ))),
                    (_, r) => Cell::Val(Value::dec(r as i128 * 105 - 300, 2)),
                })
                .collect()
        };
        let side = PreparedSide {
            side: Side::Left,
            rows: ids.len(),
            fields: (0..4)
                .map(|f| PreparedField {
                    present: true,
                    cells: column(f),
                    bad: Vec::new(),
                })
                .collect(),
        };
        let ring = crate::keys::KeyRing::new(None);
        let fast = crate::display::ReportDisplay { keys: &ring };
        let slow = Slow(crate::display::ReportDisplay { keys: &ring });
        let keys = side_keys(entity, &side, &fast);
        assert_eq!(keys.json, side_keys(entity, &side, &slow).json);
        let routed = map_key_jsons(entity, &side, &fast, |json| compact_str::CompactString::from(json));
        assert_eq!(keys.json, routed);
        assert_eq!(
            keys.json[0],
            r#"{"id":"A-1","n":"0","at":"2025-11-24T16:00:00Z","amt":"-3.00"}"#
        );
        let valid: Vec<bool> = keys.tuple.iter().map(Option::is_some).collect();
        assert_eq!(valid, [true, false, false, false, true]);
    }
}
