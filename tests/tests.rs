//! One integration-test binary (polars links once): each module is a feature.

mod util;

mod bad_input;
mod demo;
mod keys;
mod quality;
