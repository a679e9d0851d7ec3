//! The whole decision, compared at the benchmark shapes: the compiled engine
//! and the reference evaluator must return equal [`Decision`]s (allowed,
//! `allowed_by`, and every reason's code, object, message, remediation and
//! cause) on the synthetic S, M and L worlds, where the engine's shortcuts
//! (compact keys, inline member slots, bucket tables and summaries) are in
//! play; the small random worlds of `differential.rs` never reach them.
//!
//! `cargo test` runs 10,000 requests at S. The long run is a release-mode
//! command (counts and times in `policy/README.md`):
//!
//! ```text
//! REQFLO_DIFF_SIZES=S,M,L REQFLO_DIFF_CASES=1000000 \
//!   cargo test --release -p reqflo-policy --test shapes -- --nocapture
//! ```
//!
//! Requests come from the synthetic allow- and deny-heavy streams (every
//! reason code), half each, plus the same requests with the environment
//! swapped for another of the org's environments, so that grants limited to
//! environments and environment-caused denials are crossed with everything.

use std::time::Instant;

use reqflo_policy::synthetic::{self, Mix, OwnedRequest, Size};
use reqflo_policy::{Document, Snapshot, decide, reference};

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `n` requests over the world: allow-heavy and deny-heavy halves, each
/// request also asked with its environment moved to another one.
fn requests(document: &Document, n: usize, seed: u64) -> Vec<OwnedRequest> {
    let environments: Vec<&str> = document
        .orgs
        .iter()
        .flat_map(|o| o.resources.iter())
        .filter(|r| r.kind == "environment")
        .map(|r| r.id.as_str())
        .collect();
    let half = n.div_ceil(4);
    let mut out = Vec::with_capacity(n);
    for (mix, salt) in [(Mix::AllowHeavy, 1), (Mix::DenyHeavy, 2)] {
        for (i, request) in synthetic::requests(document, half, seed ^ salt, mix)
            .into_iter()
            .enumerate()
        {
            let mut moved = request.clone();
            moved.environment = match (i % 5, environments.get(i % environments.len().max(1))) {
                (0, _) => None,
                (_, Some(env)) => Some((*env).to_owned()),
                (_, None) => None,
            };
            out.push(request);
            out.push(moved);
        }
    }
    out.truncate(n);
    out
}

fn compare(size: Size, cases: usize) {
    let started = Instant::now();
    let document = synthetic::generate(size, 42);
    let snapshot = match Snapshot::compile(&document) {
        Ok(snapshot) => snapshot,
        Err(errors) => panic!("{} world does not compile: {errors}", size.name()),
    };
    let asked = requests(&document, cases, 7);
    let reference = reference::World::new(&document);
    let built = started.elapsed();
    let started = Instant::now();
    let mut allowed = 0usize;
    for (n, owned) in asked.iter().enumerate() {
        let request = owned.as_request();
        let engine = decide(&snapshot, &request);
        let oracle = reference.decide(&request);
        assert_eq!(
            engine,
            oracle,
            "{} world, request {n}: {request:?}",
            size.name()
        );
        allowed += usize::from(engine.allowed);
    }
    eprintln!(
        "shapes: {} world: {} requests agree ({} allowed, {} denied); world built in {:.1} s, compared in {:.1} s",
        size.name(),
        asked.len(),
        allowed,
        asked.len() - allowed,
        built.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn engine_and_reference_return_the_same_whole_decision_at_benchmark_shapes() {
    let sizes: Vec<Size> = env_var("REQFLO_DIFF_SIZES")
        .map(|s| s.split(',').filter_map(|s| Size::parse(s.trim())).collect())
        .unwrap_or_else(|| vec![Size::S]);
    let cases = env_var("REQFLO_DIFF_CASES")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    for size in sizes {
        compare(size, cases);
    }
}
