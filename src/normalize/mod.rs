//! Per-field, per-side normalization: text steps, phone numbers, typed
//! conversion of raw text to canonical values, and tolerance-aware equality.
//! Owns no I/O.
//!
//! `value` holds the canonical values, `types` the declared field types and
//! their conversion, `parse` and `datetime` the text grammars conversion
//! uses, `tolerance` the equality drift comparison applies, `order` the
//! order of two values that rules and metrics use, `set` the elements of
//! multi-valued fields.

mod datetime;
mod error;
mod order;
mod parse;
pub mod phone;
pub mod set;
#[cfg(test)]
mod testing;
pub mod text;
pub mod tolerance;
pub mod types;
pub mod value;

pub use datetime::RFC3339_FORMAT;
pub use error::{ConvertError, DecimalOverflow, DeclarationError, DstGap, NoFormatMatches};
pub use order::order;
pub use phone::to_e164;
pub use text::{apply_steps, apply_steps_borrowed, Step, STEP_NAMES};
pub use tolerance::{business_date, values_equal, Tolerance};
pub use types::{FieldType, TypeOptions};
pub use value::{Instant, Value};
