//! The properties each fuzz target checks, one module per target. Each
//! `check(data)` takes the fuzzer's bytes and panics when a property does
//! not hold; it never panics otherwise, whatever the bytes.
//!
//! The cargo-fuzz targets in `fuzz/fuzz_targets/` call these functions, and
//! `tests/replay.rs` runs every saved input (`fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/`) through them in the ordinary `cargo test`.

pub mod canonical_model;
pub mod canonicalizer;
pub mod decision;
pub mod environment;
pub mod jwt;
pub mod policy_document;
pub mod route_config;
pub mod router;

/// A target's check: panics when a property does not hold for the input.
pub type Check = fn(&[u8]);

/// Every target, by the name of its corpus folder and fuzz binary.
pub const TARGETS: &[(&str, Check)] = &[
    ("canonicalizer", canonicalizer::check),
    ("decision", decision::check),
    ("environment", environment::check),
    ("jwt", jwt::check),
    ("policy_document", policy_document::check),
    ("router", router::check),
    ("route_config", route_config::check),
];
