//! Org-by-org activation: a policy bundle of the L world's two orgs plus a
//! small org (the S world's), against the same policy as one file. Times
//! the cold load of each, and from the write of a republished manifest to
//! the new decision serving, for a change in the small org and in the
//! larger L org, with a reader deciding the whole time.
//!
//! `cargo bench -p reqflo-config --bench bundle -- [--runs N]` (default 5).
//! Prints medians; each change is timed directly.

#![expect(
    clippy::unwrap_used,
    reason = "benchmark harness: any setup failure aborts the run"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use reqflo_config::{ReloadEvent, WatchOptions, watch_with};
use reqflo_policy::Document;
use reqflo_policy::synthetic::{Size, generate};

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn config(policy: &str) -> String {
    format!(
        "listen: {{ proxy: \"127.0.0.1:0\", admin: \"127.0.0.1:0\" }}\npolicy: {policy}\nupstreams:\n  api: {{ address: \"127.0.0.1:9\" }}\nidentity:\n  trusted_header: {{ header: x-user, trusted_sources: [\"127.0.0.1\"] }}\nreload: {{ access_diff: false }}\nroutes:\n  - {{ id: run, methods: [POST], path: \"/orgs/{{org}}/journeys/{{journey}}/runs\", action: run, resource: \"{{journey}}\", upstream: api }}\n"
    )
}

/// The S world's org as org `small`, its users as `s-u…`.
fn small_org() -> Document {
    let json = serde_json::to_string(&generate(Size::S, 11)).unwrap();
    let mut out = String::with_capacity(json.len());
    let mut rest = json.as_str();
    // `"u123"` → `"s-u123"`: user ids are `u` and digits.
    while let Some(i) = rest.find("\"u") {
        let (head, tail) = rest.split_at(i + 1);
        out.push_str(head);
        let digits = tail[1..].bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && tail.as_bytes().get(1 + digits) == Some(&b'"') {
            out.push_str("s-");
        }
        rest = tail;
    }
    out.push_str(rest);
    let out = out.replace("\"acme\"", "\"small\"");
    Document::parse(&out).unwrap()
}

/// Waits for the next applied reload; its read → swap time.
fn applied(rx: &Receiver<ReloadEvent>) -> Duration {
    loop {
        match rx.recv_timeout(Duration::from_secs(120)).unwrap() {
            ReloadEvent::Applied { took, .. } => return took,
            ReloadEvent::Unchanged { .. } => {}
            other => panic!("unexpected reload outcome: {other:?}"),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let mut doc = generate(Size::L, 7);
    let small = small_org();
    doc.orgs.extend(small.orgs);
    doc.users.extend(small.users);
    let sizes: Vec<(String, usize)> = doc
        .orgs
        .iter()
        .map(|o| (o.id.clone(), o.resources.len()))
        .collect();
    let larger = sizes.iter().max_by_key(|(_, n)| *n).unwrap().0.clone();
    println!("orgs (resources): {sizes:?}; the larger L org is `{larger}`");

    // One file.
    let file = dir.path().join("policy.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    std::fs::write(dir.path().join("file.yaml"), config("policy.json")).unwrap();
    // A bundle.
    let bundle = dir.path().join("bundle");
    let t = Instant::now();
    reqflo_config::bundle::build(&doc, &bundle, None, false).unwrap();
    println!("bundle build: {}", ms(t.elapsed()));
    std::fs::write(
        dir.path().join("bundle.yaml"),
        config("bundle/manifest.json"),
    )
    .unwrap();

    let cold = |name: &str| {
        let times: Vec<Duration> = (0..3)
            .map(|_| {
                let t = Instant::now();
                drop(reqflo_config::load(&dir.path().join(name)).unwrap());
                t.elapsed()
            })
            .collect();
        median(times)
    };
    println!(
        "cold load: one file {}, bundle {} (orgs compiled in parallel on {} cores)",
        ms(cold("file.yaml")),
        ms(cold("bundle.yaml")),
        std::thread::available_parallelism().map_or(1, usize::from)
    );

    let handle = reqflo_config::load(&dir.path().join("bundle.yaml"))
        .unwrap()
        .into_handle();
    let (tx, rx) = channel();
    let options = WatchOptions::default();
    let _watch = watch_with(
        &dir.path().join("bundle.yaml"),
        handle.clone(),
        options,
        move |e| drop(tx.send(e)),
    )
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (handle, stop) = (handle.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let snapshot = handle.load();
                let request = reqflo_policy::Request {
                    org: "small",
                    user: "s-u1",
                    action: "view".into(),
                    resource: "nothing",
                    environment: None,
                };
                std::hint::black_box(reqflo_policy::decide(&snapshot.policy, &request));
                worst = worst.max(t.elapsed());
                n += 1;
                if n.is_multiple_of(100) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            worst
        })
    };
    let change = |org: &str, run: usize, doc: &mut Document| -> (Duration, Duration) {
        let o = doc.orgs.iter_mut().find(|o| o.id == org).unwrap();
        o.name = Some(format!("{org} {run}"));
        let before = handle.load().revision.clone();
        // The org file is written first, the manifest last; the clock
        // starts when the build returns, right after the manifest's write
        // (the watcher's 200 ms quiet period has not ended by then).
        reqflo_config::bundle::build(doc, &bundle, None, false).unwrap();
        let built = Instant::now();
        while handle.load().revision == before {
            assert!(built.elapsed() < Duration::from_secs(120));
            std::thread::sleep(Duration::from_millis(1));
        }
        let seen = built.elapsed();
        (seen, applied(&rx))
    };
    for org in ["small".to_owned(), larger.clone()] {
        let mut seen = Vec::new();
        let mut took = Vec::new();
        for run in 0..runs {
            let (s, t) = change(&org, run, &mut doc);
            seen.push(s);
            took.push(t);
        }
        println!(
            "change in `{org}`: bundle build → new decision serving median {} of {runs} (of which the debounce {} ms; read + verify + compile + swap median {})",
            ms(median(seen)),
            options.quiet.as_millis(),
            ms(median(took))
        );
    }
    // The same change in the one-file policy: the whole file is re-read
    // and recompiled.
    let file_handle = reqflo_config::load(&dir.path().join("file.yaml"))
        .unwrap()
        .into_handle();
    let (tx, file_rx) = channel();
    let _file_watch = watch_with(
        &dir.path().join("file.yaml"),
        file_handle.clone(),
        options,
        move |e| drop(tx.send(e)),
    )
    .unwrap();
    let mut seen = Vec::new();
    let mut took = Vec::new();
    for run in 0..runs {
        let o = doc.orgs.iter_mut().find(|o| o.id == "small").unwrap();
        o.name = Some(format!("small file {run}"));
        let bytes = serde_json::to_vec(&doc).unwrap();
        let before = file_handle.load().revision.clone();
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, &bytes).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        let t = Instant::now();
        while file_handle.load().revision == before {
            assert!(t.elapsed() < Duration::from_secs(120));
            std::thread::sleep(Duration::from_millis(1));
        }
        seen.push(t.elapsed());
        took.push(applied(&file_rx));
    }
    println!(
        "change in `small`, one file: write → new decision serving median {} of {runs} (of which the debounce {} ms; read + parse + validate + compile + swap median {})",
        ms(median(seen)),
        options.quiet.as_millis(),
        ms(median(took))
    );

    stop.store(true, Ordering::Relaxed);
    let worst = reader.join().unwrap();
    println!(
        "slowest load()+decide during the reloads (includes preemption): {:.1} µs",
        worst.as_secs_f64() * 1e6
    );
}
