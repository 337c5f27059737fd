//! Per-field, per-side normalization: text steps, phone numbers, typed
//! conversion of raw text to canonical values, and tolerance-aware equality.
//! Owns no I/O.

pub mod phone;
pub mod text;
pub mod value;

pub use phone::to_e164;
pub use text::{apply_steps, apply_steps_borrowed, Step, STEP_NAMES};
pub use value::{business_date, values_equal, FieldType, Instant, Tolerance, TypeOptions, Value};
