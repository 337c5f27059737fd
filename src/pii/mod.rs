//! Personal data: identifier validators with real checksums, mask styles and
//! mask-shape audit, free-text PII scanning, and keyed HMAC tokens. Pure
//! functions; owns no I/O.

pub mod mask;
pub mod scan;
pub mod token;
pub mod validate;

pub use mask::{audit, contradicts, display_mask, Deviation, Exposure, MaskStyle, MaskVerdict, UnknownMaskStyle};
pub use scan::{scan, Detector, Hit};
pub use token::Tokenizer;
pub use validate::{UnknownValidator, Validator};
