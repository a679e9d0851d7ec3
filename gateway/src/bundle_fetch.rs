//! Fetching a policy bundle over HTTP(S) into its local cache.
//!
//! The data flows one way: the server → the cache directory (the directory
//! of `policy:`) → the config loader, which reads the cached manifest and
//! org files as it reads any bundle directory → the snapshot. Each poll
//! asks for `manifest.json` with `If-None-Match` (a 304 costs nothing but
//! confirms the bundle), optionally held by the server (`Prefer: wait=N`).
//! A new manifest is verified (its signature, when a key is configured),
//! then every org file of this gateway's shard that is not cached yet is
//! fetched, cut off past its declared size, checked against its SHA-256 and
//! written atomically; only when every one of them is in the cache is the
//! manifest written (atomically, last) and a reload asked for. A failure
//! writes nothing the loader would read: the last good bundle keeps
//! serving, and the error shows in `/policy`, the log and the metrics.
//! Errors back off (1 s doubling, up to the poll interval). One poll in ten
//! is unconditional, for servers whose ETags miss a quick republish.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::ConfigBuilderExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use reqflo_config::Snapshot;
use reqflo_config::bundle::{
    BundleSettings, FetchSettings, MANIFEST_FILE, Manifest, sha256_hex, write_atomically,
};

use crate::metrics::Metrics;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The largest manifest accepted (a 10,000-org manifest is ~2 MB).
const MAX_MANIFEST: u64 = 64 << 20;
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// One manifest poll in this many is sent without `If-None-Match`.
const UNCONDITIONAL_EVERY: u32 = 10;

/// Where the serving bundle came from, for `/policy` and `/readyz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Nothing fetched by this process and nothing cached.
    None,
    /// The cache, written by an earlier run; the server has not answered yet.
    Cache,
    /// The server answered this process (a 200 or a 304).
    Server,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::None => "none",
            Origin::Cache => "cache",
            Origin::Server => "server",
        }
    }
}

#[derive(Debug)]
struct Status {
    etag: Option<String>,
    last_error: Option<String>,
    failures: u32,
    origin: Origin,
    last_outcome: &'static str,
    /// Org files verified in the cache by this process.
    verified: HashSet<String>,
    /// Whether the last staleness logged was "stale".
    stale_logged: bool,
    /// Conditional polls since the last unconditional one.
    conditional: u32,
    /// The shard for which the cache holds every file of the cached
    /// manifest (`None` before this process checked): a shard that changed
    /// (or a new process) fetches what its orgs lack even when the
    /// manifest did not change.
    complete_for: Option<reqflo_config::bundle::Shard>,
}

/// The bundle source of one gateway: its state and its fetch task.
pub struct BundleSource {
    /// Unix milliseconds of the last confirmation by the server (or of
    /// the cached manifest's last write, from an earlier run); 0: never.
    confirmed_at_ms: AtomicU64,
    status: Mutex<Status>,
    metrics: Metrics,
}

impl std::fmt::Debug for BundleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleSource").finish_non_exhaustive()
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl BundleSource {
    pub fn new(metrics: Metrics) -> BundleSource {
        BundleSource {
            confirmed_at_ms: AtomicU64::new(0),
            status: Mutex::new(Status {
                etag: None,
                last_error: None,
                failures: 0,
                origin: Origin::None,
                last_outcome: "none",
                verified: HashSet::new(),
                stale_logged: false,
                conditional: 0,
                complete_for: None,
            }),
            metrics,
        }
    }

    /// Seeds the state from the cache an earlier run left: its manifest's
    /// last write counts as its last confirmation.
    pub fn seed_from_cache(&self, settings: &BundleSettings) {
        let manifest = settings.cache_dir.join(MANIFEST_FILE);
        if let Ok(modified) = std::fs::metadata(&manifest).and_then(|m| m.modified()) {
            self.confirmed_at_ms
                .store(unix_ms(modified), Ordering::Relaxed);
            if let Ok(mut s) = self.status.lock() {
                s.origin = Origin::Cache;
            }
        }
    }

    /// How long since the server last confirmed the bundle; `None` when it never did.
    pub fn age(&self) -> Option<Duration> {
        let at = self.confirmed_at_ms.load(Ordering::Relaxed);
        (at != 0).then(|| Duration::from_millis(unix_ms(SystemTime::now()).saturating_sub(at)))
    }

    /// Whether the bundle is past `max` without a confirmation (never confirmed counts as stale).
    pub fn is_stale(&self, max: Duration) -> bool {
        self.age().is_none_or(|age| age > max)
    }

    pub fn origin(&self) -> Origin {
        self.status.lock().map_or(Origin::None, |s| s.origin)
    }

    /// Logs when the bundle turns stale and when it is fresh again.
    fn log_staleness(&self, settings: &BundleSettings) {
        let Some(staleness) = &settings.staleness else {
            return;
        };
        let stale = self.is_stale(staleness.max);
        let Ok(mut s) = self.status.lock() else {
            return;
        };
        if stale != s.stale_logged {
            s.stale_logged = stale;
            let protects: Vec<&str> = staleness.protects.iter().map(|l| l.as_str()).collect();
            if stale {
                tracing::warn!(target: "reqflo_gateway::bundle", max_staleness_s = staleness.max.as_secs(), ?protects, last_error = ?s.last_error, "policy bundle stale: requests of the protected risk levels are denied policy_stale");
            } else {
                tracing::info!(target: "reqflo_gateway::bundle", ?protects, "policy bundle confirmed again: protected requests are allowed again");
            }
        }
    }

    fn confirmed(&self) {
        self.confirmed_at_ms
            .store(unix_ms(SystemTime::now()), Ordering::Relaxed);
    }

    /// `/policy`'s view of the source.
    pub fn status_json(&self, settings: &BundleSettings) -> serde_json::Value {
        let origin = self.origin();
        let age = self.age().map(|a| a.as_secs_f64());
        // Taken after `origin()`, which takes the same lock.
        let status = self.status.lock().ok();
        serde_json::json!({
            "url": settings.fetch.as_ref().map(|f| f.url.clone()),
            "cache_dir": settings.cache_dir,
            "origin": origin.as_str(),
            "confirmed_age_seconds": age,
            "stale": settings.staleness.as_ref().map(|s| self.is_stale(s.max)),
            "max_staleness_seconds": settings.staleness.as_ref().map(|s| s.max.as_secs_f64()),
            "stale_protects": settings.staleness.as_ref().map(|s| s.protects.iter().map(|l| l.as_str()).collect::<Vec<_>>()),
            "last_poll": status.as_ref().map(|s| s.last_outcome),
            "last_error": status.as_ref().and_then(|s| s.last_error.clone()),
            "failures": status.as_ref().map(|s| s.failures),
        })
    }

    /// Sets the gauges read at scrape time.
    pub fn observe(&self, settings: Option<&BundleSettings>) {
        let m = &self.metrics;
        match self.age() {
            Some(age) => m.bundle_confirmed_age.set(age.as_secs_f64()),
            None => m.bundle_confirmed_age.set(-1.0),
        }
        let stale = settings
            .and_then(|s| s.staleness.as_ref())
            .is_some_and(|s| self.is_stale(s.max));
        m.bundle_stale.set(if stale { 1 } else { 0 });
    }

    /// What `/readyz` adds when ready with a fetched bundle: where the
    /// serving bundle came from and how long ago the server confirmed it.
    pub fn ready_note(&self, snapshot: &Snapshot) -> Option<String> {
        let fetch = snapshot.settings.bundle.as_ref()?.fetch.as_ref()?;
        let age = self
            .age()
            .map_or("never".to_owned(), |a| format!("{} s ago", a.as_secs()));
        Some(format!(
            "policy bundle `{}` served from the {}, last confirmed by the server {age}",
            fetch.url,
            match self.origin() {
                Origin::Server => "server",
                Origin::Cache | Origin::None => "local cache",
            }
        ))
    }

    /// Why the gateway is not ready on the bundle's account.
    pub fn not_ready(&self, snapshot: &Snapshot) -> Option<String> {
        let settings = snapshot.settings.bundle.as_ref()?;
        let fetch = settings.fetch.as_ref()?;
        if snapshot.bundle.as_ref().is_some_and(|b| b.missing) {
            let why = self
                .status
                .lock()
                .ok()
                .and_then(|s| s.last_error.clone())
                .unwrap_or_else(|| "not fetched yet".to_owned());
            return Some(format!(
                "policy bundle `{}`: nothing cached in `{}` and not fetched: {why}",
                fetch.url,
                settings.cache_dir.display()
            ));
        }
        let staleness = settings.staleness.as_ref()?;
        (staleness.not_ready && self.is_stale(staleness.max)).then(|| {
            format!(
                "policy bundle `{}` stale: not confirmed by the server for {} (at most {} s)",
                fetch.url,
                self.age()
                    .map_or("ever".to_owned(), |a| format!("{} s", a.as_secs())),
                staleness.max.as_secs()
            )
        })
    }

    /// Starts the fetch task on `runtime`: it reads the bundle settings of
    /// the serving snapshot at every poll (idle while there is no `url`),
    /// and calls `reload` when it has written a new manifest.
    pub fn start(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        handle: Arc<ArcSwap<Snapshot>>,
        reload: Arc<dyn Fn() + Send + Sync>,
    ) {
        let client = match http_client() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(target: "reqflo_gateway::bundle", error = %e, "cannot build the bundle HTTP client");
                return;
            }
        };
        runtime.spawn(run(Arc::downgrade(self), handle, client, reload));
    }
}

async fn run(
    source: std::sync::Weak<BundleSource>,
    handle: Arc<ArcSwap<Snapshot>>,
    client: HttpsClient,
    reload: Arc<dyn Fn() + Send + Sync>,
) {
    let jitter_seed = std::hash::RandomState::new();
    let mut polls: u64 = 0;
    loop {
        let Some(source) = source.upgrade() else {
            return;
        };
        let snapshot = handle.load_full();
        let Some((settings, fetch)) = snapshot
            .settings
            .bundle
            .as_ref()
            .and_then(|b| b.fetch.as_ref().map(|f| (b.clone(), f.clone())))
        else {
            drop(source);
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        drop(snapshot);
        let started = tokio::time::Instant::now();
        let outcome = poll(&client, &source, &settings, &fetch).await;
        // With a long poll, poll again at once after a change or after the
        // server held the poll (it supports it); a server that answers at
        // once is polled at the interval, as without.
        let again_now = !fetch.long_poll.is_zero()
            && match &outcome {
                Ok((Polled::Updated { .. }, _)) => true,
                Ok((Polled::NotModified, _)) => started.elapsed() >= fetch.long_poll / 2,
                Err(_) => false,
            };
        let mut wait = source.record(outcome, &fetch, &reload);
        if again_now {
            wait = Duration::ZERO;
        }
        source.log_staleness(&settings);
        drop(source);
        polls = polls.wrapping_add(1);
        let jitter_ms = u64::try_from(fetch.poll_jitter.as_millis()).unwrap_or(0);
        let jitter = if jitter_ms == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(jitter_seed.hash_one(polls) % (jitter_ms + 1))
        };
        tokio::time::sleep(wait + jitter).await;
    }
}

/// What one poll did.
#[derive(Debug)]
enum Polled {
    /// 304, or the same manifest again.
    NotModified,
    /// A new manifest, its files fetched, written to the cache; what the
    /// clean-up after the reload needs.
    Updated {
        orgs_fetched: usize,
        manifest: Manifest,
        previous: Option<Vec<u8>>,
        cache: std::path::PathBuf,
    },
}

impl BundleSource {
    /// Records a poll's outcome; the wait before the next poll.
    fn record(
        &self,
        outcome: Result<(Polled, u64), String>,
        fetch: &FetchSettings,
        reload: &Arc<dyn Fn() + Send + Sync>,
    ) -> Duration {
        let m = &self.metrics;
        match outcome {
            Ok((polled, bytes)) => {
                m.bundle_fetch_bytes.inc_by(bytes);
                self.confirmed();
                let label = match &polled {
                    Polled::NotModified => "not_modified",
                    Polled::Updated { .. } => "updated",
                };
                m.bundle_polls.with_label_values(&[label]).inc();
                if let Ok(mut s) = self.status.lock() {
                    s.last_error = None;
                    s.failures = 0;
                    s.origin = Origin::Server;
                    s.last_outcome = label;
                }
                if let Polled::Updated {
                    orgs_fetched,
                    manifest,
                    previous,
                    cache,
                } = polled
                {
                    // The reload first; the clean-up (a directory listing)
                    // is not on the way to the new decision.
                    reload();
                    tracing::info!(target: "reqflo_gateway::bundle", url = %fetch.url, revision = %manifest.revision, orgs_fetched, bytes, "policy bundle fetched into the cache");
                    clean(self, &cache, &manifest, previous.as_deref());
                }
                fetch.poll_interval
            }
            Err(e) => {
                m.bundle_polls.with_label_values(&["error"]).inc();
                let failures = self
                    .status
                    .lock()
                    .map(|mut s| {
                        s.last_error = Some(e.clone());
                        s.failures = s.failures.saturating_add(1);
                        s.last_outcome = "error";
                        s.failures
                    })
                    .unwrap_or(1);
                tracing::warn!(target: "reqflo_gateway::bundle", url = %fetch.url, error = %e, failures, "policy bundle fetch failed; the last good bundle keeps serving");
                FIRST_RETRY
                    .saturating_mul(1 << failures.min(16).saturating_sub(1))
                    .min(fetch.poll_interval)
            }
        }
    }
}

/// One poll: the manifest, then what it names that is not cached.
async fn poll(
    client: &HttpsClient,
    source: &BundleSource,
    settings: &BundleSettings,
    fetch: &FetchSettings,
) -> Result<(Polled, u64), String> {
    let cache = &settings.cache_dir;
    let manifest_path = cache.join(MANIFEST_FILE);
    let cached = std::fs::read(&manifest_path).ok();
    // Every tenth poll is unconditional: nginx's ETag is the file's mtime
    // in seconds and its size, so two publishes within a second with
    // manifests of one size carry one ETag.
    let (complete, etag) = source
        .status
        .lock()
        .map(|mut s| {
            s.conditional = (s.conditional + 1) % UNCONDITIONAL_EVERY;
            let complete = s.complete_for.as_ref() == Some(&settings.shard);
            let etag = s
                .etag
                .clone()
                .filter(|_| s.conditional != 0 && complete && cached.is_some());
            (complete, etag)
        })
        .unwrap_or((false, None));
    let url = fetch.file_url(MANIFEST_FILE);
    let mut request = http::Request::get(&url)
        .header(http::header::USER_AGENT, "reqflo-gateway")
        .header(http::header::ACCEPT_ENCODING, "identity");
    if let Some(etag) = &etag {
        request = request.header(http::header::IF_NONE_MATCH, etag.as_str());
    }
    if !fetch.long_poll.is_zero() {
        request = request.header("prefer", format!("wait={}", fetch.long_poll.as_secs()));
    }
    let request = request
        .body(Empty::new())
        .map_err(|e| format!("`{url}` is not a request target: {e}"))?;
    let response = get(
        client,
        request,
        &url,
        fetch.timeout + fetch.long_poll,
        MAX_MANIFEST,
    )
    .await?;
    let mut bytes = response.body.len() as u64;
    if response.status == http::StatusCode::NOT_MODIFIED {
        // Keep the cache's age honest across restarts.
        if let Ok(file) = std::fs::File::options().write(true).open(&manifest_path) {
            let _ = file.set_modified(SystemTime::now());
        }
        return Ok((Polled::NotModified, bytes));
    }
    let new_etag = response
        .headers
        .get(http::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.body;
    let manifest = Manifest::parse(&body).map_err(|e| format!("`{url}`: {e}"))?;
    if let Some(key) = &settings.key {
        manifest.verify(key).map_err(|e| format!("`{url}`: {e}"))?;
    }
    if complete && cached.as_deref() == Some(&body[..]) {
        set_etag(source, new_etag);
        return Ok((Polled::NotModified, bytes));
    }
    let orgs_dir = cache.join("orgs");
    std::fs::create_dir_all(&orgs_dir).map_err(|e| {
        format!(
            "cannot create the cache directory `{}`: {e}",
            orgs_dir.display()
        )
    })?;
    let mut fetched = 0;
    for entry in manifest
        .orgs
        .iter()
        .filter(|e| settings.shard.serves(&e.org))
    {
        if entry.file.starts_with('/') || entry.file.split('/').any(|p| p == ".." || p.is_empty()) {
            return Err(format!(
                "`{url}`: org `{}` names `{}`, not a path inside the bundle",
                entry.org, entry.file
            ));
        }
        if entry.size > settings.max_org_bytes {
            return Err(format!(
                "`{url}`: org `{}` is {} bytes, above `max_org_bytes` ({})",
                entry.org, entry.size, settings.max_org_bytes
            ));
        }
        let path = cache.join(&entry.file);
        if cached_ok(source, &path, &entry.file, &entry.sha256) {
            continue;
        }
        let file_url = fetch.file_url(&entry.file);
        let request = http::Request::get(&file_url)
            .header(http::header::USER_AGENT, "reqflo-gateway")
            .header(http::header::ACCEPT_ENCODING, "identity")
            .body(Empty::new())
            .map_err(|e| format!("`{file_url}` is not a request target: {e}"))?;
        let response = get(client, request, &file_url, fetch.timeout, entry.size).await?;
        if response.status != http::StatusCode::OK {
            return Err(format!("`{file_url}` answered {}", response.status));
        }
        bytes += response.body.len() as u64;
        if response.body.len() as u64 != entry.size {
            return Err(format!(
                "`{file_url}`: {} bytes, the manifest says {}",
                if response.body.len() as u64 > entry.size {
                    "more".to_owned()
                } else {
                    response.body.len().to_string()
                },
                entry.size
            ));
        }
        let sha256 = sha256_hex(&response.body);
        if sha256 != entry.sha256 {
            return Err(format!(
                "`{file_url}` has SHA-256 {sha256}, the manifest says {}",
                entry.sha256
            ));
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                format!("cannot create the cache directory `{}`: {e}", dir.display())
            })?;
        }
        write_atomically(&path, &response.body)
            .map_err(|e| format!("cannot write the cache file `{}`: {e}", path.display()))?;
        if let Ok(mut s) = source.status.lock() {
            s.verified.insert(entry.file.clone());
        }
        fetched += 1;
    }
    write_atomically(&manifest_path, &body).map_err(|e| {
        format!(
            "cannot write the cached manifest `{}`: {e}",
            manifest_path.display()
        )
    })?;
    set_etag(source, new_etag);
    if let Ok(mut s) = source.status.lock() {
        s.complete_for = Some(settings.shard.clone());
    }
    Ok((
        Polled::Updated {
            orgs_fetched: fetched,
            manifest,
            previous: cached,
            cache: cache.clone(),
        },
        bytes,
    ))
}

fn set_etag(source: &BundleSource, etag: Option<String>) {
    if let Ok(mut s) = source.status.lock() {
        s.etag = etag;
    }
}

/// Whether the cache already holds this file with this hash: hashed once
/// per process, then trusted (a 10,000-org manifest would otherwise cost
/// 10,000 file checks per change). A file removed behind the gateway's
/// back fails its org at the loader (the org's previous version serves)
/// and is fetched again after a restart.
fn cached_ok(source: &BundleSource, path: &Path, file: &str, sha256: &str) -> bool {
    if source
        .status
        .lock()
        .is_ok_and(|s| s.verified.contains(file))
    {
        return true;
    }
    let ok = std::fs::read(path).is_ok_and(|b| sha256_hex(&b) == sha256);
    if ok && let Ok(mut s) = source.status.lock() {
        s.verified.insert(file.to_owned());
    }
    ok
}

/// Removes cached org files neither the new manifest nor the one it
/// replaced names.
fn clean(source: &BundleSource, cache: &Path, manifest: &Manifest, previous: Option<&[u8]>) {
    let keep: HashSet<String> = manifest.orgs.iter().map(|e| e.file.clone()).collect();
    let before: HashSet<String> = previous
        .and_then(|b| Manifest::parse(b).ok())
        .map(|m| m.orgs.into_iter().map(|e| e.file).collect())
        .unwrap_or_default();
    let Ok(entries) = std::fs::read_dir(cache.join("orgs")) else {
        return;
    };
    for entry in entries.flatten() {
        let name = format!("orgs/{}", entry.file_name().to_string_lossy());
        if !keep.contains(&name) && !before.contains(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    if let Ok(mut s) = source.status.lock() {
        s.verified
            .retain(|f| keep.contains(f) || before.contains(f));
    }
}

struct Got {
    status: http::StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

/// A GET whose body is cut off past `limit + 1` bytes (the caller compares
/// sizes): an endless or oversized body is never read whole.
async fn get(
    client: &HttpsClient,
    request: http::Request<Empty<Bytes>>,
    url: &str,
    timeout: Duration,
    limit: u64,
) -> Result<Got, String> {
    let work = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("`{url}` cannot be fetched: {e}"))?;
        let status = response.status();
        let headers = response.headers().clone();
        if status == http::StatusCode::NOT_MODIFIED {
            return Ok(Got {
                status,
                headers,
                body: Bytes::new(),
            });
        }
        if !status.is_success() {
            return Err(format!("`{url}` answered {status}"));
        }
        let cap = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
        let mut body = response.into_body();
        let mut out = bytes::BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("`{url}` body cannot be read: {e}"))?;
            if let Ok(data) = frame.into_data() {
                let room = cap.saturating_sub(out.len());
                out.extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
                if out.len() >= cap {
                    break;
                }
            }
        }
        Ok(Got {
            status,
            headers,
            body: out.freeze(),
        })
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("`{url}` did not answer within {} ms", timeout.as_millis()))?
}

fn http_client() -> Result<HttpsClient, String> {
    let config = rustls::ClientConfig::builder_with_provider(reqflo_config::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_native_roots()
        .map_err(|e| format!("cannot load the system roots: {e}"))?
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// The cache directory must exist before the watcher starts (it watches
/// the manifest's directory).
pub fn prepare_cache(snapshot: &Snapshot) {
    if let Some(b) = &snapshot.settings.bundle
        && b.fetch.is_some()
        && let Err(e) = std::fs::create_dir_all(&b.cache_dir)
    {
        tracing::error!(target: "reqflo_gateway::bundle", dir = %b.cache_dir.display(), error = %e, "cannot create the bundle cache directory");
    }
}
