//! The identity provider's key set (JWKS), fetched and kept fresh off the
//! request path.
//!
//! One task per configured key set, on the gateway's background runtime:
//! the first fetch runs at start (`/readyz` waits for it), then the set is
//! refreshed when the provider's `Cache-Control: max-age` says, kept within
//! `refresh_min_seconds`..`refresh_max_seconds`; a failed fetch is retried
//! with backoff (1 s, doubling, at most `refresh_min_seconds`) and the last
//! good set keeps serving until it is `max_age_seconds` old, after which
//! tokens verified by it are refused (`keys_stale`). A token whose `kid` no
//! key has asks for one refetch and waits for it, at most once per
//! `unknown_kid_cooldown_seconds` whatever the number of such tokens.
//!
//! The key rules of file keys hold here too: a fetched key is used only for
//! a pinned algorithm, for its own `alg` when it names one and otherwise
//! only for algorithms of its family (RSA, EC curve, Ed25519); symmetric
//! (`oct`) keys, encryption keys (`use: enc`) and keys without `kid` are
//! never used.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::ConfigBuilderExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use reqflo_config::{JwksSettings, JwksSource};
use tokio::sync::{Notify, watch};

use crate::metrics::Metrics;

/// The largest key set or discovery document read.
const MAX_BODY: usize = 1024 * 1024;
/// The first retry after a failed fetch; it doubles up to `refresh_min`.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// A key's family: what algorithms it can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Family {
    fn verifies(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            Family::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            Family::P256 => alg == ES256,
            Family::P384 => alg == ES384,
            Family::Ed25519 => alg == EdDSA,
        }
    }
}

/// One fetched verification key.
pub struct FetchedKey {
    /// The key's own `alg`, when it names one.
    algorithm: Option<Algorithm>,
    family: Family,
    pub key: DecodingKey,
}

impl FetchedKey {
    /// Whether this key may verify a token signed with `alg` (already pinned).
    pub fn verifies(&self, alg: Algorithm) -> bool {
        self.algorithm.is_none_or(|a| a == alg) && self.family.verifies(alg)
    }
}

impl std::fmt::Debug for FetchedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedKey")
            .field("algorithm", &self.algorithm)
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

/// The keys of one fetch.
#[derive(Debug, Default)]
pub struct KeySet {
    pub keys: HashMap<String, FetchedKey>,
    /// When these keys were last fetched and verified good (`None`: never).
    pub fetched_at: Option<Instant>,
    /// Bumped whenever the keys change (not on a refetch of the same keys):
    /// the token cache starts over with it.
    pub generation: u64,
    digest: u64,
}

impl KeySet {
    /// Whether the set is too old to verify tokens.
    pub fn stale(&self, max_age: Duration) -> bool {
        self.fetched_at.is_none_or(|t| t.elapsed() > max_age)
    }
}

/// Parses a JWKS body into the keys the pinned `algorithms` may use, and
/// the reasons the others were left out. A set with no usable key is an error.
fn parse(body: &[u8], algorithms: &[Algorithm]) -> Result<(KeySet, Vec<String>), String> {
    let set: JwkSet = serde_json::from_slice(body).map_err(|e| format!("is not a JWK set: {e}"))?;
    let mut keys = HashMap::new();
    let mut skipped = Vec::new();
    let mut accepted: BTreeMap<String, String> = BTreeMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            skipped.push("a key without `kid`".to_owned());
            continue;
        };
        match usable(jwk, algorithms) {
            Ok(key) => {
                if keys.contains_key(&kid) {
                    skipped.push(format!("`{kid}`: a second key with this `kid`"));
                    continue;
                }
                accepted.insert(kid.clone(), serde_json::to_string(jwk).unwrap_or_default());
                keys.insert(kid, key);
            }
            Err(why) => skipped.push(format!("`{kid}`: {why}")),
        }
    }
    if keys.is_empty() {
        return Err(format!(
            "holds no key usable with the pinned algorithms ({} left out: {})",
            skipped.len(),
            skipped.join("; ")
        ));
    }
    let mut h = foldhash::fast::FixedState::with_seed(7).build_hasher();
    for (kid, text) in &accepted {
        h.write(kid.as_bytes());
        h.write(text.as_bytes());
    }
    Ok((
        KeySet {
            keys,
            fetched_at: None,
            generation: 0,
            digest: h.finish(),
        },
        skipped,
    ))
}

fn usable(jwk: &Jwk, algorithms: &[Algorithm]) -> Result<FetchedKey, String> {
    if let Some(u) = &jwk.common.public_key_use
        && *u != PublicKeyUse::Signature
    {
        return Err("not a signature key (`use`)".to_owned());
    }
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Family::Rsa,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Family::P256,
            EllipticCurve::P384 => Family::P384,
            _ => return Err("an elliptic curve the gateway does not verify".to_owned()),
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Family::Ed25519
        }
        AlgorithmParameters::OctetKeyPair(_) => {
            return Err("an octet key pair that is not Ed25519".to_owned());
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err("a symmetric key (`oct`), never used".to_owned());
        }
        _ => return Err("a key type the gateway does not verify".to_owned()),
    };
    let algorithm = match &jwk.common.key_algorithm {
        None => None,
        Some(ka) => {
            let name = ka.to_string();
            let alg: Algorithm = name
                .parse()
                .map_err(|_| format!("`alg` {name} is not a signature algorithm"))?;
            if !family.verifies(alg) {
                return Err(format!("`alg` {name} does not fit the key's type"));
            }
            Some(alg)
        }
    };
    let fits = algorithms
        .iter()
        .any(|a| family.verifies(*a) && algorithm.is_none_or(|k| k == *a));
    if !fits {
        return Err("no pinned algorithm fits it".to_owned());
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("cannot be read: {e}"))?;
    Ok(FetchedKey {
        algorithm,
        family,
        key,
    })
}

/// `Cache-Control` → how long the provider says the set may be kept.
fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
    let mut found = None;
    for value in headers.get_all(http::header::CACHE_CONTROL) {
        let Ok(text) = value.to_str() else { continue };
        for directive in text.split(',') {
            let d = directive.trim().to_ascii_lowercase();
            if d == "no-cache" || d == "no-store" {
                return Some(Duration::ZERO);
            }
            if let Some(n) = d.strip_prefix("max-age=")
                && let Ok(secs) = n.trim_matches('"').parse::<u64>()
            {
                found = Some(Duration::from_secs(secs));
            }
        }
    }
    found
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// What a fetch attempt concluded.
#[derive(Debug)]
enum Fetched {
    /// New keys, or the same keys again; with the provider's max-age.
    Keys(KeySet, Option<Duration>, Vec<String>),
}

/// One configured key set, its state and its fetcher.
pub struct Jwks {
    settings: JwksSettings,
    keys: ArcSwap<KeySet>,
    client: Option<HttpsClient>,
    status: Mutex<Status>,
    /// Wakes the task for a refetch (an unknown `kid`).
    wake: Arc<Notify>,
    /// Counts completed fetch attempts; a request waiting on a refetch watches it.
    attempts: watch::Sender<u64>,
    /// When the last unknown-`kid` refetch was asked for.
    last_kid_refetch: Mutex<Option<Instant>>,
    metrics: Metrics,
}

#[derive(Debug, Default)]
struct Status {
    last_error: Option<String>,
    failures: u32,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("url", &self.settings.source.url())
            .finish_non_exhaustive()
    }
}

impl Jwks {
    fn new(settings: &JwksSettings, metrics: Metrics) -> Jwks {
        let client = http_client(settings)
            .map_err(|e| {
                tracing::error!(target: "reqflo_gateway::jwks", error = %e, "cannot build the JWKS client");
            })
            .ok();
        let (attempts, _) = watch::channel(0);
        Jwks {
            settings: settings.clone(),
            keys: ArcSwap::from_pointee(KeySet::default()),
            client,
            status: Mutex::new(Status {
                last_error: Some("not fetched yet".to_owned()),
                failures: 0,
            }),
            wake: Arc::new(Notify::new()),
            attempts,
            last_kid_refetch: Mutex::new(None),
            metrics,
        }
    }

    pub fn settings(&self) -> &JwksSettings {
        &self.settings
    }

    /// The keys serving now.
    pub fn current(&self) -> Arc<KeySet> {
        self.keys.load_full()
    }

    /// Why the gateway is not ready on this key set's account (never fetched).
    pub fn not_ready(&self) -> Option<String> {
        if self.keys.load().fetched_at.is_some() {
            return None;
        }
        let why = self
            .status
            .lock()
            .ok()
            .and_then(|s| s.last_error.clone())
            .unwrap_or_default();
        Some(format!(
            "jwks `{}`: no key set yet: {why}",
            self.settings.source.url()
        ))
    }

    /// Asks for a refetch because a token named a `kid` no key has, and
    /// waits for it (within the fetch timeout). `false` when the cooldown
    /// since the last such refetch has not passed: nothing is fetched.
    pub async fn refetch_for_unknown_kid(&self) -> bool {
        let now = Instant::now();
        {
            let Ok(mut last) = self.last_kid_refetch.lock() else {
                return false;
            };
            if let Some(t) = *last
                && now.duration_since(t) < self.settings.unknown_kid_cooldown
            {
                self.metrics
                    .jwks_unknown_kid
                    .with_label_values(&["cooldown"])
                    .inc();
                return false;
            }
            *last = Some(now);
        }
        self.metrics
            .jwks_unknown_kid
            .with_label_values(&["refetch"])
            .inc();
        let mut done = self.attempts.subscribe();
        self.wake.notify_one();
        let bound = self.settings.timeout * 2 + Duration::from_millis(100);
        matches!(
            tokio::time::timeout(bound, done.changed()).await,
            Ok(Ok(()))
        )
    }

    /// The admin page's view of this key set.
    pub fn status(&self) -> serde_json::Value {
        let keys = self.keys.load();
        let status = self.status.lock().ok();
        let mut kids: Vec<&String> = keys.keys.keys().collect();
        kids.sort();
        serde_json::json!({
            "url": self.settings.source.url(),
            "keys": kids,
            "age_seconds": keys.fetched_at.map(|t| t.elapsed().as_secs_f64()),
            "generation": keys.generation,
            "last_error": status.as_ref().and_then(|s| s.last_error.clone()),
        })
    }

    /// Sets the key-set gauges (called at scrape time).
    pub fn observe(&self) {
        let keys = self.keys.load();
        self.metrics.jwks_keys.set(keys.keys.len() as i64);
        self.metrics
            .jwks_age
            .set(keys.fetched_at.map_or(-1.0, |t| t.elapsed().as_secs_f64()));
    }

    /// One fetch: the discovery document when configured, then the set.
    async fn fetch(&self) -> Result<Fetched, String> {
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| "no HTTP client (see the start log)".to_owned())?;
        let url = match &self.settings.source {
            JwksSource::Url(u) => u.clone(),
            JwksSource::Discovery(doc) => {
                let (body, _) = get(client, doc, self.settings.timeout).await?;
                discovered_jwks_uri(&body, &self.settings.issuer)
                    .map_err(|e| format!("discovery document `{doc}` {e}"))?
            }
        };
        let (body, headers) = get(client, &url, self.settings.timeout).await?;
        let (set, skipped) =
            parse(&body, &self.settings.algorithms).map_err(|e| format!("key set `{url}` {e}"))?;
        Ok(Fetched::Keys(set, max_age(&headers), skipped))
    }

    /// Runs one fetch and publishes what it got; the wait until the next.
    async fn refresh(&self) -> Duration {
        let outcome = self.fetch().await;
        let wait = match outcome {
            Ok(Fetched::Keys(mut set, ttl, skipped)) => {
                let current = self.keys.load();
                let changed = set.digest != current.digest;
                set.generation = if changed {
                    current.generation + 1
                } else {
                    current.generation
                };
                set.fetched_at = Some(Instant::now());
                let count = set.keys.len();
                self.keys.store(Arc::new(set));
                if let Ok(mut s) = self.status.lock() {
                    s.last_error = None;
                    s.failures = 0;
                }
                let label = if changed { "updated" } else { "unchanged" };
                self.metrics
                    .jwks_refreshes
                    .with_label_values(&[label])
                    .inc();
                if changed {
                    tracing::info!(target: "reqflo_gateway::jwks", url = %self.settings.source.url(), keys = count, left_out = ?skipped, "key set fetched");
                }
                ttl.unwrap_or(self.settings.refresh_max)
                    .clamp(self.settings.refresh_min, self.settings.refresh_max)
            }
            Err(e) => {
                self.metrics
                    .jwks_refreshes
                    .with_label_values(&["error"])
                    .inc();
                let failures = self
                    .status
                    .lock()
                    .map(|mut s| {
                        s.last_error = Some(e.clone());
                        s.failures = s.failures.saturating_add(1);
                        s.failures
                    })
                    .unwrap_or(1);
                tracing::warn!(target: "reqflo_gateway::jwks", error = %e, failures, "key set fetch failed; the last good set keeps serving");
                let doubling = FIRST_RETRY.saturating_mul(1 << failures.min(16).saturating_sub(1));
                doubling.min(self.settings.refresh_min)
            }
        };
        self.attempts.send_modify(|n| *n += 1);
        wait
    }
}

/// `jwks_uri` of an OpenID discovery document, after checking its `issuer`.
fn discovered_jwks_uri(body: &[u8], issuer: &str) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct Discovery {
        issuer: String,
        jwks_uri: String,
    }
    let doc: Discovery =
        serde_json::from_slice(body).map_err(|e| format!("is not a discovery document: {e}"))?;
    if doc.issuer != issuer {
        return Err(format!(
            "names issuer `{}`, not the configured `{issuer}`",
            doc.issuer
        ));
    }
    reqflo_config::fetchable_url(&doc.jwks_uri)
        .map_err(|why| format!("gives `jwks_uri` `{}`, which {why}", doc.jwks_uri))?;
    Ok(doc.jwks_uri)
}

async fn get(
    client: &HttpsClient,
    url: &str,
    timeout: Duration,
) -> Result<(Bytes, http::HeaderMap), String> {
    let request = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::USER_AGENT, "reqflo-gateway")
        .body(Empty::new())
        .map_err(|e| format!("`{url}` is not a request target: {e}"))?;
    let work = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("`{url}` cannot be fetched: {e}"))?;
        let status = response.status();
        let headers = response.headers().clone();
        if !status.is_success() {
            return Err(format!("`{url}` answered {status}"));
        }
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("`{url}` body cannot be read (at most {MAX_BODY} bytes): {e}"))?
            .to_bytes();
        Ok((body, headers))
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("`{url}` did not answer within {} ms", timeout.as_millis()))?
}

fn http_client(settings: &JwksSettings) -> Result<HttpsClient, String> {
    let builder = rustls::ClientConfig::builder_with_provider(reqflo_config::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = match &settings.ca {
        Some(bundle) => {
            let ders: Vec<rustls::pki_types::CertificateDer<'static>> = bundle
                .certificates
                .iter()
                .map(|d| rustls::pki_types::CertificateDer::from(d.clone()))
                .collect();
            builder
                .with_root_certificates(reqflo_config::tls::root_store(&ders)?)
                .with_no_client_auth()
        }
        None => builder
            .with_native_roots()
            .map_err(|e| format!("cannot load the system roots: {e}"))?
            .with_no_client_auth(),
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// Every live key set, fetched on the background runtime.
pub struct KeySets {
    sets: crate::live::Live<Jwks>,
    runtime: Option<tokio::runtime::Handle>,
    metrics: Metrics,
}

impl std::fmt::Debug for KeySets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySets").finish_non_exhaustive()
    }
}

impl KeySets {
    pub fn new(runtime: Option<tokio::runtime::Handle>, metrics: Metrics) -> KeySets {
        KeySets {
            sets: crate::live::Live::default(),
            runtime,
            metrics,
        }
    }

    /// The live key set for these settings, or a new one whose first fetch starts now.
    pub fn get(&self, settings: &JwksSettings) -> Arc<Jwks> {
        self.sets.find_or_create(
            |j| j.settings == *settings,
            || Arc::new(Jwks::new(settings, self.metrics.clone())),
            |jwks| {
                if let Some(rt) = &self.runtime {
                    rt.spawn(run(Arc::downgrade(jwks), jwks.wake.clone()));
                }
            },
        )
    }

    fn live(&self) -> Vec<Arc<Jwks>> {
        self.sets.all()
    }

    /// Why the gateway is not ready on the key sets' account.
    pub fn not_ready(&self) -> Vec<String> {
        self.live().iter().filter_map(|j| j.not_ready()).collect()
    }

    pub fn status(&self) -> Vec<serde_json::Value> {
        self.live().iter().map(|j| j.status()).collect()
    }

    pub fn observe(&self) {
        for j in self.live() {
            j.observe();
        }
    }
}

/// A key set's task: fetch, wait (or be woken by an unknown `kid`), repeat,
/// until no snapshot uses the set.
async fn run(jwks: Weak<Jwks>, wake: Arc<Notify>) {
    loop {
        let Some(j) = jwks.upgrade() else { return };
        let wait = j.refresh().await;
        drop(j);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_JWK: &str = r#"{"kty":"RSA","kid":"r1","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}"#;

    #[test]
    fn symmetric_encryption_and_unpinned_keys_are_left_out() {
        let body = format!(
            r#"{{"keys":[{RSA_JWK},
            {{"kty":"oct","kid":"h1","k":"c2VjcmV0"}},
            {{"kty":"RSA","kid":"enc","use":"enc","n":"sXch","e":"AQAB"}},
            {{"kty":"EC","kid":"e1","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tAs4S4A3ZXLx0sWmbdcv9j2w2DSw"}}]}}"#
        );
        let (set, skipped) =
            parse(body.as_bytes(), &[Algorithm::RS256]).unwrap_or_default_for_test();
        assert_eq!(set.keys.len(), 1, "{skipped:?}");
        assert!(set.keys["r1"].verifies(Algorithm::RS256));
        assert!(!set.keys["r1"].verifies(Algorithm::ES256));
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert!(skipped.iter().any(|s| s.contains("symmetric")));
        assert!(skipped.iter().any(|s| s.contains("`use`")));
        assert!(skipped.iter().any(|s| s.contains("no pinned algorithm")));
    }

    #[test]
    fn a_set_without_a_usable_key_is_an_error() {
        let err = parse(
            br#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}"#,
            &[Algorithm::RS256],
        );
        assert!(err.is_err());
        assert!(parse(b"<html>", &[Algorithm::RS256]).is_err());
    }

    #[test]
    fn a_key_whose_alg_does_not_fit_its_type_is_left_out() {
        let body = RSA_JWK.replace(r#""kty":"RSA""#, r#""kty":"RSA","alg":"ES256""#);
        let body = format!(r#"{{"keys":[{body}]}}"#);
        assert!(parse(body.as_bytes(), &[Algorithm::RS256, Algorithm::ES256]).is_err());
    }

    #[test]
    fn cache_control_is_read() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("public, max-age=120, must-revalidate"),
        );
        assert_eq!(max_age(&h), Some(Duration::from_secs(120)));
        h.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        assert_eq!(max_age(&h), Some(Duration::ZERO));
    }

    trait OrDefault {
        fn unwrap_or_default_for_test(self) -> (KeySet, Vec<String>);
    }

    impl OrDefault for Result<(KeySet, Vec<String>), String> {
        fn unwrap_or_default_for_test(self) -> (KeySet, Vec<String>) {
            match self {
                Ok(v) => v,
                Err(e) => panic!("parse failed: {e}"),
            }
        }
    }
}
