//! One integration-test binary (polars links once): each module is a feature.

mod util;

mod bad_input;
mod bucketed;
mod demo;
mod evidence;
mod keys;
mod masking;
mod quality;
mod repair;
mod scale;
