//! What every request and the admin listener share: the swapped snapshot,
//! the metrics, the token cache, the reload status, the decision-id source.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use arc_swap::{ArcSwap, ArcSwapOption};
use prometheus::{Histogram, IntCounter};
use reqflo_config::{Access, ConfigError, ReloadEvent, Snapshot};
use reqflo_policy::Action;

use crate::auth::{self, TokenCache};
use crate::metrics::Metrics;

/// Shared by the proxy, the admin listener and the reload thread.
#[derive(Debug)]
pub struct Shared {
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub metrics: Metrics,
    pub tokens: TokenCache,
    pub reloads: Mutex<ReloadStatus>,
    pub ids: DecisionIds,
    /// The upstream pools and the runtime that keeps them resolved and checked.
    pub upstreams: crate::upstream::Upstreams,
    /// The identity provider's key sets, fetched on the same runtime.
    pub keysets: crate::auth::jwks::KeySets,
    /// Set when shutdown starts: `/readyz` turns 503 so balancers drain us.
    pub draining: AtomicBool,
    /// The access each applied policy reload gains and loses, diffed in the background.
    pub access_diffs: crate::access_diff::AccessDiffs,
    /// A fetched policy bundle's source: when the server last confirmed it.
    pub bundle: Arc<crate::bundle_fetch::BundleSource>,
    derived: ArcSwapOption<Derived>,
    /// The public JWKs of the assertion keys served so far, newest first
    /// (at most two: the serving key and the one it replaced).
    assertion_keys: Mutex<Vec<serde_json::Value>>,
}

/// What the admin `/policy` page says about reloads.
#[derive(Clone, Debug, Default)]
pub struct ReloadStatus {
    pub last_applied: Option<SystemTime>,
    pub last_rejected: Option<RejectedReload>,
}

/// The most recent reload that did not compile.
#[derive(Clone, Debug)]
pub struct RejectedReload {
    pub at: SystemTime,
    pub revision_tried: Option<String>,
    pub errors: Vec<ConfigError>,
}

/// Per-snapshot values computed once, not per request.
#[derive(Debug)]
pub struct Derived {
    /// The snapshot these values are for: a request holds this `Derived`, and
    /// through it its one snapshot.
    pub snapshot: Arc<Snapshot>,
    /// The token cache scope of this snapshot's identity settings.
    pub token_scope: Option<String>,
    /// The client headers no spelling of reaches an upstream.
    pub strip: crate::proxy::outgoing::StripList,
    /// The identity provider's key set, when the identity settings fetch one.
    pub jwks: Option<Arc<crate::auth::jwks::Jwks>>,
    /// Each upstream's pool (shared with every snapshot of equal settings).
    pub pools: HashMap<Arc<str>, Arc<crate::upstream::Pool>, foldhash::fast::RandomState>,
    /// Each route's metric children for its usual outcome, resolved on first
    /// use (`with_label_values` hashes every label on every call).
    route_metrics: HashMap<Arc<str>, OnceLock<RouteMetrics>, foldhash::fast::RandomState>,
}

/// The metric children an allowed (or public) request of one route updates.
#[derive(Debug)]
pub struct RouteMetrics {
    /// `decisions{route, action, decision="allow", code="none", mode}`, with
    /// the action it is for (`None`: a public route).
    pub allowed: Option<(Action, IntCounter)>,
    /// `request_seconds{route, outcome}` for [`RouteMetrics::outcome`].
    pub latency: Histogram,
    /// `allow` or `public`.
    pub outcome: &'static str,
}

impl Derived {
    /// The cached metric children of `route` (`None`: not a route of this snapshot).
    pub fn route_metrics(&self, route: &str, metrics: &Metrics) -> Option<&RouteMetrics> {
        let cell = self.route_metrics.get(route)?;
        if let Some(cached) = cell.get() {
            return Some(cached);
        }
        let found = self.snapshot.routes.get(route)?;
        Some(cell.get_or_init(|| {
            let id: &str = &found.id;
            match &found.access {
                Access::Public => RouteMetrics {
                    allowed: None,
                    latency: metrics.request_seconds.with_label_values(&[id, "public"]),
                    outcome: "public",
                },
                Access::Decide(check) => RouteMetrics {
                    allowed: Some((
                        check.action,
                        metrics.decisions.with_label_values(&[
                            id,
                            check.action.as_str(),
                            "allow",
                            "none",
                            found.mode.as_str(),
                        ]),
                    )),
                    latency: metrics.request_seconds.with_label_values(&[id, "allow"]),
                    outcome: "allow",
                },
            }
        }))
    }
}

impl Shared {
    pub fn new(
        snapshot: Arc<ArcSwap<Snapshot>>,
        metrics: Metrics,
        resolver: Arc<dyn crate::upstream::Resolve>,
    ) -> Shared {
        let upstreams = crate::upstream::Upstreams::new(resolver);
        let keysets = crate::auth::jwks::KeySets::new(upstreams.handle(), metrics.clone());
        let shared = Shared {
            snapshot,
            metrics: metrics.clone(),
            tokens: TokenCache::new(),
            reloads: Mutex::new(ReloadStatus::default()),
            ids: DecisionIds::new(),
            upstreams,
            keysets,
            draining: AtomicBool::new(false),
            access_diffs: crate::access_diff::AccessDiffs::new(metrics.clone()),
            bundle: Arc::new(crate::bundle_fetch::BundleSource::new(metrics.clone())),
            derived: ArcSwapOption::empty(),
            assertion_keys: Mutex::new(Vec::new()),
        };
        let current = shared.snapshot.load_full();
        shared.publish_snapshot(&current);
        shared.on_bundle_applied(&current);
        // Built now, off the request path: the pools start resolving at once.
        let _ = shared.current();
        if let Ok(mut status) = shared.reloads.lock() {
            status.last_applied = Some(current.loaded_at);
        }
        shared
    }

    /// The serving snapshot with its per-snapshot values (computed on first
    /// use): one reference count taken per request, not one per value.
    pub fn current(&self) -> Arc<Derived> {
        let snapshot = self.snapshot.load();
        if let Some(d) = self.derived.load_full()
            && Arc::ptr_eq(&d.snapshot, &snapshot)
        {
            return d;
        }
        self.derived(&snapshot)
    }

    /// The per-snapshot values for `snapshot`, computed now and kept.
    fn derived(&self, snapshot: &Arc<Snapshot>) -> Arc<Derived> {
        let d = Arc::new(Derived {
            snapshot: snapshot.clone(),
            token_scope: auth::cache_scope(&snapshot.settings.identity, &snapshot.revision),
            strip: crate::proxy::outgoing::StripList::new(snapshot),
            jwks: match &snapshot.settings.identity {
                reqflo_config::Identity::Jwt(jwt) => jwt.jwks.as_ref().map(|j| self.keysets.get(j)),
                reqflo_config::Identity::TrustedHeader(_)
                | reqflo_config::Identity::ClientCertificate(_) => None,
            },
            pools: snapshot
                .settings
                .upstreams
                .iter()
                .map(|(name, u)| (name.clone(), self.upstreams.pool(u)))
                .collect(),
            route_metrics: snapshot
                .routes
                .routes()
                .iter()
                .map(|r| (r.id.clone(), OnceLock::new()))
                .collect(),
        });
        self.derived.store(Some(d.clone()));
        d
    }

    /// The assertion keys to publish, newest first.
    pub fn assertion_keys(&self) -> Vec<serde_json::Value> {
        self.assertion_keys
            .lock()
            .map(|k| k.clone())
            .unwrap_or_default()
    }

    /// Sets the snapshot gauges to `snapshot`, and publishes its assertion key.
    pub fn publish_snapshot(&self, snapshot: &Snapshot) {
        if let (Some(a), Ok(mut keys)) = (&snapshot.settings.assertion, self.assertion_keys.lock())
        {
            let jwk = a.key.jwk();
            if keys.first() != Some(jwk) {
                keys.retain(|k| k != jwk);
                keys.insert(0, jwk.clone());
                keys.truncate(2);
            }
        }
        let m = &self.metrics;
        m.snapshot_info.reset();
        m.snapshot_info
            .with_label_values(&[
                &snapshot.revision,
                &snapshot.config_revision,
                &snapshot.policy_revision,
            ])
            .set(1.0);
        let counts = snapshot.policy.counts();
        for (kind, n) in [
            ("orgs", counts.orgs),
            ("users", counts.users),
            ("groups", counts.groups),
            ("services", counts.services),
            ("resources", counts.resources),
            ("grants", counts.grants),
            ("routes", snapshot.route_count()),
        ] {
            m.snapshot_objects.with_label_values(&[kind]).set(n as f64);
        }
        m.last_reload_success.set(unix_seconds(snapshot.loaded_at));
        m.bundle_info.reset();
        if let Some(b) = &snapshot.bundle {
            m.bundle_info.with_label_values(&[&b.revision]).set(1.0);
            let serving = b.orgs.iter().filter(|o| o.serving.is_some()).count();
            let rejected = b.rejected().count();
            for (state, n) in [
                ("serving", serving),
                ("rejected", rejected),
                ("not_served", b.not_served),
            ] {
                m.bundle_orgs.with_label_values(&[state]).set(n as f64);
            }
        }
    }

    /// Counts and logs what a bundle load compiled and rejected.
    fn on_bundle_applied(&self, snapshot: &Snapshot) {
        let Some(b) = &snapshot.bundle else {
            return;
        };
        if let Some(why) = &b.cache_ignored {
            tracing::warn!(target: "reqflo_gateway::bundle", error = %why, "the cached policy bundle is ignored (not half-loaded); nothing is served until the server answers");
        }
        let rejected: Vec<_> = b.rejected().collect();
        let m = &self.metrics;
        m.bundle_org_loads
            .with_label_values(&["loaded"])
            .inc_by(b.compiled.saturating_sub(rejected.len()) as u64);
        m.bundle_org_loads
            .with_label_values(&["rejected"])
            .inc_by(rejected.len() as u64);
        tracing::info!(
            target: "reqflo_gateway::bundle",
            revision = %b.revision,
            orgs = b.orgs.len(),
            compiled = b.compiled,
            rejected = rejected.len(),
            not_served = b.not_served,
            "policy bundle applied"
        );
        // Bounded: the first orgs and the first errors of each.
        for org in rejected.iter().take(20) {
            tracing::warn!(
                target: "reqflo_gateway::bundle",
                org = %org.org,
                sha256 = %org.sha256,
                serving = org.serving_sha256().unwrap_or("none"),
                errors = org.rejected.len(),
                first_error = %org.rejected.first().map(ToString::to_string).unwrap_or_default(),
                "bundle org rejected; its previous version (if any) keeps serving"
            );
        }
    }

    /// Records one reload attempt: log line, metrics and admin status together.
    pub fn on_reload(&self, event: &ReloadEvent) {
        self.metrics
            .reloads
            .with_label_values(&[event.outcome()])
            .inc();
        match event {
            ReloadEvent::Applied {
                revision,
                previous,
                took,
                replaced,
                serving,
            } => {
                self.metrics.reload_seconds.observe(took.as_secs_f64());
                let current = self.snapshot.load_full();
                self.publish_snapshot(&current);
                self.on_bundle_applied(serving);
                self.access_diffs.submit(replaced, serving);
                let _ = self.current();
                if let Ok(mut status) = self.reloads.lock() {
                    status.last_applied = Some(current.loaded_at);
                }
                tracing::info!(
                    target: "reqflo_gateway::reload",
                    outcome = "applied",
                    revision = %revision,
                    previous = %previous,
                    took_ms = took.as_secs_f64() * 1e3,
                    "policy reload applied"
                );
            }
            ReloadEvent::Unchanged { revision } => {
                tracing::debug!(target: "reqflo_gateway::reload", outcome = "unchanged", revision = %revision, "files changed, content did not");
            }
            ReloadEvent::Rejected {
                revision_tried,
                current,
                errors,
            } => {
                if let Ok(mut status) = self.reloads.lock() {
                    status.last_rejected = Some(RejectedReload {
                        at: SystemTime::now(),
                        revision_tried: revision_tried.clone(),
                        errors: errors.0.clone(),
                    });
                }
                let first = errors
                    .0
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                tracing::warn!(
                    target: "reqflo_gateway::reload",
                    outcome = "rejected",
                    revision_tried = revision_tried.as_deref().unwrap_or("unreadable"),
                    serving = %current,
                    errors = errors.len(),
                    first_error = %first,
                    "policy reload rejected; the previous snapshot keeps serving"
                );
                for e in &errors.0 {
                    tracing::warn!(target: "reqflo_gateway::reload", error = %e, "reload error");
                }
            }
            ReloadEvent::WatchFailed { message } => {
                tracing::warn!(target: "reqflo_gateway::reload", outcome = "watch_failed", %message, "a watched directory cannot be watched");
            }
        }
    }
}

/// Seconds since the epoch as a float, 0 before it.
pub fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Unique decision ids: a random per-process prefix and a counter.
#[derive(Debug)]
pub struct DecisionIds {
    prefix: u64,
    next: AtomicU64,
}

impl DecisionIds {
    pub fn new() -> DecisionIds {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let prefix = RandomState::new().hash_one((nanos, std::process::id()));
        DecisionIds {
            prefix,
            next: AtomicU64::new(1),
        }
    }

    /// 24 hex digits, unique within this process and unlikely to repeat across processes.
    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut id = String::with_capacity(24);
        push_hex(&mut id, self.prefix, 16);
        push_hex(&mut id, n & 0xffff_ffff, 8);
        id
    }
}

/// Appends the low `digits` hex digits of `value`, zero-padded (what
/// `format!("{:016x}")` would write, without the formatting machinery on
/// every request).
fn push_hex(out: &mut String, value: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        let nibble = (value >> (i * 4)) & 0xf;
        out.push(char::from(HEX[nibble as usize]));
    }
}

impl Default for DecisionIds {
    fn default() -> Self {
        DecisionIds::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_ids_are_24_hex_digits_counting_up_after_the_prefix() {
        let ids = DecisionIds::new();
        let first = ids.next();
        let second = ids.next();
        assert_eq!(first, format!("{:016x}{:08x}", ids.prefix, 1));
        assert_eq!(second, format!("{:016x}{:08x}", ids.prefix, 2));
    }

    #[test]
    fn push_hex_matches_format_for_edge_values() {
        for (value, digits) in [(0, 16), (u64::MAX, 16), (0xabc, 8), (0x1_0000_0000, 8)] {
            let mut out = String::new();
            push_hex(&mut out, value, digits);
            let expected = format!("{value:016x}");
            assert_eq!(out, expected[16 - digits as usize..]);
        }
    }
}
