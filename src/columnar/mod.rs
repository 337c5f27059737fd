//! Reading and writing columns below polars' public API: the only module
//! that touches polars internals (`polars_parquet`'s page writer,
//! `polars_arrow`'s arrays, views and bitmaps), so that a polars upgrade
//! changes this module alone. Everything else uses `polars::prelude` and
//! the types and functions re-exported here.
//!
//! Owns the working Parquet files a run writes and reads back itself
//! (`writer`: the file and its pages; `plain`: columns as Parquet plain
//! values) and a text column's rows scattered per destination straight
//! from its Arrow views (`scatter`). It knows nothing of entities, keys or
//! buckets: callers say which rows go where.

mod plain;
mod scatter;
mod writer;

pub use plain::{push_plain, Dictionary, PlainColumn, Stored};
pub use scatter::scatter_values;
pub use writer::{buffered, opened, WorkingWriter};

/// The Arrow array behind a polars text column's chunk.
pub use polars_arrow::array::Utf8ViewArray;
/// Arrow's validity bitmaps, built where a column's values are produced.
pub use polars_arrow::bitmap::{Bitmap, MutableBitmap};

#[cfg(test)]
mod tests;
