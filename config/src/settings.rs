//! The compiled settings the gateway reads per request: validated, typed, immutable.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey};

/// Everything in the route config except the routes themselves.
#[derive(Debug)]
pub struct Settings {
    pub listen: Listen,
    /// TLS on the proxy listener; plain HTTP when `None`.
    pub listener_tls: Option<Arc<crate::tls::ServerTls>>,
    /// Upstream name → backend.
    pub upstreams: BTreeMap<Arc<str>, Upstream>,
    pub identity: Identity,
    pub limits: Limits,
    /// The global mode; each [`crate::Route`] carries its resolved mode.
    pub mode: Mode,
    pub strict: Strict,
    /// The policy document's path, resolved against the config's directory.
    pub policy_path: PathBuf,
    pub forwarding: Forwarding,
    /// The signed decision assertion, when configured.
    pub assertion: Option<Assertion>,
    /// The access diff of applied reloads; off when `None`.
    pub access_diff: Option<AccessDiff>,
    /// How the policy bundle is verified, sharded, fetched and kept fresh,
    /// when `policy` names a bundle.
    pub bundle: Option<crate::bundle::BundleSettings>,
}

/// How an applied reload's access diff is bounded and logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessDiff {
    /// The most (user, resource) pairs the diff may ask about.
    pub max_pairs: usize,
    /// How many changes the log lists.
    pub log_entries: usize,
}

/// Built-in header names no client may send upstream, besides the gateway's
/// own `x-reqflo-*`, `Forwarded` and `X-Forwarded-*`: names that common
/// frameworks and auth proxies read as a verified identity or client address.
/// A route config can only add to it (`forwarding.strip_headers`).
pub const IDENTITY_ALIASES: &[&str] = &[
    "remote-user",
    "x-remote-user",
    "x-remote-email",
    "x-remote-group",
    "x-auth-request-user",
    "x-auth-request-email",
    "x-auth-request-preferred-username",
    "x-auth-request-groups",
    "x-auth-request-access-token",
    "x-authenticated-user",
    "x-authenticated-userid",
    "x-authenticated-email",
    "x-user",
    "x-user-id",
    "x-user-email",
    "x-email",
    "x-webauth-user",
    "x-consumer-id",
    "x-consumer-username",
    "x-credential-identifier",
    "x-goog-authenticated-user-email",
    "x-goog-authenticated-user-id",
    "x-goog-iap-jwt-assertion",
    "x-ms-client-principal",
    "x-ms-client-principal-id",
    "x-ms-client-principal-name",
    "x-amzn-oidc-identity",
    "x-amzn-oidc-data",
    "x-amzn-oidc-accesstoken",
    "cf-access-authenticated-user-email",
    "cf-access-jwt-assertion",
    "x-pomerium-jwt-assertion",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "x-cluster-client-ip",
    "cf-connecting-ip",
];

/// Who may extend `X-Forwarded-For`, and which client headers never reach
/// an upstream on top of the built-in lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Forwarding {
    pub trusted_proxies: Vec<Cidr>,
    /// Lower-case names, `_` read as `-`.
    pub strip_headers: Vec<String>,
}

impl Forwarding {
    /// Whether `peer` is a proxy whose `X-Forwarded-For` is kept and appended to.
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|c| c.contains(peer))
    }
}

/// The decision assertion: what signs it and for how long it is valid.
#[derive(Debug)]
pub struct Assertion {
    pub key: crate::assertion::AssertionKey,
    pub ttl: Duration,
    pub issuer: String,
    /// The private key file it was read from.
    pub file: PathBuf,
}

/// The two listeners.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listen {
    pub proxy: SocketAddr,
    /// `/metrics`, `/healthz`, `/readyz`.
    pub admin: SocketAddr,
}

/// One backend: a pool of one or more members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub name: Arc<str>,
    /// The members as written (each checked to parse), at least one.
    pub members: Vec<Member>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// TLS to every member, verified; plain HTTP when `None`.
    pub tls: Option<crate::tls::UpstreamTls>,
    /// The configured TLS server name; each member's host when `None`.
    pub sni: Option<String>,
    /// How often DNS names are resolved again.
    pub dns_refresh: Duration,
    pub health_check: Option<HealthCheck>,
    /// How long a member that refused a connection is left out.
    pub eject_for: Duration,
}

/// One `host:port` of an upstream: an IP literal, or a DNS name that
/// stands for every address it resolves to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Member {
    /// `host:port` as written.
    pub address: String,
    /// The host without brackets.
    pub host: String,
    pub port: u16,
}

impl Member {
    /// The address when the host is an IP literal (no lookup needed).
    pub fn literal(&self) -> Option<std::net::SocketAddr> {
        self.host
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| std::net::SocketAddr::new(ip, self.port))
    }
}

impl Upstream {
    /// The TLS name a member is verified as: the configured `sni`, else its host.
    pub fn server_name<'a>(&'a self, member: &'a Member) -> &'a str {
        self.sni.as_deref().unwrap_or(&member.host)
    }
}

/// An active HTTP health check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// Asked with `GET`; a 2xx answer passes.
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub healthy_threshold: usize,
    pub unhealthy_threshold: usize,
}

/// Where the user id comes from.
#[derive(Debug)]
pub enum Identity {
    Jwt(JwtSettings),
    TrustedHeader(TrustedHeaderSettings),
    /// A name of the client certificate the TLS listener verified.
    ClientCertificate(CertificateName),
}

/// Which name of a verified client certificate is the user id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateName {
    CommonName,
    DnsSan,
    UriSan,
}

impl CertificateName {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateName::CommonName => "common_name",
            CertificateName::DnsSan => "dns_san",
            CertificateName::UriSan => "uri_san",
        }
    }
}

/// A verified JWT: `exp`, `iss` and `aud` required.
#[derive(Debug)]
pub struct JwtSettings {
    pub issuer: String,
    pub audiences: Vec<String>,
    /// The pinned algorithms; a token with any other `alg` is refused.
    pub algorithms: Vec<Algorithm>,
    /// Keys looked up by the token's `kid` (these win over a JWKS key of the same `kid`).
    pub keys: BTreeMap<String, JwtKey>,
    /// Keys fetched from the identity provider, when configured.
    pub jwks: Option<Box<JwksSettings>>,
    pub leeway: Duration,
    /// The claim holding the user id (`sub` by default).
    pub user_claim: String,
    /// Whether verified tokens may be cached until they expire.
    pub cache: bool,
}

/// Where and how often the identity provider's key set is fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwksSettings {
    pub source: JwksSource,
    pub refresh_min: Duration,
    pub refresh_max: Duration,
    pub unknown_kid_cooldown: Duration,
    pub max_age: Duration,
    pub timeout: Duration,
    /// Verify the provider against this bundle; the system roots when `None`.
    pub ca: Option<crate::tls::CaBundle>,
    /// The issuer, which a discovery document must name.
    pub issuer: String,
    /// The pinned algorithms: a fetched key is used only for these.
    pub algorithms: Vec<Algorithm>,
}

/// The JWKS URL, given or found by OIDC discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksSource {
    Url(String),
    /// The discovery document's URL (`{issuer}/.well-known/openid-configuration`).
    Discovery(String),
}

impl JwksSource {
    /// The URL fetched first.
    pub fn url(&self) -> &str {
        match self {
            JwksSource::Url(u) | JwksSource::Discovery(u) => u,
        }
    }
}

/// One verification key.
pub struct JwtKey {
    pub kid: String,
    pub algorithm: Algorithm,
    /// The PEM file it was read from.
    pub file: PathBuf,
    pub key: DecodingKey,
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// A user id set by a trusted hop in front of the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedHeaderSettings {
    /// Lower-case header name.
    pub header: String,
    /// The header is accepted only from peers inside one of these.
    pub trusted_sources: Vec<Cidr>,
}

impl TrustedHeaderSettings {
    /// Whether a peer may set the identity header.
    pub fn is_trusted(&self, peer: IpAddr) -> bool {
        self.trusted_sources.iter().any(|c| c.contains(peer))
    }
}

/// An address block, `10.0.0.0/8` or `::1/128` (a bare address is `/32` or `/128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub network: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `addr` or `addr/prefix`; `None` when either part is invalid.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = addr.trim().parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Cidr { network, prefix })
    }

    /// Whether `ip` lies inside the block (IPv4-mapped IPv6 peers count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Request limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most body bytes read to find a body-sourced environment.
    pub max_body_bytes: usize,
    /// The most bytes of request headers accepted.
    pub max_header_bytes: usize,
    /// The longest wait for the next bytes of a request body.
    pub body_read_timeout: Duration,
    /// The longest a whole HTTP/1 request head may take to arrive.
    pub head_timeout: Duration,
    /// Idle keep-alive timeout, seconds (`None`: keep-alive off).
    pub keepalive_timeout_seconds: Option<u64>,
}

/// Enforce (deny what the policy denies) or shadow (record, forward everything).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    Shadow,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "enforce" => Some(Mode::Enforce),
            "shadow" => Some(Mode::Shadow),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Shadow => "shadow",
        }
    }
}

/// Rejections on top of the mandatory canonicalization rules, which are always on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Strict {
    pub reject_any_duplicate_query: bool,
    pub reject_any_duplicate_header: bool,
    pub reject_encoded_unreserved: bool,
    pub reject_non_ascii_path: bool,
    pub max_path_bytes: Option<usize>,
}

/// A path prefix served without identity or decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicPrefix {
    pub id: Arc<str>,
    /// Starts and ends with `/`.
    pub prefix: String,
    pub upstream: Arc<str>,
    pub methods: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_contain() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(
            net.contains("::ffff:10.1.0.9".parse().unwrap()),
            "IPv4-mapped peers count as IPv4"
        );
        let one = Cidr::parse("127.0.0.1").unwrap();
        assert_eq!(one.prefix, 32);
        assert!(
            one.contains("127.0.0.1".parse().unwrap())
                && !one.contains("127.0.0.2".parse().unwrap())
        );
        assert!(Cidr::parse("::1").unwrap().contains("::1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            !Cidr::parse("fd00::/8")
                .unwrap()
                .contains("10.0.0.1".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "10.0.0/8", "x", "::1/129", "10.0.0.0/"] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn modes_parse() {
        assert_eq!(Mode::parse("shadow"), Some(Mode::Shadow));
        assert_eq!(Mode::parse("Shadow"), None);
        assert_eq!(Mode::default().as_str(), "enforce");
    }
}
