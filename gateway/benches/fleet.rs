//! The fleet world: 10,000 orgs with Zipf-distributed sizes (the largest
//! as large as the larger org of the L world: 100k resources), served as a
//! policy bundle over HTTP by a static server in this process, fetched by
//! real gateways.
//!
//! `cargo bench -p reqflo-gateway --bench fleet -- [--changes N]`
//! (default 100 small-org changes, 3 largest-org changes). Prints: the
//! world; cold start from the HTTP server and from the local cache
//! (→ the whole world serving); resident memory of a gateway serving the
//! whole world and a 1/4 shard (each in its own process); per change, the
//! poll wait (publish → the manifest fetched) and the activation (the
//! manifest fetched → the new decision serving), medians and p90; bytes
//! fetched per change; the slowest decision during the activations.

#![expect(
    clippy::unwrap_used,
    reason = "benchmark harness: any setup failure aborts the run"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use reqflo_config::bundle::{FORMAT, Manifest, OrgEntry, sha256_hex, write_atomically};
use reqflo_gateway::{Gateway, Options, Running};
use reqflo_policy::Document;
use reqflo_policy::synthetic::{Shape, generate_shape};

const ORGS: usize = 10_000;
const LARGEST: usize = 100_000;
const ZIPF_S: f64 = 0.97;

fn org_id(i: usize) -> String {
    format!("org-{i:05}")
}

/// Org `i`'s resources: 100k / (i + 1)^0.97, at least 10.
fn resources_of(i: usize) -> usize {
    ((LARGEST as f64 / ((i + 1) as f64).powf(ZIPF_S)) as usize).max(10)
}

/// Org `i`: the L world's per-org proportions (a user per 4 resources, a
/// group per 40, a service per 200, 2.5 grants per resource).
fn org(i: usize) -> Document {
    let r = resources_of(i);
    let shape = Shape {
        orgs: 1,
        users: (r / 4).max(3),
        groups: (r / 40).max(1),
        services: (r / 200).max(1),
        resources: r,
        grants: r * 5 / 2,
        max_depth: 5,
    };
    let mut doc = generate_shape(&shape, i as u64);
    let id = org_id(i);
    for o in &mut doc.orgs {
        o.id.clone_from(&id);
    }
    for u in &mut doc.users {
        for m in &mut u.memberships {
            m.org.clone_from(&id);
        }
    }
    doc
}

/// Writes an org's document (content-addressed, as `bundle build` does)
/// and returns its manifest entry.
fn write_org(dir: &Path, doc: &Document) -> OrgEntry {
    let bytes = serde_json::to_vec(doc).unwrap();
    let sha256 = sha256_hex(&bytes);
    let id = &doc.orgs[0].id;
    let file = format!("orgs/{id}.{}.json", &sha256[..16]);
    let path = dir.join(&file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    write_atomically(&path, &bytes).unwrap();
    OrgEntry {
        org: id.clone(),
        file,
        sha256,
        size: bytes.len() as u64,
    }
}

fn write_manifest(dir: &Path, entries: &[OrgEntry], n: usize) -> String {
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        revision: format!("fleet-{n}"),
        all_or_nothing: false,
        orgs: entries.to_vec(),
        signature: None,
    };
    write_atomically(
        &dir.join("manifest.json"),
        &serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    manifest.revision
}

/// A static server for a bundle directory with SHA-256 ETags; records
/// when each manifest request answered 200; 503 while `down`.
struct Server {
    addr: SocketAddr,
    manifest_fetched: Arc<Mutex<Vec<Instant>>>,
    down: Arc<AtomicBool>,
}

fn serve(root: PathBuf, runtime: &tokio::runtime::Runtime) -> Server {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let fetched = Arc::new(Mutex::new(Vec::new()));
    let down = Arc::new(AtomicBool::new(false));
    let (f, d) = (fetched.clone(), down.clone());
    runtime.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let (root, f, d) = (root.clone(), f.clone(), d.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (root, f, d) = (root.clone(), f.clone(), d.clone());
                    async move {
                        let path = req.uri().path().trim_start_matches('/').to_owned();
                        let mut r = hyper::Response::new(Full::new(Bytes::new()));
                        if d.load(Ordering::Relaxed) {
                            *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                            return Ok::<_, std::convert::Infallible>(r);
                        }
                        let Ok(body) = std::fs::read(root.join(&path)) else {
                            *r.status_mut() = http::StatusCode::NOT_FOUND;
                            return Ok(r);
                        };
                        // The manifest's ETag is its hash; an org file's
                        // name already is (a static server's ETag costs
                        // no hashing, so neither does this one's).
                        let etag = if path == "manifest.json" {
                            format!("\"{}\"", sha256_hex(&body))
                        } else {
                            format!("\"{path}\"")
                        };
                        r.headers_mut()
                            .insert(http::header::ETAG, etag.parse().unwrap());
                        if req
                            .headers()
                            .get(http::header::IF_NONE_MATCH)
                            .is_some_and(|v| v.as_bytes() == etag.as_bytes())
                        {
                            *r.status_mut() = http::StatusCode::NOT_MODIFIED;
                            return Ok(r);
                        }
                        if path == "manifest.json" {
                            f.lock().unwrap().push(Instant::now());
                        }
                        *r.body_mut() = Full::new(Bytes::from(body));
                        Ok(r)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    Server {
        addr,
        manifest_fetched: fetched,
        down,
    }
}

fn config(url: &str, cache: &Path, extra: &str) -> String {
    format!(
        "listen: {{ proxy: \"127.0.0.1:0\", admin: \"127.0.0.1:0\" }}\npolicy: {}\nupstreams:\n  api: {{ address: \"127.0.0.1:9\" }}\nidentity:\n  trusted_header: {{ header: x-user, trusted_sources: [\"127.0.0.1\"] }}\nreload: {{ access_diff: false }}\nbundle:\n  url: {url}\n  poll_interval_ms: 50\n  poll_jitter_ms: 0\n  fetch_timeout_ms: 120000\n{extra}routes:\n  - {{ id: run, methods: [POST], path: \"/orgs/{{org}}/journeys/{{journey}}/runs\", action: run, org: \"{{org}}\", resource: \"{{journey}}\", upstream: api }}\n",
        cache.join("manifest.json").display()
    )
}

/// Starts a gateway on `text` and waits until its bundle serves.
fn start(dir: &Path, name: &str, text: &str) -> (Running, Duration) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let t = Instant::now();
    let running = Gateway::start(Options::ephemeral(&path)).unwrap();
    while running
        .snapshot()
        .load()
        .bundle
        .as_ref()
        .is_none_or(|b| b.missing)
    {
        assert!(
            t.elapsed() < Duration::from_secs(900),
            "no bundle within 900 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    (running, t.elapsed())
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn pct(mut values: Vec<Duration>, p: f64) -> Duration {
    values.sort();
    values[((values.len() - 1) as f64 * p).round() as usize]
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// `--rss URL CACHE [shard]`: a child process that loads the bundle from
/// the cache (the server down) and prints its resident memory.
fn rss_child(args: &[String]) {
    let (url, cache) = (&args[1], PathBuf::from(&args[2]));
    let shard = args
        .get(3)
        .map_or("", |_| "  shard: { index: 0, count: 4 }\n");
    let dir = tempfile::tempdir().unwrap();
    let (running, took) = start(dir.path(), "g.yaml", &config(url, &cache, shard));
    let snapshot = running.snapshot().load_full();
    let b = snapshot.bundle.clone().unwrap();
    println!(
        "{} orgs, {} resources: RSS {:.0} MiB (loaded in {:.1} s)",
        b.orgs.len(),
        snapshot.policy.counts().resources,
        rss_mib(),
        took.as_secs_f64()
    );
    drop(snapshot);
    running.stop();
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().is_some_and(|a| a == "--rss") {
        return rss_child(&args);
    }
    let changes = args
        .iter()
        .position(|a| a == "--changes")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let work = tempfile::tempdir().unwrap();
    let published = work.path().join("published");

    // The world, one org at a time (never all in memory as documents).
    let t = Instant::now();
    let mut entries = Vec::with_capacity(ORGS);
    let (mut resources, mut bytes) = (0usize, 0u64);
    let (mut largest, mut small) = (None, None);
    for i in 0..ORGS {
        let doc = org(i);
        resources += doc.orgs[0].resources.len();
        let entry = write_org(&published, &doc);
        bytes += entry.size;
        entries.push(entry);
        if i == 0 {
            largest = Some(doc);
        } else if i == ORGS - 1 {
            small = Some(doc);
        }
    }
    let mut revision = write_manifest(&published, &entries, 0);
    println!(
        "fleet world: {ORGS} orgs, {resources} resources (largest {}, smallest {}), {:.0} MB of org documents, manifest {:.1} MB; generated and written in {:.1} s",
        resources_of(0),
        resources_of(ORGS - 1),
        bytes as f64 / 1e6,
        std::fs::metadata(published.join("manifest.json")).map_or(0.0, |m| m.len() as f64 / 1e6),
        t.elapsed().as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = serve(published.clone(), &runtime);
    let url = format!("http://{}", server.addr);
    let cache = work.path().join("cache");

    // Cold start from the server (empty cache), then from the cache alone.
    let (running, from_server) = start(work.path(), "a.yaml", &config(&url, &cache, ""));
    running.stop();
    server.down.store(true, Ordering::Relaxed);
    let (running, from_cache) = start(work.path(), "b.yaml", &config(&url, &cache, ""));
    running.stop();
    println!(
        "cold start → the whole world serving: from the HTTP server (empty cache) {:.1} s; from the local cache (server down) {:.1} s",
        from_server.as_secs_f64(),
        from_cache.as_secs_f64()
    );

    // Resident memory, each in its own process (the server down: from the cache).
    let exe = std::env::current_exe().unwrap();
    for shard in [false, true] {
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg("--rss").arg(&url).arg(&cache);
        if shard {
            cmd.arg("shard");
        }
        let out = cmd.output().unwrap();
        println!(
            "resident memory, {}: {}",
            if shard {
                "a 1/4 hash shard"
            } else {
                "the whole world"
            },
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    server.down.store(false, Ordering::Relaxed);

    // Changes, with a reader deciding the whole time.
    let (running, _) = start(work.path(), "c.yaml", &config(&url, &cache, ""));
    let handle = running.snapshot();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (handle, stop) = (handle.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let s = handle.load();
                let request = reqflo_policy::Request {
                    org: "org-00000",
                    user: "u1",
                    action: "view".into(),
                    resource: "nothing",
                    environment: None,
                };
                std::hint::black_box(reqflo_policy::decide(&s.policy, &request));
                worst = worst.max(t.elapsed());
                n += 1;
                if n.is_multiple_of(100) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            worst
        })
    };
    let mut run = 0;
    let mut measure = |index: usize, doc: &mut Document, count: usize| {
        let (mut waits, mut activations, mut per_change) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..count {
            run += 1;
            doc.orgs[0].name = Some(format!("change {run}"));
            entries[index] = write_org(&published, doc);
            let before_bytes = running.metrics().bundle_fetch_bytes.get();
            let seen = server.manifest_fetched.lock().unwrap().len();
            revision = write_manifest(&published, &entries, run);
            let published_at = Instant::now();
            while handle
                .load()
                .bundle
                .as_ref()
                .is_none_or(|b| b.revision != revision)
            {
                assert!(published_at.elapsed() < Duration::from_secs(300));
                std::thread::sleep(Duration::from_micros(200));
            }
            let serving_at = Instant::now();
            let fetched_at = server
                .manifest_fetched
                .lock()
                .unwrap()
                .get(seen)
                .copied()
                .unwrap_or(published_at);
            waits.push(fetched_at.saturating_duration_since(published_at));
            activations.push(serving_at.saturating_duration_since(fetched_at));
            per_change.push(running.metrics().bundle_fetch_bytes.get() - before_bytes);
        }
        (waits, activations, per_change)
    };
    let mut doc = small.unwrap();
    let (waits, activations, bytes) = measure(ORGS - 1, &mut doc, changes);
    println!(
        "small org ({} resources), {changes} changes: activation (manifest fetched → new decision serving) p50 {} p90 {}; poll wait (published → manifest fetched, polls every 50 ms) p50 {}; bytes fetched per change median {}",
        resources_of(ORGS - 1),
        ms(pct(activations.clone(), 0.5)),
        ms(pct(activations, 0.9)),
        ms(pct(waits, 0.5)),
        median(bytes)
    );
    let mut doc = largest.unwrap();
    let (waits, activations, bytes) = measure(0, &mut doc, 3);
    println!(
        "largest org ({} resources), 3 changes: activation p50 {} (max {}); poll wait p50 {}; bytes fetched per change median {}",
        resources_of(0),
        ms(pct(activations.clone(), 0.5)),
        ms(pct(activations, 1.0)),
        ms(pct(waits, 0.5)),
        median(bytes)
    );
    stop.store(true, Ordering::Relaxed);
    let worst = reader.join().unwrap();
    println!(
        "slowest load()+decide during the activations (includes preemption): {:.1} µs",
        worst.as_secs_f64() * 1e6
    );
    running.stop();
}
