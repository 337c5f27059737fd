//! Applies an entity's declared mapping to a loaded side: text steps, value
//! maps, defaults and type conversion, cell by cell, giving typed columns.
//!
//! A cell that cannot be converted becomes [`Cell::Bad`] and is remembered
//! with its raw text: it is reported, never turned into null, and never
//! equal to anything.
//!
//! `key` gives each prepared row its key (report JSON and typed tuple) and
//! joins the two sides' keys.

pub mod key;
#[cfg(test)]
pub(crate) mod testing;

use std::borrow::Cow;

use rayon::prelude::*;

use crate::normalize::{apply_steps_borrowed, ConvertError, FieldType, Value};
use crate::source::Loaded;
use crate::spec::{Entity, Field, Side};
pub use key::{map_key_jsons, side_keys, KeyIndex, KeyTuple, SideKeys};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Cell {
    Null,
    Val(Value),
    Bad,
}

// Value's 24 bytes leave room for the cell's two other states.
const _: () = assert!(std::mem::size_of::<Cell>() == 24);

impl Cell {
    pub fn value(&self) -> Option<&Value> {
        match self {
            Cell::Val(v) => Some(v),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BadCell {
    pub row: usize,
    pub raw: String,
    pub reason: ConvertError,
}

#[derive(Debug)]
pub struct PreparedField {
    /// False when the source lacks the column (a schema finding).
    pub present: bool,
    pub cells: Vec<Cell>,
    pub bad: Vec<BadCell>,
}

#[derive(Debug)]
pub struct PreparedSide {
    pub side: Side,
    pub rows: usize,
    pub fields: Vec<PreparedField>,
}

impl PreparedSide {
    /// A side with no rows and no fields.
    pub fn empty(side: Side) -> PreparedSide {
        PreparedSide {
            side,
            rows: 0,
            fields: Vec::new(),
        }
    }

    pub fn cell(&self, field: usize, row: usize) -> &Cell {
        &self.fields[field].cells[row]
    }
}

pub fn prepare(entity: &Entity, side: Side, loaded: &Loaded) -> PreparedSide {
    prepare_fields(entity, side, loaded, None)
}

/// A field from its text column, or all null where the source lacks it.
fn prepare_text(
    field: &Field,
    side: Side,
    rows: usize,
    column: Option<&polars::prelude::StringChunked>,
) -> PreparedField {
    match column {
        None => absent(rows),
        Some(col) => prepare_column(field, side, rows, col.iter()),
    }
}

/// A field whose column the source lacks: all null.
fn absent(rows: usize) -> PreparedField {
    PreparedField {
        present: false,
        cells: vec![Cell::Null; rows],
        bad: Vec::new(),
    }
}

/// [`prepare`] restricted to the fields in `only` (all when None). The
/// other fields are left out entirely: not present and without cells, so
/// they must not be read. Used where only a few columns were loaded
/// (routing rows to buckets, the global pass of cross-row rules): a column
/// of nulls per absent field would cost memory for every row of every chunk;
/// and for the right side's key, typed before the rest of that side
/// ([`prepare_right`]).
pub fn prepare_fields(entity: &Entity, side: Side, loaded: &Loaded, only: Option<&[usize]>) -> PreparedSide {
    let rows = loaded.rows;
    let fields = entity
        .fields
        .par_iter()
        .enumerate()
        .map(|(f, field)| {
            if only.is_some_and(|only| !only.contains(&f)) {
                return PreparedField {
                    present: false,
                    cells: Vec::new(),
                    bad: Vec::new(),
                };
            }
            prepare_text(field, side, rows, loaded.column(&field.columns[side.idx()]))
        })
        .collect();
    PreparedSide { side, rows, fields }
}

fn prepare_column<'a>(
    field: &Field,
    side: Side,
    rows: usize,
    raw: impl Iterator<Item = Option<&'a str>>,
) -> PreparedField {
    // Sized up front: growing a vector of millions of cells copies it and
    // touches twice the memory.
    let mut out = Typing::new(rows);
    let i = side.idx();
    let plain = field.steps[i].is_empty() && field.map[i].is_none() && field.default[i].is_none();
    match &field.ty[i] {
        // Text taken as it is (what `convert` does for it, without its
        // per-cell dispatch): nothing can fail.
        FieldType::String if plain => out.cells.extend(raw.map(|value| match value {
            Some(t) => Cell::Val(Value::Str(t.into())),
            None => Cell::Null,
        })),
        // Typed straight from the raw text: a blank cell is null. (A set
        // whose elements are all empty is null too: `convert` decides.)
        ty if plain && !matches!(ty, FieldType::Set { .. }) => {
            for (row, value) in raw.enumerate() {
                match value {
                    Some(t) if !t.trim().is_empty() => out.push(row, value, ty.convert(t).map(Some)),
                    _ => out.cells.push(Cell::Null),
                }
            }
        }
        _ => {
            for (row, value) in raw.enumerate() {
                out.convert(field, side, row, value);
            }
        }
    }
    out.done()
}

/// A field's cells as they are typed.
struct Typing {
    cells: Vec<Cell>,
    bad: Vec<BadCell>,
}

impl Typing {
    fn new(rows: usize) -> Typing {
        Typing {
            cells: Vec::with_capacity(rows),
            bad: Vec::new(),
        }
    }

    /// Types the next cell, `row`, from its raw text.
    fn convert(&mut self, field: &Field, side: Side, row: usize, value: Option<&str>) {
        self.push(row, value, convert(field, side, value));
    }

    /// Pushes the cell of `row` typed from `value` as `typed`.
    fn push(&mut self, row: usize, value: Option<&str>, typed: Result<Option<Value>, ConvertError>) {
        match typed {
            Ok(None) => self.cells.push(Cell::Null),
            Ok(Some(v)) => self.cells.push(Cell::Val(v)),
            Err(reason) => {
                self.cells.push(Cell::Bad);
                self.bad.push(BadCell {
                    row,
                    raw: value.unwrap_or_default().to_string(),
                    reason,
                });
            }
        }
    }

    fn done(self) -> PreparedField {
        PreparedField {
            present: true,
            cells: self.cells,
            bad: self.bad,
        }
    }
}

/// Whether a field turns equal raw text on both sides into equal cells:
/// the same steps, value map, default and type.
fn same_chain(field: &Field) -> bool {
    field.steps[0] == field.steps[1]
        && field.map[0] == field.map[1]
        && field.default[0] == field.default[1]
        && field.ty[0] == field.ty[1]
}

/// The right side of an entity typed beside its typed left side: a right
/// cell whose raw text equals that of its row's left twin (`twins`, by
/// key), in a field whose chain is the same on both sides, takes a copy of
/// the left's typed cell instead of being typed again (the sides mostly
/// agree, and comparing text costs a fraction of parsing a timestamp, a
/// decimal or a phone number). A bad left cell is never copied: the right
/// one is typed, for its own reason and raw text. The key fields come
/// typed in `keyed` (from [`prepare_fields`] over the key). Consumes
/// `right`'s frame (left empty): each raw column is freed once typed.
pub fn prepare_right(
    entity: &Entity,
    right: &mut Loaded,
    keyed: PreparedSide,
    left_raw: &polars::prelude::DataFrame,
    left: &PreparedSide,
    twins: &[u32],
) -> PreparedSide {
    let rows = right.rows;
    let frame = std::mem::replace(&mut right.frame, polars::prelude::DataFrame::empty());
    let columns: Vec<Option<polars::prelude::Column>> = entity
        .fields
        .iter()
        .map(|f| frame.column(&f.columns[Side::Right.idx()]).ok().cloned())
        .collect();
    drop(frame);
    let located = TwinTexts::locate(entity, left_raw, twins);
    let fields = columns
        .into_par_iter()
        .zip(keyed.fields.into_par_iter())
        .enumerate()
        .map(|(f, (column, keyed))| {
            let field = &entity.fields[f];
            if entity.key.contains(&f) {
                return keyed;
            }
            let col = column.as_ref().and_then(|c| c.str().ok());
            let twin = left_raw
                .column(&field.columns[Side::Left.idx()])
                .ok()
                .and_then(|c| c.str().ok())
                .filter(|_| same_chain(field) && left.fields[f].present);
            match (col, twin) {
                (Some(col), Some(twin)) => {
                    let texts = located.texts(twin, twins);
                    prepare_twinned(field, rows, col, &texts, &left.fields[f], twins)
                }
                (col, _) => prepare_text(field, Side::Right, rows, col),
            }
        })
        .collect();
    PreparedSide {
        side: Side::Right,
        rows,
        fields,
    }
}

/// Where each right row's left twin sits in the left side's raw columns:
/// its array and its place in it. The left columns of a spilled bucket
/// come as one array per row group, alike in every column, so the places
/// are found once per bucket, not once per field and row (a binary search
/// over the arrays' starts, per cell, had been 0.6% of a 10M-row run).
struct TwinTexts {
    /// The arrays' lengths the places were found for.
    lengths: Vec<usize>,
    /// Per right row: its twin's array and place (`u32::MAX`: no twin).
    at: Vec<(u32, u32)>,
}

impl TwinTexts {
    /// The places of `twins` in arrays cut as the left side's first text column's.
    fn locate(entity: &Entity, left_raw: &polars::prelude::DataFrame, twins: &[u32]) -> TwinTexts {
        let lengths: Vec<usize> = entity
            .fields
            .iter()
            .find_map(|f| left_raw.column(&f.columns[Side::Left.idx()]).ok()?.str().ok())
            .map(|c| c.downcast_iter().map(|a| a.len()).collect())
            .unwrap_or_default();
        let at = places(&lengths, twins);
        TwinTexts { lengths, at }
    }

    /// The raw left text of each twin in `column`: through the places found
    /// once where its arrays are cut alike, else found for it.
    fn texts<'a>(&'a self, column: &'a polars::prelude::StringChunked, twins: &[u32]) -> LeftTexts<'a> {
        let arrays: Vec<_> = column.downcast_iter().collect();
        let alike = arrays.len() == self.lengths.len() && arrays.iter().zip(&self.lengths).all(|(a, &n)| a.len() == n);
        let at = match alike {
            true => std::borrow::Cow::Borrowed(self.at.as_slice()),
            false => {
                let lengths: Vec<usize> = arrays.iter().map(|a| a.len()).collect();
                std::borrow::Cow::Owned(places(&lengths, twins))
            }
        };
        LeftTexts { arrays, at }
    }
}

/// Per right row, its twin's array and place in arrays of `lengths`
/// (`u32::MAX`: no twin, or one past the arrays).
fn places(lengths: &[usize], twins: &[u32]) -> Vec<(u32, u32)> {
    let starts: Vec<usize> = lengths
        .iter()
        .scan(0, |at, &n| {
            let start = *at;
            *at += n;
            Some(start)
        })
        .collect();
    let total: usize = lengths.iter().sum();
    twins
        .iter()
        .map(|&l| {
            let l = l as usize;
            match starts.partition_point(|&s| s <= l).checked_sub(1) {
                Some(a) if l < total => (a as u32, (l - starts[a]) as u32),
                _ => (u32::MAX, 0),
            }
        })
        .collect()
}

/// One left column's raw texts, by right row (its twin's).
struct LeftTexts<'a> {
    arrays: Vec<&'a crate::columnar::Utf8ViewArray>,
    at: std::borrow::Cow<'a, [(u32, u32)]>,
}

impl LeftTexts<'_> {
    /// The raw text of right row `row`'s twin (None: no twin, or null).
    #[inline]
    fn of(&self, row: usize) -> Option<&str> {
        let &(a, at) = self.at.get(row)?;
        let array = self.arrays.get(a as usize)?;
        ((at as usize) < array.len()).then(|| array.get(at as usize)).flatten()
    }
}

/// One right field, copying the typed left cell where the raw texts agree.
fn prepare_twinned(
    field: &Field,
    rows: usize,
    raw: &polars::prelude::StringChunked,
    left_text: &LeftTexts<'_>,
    left: &PreparedField,
    twins: &[u32],
) -> PreparedField {
    let mut out = Typing::new(rows);
    for (row, value) in raw.iter().enumerate() {
        let l = twins.get(row).copied().unwrap_or(u32::MAX) as usize;
        if let Some(cell) = left.cells.get(l) {
            if !matches!(cell, Cell::Bad) && left_text.of(row) == value {
                out.cells.push(cell.clone());
                continue;
            }
        }
        out.convert(field, Side::Right, row, value);
    }
    out.done()
}

/// One cell through the declared chain: steps → map → default → type.
pub fn convert(field: &Field, side: Side, raw: Option<&str>) -> Result<Option<Value>, ConvertError> {
    let i = side.idx();
    if let FieldType::Set { separator } = &field.ty[i] {
        return convert_set(field, i, separator.as_deref(), raw);
    }
    // No text steps and no value map: the raw text is typed as it is,
    // without a copy.
    if field.steps[i].is_empty() && field.map[i].is_none() {
        return typed(field, i, raw.map(Cow::Borrowed));
    }
    let text = apply_steps_borrowed(&field.steps[i], raw)?;
    let text = match (text, &field.map[i]) {
        (Some(v), Some(map)) => match map.get(v.as_ref()) {
            Some(mapped) => Some(Cow::Borrowed(mapped.as_str())),
            // Blank text the map does not name holds no code: null, as for a
            // typed field, never "not in the value map".
            None if v.trim().is_empty() => None,
            None if field.keep_unmapped => Some(v),
            None => return Err(ConvertError::NotInValueMap),
        },
        (text, _) => text,
    };
    typed(field, i, text)
}

/// A set field's cell: the text (or the default when it is blank) split
/// into elements, each through the steps and the value map; an element the
/// steps make null or empty is no element, and no element at all is null.
fn convert_set(
    field: &Field,
    i: usize,
    separator: Option<&str>,
    raw: Option<&str>,
) -> Result<Option<Value>, ConvertError> {
    let text = match (raw.filter(|t| !t.trim().is_empty()), &field.default[i]) {
        (Some(t), _) => t,
        (None, Some(d)) => d.as_str(),
        (None, None) => return Ok(None),
    };
    let mut out = Vec::new();
    for element in crate::normalize::set::split(text.trim(), separator)? {
        let Some(e) = apply_steps_borrowed(&field.steps[i], Some(element.as_ref()))? else {
            continue;
        };
        if e.is_empty() {
            continue;
        }
        let e = match &field.map[i] {
            None => e.into_owned(),
            Some(map) => match map.get(e.as_ref()) {
                Some(mapped) => mapped.clone(),
                None if e.trim().is_empty() => continue,
                None if field.keep_unmapped => e.into_owned(),
                None => return Err(ConvertError::NotInValueMap),
            },
        };
        out.push(e);
    }
    Ok(crate::normalize::set::canonical(out))
}

/// The text after steps and map → default → type.
fn typed(field: &Field, i: usize, text: Option<Cow<'_, str>>) -> Result<Option<Value>, ConvertError> {
    let ty = &field.ty[i];
    // Outside text fields an empty cell (CSV's only way to write null) is null.
    let text = match text {
        Some(t) if !matches!(ty, FieldType::String) && t.trim().is_empty() => None,
        t => t,
    };
    let text = match (text, &field.default[i]) {
        (Some(t), _) => t,
        (None, Some(d)) => Cow::Borrowed(d.as_str()),
        (None, None) => return Ok(None),
    };
    match (ty, text) {
        // A text value keeps the string it already owns.
        (FieldType::String, Cow::Owned(s)) => Ok(Some(Value::Str(s.into()))),
        (ty, t) => ty.convert(&t).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{keyed_by_id, loaded};

    #[test]
    fn set_cells_go_element_by_element_through_steps_and_maps() {
        let spec = keyed_by_id(
            "[[entity.field]]\nname = \"p\"\ntype = \"set\"\nseparator = { left = \";\" }\n\
             normalize = [\"trim\", \"lower\"]\n\
             map = { left = { \"a\" = \"alpha\", \"b\" = \"beta\" }, right = { \"a\" = \"alpha\", \"b\" = \"beta\" } }\n\
             [[entity.field]]\nname = \"q\"\ntype = \"set\"\nseparator = \",\"\n",
        );
        let p = &spec.entities[0].fields[1];
        let set = |side: Side, raw: Option<&str>| convert(p, side, raw).map(|v| v.map(|v| v.display()));
        let ab = Ok(Some(r#"["alpha","beta"]"#.to_string()));
        // Order, repeats, case and spaces around elements do not matter.
        assert_eq!(set(Side::Left, Some(" B ; a;A")), ab);
        assert_eq!(set(Side::Right, Some(r#"["A", "b", "b"]"#)), ab);
        // Empty elements are none; no element at all is null, as is blank text.
        assert_eq!(set(Side::Left, Some("a;;")), Ok(Some(r#"["alpha"]"#.to_string())));
        assert_eq!(set(Side::Left, Some(" ; ")), Ok(None));
        assert_eq!(set(Side::Left, Some("  ")), Ok(None));
        assert_eq!(set(Side::Left, None), Ok(None));
        assert_eq!(set(Side::Right, Some("[]")), Ok(None));
        // An element outside the map, a list that is not one: unconvertible.
        assert_eq!(set(Side::Left, Some("a;c")), Err(ConvertError::NotInValueMap));
        assert!(matches!(set(Side::Right, Some("a;b")), Err(ConvertError::NotAList(_))));
        // Without steps or map the bulk typing gives what `convert` gives.
        let q = &spec.entities[0].fields[2];
        let raw: [Option<&str>; 5] = [Some("y,x"), Some(",,"), Some(""), None, Some("x,y,x")];
        let typed = prepare(
            &spec.entities[0],
            Side::Left,
            &loaded(&[("id", &raw), ("p", &raw), ("q", &raw)]),
        );
        for (row, value) in raw.iter().enumerate() {
            let want = match convert(q, Side::Left, *value) {
                Ok(None) => Cell::Null,
                Ok(Some(v)) => Cell::Val(v),
                Err(_) => Cell::Bad,
            };
            assert_eq!(typed.cell(2, row), &want, "row {row}");
        }
        assert_eq!(typed.cell(2, 0), typed.cell(2, 4));
        assert_eq!(typed.cell(2, 1), &Cell::Null);
    }

    #[test]
    fn columns_typed_in_bulk_equal_cells_typed_one_by_one() {
        // Plain text, plain int/decimal/timestamp (the bulk paths), and
        // fields with a default or a step (the general one).
        let spec = keyed_by_id(
            "[[entity.field]]\nname = \"i\"\ntype = \"int\"\n\
             [[entity.field]]\nname = \"d\"\ntype = \"decimal(9,2)\"\n\
             [[entity.field]]\nname = \"t\"\ntype = \"timestamp\"\n\
             [[entity.field]]\nname = \"n\"\ntype = \"int\"\ndefault = \"0\"\n\
             [[entity.field]]\nname = \"s\"\nnormalize = [\"trim\"]\n",
        );
        let entity = &spec.entities[0];
        let raw: [Option<&str>; 8] = [
            Some("12"),
            Some(" 7 "),
            Some(""),
            Some("  "),
            None,
            Some("x"),
            Some("2025-01-02 03:04:05"),
            Some("1.5"),
        ];
        let columns: Vec<(&str, &[Option<&str>])> = ["id", "i", "d", "t", "n", "s"]
            .into_iter()
            .map(|name| (name, &raw[..]))
            .collect();
        let typed = prepare(entity, Side::Left, &loaded(&columns));
        for (f, field) in entity.fields.iter().enumerate() {
            let mut bad = Vec::new();
            for (row, value) in raw.iter().enumerate() {
                let want = match convert(field, Side::Left, *value) {
                    Ok(None) => Cell::Null,
                    Ok(Some(v)) => Cell::Val(v),
                    Err(reason) => {
                        bad.push((row, value.unwrap_or_default().to_string(), reason));
                        Cell::Bad
                    }
                };
                assert_eq!(typed.fields[f].cells[row], want, "field {}, row {row}", field.name);
            }
            let got: Vec<(usize, String, ConvertError)> = typed.fields[f]
                .bad
                .iter()
                .map(|b| (b.row, b.raw.clone(), b.reason.clone()))
                .collect();
            assert_eq!(got, bad, "field {}", field.name);
        }
        // Each kind of outcome is covered.
        assert_eq!(typed.fields[1].cells[1], Cell::Val(Value::Int(7)));
        assert_eq!(typed.fields[1].cells[3], Cell::Null);
        assert_eq!(typed.fields[1].cells[5], Cell::Bad);
        assert_eq!(typed.fields[0].cells[3], Cell::Val(Value::Str("  ".into())));
    }

    #[test]
    fn right_cells_copied_from_their_twins_equal_typed_ones() {
        // `n` has one chain on both sides; `d` trims on the left only, so
        // its equal raw texts still type apart.
        let spec = keyed_by_id(
            "[[entity.field]]\nname = \"n\"\ntype = \"decimal(9,2)\"\n\
             [[entity.field]]\nname = \"d\"\nnormalize = { left = [\"trim\"] }\n",
        );
        let entity = &spec.entities[0];
        let left = loaded(&[
            ("id", &[Some("1"), Some("2"), Some("3"), Some("4")]),
            ("n", &[Some("1.5"), Some("x"), None, Some("7")]),
            ("d", &[Some(" a "), Some("b"), Some("c"), Some("d")]),
        ]);
        let right = || {
            loaded(&[
                ("id", &[Some("4"), Some("2"), Some("9"), Some("1"), Some("3")]),
                ("n", &[Some("7.00"), Some("x"), Some("1.5"), Some("1.5"), None]),
                ("d", &[Some("d"), Some("b"), Some("z"), Some(" a "), Some("c")]),
            ])
        };
        let typed_left = prepare(entity, Side::Left, &left);
        let keyed = prepare_fields(entity, Side::Right, &right(), Some(&entity.key));
        // Right rows 0, 1, 3, 4 have left twins 3, 1, 0, 2; row 2 none.
        let twins = [3, 1, u32::MAX, 0, 2];
        let mut r = right();
        // The left raw text in two arrays, as a spilled bucket's row groups are read.
        let mut left_frame = left.frame.slice(0, 1);
        left_frame
            .vstack_mut(&left.frame.slice(1, 3))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(left_frame.column("n").map(|c| c.n_chunks()).ok(), Some(2));
        let copied = prepare_right(entity, &mut r, keyed, &left_frame, &typed_left, &twins);
        assert_eq!(r.frame.width(), 0, "the raw text is consumed");
        let direct = prepare(entity, Side::Right, &right());
        for f in 0..3 {
            assert_eq!(copied.fields[f].cells, direct.fields[f].cells, "field {f}");
            let bad = |p: &PreparedSide| -> Vec<(usize, String, ConvertError)> {
                p.fields[f]
                    .bad
                    .iter()
                    .map(|b| (b.row, b.raw.clone(), b.reason.clone()))
                    .collect()
            };
            assert_eq!(bad(&copied), bad(&direct), "field {f}");
        }
        // The bad right cell of row 1 is typed, not copied: it is reported.
        assert_eq!(copied.fields[1].bad.len(), 1);
        assert_eq!(copied.fields[1].bad[0].row, 1);
        // " a " trims to "a" on the left only.
        assert_eq!(copied.fields[2].cells[3], Cell::Val(Value::Str(" a ".into())));
    }

    #[test]
    fn twin_texts_are_found_in_arrays_cut_alike_or_apart() {
        use polars::prelude::*;
        let spec = keyed_by_id("[[entity.field]]\nname = \"n\"\n[[entity.field]]\nname = \"d\"\n");
        let entity = &spec.entities[0];
        let texts = |p: &str| -> Vec<Option<String>> { (0..7).map(|i| (i != 3).then(|| format!("{p}{i}"))).collect() };
        let chunked = |name: &str, cuts: &[usize]| -> Column {
            let all = texts(name);
            let mut parts = cuts
                .windows(2)
                .map(|w| StringChunked::from_iter_options(name.into(), all[w[0]..w[1]].iter().cloned()));
            let mut ca = parts.next().unwrap_or_else(|| panic!("no parts"));
            for p in parts {
                ca.append(&p).unwrap_or_else(|e| panic!("{e}"));
            }
            ca.into_column()
        };
        // `id` and `n` cut alike, `d` apart.
        let frame = DataFrame::new(
            7,
            vec![
                chunked("id", &[0, 2, 5, 7]),
                chunked("n", &[0, 2, 5, 7]),
                chunked("d", &[0, 4, 7]),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(frame.column("n").map(|c| c.n_chunks()).ok(), Some(3));
        assert_eq!(frame.column("d").map(|c| c.n_chunks()).ok(), Some(2));
        let twins = [6, u32::MAX, 0, 3, 2, 5, 7, 1, 4];
        let located = TwinTexts::locate(entity, &frame, &twins);
        for name in ["id", "n", "d"] {
            let column = frame
                .column(name)
                .and_then(|c| c.str().cloned())
                .unwrap_or_else(|e| panic!("{e}"));
            let found = located.texts(&column, &twins);
            for (row, &l) in twins.iter().enumerate() {
                let expected = texts(name).get(l as usize).cloned().flatten();
                assert_eq!(found.of(row).map(str::to_string), expected, "{name}, right row {row}");
            }
            assert_eq!(found.of(twins.len()), None);
        }
    }

    #[test]
    fn twin_places_skip_empty_arrays_and_refuse_rows_past_the_end() {
        let lengths = [0, 2, 0, 3];
        let twins = [0, 1, 2, 4, 5, u32::MAX];
        assert_eq!(
            places(&lengths, &twins),
            vec![(1, 0), (1, 1), (3, 0), (3, 2), (u32::MAX, 0), (u32::MAX, 0)]
        );
        assert_eq!(places(&[], &[0]), vec![(u32::MAX, 0)]);
    }

    /// Blank cells are null wherever a value is parsed: typed fields,
    /// normalizers and value maps (unless the map names the blank text);
    /// a plain text field keeps them as text.
    #[test]
    fn blank_cells_are_null_for_types_normalizers_and_maps() {
        let spec = keyed_by_id(
            "[[entity.field]]\nname = \"i\"\ntype = \"int\"\n\
             [[entity.field]]\nname = \"p\"\nnormalize = [\"phone_e164:CN\"]\n\
             [[entity.field]]\nname = \"m\"\nmap = { A = \"active\" }\n\
             [[entity.field]]\nname = \"k\"\nmap = { A = \"active\", \" \" = \"blank\" }\n\
             [[entity.field]]\nname = \"s\"\n",
        );
        let entity = &spec.entities[0];
        let field = |name: &str| {
            entity
                .fields
                .iter()
                .find(|f| f.name == name)
                .unwrap_or_else(|| panic!("{name}"))
        };
        for blank in ["", " ", "\t", "\u{3000}"] {
            for name in ["i", "p", "m"] {
                assert_eq!(
                    convert(field(name), Side::Left, Some(blank)),
                    Ok(None),
                    "{name} {blank:?}"
                );
            }
            assert_eq!(
                convert(field("s"), Side::Left, Some(blank)),
                Ok(Some(Value::Str(blank.into())))
            );
        }
        assert_eq!(
            convert(field("k"), Side::Left, Some(" ")),
            Ok(Some(Value::Str("blank".into())))
        );
        assert_eq!(
            convert(field("m"), Side::Left, Some("B")),
            Err(ConvertError::NotInValueMap)
        );
    }
}
