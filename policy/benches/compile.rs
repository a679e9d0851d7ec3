//! Compiling a document into a snapshot (validation included) at S, M and L.
//!
//! `cargo bench -p reqflo-policy --bench compile -- --warm-up-time 1 --measurement-time 3`
//! (L takes ten samples; `REQFLO_BENCH_SIZES=S,M` skips it).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use reqflo_policy::synthetic::{self, Size};
use reqflo_policy::{Snapshot, validate};

#[path = "support/sizes.rs"]
mod sizes;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    for size in sizes::sizes() {
        let started = Instant::now();
        let document = synthetic::generate(size, 42);
        let generated = started.elapsed();
        let started = Instant::now();
        let valid = validate(&document);
        let validated = started.elapsed();
        if let Err(errors) = valid {
            panic!("{} world is invalid: {errors}", size.name());
        }
        let started = Instant::now();
        let json = synthetic::generate_json(size, 42);
        let as_json = started.elapsed();
        println!(
            "{}: generate {generated:.2?}, validate alone {validated:.2?}, generate+to JSON {as_json:.2?} ({:.1} MiB of JSON)",
            size.name(),
            json.len() as f64 / (1024.0 * 1024.0)
        );
        drop(json);
        if size == Size::L {
            group.sample_size(10);
        }
        group.bench_function(size.name(), |b| {
            b.iter(|| black_box(Snapshot::compile(black_box(&document))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
