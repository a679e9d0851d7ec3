//! Decides a request stream once, in order, for counting the memory a
//! streamed decision touches under a cache simulator (the 2-core VM exposes
//! no hardware cache counters, and timings there are noisy):
//!
//! ```sh
//! cargo build --release -p reqflo-policy --example decide_stream
//! valgrind --tool=callgrind --cache-sim=yes --collect-atstart=no \
//!     --toggle-collect='*decide_stream*' --D1=32768,8,64 --LL=8388608,16,64 \
//!     target/release/examples/decide_stream L 10000 allow
//! callgrind_annotate callgrind.out.<pid> | head -30
//! ```
//!
//! `DLmr` divided by the request count is the number of last-level misses
//! (cache lines fetched from memory) per decision; `D1mr` the L1 misses.

use std::hint::black_box;

use reqflo_policy::synthetic::{self, Mix, Size};
use reqflo_policy::{Request, Snapshot, decide};

/// The measured part: every request decided once, in order.
#[inline(never)]
fn decide_stream(snapshot: &Snapshot, requests: &[Request<'_>]) -> usize {
    requests
        .iter()
        .filter(|r| black_box(decide(snapshot, black_box(r))).allowed)
        .count()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let size = args.next().and_then(|s| Size::parse(&s)).unwrap_or(Size::S);
    let count = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let mix = match args.next().as_deref() {
        Some("deny") => Mix::DenyHeavy,
        _ => Mix::AllowHeavy,
    };
    let document = synthetic::generate(size, 42);
    let snapshot = match Snapshot::compile(&document) {
        Ok(snapshot) => snapshot,
        Err(errors) => panic!("{} world does not compile: {errors}", size.name()),
    };
    let owned = synthetic::requests(&document, count, 7, mix);
    let requests: Vec<Request<'_>> = owned.iter().map(|r| r.as_request()).collect();
    let allowed = decide_stream(&snapshot, &requests);
    println!(
        "{} {}: {allowed} of {} allowed",
        size.name(),
        mix.name(),
        requests.len()
    );
}
