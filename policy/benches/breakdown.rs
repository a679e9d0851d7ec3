//! Where `decide` spends its time, per kind of request, with warm caches:
//! each request of a 4,000-request stream is decided 15 times in a row and
//! the median kept, then grouped by (action, environment given, outcome) and,
//! for `use`/`run`, by the size of the resource's dependency closure.
//!
//! `REQFLO_BENCH_SIZES=L cargo bench -p reqflo-policy --bench breakdown`

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hint::black_box;
use std::time::Instant;

use reqflo_policy::document::{Document, Scope};
use reqflo_policy::synthetic::{self, Mix};
use reqflo_policy::{Snapshot, decide};

#[path = "support/sizes.rs"]
mod sizes;

const REQUESTS: usize = 4_000;
const REPEATS: usize = 15;

/// Closure size of every (org, resource).
fn closures(document: &Document) -> HashMap<(String, String), usize> {
    let mut out = HashMap::new();
    for org in &document.orgs {
        let deps: HashMap<&str, &Vec<String>> = org
            .resources
            .iter()
            .map(|r| (r.id.as_str(), &r.depends_on))
            .collect();
        for r in &org.resources {
            let mut seen = HashSet::new();
            let mut stack: Vec<&str> = r.depends_on.iter().map(String::as_str).collect();
            while let Some(d) = stack.pop() {
                if seen.insert(d) {
                    stack.extend(
                        deps.get(d)
                            .into_iter()
                            .flat_map(|ds| ds.iter().map(String::as_str)),
                    );
                }
            }
            out.insert((org.id.clone(), r.id.clone()), seen.len());
        }
    }
    out
}

/// (count, p50, p99) of nanosecond samples.
fn stats(samples: &mut [f64]) -> (usize, f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| {
        samples
            .get(((samples.len().max(1) - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    (samples.len(), at(0.5), at(0.99))
}

fn main() {
    for size in sizes::sizes() {
        let document = synthetic::generate(size, 42);
        let Ok(snapshot) = Snapshot::compile(&document) else {
            panic!("{} world does not compile", size.name())
        };
        let closure = closures(&document);
        let mut buckets: HashMap<(&str, &str), usize> = HashMap::new();
        for org in &document.orgs {
            for grant in &org.grants {
                if let Scope::Service(s) = &grant.scope {
                    *buckets.entry((org.id.as_str(), s.as_str())).or_default() += 1;
                }
            }
        }
        let largest = buckets.values().max().copied().unwrap_or(0);
        let mean = buckets.values().sum::<usize>() as f64 / buckets.len().max(1) as f64;
        println!(
            "{}: service-scoped grants per service: mean {mean:.0}, max {largest}",
            size.name()
        );
        for mix in Mix::ALL {
            let requests = synthetic::requests(&document, REQUESTS, 7, *mix);
            let mut all = Vec::new();
            let mut by_kind: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            let mut by_closure: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
            for owned in &requests {
                let request = owned.as_request();
                let decision = decide(&snapshot, &request);
                let mut times: Vec<f64> = (0..REPEATS)
                    .map(|_| {
                        let start = Instant::now();
                        black_box(decide(&snapshot, black_box(&request)));
                        start.elapsed().as_nanos() as f64
                    })
                    .collect();
                let (_, median, _) = stats(&mut times);
                all.push(median);
                let outcome = decision.code().map_or("allow", |c| c.as_str());
                let key = format!(
                    "{:>14} env={:<5} {outcome}",
                    owned.action,
                    owned.environment.is_some()
                );
                by_kind.entry(key).or_default().push(median);
                if matches!(owned.action.as_str(), "use" | "run") {
                    let size = closure
                        .get(&(owned.org.clone(), owned.resource.clone()))
                        .copied()
                        .unwrap_or(0);
                    by_closure.entry(size.min(16)).or_default().push(median);
                }
            }
            let (n, p50, p99) = stats(&mut all);
            println!(
                "{}/{} warm: {n} requests, p50 {p50:.0} ns, p99 {p99:.0} ns",
                size.name(),
                mix.name()
            );
            for (key, mut samples) in by_kind {
                let (n, p50, p99) = stats(&mut samples);
                if n >= 20 {
                    println!("  {key:<52} n={n:5} p50={p50:6.0} ns p99={p99:6.0} ns");
                }
            }
            for (size, mut samples) in by_closure {
                let (n, p50, p99) = stats(&mut samples);
                println!(
                    "  use/run, closure {size:>2}{}: n={n:5} p50={p50:6.0} ns p99={p99:6.0} ns",
                    if size == 16 { "+" } else { " " }
                );
            }
        }
    }
}
