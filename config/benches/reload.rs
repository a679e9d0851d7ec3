//! Hot reload at scale: how long from a write of the policy file until the
//! new revision serves, and how long loading (read + parse + validate +
//! compile) a synthetic policy of each size takes, with readers deciding on
//! the old snapshot the whole time.
//!
//! `cargo bench -p reqflo-config --bench reload -- [S|M|L ...] [--runs N]`
//! (default: L, 3 runs). Prints medians; a multi-second operation is timed
//! directly rather than through criterion's many samples.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark harness: any setup failure aborts the run"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use reqflo_config::{ReloadEvent, watch};
use reqflo_policy::synthetic::{Size, generate_json};
use sha2::Digest;

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn config(policy: &str) -> String {
    format!(
        "listen: {{ proxy: \"127.0.0.1:0\", admin: \"127.0.0.1:0\" }}\npolicy: {policy}\nupstreams:\n  api: {{ address: \"127.0.0.1:9\" }}\nidentity:\n  trusted_header: {{ header: x-user, trusted_sources: [\"127.0.0.1\"] }}\nroutes:\n  - {{ id: run, methods: [POST], path: \"/orgs/{{org}}/journeys/{{journey}}/runs\", action: run, resource: \"{{journey}}\", upstream: api }}\n"
    )
}

fn bench(size: Size, runs: usize) {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("gateway.yaml");
    let policy_path = dir.path().join("policy.json");
    let started = Instant::now();
    let policy = generate_json(size, 7);
    println!(
        "size {}: policy {:.1} MB (generated in {})",
        size.name(),
        policy.len() as f64 / 1e6,
        ms(started.elapsed())
    );
    std::fs::write(&config_path, config("policy.json")).unwrap();
    std::fs::write(&policy_path, &policy).unwrap();

    // Cold loads, and the parse / compile split of one of them.
    let mut loads = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let snapshot = reqflo_config::load(&config_path).expect("the synthetic policy loads");
        loads.push(t.elapsed());
        drop(snapshot);
    }
    // Where the time goes, one stage at a time.
    let t = Instant::now();
    let text = std::fs::read_to_string(&policy_path).unwrap();
    std::hint::black_box(sha2::Sha256::digest(text.as_bytes()));
    let read_hash = t.elapsed();
    drop(text);
    let t = Instant::now();
    let document = reqflo_policy::Document::parse(&policy).unwrap();
    let parse = t.elapsed();
    let t = Instant::now();
    reqflo_policy::validate(&document).unwrap();
    let validate = t.elapsed();
    let t = Instant::now();
    let compiled = reqflo_policy::Snapshot::compile(&document).unwrap();
    let compile = t.elapsed();
    let t = Instant::now();
    std::hint::black_box(sha2::Sha256::digest(serde_json::to_vec(&document).unwrap()));
    let reserialize = t.elapsed();
    let counts = compiled.counts();
    // A request the readers decide over and over: the first user, org and resource.
    let org = document.orgs[0].id.clone();
    let user = document.users[0].id.clone();
    let resource = document.orgs[0].resources[0].id.clone();
    drop((document, compiled));
    println!(
        "  load (read + parse + validate + compile, config and policy): median {} of {runs} [read + hash {}, parse {}, validate {}, Snapshot::compile {} (validate again + build, of which re-serializing the document for its revision {})]; {} users, {} resources, {} grants",
        ms(median(loads)),
        ms(read_hash),
        ms(parse),
        ms(validate),
        ms(compile),
        ms(reserialize),
        counts.users,
        counts.resources,
        counts.grants
    );

    // Hot reload: write, then wait until the new revision serves, while a
    // reader keeps deciding on whatever snapshot is current (paced, about
    // 100k decisions/s, so that it does not take a whole core of this
    // two-core machine from the compile).
    let handle = reqflo_config::load(&config_path).unwrap().into_handle();
    let (tx, rx) = channel();
    let watcher = watch(&config_path, handle.clone(), move |event| {
        drop(tx.send(event))
    })
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let decisions = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..1)
        .map(|_| {
            let (handle, stop, decisions) = (handle.clone(), stop.clone(), decisions.clone());
            let (org, user, resource) = (org.clone(), user.clone(), resource.clone());
            std::thread::spawn(move || {
                let mut worst = Duration::ZERO;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let snapshot = handle.load();
                    let request = reqflo_policy::Request {
                        org: &org,
                        user: &user,
                        action: "view".into(),
                        resource: &resource,
                        environment: None,
                    };
                    std::hint::black_box(reqflo_policy::decide(&snapshot.policy, &request));
                    worst = worst.max(t.elapsed());
                    if decisions.fetch_add(1, Ordering::Relaxed) % 100 == 99 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                worst
            })
        })
        .collect();

    let mut write_to_serving = Vec::new();
    let mut took = Vec::new();
    let mut served_meanwhile = Vec::new();
    for run in 0..runs {
        let before = handle.load().revision.clone();
        // A change of content (trailing whitespace): the whole policy is re-read and recompiled.
        let text = format!("{policy}{}", " ".repeat(run + 1));
        let tmp = policy_path.with_extension("tmp");
        std::fs::write(&tmp, &text).unwrap();
        let decided_before = decisions.load(Ordering::Relaxed);
        let t = Instant::now();
        std::fs::rename(&tmp, &policy_path).unwrap();
        while handle.load().revision == before {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "no reload within 60 s"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        write_to_serving.push(t.elapsed());
        served_meanwhile.push(decisions.load(Ordering::Relaxed) - decided_before);
        loop {
            match rx.recv_timeout(Duration::from_secs(60)).unwrap() {
                ReloadEvent::Applied { took: d, .. } => {
                    took.push(d);
                    break;
                }
                ReloadEvent::Unchanged { .. } => {}
                other => panic!("unexpected reload outcome: {other:?}"),
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let worst_read = readers
        .into_iter()
        .map(|r| r.join().unwrap())
        .max()
        .unwrap_or_default();
    drop(watcher);
    println!(
        "  write → new revision serving: median {} of {runs} (debounce 200 ms + re-read/compile/swap median {}); decisions served on the old snapshot meanwhile: {:?}; slowest single load()+decide during reloads (includes preemption): {:.1} µs",
        ms(median(write_to_serving)),
        ms(median(took)),
        served_meanwhile,
        worst_read.as_secs_f64() * 1e6
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut runs = 3;
    let mut sizes = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--runs" => runs = iter.next().and_then(|n| n.parse().ok()).unwrap_or(3),
            other => sizes.extend(Size::parse(other)),
        }
    }
    if sizes.is_empty() {
        sizes.push(Size::L);
    }
    for size in sizes {
        bench(size, runs.max(1));
    }
}
