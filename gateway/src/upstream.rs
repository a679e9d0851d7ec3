//! Upstream pools: each upstream of the snapshot is a pool of members that
//! follows DNS and health in the background, never on the request path.
//!
//! A [`Pool`] is built for an upstream's settings and shared by every
//! snapshot whose settings for it are equal, so a policy reload keeps the
//! resolved addresses and the health state. Selection is pingora's
//! round robin over the members that are resolved, healthy (active HTTP
//! checks, when configured) and not ejected (a member that refused a
//! connection is left out for `eject_ms`). One task per pool, on the
//! gateway's upstream runtime, resolves names every `dns_refresh_seconds`
//! (every second while a name has never resolved), runs the health checks
//! and ends the ejections; it stops when no snapshot uses the pool.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::lb::discovery::ServiceDiscovery;
use pingora::lb::health_check::HttpHealthCheck;
use pingora::lb::selection::RoundRobin;
use pingora::lb::{Backend, Backends, LoadBalancer};
use pingora::prelude::*;
use pingora::protocols::l4::socket::SocketAddr as PingoraAddr;
use pingora::upstreams::peer::HttpPeer;
use pingora::utils::tls::{CertKey, WrappedX509};
use reqflo_config::{Member, Upstream};
use serde_json::json;

/// How long one DNS lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a name that has never resolved is tried again.
const UNRESOLVED_RETRY: Duration = Duration::from_secs(1);
/// How often a pool's task wakes to end ejections and see what is due.
const TICK: Duration = Duration::from_millis(100);

/// Looks names up. The gateway uses the system resolver ([`SystemResolver`]);
/// a test can answer from a table it changes while the gateway runs.
pub trait Resolve: Send + Sync + std::fmt::Debug {
    /// The addresses of `host:port`, or why there are none.
    fn lookup(&self, host: String, port: u16) -> Lookup;
}

/// A lookup in progress.
pub type Lookup =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<SocketAddr>, String>> + Send>>;

/// The system resolver (`getaddrinfo`, on tokio's blocking pool).
#[derive(Debug, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn lookup(&self, host: String, port: u16) -> Lookup {
        Box::pin(async move {
            tokio::net::lookup_host((host, port))
                .await
                .map(|addrs| addrs.collect())
                .map_err(|e| format!("does not resolve: {e}"))
        })
    }
}

/// What DNS said of each member: the last good addresses, and the last error.
#[derive(Debug, Default)]
struct Resolution {
    addresses: Option<Vec<SocketAddr>>,
    error: Option<String>,
}

/// The members and what they resolve to, shared by the pool and its discovery.
#[derive(Debug)]
struct Dns {
    upstream: Upstream,
    resolver: Arc<dyn Resolve>,
    resolved: Mutex<BTreeMap<Member, Resolution>>,
    /// Address → TLS server name, as of the last published membership.
    names: std::sync::RwLock<HashMap<SocketAddr, Arc<str>>>,
}

impl Dns {
    fn new(upstream: &Upstream, resolver: Arc<dyn Resolve>) -> Dns {
        let resolved = upstream
            .members
            .iter()
            .map(|m| {
                let r = Resolution {
                    addresses: m.literal().map(|a| vec![a]),
                    error: None,
                };
                (m.clone(), r)
            })
            .collect();
        Dns {
            upstream: upstream.clone(),
            resolver,
            resolved: Mutex::new(resolved),
            names: std::sync::RwLock::new(HashMap::new()),
        }
    }

    /// Resolves every DNS name again (literals never change); a failed
    /// lookup keeps the last good addresses.
    async fn refresh(&self) {
        for member in &self.upstream.members {
            if member.literal().is_some() {
                continue;
            }
            let lookup = self.resolver.lookup(member.host.clone(), member.port);
            let outcome = match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
                Ok(Ok(mut list)) => {
                    list.sort();
                    list.dedup();
                    if list.is_empty() {
                        Err("resolves to no address".to_owned())
                    } else {
                        Ok(list)
                    }
                }
                Ok(Err(e)) => Err(e),
                Err(_) => Err(format!(
                    "does not resolve: no answer within {} s",
                    LOOKUP_TIMEOUT.as_secs()
                )),
            };
            if let Ok(mut resolved) = self.resolved.lock() {
                let entry = resolved.entry(member.clone()).or_default();
                match outcome {
                    Ok(list) => {
                        entry.addresses = Some(list);
                        entry.error = None;
                    }
                    Err(e) => entry.error = Some(e),
                }
            }
        }
    }

    /// The backends of every address resolved so far, and the TLS name
    /// each address is verified as (kept here, not in the backend's
    /// extensions, which pingora clones on every selection).
    fn backends(&self) -> BTreeSet<Backend> {
        let mut out = BTreeSet::new();
        let mut names = HashMap::new();
        let Ok(resolved) = self.resolved.lock() else {
            return out;
        };
        for (member, r) in resolved.iter() {
            let name: Arc<str> = Arc::from(self.upstream.server_name(member));
            for addr in r.addresses.iter().flatten() {
                out.insert(Backend {
                    addr: PingoraAddr::Inet(*addr),
                    weight: 1,
                    ext: Default::default(),
                });
                names.entry(*addr).or_insert_with(|| name.clone());
            }
        }
        // Only ever added to: a selector built before a DNS change may still
        // hand out an address the new membership lacks, and it must keep its name.
        if let Ok(mut n) = self.names.write() {
            for (addr, name) in names {
                n.entry(addr).or_insert(name);
            }
        }
        out
    }

    /// The TLS name of a member's address (`None`: unknown, and the member
    /// is not used: pingora would not verify a certificate without a name).
    fn name_of(&self, addr: &SocketAddr) -> Option<String> {
        self.names
            .read()
            .ok()?
            .get(addr)
            .filter(|n| !n.is_empty())
            .map(|n| n.to_string())
    }

    /// Members that have never resolved, with why.
    fn unresolved(&self) -> Vec<String> {
        let Ok(resolved) = self.resolved.lock() else {
            return vec!["the DNS state is unavailable".to_owned()];
        };
        resolved
            .iter()
            .filter(|(_, r)| r.addresses.is_none())
            .map(|(m, r)| {
                format!(
                    "`{}` {}",
                    m.address,
                    r.error.as_deref().unwrap_or("is not resolved yet")
                )
            })
            .collect()
    }
}

/// pingora's discovery over [`Dns`]: what is resolved now (the pool's task
/// refreshes it before asking).
struct Discovery(Arc<Dns>);

#[async_trait]
impl ServiceDiscovery for Discovery {
    async fn discover(&self) -> Result<(BTreeSet<Backend>, HashMap<u64, bool>)> {
        Ok((self.0.backends(), HashMap::new()))
    }
}

/// One upstream's members and their state.
pub struct Pool {
    upstream: Upstream,
    dns: Arc<Dns>,
    balancer: LoadBalancer<RoundRobin>,
    /// The upstream's CA bundle and client certificate, as pingora takes them.
    ca: Option<Arc<[WrappedX509]>>,
    client_cert: Option<Arc<CertKey>>,
    /// Members left out after a failed connection, until the instant given.
    ejected: Mutex<Vec<(Backend, Instant)>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("upstream", &self.upstream.name)
            .finish_non_exhaustive()
    }
}

impl Pool {
    fn new(upstream: &Upstream, resolver: Arc<dyn Resolve>) -> Pool {
        let dns = Arc::new(Dns::new(upstream, resolver));
        let mut backends = Backends::new(Box::new(Discovery(dns.clone())));
        let tls = upstream.tls.as_ref();
        let ca: Option<Arc<[WrappedX509]>> = tls.and_then(|t| t.ca.as_ref()).map(|bundle| {
            bundle
                .certificates
                .iter()
                .map(|der| WrappedX509::new(der.clone(), pingora::utils::tls::parse_x509))
                .collect::<Vec<_>>()
                .into()
        });
        let client_cert = tls
            .and_then(|t| t.client.as_ref())
            .map(|c| Arc::new(CertKey::new(c.chain.clone(), c.key.clone())));
        if let Some(check) = &upstream.health_check {
            backends.set_health_check(health_check(
                upstream,
                check,
                ca.clone(),
                client_cert.clone(),
            ));
        }
        let balancer = LoadBalancer::from_backends(backends);
        Pool {
            upstream: upstream.clone(),
            dns,
            balancer,
            ca,
            client_cert,
            ejected: Mutex::new(Vec::new()),
        }
    }

    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// The next member to send a request to (`None`: no member is usable).
    pub fn select(&self) -> Option<HttpPeer> {
        let backends = self.balancer.backends();
        let members = backends.get_backend();
        // One member (a single address, or a Service name): no rotation to
        // make, and pingora's selector allocates per call.
        if members.len() == 1 {
            let only = members.iter().next()?;
            return if backends.ready(only) {
                self.peer(only)
            } else {
                None
            };
        }
        let backend = self.balancer.select(b"", 256)?;
        self.peer(&backend)
    }

    /// How many members could take a request now (for the retry bound).
    pub fn usable(&self) -> usize {
        let backends = self.balancer.backends();
        backends
            .get_backend()
            .iter()
            .filter(|b| backends.ready(b))
            .count()
    }

    fn peer(&self, backend: &Backend) -> Option<HttpPeer> {
        let u = &self.upstream;
        let addr = match &backend.addr {
            PingoraAddr::Inet(a) => *a,
            PingoraAddr::Unix(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        let name = if u.tls.is_some() {
            self.dns.name_of(&addr)?
        } else {
            String::new()
        };
        let mut peer = HttpPeer::new(addr, u.tls.is_some(), name);
        peer.options.connection_timeout = Some(u.connect_timeout);
        peer.options.total_connection_timeout = Some(u.connect_timeout);
        peer.options.read_timeout = Some(u.read_timeout);
        peer.options.write_timeout = Some(u.read_timeout);
        peer.options.ca = self.ca.clone();
        peer.client_cert_key = self.client_cert.clone();
        Some(peer)
    }

    /// Leaves the member at `addr` out for `eject_ms` (a connection to it failed).
    pub fn eject(&self, addr: &SocketAddr) {
        let backends = self.balancer.backends();
        let Some(backend) = backends
            .get_backend()
            .iter()
            .find(|b| b.as_inet() == Some(addr))
            .cloned()
        else {
            return;
        };
        backends.set_enable(&backend, false);
        if let Ok(mut ejected) = self.ejected.lock() {
            ejected.retain(|(b, _)| *b != backend);
            ejected.push((backend, Instant::now() + self.upstream.eject_for));
        }
        tracing::warn!(
            target: "reqflo_gateway::upstream",
            upstream = %self.upstream.name,
            member = %addr,
            eject_ms = self.upstream.eject_for.as_millis() as u64,
            "connection failed; member ejected"
        );
    }

    fn end_ejections(&self, now: Instant) {
        let Ok(mut ejected) = self.ejected.lock() else {
            return;
        };
        let backends = self.balancer.backends();
        ejected.retain(|(backend, until)| {
            let over = *until <= now;
            if over {
                backends.set_enable(backend, true);
            }
            !over
        });
    }

    /// Resolves names and publishes the members (the selector is rebuilt when
    /// they change).
    async fn refresh(&self) {
        self.dns.refresh().await;
        if let Err(e) = self.balancer.update().await {
            tracing::warn!(target: "reqflo_gateway::upstream", upstream = %self.upstream.name, error = %e, "cannot update the pool");
        }
    }

    /// Why this pool is not ready: members that have never resolved.
    pub fn not_ready(&self) -> Vec<String> {
        self.dns.unresolved()
    }

    /// The pool's state for the admin `/upstreams` page.
    pub fn status(&self) -> serde_json::Value {
        let backends = self.balancer.backends();
        let ejected: Vec<Backend> = self
            .ejected
            .lock()
            .map(|e| e.iter().map(|(b, _)| b.clone()).collect())
            .unwrap_or_default();
        let members: Vec<serde_json::Value> = backends
            .get_backend()
            .iter()
            .map(|b| {
                json!({
                    "address": b.addr.to_string(),
                    "ready": backends.ready(b),
                    "ejected": ejected.contains(b),
                })
            })
            .collect();
        json!({
            "name": &*self.upstream.name,
            "members": members,
            "unresolved": self.dns.unresolved(),
            "tls": self.upstream.tls.is_some(),
            "health_check": self.upstream.health_check.as_ref().map(|h| h.path.clone()),
        })
    }
}

fn health_check(
    upstream: &Upstream,
    check: &reqflo_config::HealthCheck,
    ca: Option<Arc<[WrappedX509]>>,
    client_cert: Option<Arc<CertKey>>,
) -> Box<HttpHealthCheck> {
    let host = upstream
        .members
        .first()
        .map(|m| upstream.server_name(m).to_owned())
        .unwrap_or_default();
    let mut hc = HttpHealthCheck::new(&host, upstream.tls.is_some());
    hc.consecutive_success = check.healthy_threshold;
    hc.consecutive_failure = check.unhealthy_threshold;
    hc.peer_template.options.connection_timeout = Some(check.timeout);
    hc.peer_template.options.read_timeout = Some(check.timeout);
    hc.peer_template.options.ca = ca;
    hc.peer_template.client_cert_key = client_cert;
    if let Ok(mut req) = RequestHeader::build("GET", check.path.as_bytes(), None) {
        let _ = req.append_header("Host", host.as_str());
        let _ = req.append_header("User-Agent", "reqflo-gateway-health-check");
        hc.req = req;
    }
    hc.validator = Some(Box::new(|resp: &ResponseHeader| {
        if resp.status.is_success() {
            Ok(())
        } else {
            Error::e_explain(
                ErrorType::CustomCode("health check status", resp.status.as_u16()),
                "not 2xx",
            )
        }
    }));
    Box::new(hc)
}

/// Every live pool, and the runtime their tasks run on.
pub struct Upstreams {
    pools: crate::live::Live<Pool>,
    resolver: Arc<dyn Resolve>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstreams").finish_non_exhaustive()
    }
}

impl Upstreams {
    /// A registry with its own one-thread runtime (`None` runtime: the thread
    /// could not start, and pools hold only their literal addresses).
    pub fn new(resolver: Arc<dyn Resolve>) -> Upstreams {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("reqflo-upstreams")
            .enable_all()
            .build()
            .map_err(|e| {
                tracing::error!(target: "reqflo_gateway::upstream", error = %e, "cannot start the upstream runtime");
            })
            .ok();
        Upstreams {
            pools: crate::live::Live::default(),
            resolver,
            runtime,
        }
    }

    /// The pool for these settings: the live one with equal settings, or a
    /// new one whose task starts now.
    pub fn pool(&self, upstream: &Upstream) -> Arc<Pool> {
        self.pools.find_or_create(
            |p| p.upstream == *upstream,
            || Arc::new(Pool::new(upstream, self.resolver.clone())),
            |pool| self.start(pool),
        )
    }

    /// Publishes a new pool's literal members, then starts its task.
    fn start(&self, pool: &Arc<Pool>) {
        let Some(rt) = &self.runtime else { return };
        let weak = Arc::downgrade(pool);
        let (tx, rx) = std::sync::mpsc::channel();
        rt.spawn(async move {
            if let Some(p) = weak.upgrade() {
                // What is resolved now (the IP literals) serves at once;
                // names join when the task has resolved them.
                let _ = p.balancer.update().await;
                drop(p);
            }
            let _ = tx.send(());
            run(weak).await;
        });
        // Publishing literals involves no lookup: wait for it, so a new pool
        // of addresses serves its first request.
        let _ = rx.recv_timeout(Duration::from_secs(1));
    }

    /// The background runtime (also the key sets' fetcher's).
    pub fn handle(&self) -> Option<tokio::runtime::Handle> {
        self.runtime.as_ref().map(|rt| rt.handle().clone())
    }

    /// Every live pool's state, for the admin `/upstreams` page.
    pub fn status(&self) -> Vec<serde_json::Value> {
        self.live().iter().map(|p| p.status()).collect()
    }

    /// Every live pool's reasons for not being ready.
    pub fn not_ready(&self) -> Vec<String> {
        self.live()
            .iter()
            .flat_map(|p| {
                p.not_ready()
                    .into_iter()
                    .map(|r| format!("upstream `{}`: {r}", p.upstream.name))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn live(&self) -> Vec<Arc<Pool>> {
        self.pools.all()
    }
}

impl Default for Upstreams {
    fn default() -> Self {
        Upstreams::new(Arc::new(SystemResolver))
    }
}

impl Drop for Upstreams {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A pool's task: DNS, health checks and ejections, until the pool is dropped.
async fn run(pool: Weak<Pool>) {
    let mut next_dns = Instant::now();
    let mut next_check = Instant::now();
    loop {
        let Some(p) = pool.upgrade() else { return };
        let now = Instant::now();
        p.end_ejections(now);
        if now >= next_dns {
            p.refresh().await;
            let wait = if p.dns.unresolved().is_empty() {
                p.upstream.dns_refresh
            } else {
                UNRESOLVED_RETRY
            };
            next_dns = Instant::now() + wait;
        }
        if let Some(check) = &p.upstream.health_check
            && now >= next_check
        {
            p.balancer.backends().run_health_check(true).await;
            next_check = Instant::now() + check.interval;
        }
        drop(p);
        tokio::time::sleep(TICK).await;
    }
}
