//! The route config as written: plain serde types that reject unknown fields.
//!
//! Nothing here is trusted. [`crate::load`] parses a file into [`RawConfig`],
//! validates it together with the policy document it names, and compiles it
//! into a [`crate::Snapshot`]. See `docs/route-config.md` for every field.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// A whole route config file (YAML, or JSON when the text starts with `{`).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// The proxy and admin listener addresses (and the proxy's TLS).
    pub listen: RawListen,
    /// Upstream name → backend.
    pub upstreams: BTreeMap<String, RawUpstream>,
    /// How the caller's identity is established: `jwt`, `trusted_header` or `client_certificate`.
    pub identity: RawIdentity,
    /// The policy document, relative to this file's directory.
    pub policy: String,
    /// Size and time limits on requests.
    #[serde(default)]
    pub limits: RawLimits,
    /// The default mode of every route: `enforce` (default) or `shadow`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Canonicalization switches that can only make the gateway stricter.
    #[serde(default)]
    pub strict: RawStrict,
    /// The route table: each route maps (method, path) to an action on a resource.
    pub routes: Vec<RawRoute>,
    /// Path prefixes served without a decision (health, status pages).
    #[serde(default)]
    pub public_prefixes: Vec<RawPublicPrefix>,
    /// Which peers may extend `X-Forwarded-For`, and extra identity headers to strip.
    #[serde(default)]
    pub forwarding: RawForwarding,
    /// A signed decision assertion on every forwarded request; off when absent.
    #[serde(default)]
    pub assertion: Option<RawAssertion>,
    /// What an applied reload reports besides its revision.
    #[serde(default)]
    pub reload: RawReload,
    /// How a policy bundle is verified and which of its orgs this gateway
    /// serves (when `policy` names a bundle's `manifest.json`).
    #[serde(default)]
    pub bundle: Option<RawBundle>,
}

/// A policy bundle's verification and shard.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBundle {
    /// A PEM public key (`PUBLIC KEY`) the manifest's signature must verify
    /// with, relative to this file's directory. When set, an unsigned or
    /// badly signed bundle is refused whole.
    #[serde(default)]
    pub public_key: Option<String>,
    /// The signature's algorithm: `EdDSA` (Ed25519, the default) or `ES256`.
    #[serde(default = "default_bundle_algorithm")]
    pub algorithm: String,
    /// The largest org file accepted, in bytes (default 256 MiB); a file
    /// larger than this or than its manifest entry says is refused unread.
    #[serde(default = "default_bundle_max_org_bytes")]
    pub max_org_bytes: u64,
    /// The orgs this gateway serves; every org of the bundle when absent.
    #[serde(default)]
    pub shard: Option<RawShard>,
    /// Fetch the bundle from this HTTP(S) base URL (`{url}/manifest.json`
    /// and the org files it names) into the directory of `policy`, which
    /// is then the local cache a restart serves from.
    #[serde(default)]
    pub url: Option<String>,
    /// How often the manifest is polled, milliseconds (default 10000).
    #[serde(default = "default_bundle_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Up to this much is added at random to each wait, milliseconds
    /// (default 1000), so replicas do not poll in step.
    #[serde(default = "default_bundle_poll_jitter_ms")]
    pub poll_jitter_ms: u64,
    /// Ask the server to hold a manifest poll up to this long until the
    /// manifest changes (`Prefer: wait=N`), seconds; 0 (default) is off.
    #[serde(default)]
    pub long_poll_seconds: u64,
    /// The longest one fetch may take (beyond a long poll's wait),
    /// milliseconds (default 30000).
    #[serde(default = "default_bundle_fetch_timeout_ms")]
    pub fetch_timeout_ms: u64,
    /// Past this long without the server confirming the bundle (a 200 or a
    /// 304), requests whose risk includes `stale_protects` are denied
    /// `policy_stale`; off when absent. Needs `url`.
    #[serde(default)]
    pub max_staleness_ms: Option<u64>,
    /// The risk levels a stale bundle no longer allows (default
    /// `[production, destructive]`).
    #[serde(default = "default_stale_protects")]
    pub stale_protects: Vec<String>,
    /// Whether `/readyz` answers 503 while the bundle is stale (default false).
    #[serde(default)]
    pub stale_not_ready: bool,
}

fn default_bundle_poll_interval_ms() -> u64 {
    10_000
}

fn default_bundle_poll_jitter_ms() -> u64 {
    1_000
}

fn default_bundle_fetch_timeout_ms() -> u64 {
    30_000
}

fn default_stale_protects() -> Vec<String> {
    vec!["production".to_owned(), "destructive".to_owned()]
}

/// What an absent `bundle:` section means: the same defaults as an empty one.
impl Default for RawBundle {
    fn default() -> RawBundle {
        RawBundle {
            public_key: None,
            algorithm: default_bundle_algorithm(),
            max_org_bytes: default_bundle_max_org_bytes(),
            shard: None,
            url: None,
            poll_interval_ms: default_bundle_poll_interval_ms(),
            poll_jitter_ms: default_bundle_poll_jitter_ms(),
            long_poll_seconds: 0,
            fetch_timeout_ms: default_bundle_fetch_timeout_ms(),
            max_staleness_ms: None,
            stale_protects: default_stale_protects(),
            stale_not_ready: false,
        }
    }
}

fn default_bundle_algorithm() -> String {
    "EdDSA".to_owned()
}

fn default_bundle_max_org_bytes() -> u64 {
    256 << 20
}

/// Which orgs one gateway serves: a list, or a hash shard.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, untagged)]
pub enum RawShard {
    /// These org ids.
    Orgs { orgs: Vec<String> },
    /// The orgs whose id hashes to `index` of `count` (the first 8 bytes of
    /// the id's SHA-256, big-endian, modulo `count`).
    Hash { index: u64, count: u64 },
}

/// The access diff of every applied policy reload.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReload {
    /// Diff the access each applied policy change gains and loses, in the
    /// background, and log and count it (default on). It keeps the parsed
    /// policy document in memory next to the snapshot, about three times
    /// the policy file's size.
    #[serde(default = "default_access_diff")]
    pub access_diff: bool,
    /// The most (user, resource) pairs one reload's diff may ask about; a
    /// larger change is counted as `too_large` and not listed.
    #[serde(default = "default_access_diff_max_pairs")]
    pub access_diff_max_pairs: u64,
    /// How many changes the reload log lists, risky first (the counts are
    /// always complete).
    #[serde(default = "default_access_diff_log_entries")]
    pub access_diff_log_entries: u64,
}

fn default_access_diff() -> bool {
    true
}

fn default_access_diff_max_pairs() -> u64 {
    2_000_000
}

fn default_access_diff_log_entries() -> u64 {
    5
}

impl Default for RawReload {
    fn default() -> Self {
        RawReload {
            access_diff: default_access_diff(),
            access_diff_max_pairs: default_access_diff_max_pairs(),
            access_diff_log_entries: default_access_diff_log_entries(),
        }
    }
}

/// The headers the gateway owns toward upstreams.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawForwarding {
    /// Peers (addresses or CIDRs) whose `X-Forwarded-For` is kept and
    /// appended to; from any other peer it is replaced.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Header names stripped from every request, on top of the built-in
    /// list of identity aliases (`X-Remote-User`, `X-Auth-Request-User`, …).
    #[serde(default)]
    pub strip_headers: Vec<String>,
}

/// The signed decision assertion (`x-reqflo-assertion`).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAssertion {
    /// `EdDSA` (Ed25519) or `ES256` (P-256).
    pub algorithm: String,
    /// The `kid` in the token header and the published JWKS.
    pub kid: String,
    /// A PKCS#8 PEM private key, relative to this file's directory.
    pub key: String,
    /// Lifetime of each assertion (`exp - iat`), seconds; default 60, at most 300.
    #[serde(default = "default_assertion_ttl")]
    pub ttl_seconds: u64,
    /// The `iss` claim; default `reqflo-gateway`.
    #[serde(default = "default_assertion_issuer")]
    pub issuer: String,
}

fn default_assertion_ttl() -> u64 {
    60
}

fn default_assertion_issuer() -> String {
    "reqflo-gateway".to_owned()
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawListen {
    /// `host:port` of the proxy listener.
    pub proxy: String,
    /// `host:port` of the admin listener (`/metrics`, `/healthz`, `/readyz`).
    pub admin: String,
    /// TLS on the proxy listener; plain HTTP when absent.
    #[serde(default)]
    pub tls: Option<RawListenTls>,
}

/// TLS on the proxy listener. Paths are relative to the config file's directory.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawListenTls {
    /// The certificate chain (PEM), leaf first.
    pub certificate: String,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: String,
    /// Verify client certificates against this CA bundle (PEM).
    #[serde(default)]
    pub client_ca: Option<String>,
    /// `required` (default when `client_ca` is set) or `optional`.
    #[serde(default)]
    pub client_certificates: Option<String>,
    /// Offer HTTP/2 over ALPN (default on).
    #[serde(default = "default_true")]
    pub http2: bool,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    /// `host:port`: one member. Exactly one of `address` and `addresses`.
    #[serde(default)]
    pub address: Option<String>,
    /// `host:port` members of a pool; a DNS name stands for every address it resolves to.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Connection timeout, milliseconds (default 2000).
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Timeout waiting for the upstream's response, milliseconds (default 30000).
    #[serde(default = "default_read_timeout_ms")]
    pub read_timeout_ms: u64,
    /// TLS to the upstream: `true`, or the settings; off when absent.
    #[serde(default)]
    pub tls: Option<RawUpstreamTls>,
    /// SNI / certificate name when `tls` is on; defaults to each member's host.
    #[serde(default)]
    pub sni: Option<String>,
    /// How often DNS names are resolved again, seconds (default 30).
    #[serde(default = "default_dns_refresh")]
    pub dns_refresh_seconds: u64,
    /// Active health checks; members are only ejected passively when absent.
    #[serde(default)]
    pub health_check: Option<RawHealthCheck>,
    /// How long a member that refused a connection is left out, milliseconds (default 10000).
    #[serde(default = "default_eject_ms")]
    pub eject_ms: u64,
}

fn default_dns_refresh() -> u64 {
    30
}

fn default_eject_ms() -> u64 {
    10_000
}

/// `tls: true` (verify against the system roots, SNI from the host) or the settings.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawUpstreamTls {
    On(bool),
    Settings(RawUpstreamTlsSettings),
}

/// TLS to an upstream. Certificate verification is always on.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUpstreamTlsSettings {
    /// Verify the upstream against this CA bundle (PEM) instead of the system roots.
    #[serde(default)]
    pub ca: Option<String>,
    /// A client certificate chain (PEM) presented to the upstream; needs `client_key`.
    #[serde(default)]
    pub client_certificate: Option<String>,
    /// The client certificate's private key (PEM).
    #[serde(default)]
    pub client_key: Option<String>,
}

/// An active HTTP health check of every pool member.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHealthCheck {
    /// The path asked with `GET`; a 2xx answer is healthy.
    pub path: String,
    /// Milliseconds between checks (default 2000).
    #[serde(default = "default_health_interval")]
    pub interval_ms: u64,
    /// Milliseconds a check may take (default 1000).
    #[serde(default = "default_health_timeout")]
    pub timeout_ms: u64,
    /// Consecutive passes that make an unhealthy member healthy (default 1).
    #[serde(default = "default_one")]
    pub healthy_threshold: usize,
    /// Consecutive failures that make a healthy member unhealthy (default 2).
    #[serde(default = "default_two")]
    pub unhealthy_threshold: usize,
}

fn default_health_interval() -> u64 {
    2_000
}

fn default_health_timeout() -> u64 {
    1_000
}

fn default_one() -> usize {
    1
}

fn default_two() -> usize {
    2
}

impl RawConfig {
    /// Every TLS file the config names, relative to its directory, in a
    /// fixed order (the reloader hashes and watches them).
    pub fn tls_files(&self) -> Vec<&str> {
        let mut out = Vec::new();
        if let Some(t) = &self.listen.tls {
            out.push(t.certificate.as_str());
            out.push(t.key.as_str());
            out.extend(t.client_ca.as_deref());
        }
        if let RawIdentity::Jwt(RawJwt {
            jwks: Some(RawJwks { ca: Some(ca), .. }),
            ..
        }) = &self.identity
        {
            out.push(ca.as_str());
        }
        for up in self.upstreams.values() {
            if let Some(RawUpstreamTls::Settings(t)) = &up.tls {
                out.extend(t.ca.as_deref());
                out.extend(t.client_certificate.as_deref());
                out.extend(t.client_key.as_deref());
            }
        }
        out
    }
}

fn default_connect_timeout_ms() -> u64 {
    2_000
}

fn default_read_timeout_ms() -> u64 {
    30_000
}

/// Exactly one identity source.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum RawIdentity {
    Jwt(RawJwt),
    TrustedHeader(RawTrustedHeader),
    /// The subject of the verified client certificate (needs `listen.tls.client_ca`
    /// with certificates `required`).
    ClientCertificate(RawClientCertificate),
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawClientCertificate {
    /// Which name is the user id: `common_name` (default), `dns_san` or
    /// `uri_san` (the first such subject alternative name).
    #[serde(default)]
    pub user_from: Option<String>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJwt {
    /// The `iss` every token must carry.
    pub issuer: String,
    /// Accepted `aud` values; a token must carry one of them.
    pub audiences: Vec<String>,
    /// Pinned list, e.g. `[RS256, ES256]`; `none` and `HS*` are refused.
    pub algorithms: Vec<String>,
    /// Keys from PEM files; may be empty when `jwks` is set.
    #[serde(default)]
    pub keys: Vec<RawJwtKey>,
    /// Keys fetched from the identity provider's JWKS.
    #[serde(default)]
    pub jwks: Option<RawJwks>,
    /// Clock skew tolerated for `exp`/`nbf`, seconds (default 30, at most 300).
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// The claim holding the user id (default `sub`).
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
    /// Cache verified tokens until they expire (default on).
    #[serde(default = "default_true")]
    pub cache: bool,
}

fn default_leeway() -> u64 {
    30
}

fn default_user_claim() -> String {
    "sub".to_owned()
}

fn default_true() -> bool {
    true
}

/// The identity provider's published key set.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJwks {
    /// The JWKS URL; or leave it out and set `discovery: true`.
    #[serde(default)]
    pub url: Option<String>,
    /// Find the JWKS URL in `{issuer}/.well-known/openid-configuration`.
    #[serde(default)]
    pub discovery: bool,
    /// The shortest and longest wait between refreshes, seconds; the
    /// provider's `Cache-Control: max-age` is honoured within them (defaults 60, 3600).
    #[serde(default = "default_jwks_refresh_min")]
    pub refresh_min_seconds: u64,
    /// The longest wait between fetches, seconds (default 3600).
    #[serde(default = "default_jwks_refresh_max")]
    pub refresh_max_seconds: u64,
    /// A token with an unknown `kid` refetches the set at most once per this many seconds (default 30).
    #[serde(default = "default_jwks_cooldown")]
    pub unknown_kid_cooldown_seconds: u64,
    /// The oldest a key set may be (since its last good fetch) and still
    /// verify tokens, seconds (default 86400).
    #[serde(default = "default_jwks_max_age")]
    pub max_age_seconds: u64,
    /// How long one fetch may take, milliseconds (default 5000).
    #[serde(default = "default_jwks_timeout")]
    pub timeout_ms: u64,
    /// Verify the provider against this CA bundle (PEM) instead of the system roots.
    #[serde(default)]
    pub ca: Option<String>,
}

fn default_jwks_refresh_min() -> u64 {
    60
}

fn default_jwks_refresh_max() -> u64 {
    3600
}

fn default_jwks_cooldown() -> u64 {
    30
}

fn default_jwks_max_age() -> u64 {
    86_400
}

fn default_jwks_timeout() -> u64 {
    5_000
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJwtKey {
    /// The key id (`kid`) tokens name.
    pub kid: String,
    /// The key's algorithm: one of `algorithms` (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA).
    pub algorithm: String,
    /// A PEM public key, relative to the config file's directory.
    pub file: String,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTrustedHeader {
    /// The header carrying the user id, e.g. `x-reqflo-user`.
    pub header: String,
    /// Peer addresses or CIDRs the header is accepted from.
    pub trusted_sources: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// The most body bytes a decision reads (JSON or form bodies); larger: 413.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: u64,
    /// The largest request head accepted, bytes; larger: 431.
    #[serde(default = "default_max_header")]
    pub max_header_bytes: u64,
    /// The longest wait for the next bytes of a request body, milliseconds.
    #[serde(default = "default_body_read_timeout")]
    pub body_read_timeout_ms: u64,
    /// How long a whole HTTP/1 request head may take to arrive,
    /// milliseconds: from the connection's start for its first request,
    /// from the previous response plus the keep-alive timeout for a later
    /// one; past it the connection is closed.
    #[serde(default = "default_head_timeout")]
    pub head_timeout_ms: u64,
    /// How long an idle keep-alive connection waits for its next request
    /// (and for each read of that request's head), seconds; 0 turns
    /// keep-alive off.
    #[serde(default = "default_keepalive_timeout")]
    pub keepalive_timeout_seconds: u64,
}

fn default_body_read_timeout() -> u64 {
    10_000
}

fn default_head_timeout() -> u64 {
    10_000
}

fn default_keepalive_timeout() -> u64 {
    60
}

fn default_max_body() -> u64 {
    1024 * 1024
}

fn default_max_header() -> u64 {
    64 * 1024
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_body_bytes: default_max_body(),
            max_header_bytes: default_max_header(),
            body_read_timeout_ms: default_body_read_timeout(),
            head_timeout_ms: default_head_timeout(),
            keepalive_timeout_seconds: default_keepalive_timeout(),
        }
    }
}

/// Extra rejections on top of the mandatory canonicalization (which cannot be
/// turned off: there is no field for it).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStrict {
    /// Reject duplicate values of *any* query parameter, not only those that
    /// feed a decision.
    #[serde(default)]
    pub reject_any_duplicate_query: bool,
    /// Reject duplicate values of *any* header, not only those that feed a decision.
    #[serde(default)]
    pub reject_any_duplicate_header: bool,
    /// Reject percent-encoded unreserved characters (`%41` for `A`).
    #[serde(default)]
    pub reject_encoded_unreserved: bool,
    /// Reject any non-ASCII byte in the path, even valid UTF-8.
    #[serde(default)]
    pub reject_non_ascii_path: bool,
    /// Reject paths longer than this many bytes.
    #[serde(default)]
    pub max_path_bytes: Option<u64>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Stable id for logs and metrics.
    pub id: String,
    /// `GET`, `POST`, … (upper case).
    pub methods: Vec<String>,
    /// A path template: `/api/v1/orgs/{org}/journeys/{journey}`.
    pub path: String,
    /// An action name; absent only on public routes.
    #[serde(default)]
    pub action: Option<String>,
    /// A template over path parameters giving the resource id, e.g. `{journey}`.
    #[serde(default)]
    pub resource: Option<String>,
    /// The resource kind expected, e.g. `journey` (documentation and checks).
    #[serde(default)]
    pub kind: Option<String>,
    /// The org id template; default `{org}`.
    #[serde(default)]
    pub org: Option<String>,
    /// Where the target environment is read from: `{from: body|query|header|path, …}`.
    #[serde(default)]
    pub environment: Option<RawEnvironment>,
    /// Refuse (400) a request that names no environment.
    #[serde(default)]
    pub environment_required: bool,
    /// The upstream (a key of `upstreams`) the request is forwarded to.
    pub upstream: String,
    /// Overrides the global mode for this route.
    #[serde(default)]
    pub mode: Option<String>,
    /// Served without identity or a decision.
    #[serde(default)]
    pub public: bool,
    /// Further decisions the request also needs (all must allow).
    #[serde(default)]
    pub also: Vec<RawAlso>,
    /// The route carries a WebSocket: a `GET` with `Upgrade: websocket` is
    /// decided like any request, and that decision covers the whole tunnel.
    /// Upgrades on every other route are refused.
    #[serde(default)]
    pub websocket: bool,
}

/// Where a route's target environment comes from.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(tag = "from", rename_all = "snake_case", deny_unknown_fields)]
pub enum RawEnvironment {
    /// A path parameter of the route's template.
    Path { param: String },
    /// A query parameter.
    Query { name: String },
    /// A request header.
    Header { name: String },
    /// A top-level field of a JSON object body.
    Body { field: String },
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAlso {
    /// The action of the further check.
    pub action: String,
    /// A template over path parameters giving the further check's resource.
    pub resource: String,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPublicPrefix {
    /// Stable id for logs and metrics.
    pub id: String,
    /// Starts and ends with `/`; matches every path that starts with it.
    pub prefix: String,
    /// The upstream (a key of `upstreams`) the prefix is forwarded to.
    pub upstream: String,
    /// `GET` and `HEAD` when absent.
    #[serde(default)]
    pub methods: Option<Vec<String>>,
}

impl RawConfig {
    /// The JSON Schema of the route config (committed as
    /// `config/gateway.schema.json` and kept equal to this by a test), for
    /// editors: `# yaml-language-server: $schema=…` at the top of a file.
    /// Keys are sorted at every level, so the text is the same whichever
    /// features `serde_json` was built with (`preserve_order` keeps
    /// insertion order).
    pub fn json_schema() -> serde_json::Value {
        sorted(serde_json::to_value(schemars::schema_for!(RawConfig)).unwrap_or_default())
    }

    /// JSON if the text starts with `{`, else YAML. Enums (`identity`) are
    /// single-key maps in both, `identity: {jwt: {…}}`, not YAML tags.
    pub fn parse(text: &str) -> Result<RawConfig, RawParseError> {
        if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(RawParseError::Json)
        } else {
            reqflo_policy::document::from_yaml_str(text).map_err(RawParseError::Yaml)
        }
    }
}

/// The text is not a route config.
#[derive(Debug, thiserror::Error)]
pub enum RawParseError {
    #[error("{0}")]
    Yaml(serde_yaml_ng::Error),
    #[error("{0}")]
    Json(serde_json::Error),
}

impl RawParseError {
    /// 1-based line and column, where the parser knows them.
    pub fn position(&self) -> Option<(u32, u32)> {
        match self {
            RawParseError::Yaml(e) => e.location().map(|l| (to_u32(l.line()), to_u32(l.column()))),
            RawParseError::Json(e) => Some((to_u32(e.line()), to_u32(e.column()))),
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `value` with every object's keys in sorted order.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sorted).collect())
        }
        other => other,
    }
}
