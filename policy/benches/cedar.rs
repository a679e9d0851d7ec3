//! `decide` against Cedar's `Authorizer::is_authorized` on the same world, at
//! S, M and L, in one criterion run.
//!
//! Both run on the Cedar-expressible subset of the world (see
//! `support/cedar.rs`: no risk, privileges, environments or dependencies),
//! over the same 10,000 requests (allow-heavy and deny-heavy interleaved).
//! Cedar requests are built before timing (its `EntityUid`s are parsed once),
//! which favours Cedar; ours take the request's plain strings.
//!
//! `cargo bench -p reqflo-policy --bench cedar -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use reqflo_policy::synthetic::{self, Mix, Size};
use reqflo_policy::{Request, Snapshot, decide};

#[path = "support/cedar.rs"]
mod cedar;
#[path = "support/latency.rs"]
mod latency;
#[path = "support/sizes.rs"]
mod sizes;

const PER_MIX: usize = 5_000;
const TIMED_CALLS: usize = 30_000;

fn bench(c: &mut Criterion) {
    for size in sizes::sizes() {
        let world = synthetic::generate(size, 42);
        let document = cedar::subset(&world);
        let started = Instant::now();
        let snapshot = match Snapshot::compile(&document) {
            Ok(snapshot) => snapshot,
            Err(errors) => panic!("{} subset does not compile: {errors}", size.name()),
        };
        let ours_built = started.elapsed();
        let started = Instant::now();
        let cedar = cedar::CedarWorld::new(&document);
        let cedar_built = started.elapsed();
        println!(
            "cedar/{}: our compile {ours_built:.2?}; Cedar translation {cedar_built:.2?} ({} policies, {} entities)",
            size.name(),
            cedar.policies.num_of_policies(),
            cedar.entities.len()
        );
        // Interleave the two mixes.
        let allow = synthetic::requests(&world, PER_MIX, 7, Mix::AllowHeavy);
        let deny = synthetic::requests(&world, PER_MIX, 7, Mix::DenyHeavy);
        let owned: Vec<_> = allow
            .iter()
            .zip(&deny)
            .flat_map(|(a, d)| [a, d])
            .map(cedar::without_environment)
            .collect();
        let ours: Vec<Request<'_>> = owned.iter().map(|r| r.as_request()).collect();
        let theirs: Vec<cedar_policy::Request> = owned.iter().map(|r| cedar.request(r)).collect();
        let mut allowed = 0;
        for (a, b) in ours.iter().zip(&theirs) {
            let mine = decide(&snapshot, a).allowed;
            assert_eq!(mine, cedar.is_authorized(b), "engines disagree on {a:?}");
            let errors = cedar.errors(b);
            assert!(errors.is_empty(), "cedar errors on {a:?}: {errors:?}");
            allowed += usize::from(mine);
        }
        println!(
            "cedar/{}: both agree on all {} requests ({allowed} allowed)",
            size.name(),
            ours.len()
        );

        let mut group = c.benchmark_group(format!("vs_cedar/{}", size.name()));
        group.throughput(Throughput::Elements(1));
        if size == Size::L {
            group.sample_size(20);
        }
        group.bench_function(BenchmarkId::from_parameter("reqflo_decide"), |b| {
            let mut i = 0;
            b.iter(|| {
                let request = &ours[i % ours.len()];
                i += 1;
                black_box(decide(&snapshot, black_box(request)))
            })
        });
        group.bench_function(BenchmarkId::from_parameter("cedar_is_authorized"), |b| {
            let mut i = 0;
            b.iter(|| {
                let request = &theirs[i % theirs.len()];
                i += 1;
                black_box(cedar.is_authorized(black_box(request)))
            })
        });
        group.finish();

        let mine = latency::measure(TIMED_CALLS, |i| {
            black_box(decide(&snapshot, black_box(&ours[i % ours.len()])));
        });
        let other = latency::measure(TIMED_CALLS, |i| {
            black_box(cedar.is_authorized(black_box(&theirs[i % theirs.len()])));
        });
        println!("vs_cedar/{} reqflo per call: {mine}", size.name());
        println!("vs_cedar/{} cedar  per call: {other}", size.name());
        println!(
            "vs_cedar/{} ratio cedar/reqflo: median {:.1}x, p99 {:.1}x, mean {:.1}x",
            size.name(),
            other.p50 / mine.p50.max(1.0),
            other.p99 / mine.p99.max(1.0),
            other.mean / mine.mean.max(1.0)
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
