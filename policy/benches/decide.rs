//! `decide` at sizes S, M and L, on an allow-heavy and a deny-heavy mix.
//!
//! Criterion gives the time per request (each iteration decides the next
//! request of a 10,000-request stream, so caches see a realistic spread of
//! users and resources); a second pass times 100,000 calls one by one and
//! prints p50/p90/p99/p99.9, since the targets are a median and a p99.
//!
//! `cargo bench -p reqflo-policy --bench decide -- --warm-up-time 1 --measurement-time 3`
//! (`REQFLO_BENCH_SIZES=S,M` to skip L).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use reqflo_policy::synthetic::{self, Mix};
use reqflo_policy::{Request, Snapshot, decide};

#[path = "support/latency.rs"]
mod latency;
#[path = "support/sizes.rs"]
mod sizes;

/// The gateway's allocator (`gateway/src/main.rs`), so the snapshot sits in
/// memory as it does when the gateway serves it: mimalloc asks for
/// transparent huge pages for its arenas (356 MiB of this bench's L heap),
/// glibc's malloc does not (docs/PERFORMANCE.md, "Policy engine").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STREAM: usize = 10_000;
const TIMED_CALLS: usize = 100_000;

fn bench(c: &mut Criterion) {
    for size in sizes::sizes() {
        let document = synthetic::generate(size, 42);
        let snapshot = match Snapshot::compile(&document) {
            Ok(snapshot) => snapshot,
            Err(errors) => panic!("{} world does not compile: {errors}", size.name()),
        };
        let mut group = c.benchmark_group(format!("decide/{}", size.name()));
        group.throughput(Throughput::Elements(1));
        for mix in Mix::ALL {
            let owned = synthetic::requests(&document, STREAM, 7, *mix);
            let requests: Vec<Request<'_>> = owned.iter().map(|r| r.as_request()).collect();
            let allowed = requests
                .iter()
                .filter(|r| decide(&snapshot, r).allowed)
                .count();
            println!(
                "decide/{}/{}: {allowed} of {} requests allowed ({:.0}%)",
                size.name(),
                mix.name(),
                requests.len(),
                100.0 * allowed as f64 / requests.len() as f64
            );
            group.bench_function(BenchmarkId::from_parameter(mix.name()), |b| {
                let mut i = 0;
                b.iter(|| {
                    let request = &requests[i % requests.len()];
                    i += 1;
                    black_box(decide(&snapshot, black_box(request)))
                })
            });
            let percentiles = latency::measure(TIMED_CALLS, |i| {
                black_box(decide(&snapshot, black_box(&requests[i % requests.len()])));
            });
            println!(
                "decide/{}/{} per call: {percentiles}",
                size.name(),
                mix.name()
            );
            // The allowed requests of the stream alone: the allow path.
            let allows: Vec<&Request<'_>> = requests
                .iter()
                .filter(|r| decide(&snapshot, r).allowed)
                .collect();
            if !allows.is_empty() {
                let percentiles = latency::measure(TIMED_CALLS, |i| {
                    black_box(decide(&snapshot, black_box(allows[i % allows.len()])));
                });
                println!(
                    "decide/{}/{} allowed only, per call: {percentiles}",
                    size.name(),
                    mix.name()
                );
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
