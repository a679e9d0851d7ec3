//! A policy bundle fetched over HTTP: from a real nginx (Debian's package)
//! serving a directory with ETags, and from a fault-injecting server of the
//! tests' own. The cache a replica starts from when the server is down;
//! not ready without either; every fault keeping the last good bundle and
//! saying why; a stale bundle denying production requests and nothing else.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqflo_config::AssertionKey;
use reqflo_tests::bundle_server::{BundleServer, Fault, publish};
use reqflo_tests::{
    Env, Files, Gateway, OrPanic, assert_allowed, bearer, fixture_files, tools,
    with_production_grant,
};

const VIEW: &str = "/api/v1/orgs/acme/journeys/checkout-smoke";
const PROD_RUN: &str = "/api/v1/orgs/acme/environments/production/journeys/checkout-smoke/runs";
const BOUND: Duration = Duration::from_secs(30);

/// The fixture route config with its policy fetched from `url` into `cache`.
fn files(url: &str, cache: &Path, extra: &str) -> Files {
    let fixtures = fixture_files();
    Files {
        config: format!(
            "{}\nbundle:\n  url: {url}\n  poll_interval_ms: 100\n  poll_jitter_ms: 0\n  fetch_timeout_ms: 2000\n{extra}",
            fixtures.config.replace(
                "policy: policy.yaml",
                &format!("policy: {}", cache.join("manifest.json").display())
            )
        ),
        policy: String::new(),
    }
}

/// The fixture config's placeholders filled for a gateway started without
/// an upstream (`Gateway::start_unready` takes the text as it is).
fn runnable(config: &str) -> String {
    config
        .replace("{{UPSTREAM}}", "127.0.0.1:9")
        .replace("{{DEAD}}", "127.0.0.1:9")
        .replace(
            "{{KEYS}}",
            &reqflo_tests::jwt::keys_dir().display().to_string(),
        )
}

fn ed25519(kid: &str) -> (AssertionKey, String) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).or_panic("an Ed25519 key");
    let key =
        AssertionKey::from_pem("EdDSA", kid, &pair.serialize_pem()).or_panic("the key parses");
    (key, pair.public_key_pem())
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A port free now, for nginx (which cannot report a port it picked).
fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").or_panic("bind a free port");
    listener.local_addr().or_panic("the free port")
}

/// A foreground nginx serving `root`; killed when dropped.
struct Nginx {
    child: std::process::Child,
    addr: SocketAddr,
    prefix: PathBuf,
    _dir: tempfile::TempDir,
}

impl Nginx {
    async fn start(binary: &Path, root: &Path) -> Nginx {
        let dir = tempfile::tempdir().or_panic("an nginx prefix");
        let prefix = dir.path().to_path_buf();
        let addr = free_port();
        let p = prefix.display();
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/error.log warn;\nevents {{ worker_connections 64; }}\nhttp {{\n    access_log {p}/access.log;\n    client_body_temp_path {p}/body;\n    proxy_temp_path {p}/proxy;\n    fastcgi_temp_path {p}/fastcgi;\n    uwsgi_temp_path {p}/uwsgi;\n    scgi_temp_path {p}/scgi;\n    types {{ application/json json; }}\n    server {{\n        listen {addr};\n        root {};\n    }}\n}}\n",
            root.display()
        );
        std::fs::write(prefix.join("nginx.conf"), conf).or_panic("write nginx.conf");
        let child = std::process::Command::new(binary)
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .or_panic("start nginx");
        let deadline = Instant::now() + BOUND;
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen on {addr}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Nginx {
            child,
            addr,
            prefix,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `GET` lines of the access log whose target starts with `prefix`, by status.
    fn gets(&self, prefix: &str, status: &str) -> usize {
        std::fs::read_to_string(self.prefix.join("access.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.contains(&format!("\"GET {prefix}")) && l.contains(&format!("\" {status} "))
            })
            .count()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_from_nginx_is_fetched_confirmed_by_etag_and_refetched_org_by_org() {
    let Some(binary) = tools::find("nginx", "nginx") else {
        return;
    };
    let published = tempfile::tempdir().or_panic("a publish directory");
    let cache = tempfile::tempdir().or_panic("a cache directory");
    let cache_dir = cache.path().join("bundle");
    let policy = fixture_files().policy;
    let first = publish(&policy, published.path(), None);
    let nginx = Nginx::start(&binary, published.path()).await;
    let env = Env::start_with(&files(&nginx.url(), &cache_dir, "")).await;

    assert_allowed(
        "served from the fetched bundle",
        &env.client
            .get(VIEW, &[("authorization", &bearer("alice"))])
            .await,
    );
    let status = env.policy_status().await;
    assert_eq!(status["bundle"]["revision"], first.as_str(), "{status:#}");
    assert_eq!(status["bundle_source"]["origin"], "server", "{status:#}");
    assert!(
        cache_dir.join("manifest.json").is_file(),
        "the manifest is cached"
    );
    assert_eq!(nginx.gets("/orgs/", "200"), 2, "each org file fetched once");

    // nginx answers the manifest's ETag with 304s: polls that cost nothing.
    until("304s from nginx", async || {
        nginx.gets("/manifest.json", "304") >= 3
    })
    .await;
    let metrics = env.metrics().await;
    assert!(
        metrics.sum(
            "reqflo_gateway_bundle_polls_total",
            &[("outcome", "not_modified")]
        ) >= 3.0
    );
    assert!(metrics.sum("reqflo_gateway_bundle_confirmed_age_seconds", &[]) < 10.0);

    // Republished with acme changed: only acme's file is fetched again.
    let second = publish(&with_production_grant(&policy), published.path(), None);
    env.policy_until("the republished bundle", |s| {
        s["bundle"]["revision"] == second.as_str()
    })
    .await;
    assert_allowed(
        "after the republish",
        &env.client
            .post(PROD_RUN, &[("authorization", &bearer("alice"))], "")
            .await,
    );
    assert_eq!(
        nginx.gets("/orgs/globex", "200"),
        1,
        "globex is not fetched again"
    );
    assert_eq!(
        nginx.gets("/orgs/acme", "200"),
        2,
        "acme's new file is fetched"
    );
    let bytes = env
        .metrics()
        .await
        .sum("reqflo_gateway_bundle_fetch_bytes_total", &[]);
    assert!(bytes > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_starts_from_its_cache_when_the_server_is_down_and_is_not_ready_with_neither() {
    let published = tempfile::tempdir().or_panic("a publish directory");
    let cache = tempfile::tempdir().or_panic("a cache directory");
    let cache_dir = cache.path().join("bundle");
    let revision = publish(&fixture_files().policy, published.path(), None);
    let server = BundleServer::start(published.path().to_path_buf()).await;
    let url = server.url();
    {
        let env = Env::start_with(&files(&url, &cache_dir, "")).await;
        let status = env.policy_status().await;
        assert_eq!(status["bundle"]["revision"], revision.as_str());
    }
    drop(server); // the server is gone

    // From the cache: ready, serving, and saying so.
    let env = Env::start_with(&files(&url, &cache_dir, "")).await;
    assert_allowed(
        "served from the cache",
        &env.client
            .get(VIEW, &[("authorization", &bearer("alice"))])
            .await,
    );
    let status = env.policy_status().await;
    assert_eq!(
        status["bundle"]["revision"],
        revision.as_str(),
        "{status:#}"
    );
    assert_eq!(status["bundle_source"]["origin"], "cache", "{status:#}");
    let ready = env.gateway.admin().get("/readyz", &[]).await;
    assert_eq!(ready.status, 200);
    assert!(
        ready
            .text()
            .contains("served from the local cache, last confirmed by the server"),
        "{}",
        ready.text()
    );
    assert!(
        status["bundle_source"]["confirmed_age_seconds"]
            .as_f64()
            .is_some(),
        "{status:#}"
    );
    env.metrics_until("failed polls counted", |m| {
        m.sum("reqflo_gateway_bundle_polls_total", &[("outcome", "error")]) >= 1.0
    })
    .await;
    drop(env);

    // No cache and no server: not ready.
    let empty = cache.path().join("empty");
    let fixtures = files(&url, &empty, "");
    let gateway = Gateway::start_unready(&runnable(&fixtures.config), "", |_| {}).await;
    let body = gateway.wait_not_ready_with("nothing cached").await;
    assert!(body.contains("cannot be fetched"), "{body}");
    drop(gateway);

    // A corrupt cache: ignored with a warning, never half-loaded: not ready.
    std::fs::write(
        cache_dir.join("manifest.json"),
        "{\"format\": \"reqflo-policy-bundle/1\", \"orgs\": [",
    )
    .or_panic("corrupt the cache");
    let fixtures = files(&url, &cache_dir, "");
    let gateway = Gateway::start_unready(&runnable(&fixtures.config), "", |_| {}).await;
    gateway.wait_not_ready_with("nothing cached").await;
    let status = gateway.running().policy_status();
    assert!(
        status["bundle"]["cache_ignored"]
            .as_str()
            .is_some_and(|s| s.contains("not a bundle manifest")),
        "{status:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_keeps_the_last_good_bundle_and_says_why() {
    let published = tempfile::tempdir().or_panic("a publish directory");
    let cache = tempfile::tempdir().or_panic("a cache directory");
    let keys = tempfile::tempdir().or_panic("a key directory");
    let (key, public) = ed25519("bundle-1");
    let public_path = keys.path().join("bundle.pub.pem");
    std::fs::write(&public_path, public).or_panic("write the public key");
    let policy = fixture_files().policy;
    let first = publish(&policy, published.path(), Some(&key));
    let server = BundleServer::start(published.path().to_path_buf()).await;
    let extra = format!(
        "  public_key: {}\n  max_org_bytes: 1000000\n",
        public_path.display()
    );
    let env = Env::start_with(&files(&server.url(), &cache.path().join("b"), &extra)).await;
    assert_eq!(env.policy_status().await["bundle"]["signature"], "verified");

    // The next bundle, with alice allowed in production, meets one fault after another.
    let next = with_production_grant(&policy);
    let (other, _) = ed25519("someone-else");
    let faults: [(&str, Fault, Option<&AssertionKey>); 6] = [
        ("answered 500", Fault::Status(500), Some(&key)),
        ("has SHA-256", Fault::ChangedByte, Some(&key)),
        ("bytes, the manifest says", Fault::Truncated, Some(&key)),
        (
            "more bytes, the manifest says",
            Fault::Oversized,
            Some(&key),
        ),
        (
            "did not answer within",
            Fault::Stall(Duration::from_secs(5)),
            Some(&key),
        ),
        ("signature does not verify", Fault::None, Some(&other)),
    ];
    for (why, fault, signer) in faults {
        server.set(fault);
        publish(&next, published.path(), signer);
        let status = env
            .policy_until(why, |s| {
                s["bundle_source"]["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains(why))
            })
            .await;
        assert_eq!(
            status["bundle"]["revision"],
            first.as_str(),
            "{why}: {status:#}"
        );
        let response = env
            .client
            .post(PROD_RUN, &[("authorization", &bearer("alice"))], "")
            .await;
        assert_eq!(response.status, 403, "{why}: {}", response.text());
        server.set(Fault::None);
        // Back to the good bundle, so the next fault meets a changed manifest.
        publish(&policy, published.path(), Some(&key));
        env.policy_until("the good bundle again", |s| {
            s["bundle_source"]["last_error"].is_null() && s["bundle"]["revision"] == first.as_str()
        })
        .await;
    }
    let metrics = env.metrics().await;
    assert!(metrics.sum("reqflo_gateway_bundle_polls_total", &[("outcome", "error")]) >= 6.0);

    // Without faults the change applies.
    let second = publish(&next, published.path(), Some(&key));
    env.policy_until("the good change", |s| {
        s["bundle"]["revision"] == second.as_str()
    })
    .await;
    assert_allowed(
        "after the good change",
        &env.client
            .post(PROD_RUN, &[("authorization", &bearer("alice"))], "")
            .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_bundle_denies_production_requests_and_keeps_normal_ones() {
    let published = tempfile::tempdir().or_panic("a publish directory");
    let cache = tempfile::tempdir().or_panic("a cache directory");
    publish(
        &with_production_grant(&fixture_files().policy),
        published.path(),
        None,
    );
    let server = BundleServer::start(published.path().to_path_buf()).await;
    let extra = "  max_staleness_ms: 1000\n  stale_protects: [production, destructive]\n";
    let env = Env::start_with(&files(&server.url(), &cache.path().join("b"), extra)).await;
    let prod_run = async || {
        env.client
            .post(PROD_RUN, &[("authorization", &bearer("alice"))], "")
            .await
    };
    assert_allowed("fresh", &prod_run().await);
    assert_eq!(env.upstream.take().len(), 1);

    // The server fails: past a second, production runs are refused.
    server.set(Fault::Status(503));
    env.metrics_until("stale", |m| {
        m.sum("reqflo_gateway_bundle_stale", &[]) == 1.0
    })
    .await;
    let response = prod_run().await;
    assert_eq!(response.status, 403, "{}", response.text());
    let body = response.json();
    assert_eq!(body["code"], "policy_stale", "{body}");
    assert_eq!(body["decision"], "deny");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("longer than the 1 s allowed for production requests"),
        "{message}"
    );
    assert!(
        message.contains("requests without production risk still work"),
        "{message}"
    );
    // A normal request still works, and nothing stale was forwarded.
    assert_allowed(
        "a normal request while stale",
        &env.client
            .get(VIEW, &[("authorization", &bearer("alice"))])
            .await,
    );
    assert_eq!(
        env.upstream.take().len(),
        1,
        "only the normal request is forwarded"
    );
    let status = env.policy_status().await;
    assert_eq!(status["bundle_source"]["stale"], true, "{status:#}");
    let ready = env.gateway.admin().get("/readyz", &[]).await;
    assert_eq!(
        ready.status,
        200,
        "stale_not_ready is off: {}",
        ready.text()
    );
    env.metrics_until("the stale denial counted", |m| {
        m.sum(
            "reqflo_gateway_stale_denials_total",
            &[("risk", "production")],
        ) >= 1.0
    })
    .await;

    // The server is back: confirmed again, production runs allowed again.
    server.set(Fault::None);
    env.metrics_until("fresh again", |m| {
        m.sum("reqflo_gateway_bundle_stale", &[]) == 0.0
    })
    .await;
    assert_allowed("fresh again", &prod_run().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_bundle_can_turn_readyz_off() {
    let published = tempfile::tempdir().or_panic("a publish directory");
    let cache = tempfile::tempdir().or_panic("a cache directory");
    publish(&fixture_files().policy, published.path(), None);
    let server = BundleServer::start(published.path().to_path_buf()).await;
    let extra = "  max_staleness_ms: 500\n  stale_not_ready: true\n";
    let env = Env::start_with(&files(&server.url(), &cache.path().join("b"), extra)).await;
    let admin = env.gateway.admin();
    assert_eq!(admin.get("/readyz", &[]).await.status, 200);
    server.set(Fault::Status(500));
    until("not ready while stale", async || {
        let ready = admin.get("/readyz", &[]).await;
        ready.status == 503 && ready.text().contains("stale: not confirmed by the server")
    })
    .await;
    server.set(Fault::None);
    until("ready again", async || {
        admin.get("/readyz", &[]).await.status == 200
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_that_cannot_be_written_keeps_the_last_good_bundle() {
    let published = tempfile::tempdir().or_panic("a publish directory");
    let cache = tempfile::tempdir().or_panic("a cache directory");
    let cache_dir = cache.path().join("b");
    let policy = fixture_files().policy;
    let first = publish(&policy, published.path(), None);
    let server = BundleServer::start(published.path().to_path_buf()).await;
    let env = Env::start_with(&files(&server.url(), &cache_dir, "")).await;

    // The cache's org directory becomes a file: nothing can be written there
    // (as on a full or read-only disk).
    let orgs = cache_dir.join("orgs");
    let kept = cache_dir.join("orgs.kept");
    std::fs::rename(&orgs, &kept).or_panic("move the cached orgs away");
    std::fs::write(&orgs, "not a directory").or_panic("put a file in their place");
    let second = publish(&with_production_grant(&policy), published.path(), None);
    let status = env
        .policy_until("the write failure", |s| {
            s["bundle_source"]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("cannot create the cache directory"))
        })
        .await;
    assert_eq!(status["bundle"]["revision"], first.as_str(), "{status:#}");
    let cached: serde_json::Value = serde_json::from_slice(
        &std::fs::read(cache_dir.join("manifest.json")).or_panic("read the cached manifest"),
    )
    .or_panic("the cached manifest parses");
    assert_eq!(
        cached["revision"],
        first.as_str(),
        "the cache keeps the last good manifest"
    );

    // Writable again: the new bundle applies.
    std::fs::remove_file(&orgs).or_panic("remove the file");
    std::fs::rename(&kept, &orgs).or_panic("put the cached orgs back");
    env.policy_until("the new bundle", |s| {
        s["bundle"]["revision"] == second.as_str()
    })
    .await;
    assert_allowed(
        "after the cache is writable again",
        &env.client
            .post(PROD_RUN, &[("authorization", &bearer("alice"))], "")
            .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_brings_a_change_long_before_the_poll_interval() {
    let published = tempfile::tempdir().or_panic("a publish directory");
    let cache = tempfile::tempdir().or_panic("a cache directory");
    let policy = fixture_files().policy;
    publish(&policy, published.path(), None);
    let server = BundleServer::start(published.path().to_path_buf()).await;
    // Polls a minute apart, each held by the server for up to 20 s.
    let config = files(
        &server.url(),
        &cache.path().join("b"),
        "  long_poll_seconds: 20\n",
    )
    .config
    .replace("poll_interval_ms: 100", "poll_interval_ms: 60000");
    let env = Env::start_with(&Files {
        config,
        policy: String::new(),
    })
    .await;
    until("a held poll", async || {
        server.long_polls() == 0 && server.requests("/manifest.json") >= 2
    })
    .await;
    let published_at = Instant::now();
    let second = publish(&with_production_grant(&policy), published.path(), None);
    env.policy_until("the change through the long poll", |s| {
        s["bundle"]["revision"] == second.as_str()
    })
    .await;
    assert!(
        published_at.elapsed() < Duration::from_secs(10),
        "the change waited for the poll interval: {:?}",
        published_at.elapsed()
    );
    assert_eq!(server.long_polls(), 1, "the held poll answered the change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grown_shard_fetches_and_serves_the_orgs_its_cache_lacks() {
    let published = tempfile::tempdir().or_panic("a publish directory");
    let cache = tempfile::tempdir().or_panic("a cache directory");
    let cache_dir = cache.path().join("b");
    publish(&fixture_files().policy, published.path(), None);
    let server = BundleServer::start(published.path().to_path_buf()).await;
    {
        // A replica of the acme shard: its cache holds acme only.
        let env = Env::start_with(&files(
            &server.url(),
            &cache_dir,
            "  shard: { orgs: [acme] }\n",
        ))
        .await;
        let status = env.policy_status().await;
        assert_eq!(
            status["bundle"]["orgs"].as_array().map(Vec::len),
            Some(1),
            "{status:#}"
        );
    }
    assert_eq!(server.requests_under("/orgs/globex"), 0);

    // Restarted to serve every org, from the same cache, the manifest unchanged:
    // globex is fetched and served.
    let env = Env::start_with(&files(&server.url(), &cache_dir, "")).await;
    let status = env
        .policy_until("globex served", |s| {
            s["bundle"]["orgs"].as_array().is_some_and(|orgs| {
                orgs.iter().any(|o| {
                    o["org"] == "globex"
                        && o["rejected"].as_array().is_some_and(Vec::is_empty)
                        && o["serving_sha256"] == o["sha256"]
                })
            })
        })
        .await;
    assert_eq!(server.requests_under("/orgs/globex"), 1, "{status:#}");
    assert_eq!(
        server.requests_under("/orgs/acme"),
        1,
        "acme came from the cache"
    );
}
