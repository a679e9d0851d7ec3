//! The resident memory of a compiled snapshot, read from `/proc/self/status`.
//!
//! `cargo run --release -p reqflo-policy --example snapshot_memory -- L`
//!
//! Prints VmRSS at each step. The snapshot's size is bracketed two ways:
//! the growth across `compile` (an upper bound: it also counts compile-time
//! scratch the allocator keeps), and the drop when the snapshot is freed
//! after the document is gone (a lower bound: the allocator may keep some).

use std::time::Instant;

use reqflo_policy::Snapshot;
use reqflo_policy::synthetic::{self, Size};

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`); 0 off Linux.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let size = std::env::args()
        .nth(1)
        .and_then(|s| Size::parse(&s))
        .unwrap_or(Size::L);
    let start = status_kib("VmRSS");
    let document = synthetic::generate(size, 42);
    let with_document = status_kib("VmRSS");
    let started = Instant::now();
    let snapshot = match Snapshot::compile(&document) {
        Ok(snapshot) => snapshot,
        Err(errors) => {
            eprintln!("error: {errors}");
            std::process::exit(2);
        }
    };
    let compile = started.elapsed();
    let with_snapshot = status_kib("VmRSS");
    drop(document);
    let snapshot_only = status_kib("VmRSS");
    let counts = snapshot.counts();
    drop(snapshot);
    let after = status_kib("VmRSS");
    println!("size {}: {counts:?}", size.name());
    println!("compile: {compile:.2?}");
    println!("VmRSS at start:               {:8.1} MiB", mib(start));
    println!(
        "  + document:                 {:8.1} MiB",
        mib(with_document)
    );
    println!(
        "  + snapshot:                 {:8.1} MiB",
        mib(with_snapshot)
    );
    println!(
        "  - document (snapshot only): {:8.1} MiB",
        mib(snapshot_only)
    );
    println!("  - snapshot:                 {:8.1} MiB", mib(after));
    println!(
        "VmHWM (peak):                 {:8.1} MiB",
        mib(status_kib("VmHWM"))
    );
    println!(
        "snapshot resident: between {:.1} MiB (freed on drop) and {:.1} MiB (growth across compile)",
        mib(snapshot_only.saturating_sub(after)),
        mib(with_snapshot.saturating_sub(with_document))
    );
}
