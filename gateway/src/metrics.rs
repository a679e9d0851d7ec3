//! The gateway's Prometheus metrics, on their own registry (so two gateways
//! in one test process never share counters). Labels are bounded: route id,
//! action, decision, reason code, mode, outcome — never a path, user or
//! resource id.

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, Opts, Registry, TextEncoder,
};

/// `authenticated_total` by `method`, resolved once: the hot path
/// increments an atomic instead of looking a label set up.
#[derive(Clone, Debug)]
pub struct Authenticated {
    jwt: IntCounter,
    jwt_cached: IntCounter,
    trusted_header: IntCounter,
    client_certificate: IntCounter,
    other: IntCounter,
}

impl Authenticated {
    fn new(registry: &Registry) -> Result<Authenticated, prometheus::Error> {
        let vec = counter(
            registry,
            "reqflo_gateway_authenticated_total",
            "Requests whose identity was established, by method (jwt: verified now; jwt_cached: from the token cache)",
            &["method"],
        )?;
        let child = |m: &str| vec.with_label_values(&[m]);
        Ok(Authenticated {
            jwt: child("jwt"),
            jwt_cached: child("jwt_cached"),
            trusted_header: child("trusted_header"),
            client_certificate: child("client_certificate"),
            other: child("other"),
        })
    }

    /// Counts one request authenticated by `method` (an identity's `source`).
    pub fn count(&self, method: &str) {
        match method {
            "jwt" => &self.jwt,
            "jwt_cached" => &self.jwt_cached,
            "trusted_header" => &self.trusted_header,
            "client_certificate" => &self.client_certificate,
            _ => &self.other,
        }
        .inc();
    }
}

/// Decision latency buckets, seconds: 50 ns to 1 ms.
const DECISION_BUCKETS: &[f64] = &[
    50e-9, 100e-9, 250e-9, 500e-9, 1e-6, 2.5e-6, 5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 1e-3,
];

/// Request latency buckets, seconds: 100 µs to 10 s.
const REQUEST_BUCKETS: &[f64] = &[
    100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0,
    2.5, 5.0, 10.0,
];

/// Every metric, registered on [`Metrics::registry`].
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// `route`, `action`, `decision` (`allow`/`deny`), `code` (headline reason, `none` on allow), `mode`.
    pub decisions: IntCounterVec,
    /// Time inside the policy engine for one request (all its checks).
    pub decision_seconds: Histogram,
    /// End to end, by `route` and `outcome`.
    pub request_seconds: HistogramVec,
    /// Requests answered before a decision: `stage` and `reason`.
    pub rejected: IntCounterVec,
    /// `route`, `kind` (`connect`, `timeout`, `other`).
    pub upstream_errors: IntCounterVec,
    /// `outcome`: `applied`, `unchanged`, `rejected`.
    pub reloads: IntCounterVec,
    pub last_reload_success: Gauge,
    /// 1, with the serving revisions as labels.
    pub snapshot_info: GaugeVec,
    /// Objects in the serving snapshot, by `kind`.
    pub snapshot_objects: GaugeVec,
    /// Seconds since the serving snapshot was built (set at scrape time).
    pub snapshot_age: Gauge,
    /// Shadow-mode denials that were forwarded anyway: `route`, `action`, `code`.
    pub shadow_would_deny: IntCounterVec,
    /// Internal failures answered with 500: `kind`.
    pub internal_errors: IntCounterVec,
    /// Verified tokens currently cached (set when `/metrics` is scraped).
    pub token_cache_entries: IntGauge,
    /// Requests whose identity was established, by `method`.
    pub authenticated: Authenticated,
    /// JWKS fetches by `outcome`: `updated`, `unchanged`, `error`.
    pub jwks_refreshes: IntCounterVec,
    /// Tokens with an unknown `kid`, by `action`: `refetch` or `cooldown` (no fetch).
    pub jwks_unknown_kid: IntCounterVec,
    /// Keys in the fetched key set (set at scrape time).
    pub jwks_keys: IntGauge,
    /// Seconds since the key set was last fetched good; -1 before the first (set at scrape time).
    pub jwks_age: Gauge,
    /// How long each applied reload took, from the file change seen to the swap.
    pub reload_seconds: Histogram,
    /// Access changed by applied reloads: `direction` (`gained`, `lost`)
    /// and `risk` (the highest of the request's).
    pub access_changes: IntCounterVec,
    /// Reload access diffs by `outcome`: `listed`, `too_large`, `failed`, `off`.
    pub access_diffs: IntCounterVec,
    /// How long each reload access diff took.
    pub access_diff_seconds: Histogram,
    /// Connections closed because a request head did not arrive within
    /// `limits.head_timeout_ms`.
    pub head_timeouts: IntCounter,
    /// 1, with the serving bundle's manifest revision as a label (absent
    /// for a single-file policy): convergence is one query over replicas.
    pub bundle_info: GaugeVec,
    /// The serving bundle's orgs by `state`: `serving`, `rejected` (the
    /// manifest's version failed; an older one may serve), `not_served`
    /// (outside this gateway's shard).
    pub bundle_orgs: GaugeVec,
    /// Org documents compiled by applied bundle loads, by `outcome`:
    /// `loaded` or `rejected` (orgs shared unchanged are not counted).
    pub bundle_org_loads: IntCounterVec,
    /// Requests for an org outside this gateway's shard (answered 421).
    pub org_not_served: IntCounter,
    /// Manifest polls of a fetched bundle by `outcome`: `not_modified`
    /// (a 304, or the same manifest), `updated`, `error`.
    pub bundle_polls: IntCounterVec,
    /// Bytes fetched from the bundle server (manifests and org files).
    pub bundle_fetch_bytes: IntCounter,
    /// Seconds since the server last confirmed the bundle; -1 never (set at scrape time).
    pub bundle_confirmed_age: Gauge,
    /// 1 while the bundle is past `bundle.max_staleness_ms` (set at scrape time).
    pub bundle_stale: IntGauge,
    /// Requests denied `policy_stale`, by `risk` (the first protected level the request carries).
    pub stale_denials: IntCounterVec,
}

/// Reload duration buckets, seconds: 1 ms to 30 s (an L policy takes ~2 s).
const RELOAD_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0,
];

/// Reload access diff buckets, seconds: 1 ms to 5 min (one core; an L
/// policy's small edit takes several seconds).
const ACCESS_DIFF_BUCKETS: &[f64] = &[
    0.001, 0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// The commit the binary was built from (`unknown` outside a git checkout).
pub const COMMIT: &str = match option_env!("REQFLO_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn gauge_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<GaugeVec, prometheus::Error> {
    let g = GaugeVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> Result<Gauge, prometheus::Error> {
    let g = Gauge::new(name, help)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let r = &registry;
        let decision_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "reqflo_gateway_decision_duration_seconds",
                "Time spent in the policy engine deciding one request",
            )
            .buckets(DECISION_BUCKETS.to_vec()),
        )?;
        r.register(Box::new(decision_seconds.clone()))?;
        let request_seconds = HistogramVec::new(
            HistogramOpts::new(
                "reqflo_gateway_request_duration_seconds",
                "End-to-end request latency by route and outcome",
            )
            .buckets(REQUEST_BUCKETS.to_vec()),
            &["route", "outcome"],
        )?;
        r.register(Box::new(request_seconds.clone()))?;
        let token_cache_entries = IntGauge::new(
            "reqflo_gateway_token_cache_entries",
            "Verified tokens currently cached",
        )?;
        r.register(Box::new(token_cache_entries.clone()))?;
        let reload_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "reqflo_gateway_reload_duration_seconds",
                "Time to read, validate, compile and swap in one applied reload",
            )
            .buckets(RELOAD_BUCKETS.to_vec()),
        )?;
        r.register(Box::new(reload_seconds.clone()))?;
        let access_diff_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "reqflo_gateway_reload_access_diff_duration_seconds",
                "Time to diff the access of one applied policy reload, in the background",
            )
            .buckets(ACCESS_DIFF_BUCKETS.to_vec()),
        )?;
        r.register(Box::new(access_diff_seconds.clone()))?;
        let build_info = GaugeVec::new(
            Opts::new(
                "reqflo_gateway_build_info",
                "The running binary's version and commit (value is always 1)",
            ),
            &["version", "commit"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), COMMIT])
            .set(1.0);
        r.register(Box::new(build_info))?;
        // CPU, resident memory, open descriptors and start time of this
        // process, under the standard `process_*` names.
        #[cfg(target_os = "linux")]
        r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        let jwks_keys = IntGauge::new(
            "reqflo_gateway_jwks_keys",
            "Keys in the identity provider's key set as last fetched",
        )?;
        r.register(Box::new(jwks_keys.clone()))?;
        let head_timeouts = IntCounter::new(
            "reqflo_gateway_head_timeouts_total",
            "Connections closed because a request head did not arrive within limits.head_timeout_ms",
        )?;
        r.register(Box::new(head_timeouts.clone()))?;
        let metrics = Metrics {
            decisions: counter(
                r,
                "reqflo_gateway_decisions_total",
                "Policy decisions by route, action, decision, headline reason code and mode",
                &["route", "action", "decision", "code", "mode"],
            )?,
            decision_seconds,
            request_seconds,
            rejected: counter(
                r,
                "reqflo_gateway_rejected_total",
                "Requests answered before a policy decision, by pipeline stage and reason",
                &["stage", "reason"],
            )?,
            upstream_errors: counter(
                r,
                "reqflo_gateway_upstream_errors_total",
                "Failures talking to an upstream, by route and kind",
                &["route", "kind"],
            )?,
            reloads: counter(
                r,
                "reqflo_gateway_reloads_total",
                "Config and policy reload attempts by outcome",
                &["outcome"],
            )?,
            last_reload_success: gauge(
                r,
                "reqflo_gateway_last_reload_success_timestamp_seconds",
                "Unix time the serving snapshot was swapped in",
            )?,
            snapshot_info: gauge_vec(
                r,
                "reqflo_gateway_snapshot_info",
                "The serving snapshot's revisions (value is always 1)",
                &["revision", "config_revision", "policy_revision"],
            )?,
            snapshot_objects: gauge_vec(
                r,
                "reqflo_gateway_snapshot_objects",
                "Objects in the serving snapshot by kind",
                &["kind"],
            )?,
            snapshot_age: gauge(
                r,
                "reqflo_gateway_snapshot_age_seconds",
                "Seconds since the serving snapshot was built",
            )?,
            shadow_would_deny: counter(
                r,
                "reqflo_gateway_shadow_would_deny_total",
                "Requests a shadow-mode route forwarded although the policy denied them",
                &["route", "action", "code"],
            )?,
            internal_errors: counter(
                r,
                "reqflo_gateway_internal_errors_total",
                "Internal failures answered with 500, by kind",
                &["kind"],
            )?,
            token_cache_entries,
            authenticated: Authenticated::new(r)?,
            jwks_refreshes: counter(
                r,
                "reqflo_gateway_jwks_refreshes_total",
                "Fetches of the identity provider's key set by outcome",
                &["outcome"],
            )?,
            jwks_unknown_kid: counter(
                r,
                "reqflo_gateway_jwks_unknown_kid_total",
                "Tokens naming a key the set does not have, by whether a refetch was allowed",
                &["action"],
            )?,
            jwks_keys,
            reload_seconds,
            head_timeouts,
            bundle_info: gauge_vec(
                r,
                "reqflo_gateway_bundle_info",
                "The serving policy bundle's manifest revision (value is always 1)",
                &["revision"],
            )?,
            bundle_orgs: gauge_vec(
                r,
                "reqflo_gateway_bundle_orgs",
                "Orgs of the serving bundle by state: serving, rejected, not_served (outside this shard)",
                &["state"],
            )?,
            bundle_org_loads: counter(
                r,
                "reqflo_gateway_bundle_org_loads_total",
                "Org documents compiled by bundle loads, by outcome (loaded, rejected)",
                &["outcome"],
            )?,
            bundle_polls: counter(
                r,
                "reqflo_gateway_bundle_polls_total",
                "Manifest polls of the bundle server by outcome: not_modified, updated, error",
                &["outcome"],
            )?,
            bundle_fetch_bytes: {
                let c = IntCounter::new(
                    "reqflo_gateway_bundle_fetch_bytes_total",
                    "Bytes fetched from the bundle server (manifests and org files)",
                )?;
                r.register(Box::new(c.clone()))?;
                c
            },
            bundle_confirmed_age: gauge(
                r,
                "reqflo_gateway_bundle_confirmed_age_seconds",
                "Seconds since the bundle server last confirmed the bundle (-1: never)",
            )?,
            bundle_stale: {
                let g = IntGauge::new(
                    "reqflo_gateway_bundle_stale",
                    "1 while the bundle is older than bundle.max_staleness_ms",
                )?;
                r.register(Box::new(g.clone()))?;
                g
            },
            stale_denials: counter(
                r,
                "reqflo_gateway_stale_denials_total",
                "Requests denied policy_stale (a stale bundle and a protected risk), by risk",
                &["risk"],
            )?,
            org_not_served: {
                let c = IntCounter::new(
                    "reqflo_gateway_org_not_served_total",
                    "Requests for an org outside this gateway's shard, answered 421 org_not_served",
                )?;
                r.register(Box::new(c.clone()))?;
                c
            },
            access_changes: counter(
                r,
                "reqflo_gateway_reload_access_changes_total",
                "Access gained or lost by applied policy reloads, by direction and risk",
                &["direction", "risk"],
            )?,
            access_diffs: counter(
                r,
                "reqflo_gateway_reload_access_diffs_total",
                "Access diffs of applied policy reloads by outcome",
                &["outcome"],
            )?,
            access_diff_seconds,
            jwks_age: gauge(
                r,
                "reqflo_gateway_jwks_age_seconds",
                "Seconds since the key set was last fetched good (-1: never)",
            )?,
            registry,
        };
        // Counters an alert watches for any increase exist at 0 from the
        // start: `increase()` cannot see a series' first appearance.
        for outcome in ["applied", "unchanged", "rejected", "watch_failed"] {
            metrics.reloads.with_label_values(&[outcome]);
        }
        for outcome in ["updated", "unchanged", "error"] {
            metrics.jwks_refreshes.with_label_values(&[outcome]);
        }
        for direction in ["gained", "lost"] {
            for risk in reqflo_policy::RiskLevel::ALL {
                metrics
                    .access_changes
                    .with_label_values(&[direction, risk.as_str()]);
            }
        }
        for outcome in ["listed", "too_large", "failed", "off"] {
            metrics.access_diffs.with_label_values(&[outcome]);
        }
        for kind in crate::respond::Internal::ALL {
            metrics.internal_errors.with_label_values(&[kind.code()]);
        }
        for outcome in ["not_modified", "updated", "error"] {
            metrics.bundle_polls.with_label_values(&[outcome]);
        }
        for outcome in ["loaded", "rejected"] {
            metrics.bundle_org_loads.with_label_values(&[outcome]);
        }
        metrics.bundle_confirmed_age.set(-1.0);
        // 0 for a single-file policy; an alert's expression finds the series.
        for state in ["serving", "rejected", "not_served"] {
            metrics.bundle_orgs.with_label_values(&[state]).set(0.0);
        }
        Ok(metrics)
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> Result<String, prometheus::Error> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let m = Metrics::new().unwrap();
        m.decisions
            .with_label_values(&["r", "run", "allow", "none", "enforce"])
            .inc();
        m.rejected
            .with_label_values(&["canonicalize", "dot_segment"])
            .inc();
        m.upstream_errors.with_label_values(&["r", "connect"]).inc();
        m.reloads.with_label_values(&["applied"]).inc();
        m.snapshot_info.with_label_values(&["a", "b", "c"]).set(1.0);
        m.snapshot_objects.with_label_values(&["users"]).set(3.0);
        m.shadow_would_deny
            .with_label_values(&["r", "run", "permission_missing"])
            .inc();
        m.internal_errors.with_label_values(&["panic"]).inc();
        m.request_seconds
            .with_label_values(&["r", "allow"])
            .observe(0.001);
        m.decision_seconds.observe(300e-9);
        let text = m.encode().unwrap();
        for family in m.registry().gather() {
            let name = family.name();
            if name.starts_with("process_") {
                continue;
            }
            assert!(name.starts_with("reqflo_gateway_"), "{name}");
            let kind = family.get_field_type();
            match kind {
                prometheus::proto::MetricType::COUNTER => {
                    assert!(name.ends_with("_total"), "{name}")
                }
                prometheus::proto::MetricType::HISTOGRAM => {
                    assert!(name.ends_with("_seconds"), "{name}")
                }
                _ => assert!(!name.ends_with("_total"), "{name}"),
            }
        }
        assert!(
            text.contains("reqflo_gateway_decision_duration_seconds_bucket{le=\"0.00000025\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("reqflo_gateway_decision_duration_seconds_bucket{le=\"0.0000005\"} 1"),
            "{text}"
        );
        assert!(text.contains("reqflo_gateway_decisions_total{action=\"run\",code=\"none\",decision=\"allow\",mode=\"enforce\",route=\"r\"} 1"));
        assert!(
            text.contains(&format!(
                "reqflo_gateway_build_info{{commit=\"{COMMIT}\",version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
        m.authenticated.count("jwt_cached");
        let text = m.encode().unwrap();
        for exported_at_zero in [
            "reqflo_gateway_reloads_total{outcome=\"rejected\"} 0",
            "reqflo_gateway_internal_errors_total{kind=\"route_unresolvable\"} 0",
            "reqflo_gateway_jwks_refreshes_total{outcome=\"error\"} 0",
            "reqflo_gateway_authenticated_total{method=\"jwt\"} 0",
            "reqflo_gateway_authenticated_total{method=\"jwt_cached\"} 1",
        ] {
            assert!(
                text.contains(exported_at_zero),
                "{exported_at_zero}: {text}"
            );
        }
        for process in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_start_time_seconds",
        ] {
            assert!(text.contains(&format!("\n{process} ")), "{process}: {text}");
        }
    }
}
