//! One integration-test binary (polars links once): each module is a feature.

mod util;

mod bad_input;
mod bucketed;
mod coverage;
mod demo;
mod deploy;
mod evidence;
mod exactness;
mod gates;
mod init;
mod keys;
mod keys_setup;
mod loaders;
mod many_files;
mod masking;
mod module_graph;
mod nightly;
mod notify;
mod object_storage;
mod quality;
mod repair;
mod report_page;
mod retention;
mod scale;
mod shards;
