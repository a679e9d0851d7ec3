//! The resident memory of a compiled snapshot, read from `/proc/self/status`.
//!
//! `cargo run --release -p reqflo-policy --example snapshot_memory -- L`
//!
//! Prints VmRSS at each step. The snapshot's size is read two ways: the
//! growth across the first `compile` (an upper bound: it also counts
//! compile-time scratch the allocator keeps), and the growth across a second
//! `compile` while the first snapshot is kept (the scratch of the second can
//! reuse what the first freed, so this is close to one snapshot's size).

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
    let second = Snapshot::compile(&document);
    let with_two = status_kib("VmRSS");
    drop(second);
    let counts = snapshot.counts();
    println!("size {}: {counts:?}", size.name());
    println!("compile: {compile:.2?}");
    println!("VmRSS at start:              {:8.1} MiB", mib(start));
    println!(
        "  + document:                {:8.1} MiB",
        mib(with_document)
    );
    println!(
        "  + snapshot:                {:8.1} MiB",
        mib(with_snapshot)
    );
    println!("  + a second snapshot:       {:8.1} MiB", mib(with_two));
    println!(
        "VmHWM (peak):                {:8.1} MiB",
        mib(status_kib("VmHWM"))
    );
    println!(
        "snapshot resident: about {:.1} MiB (second compile), at most {:.1} MiB (first compile, with scratch)",
        mib(with_two.saturating_sub(with_snapshot)),
        mib(with_snapshot.saturating_sub(with_document))
    );
    drop(snapshot);
}
