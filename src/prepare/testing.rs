//! A prepared side for unit tests, from typed columns.

use super::{BadCell, Cell, PreparedField, PreparedSide};
use crate::normalize::ConvertError;
use crate::spec::Side;

/// A prepared side from typed columns (field order), with its bad cells
/// as `(field, row, raw text)`.
pub(crate) fn prepared(side: Side, columns: Vec<Vec<Cell>>, bad: &[(usize, usize, &str)]) -> PreparedSide {
    let rows = columns.first().map_or(0, Vec::len);
    let fields = columns
        .into_iter()
        .enumerate()
        .map(|(f, cells)| PreparedField {
            present: true,
            cells,
            bad: bad
                .iter()
                .filter(|b| b.0 == f)
                .map(|&(_, row, raw)| BadCell {
                    row,
                    raw: raw.into(),
                    reason: ConvertError::NotANumber,
                })
                .collect(),
        })
        .collect();
    PreparedSide { side, rows, fields }
}
