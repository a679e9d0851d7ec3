//! Step 8: one helper emits the log line and the metrics of a request
//! together, so the two can never disagree.
//!
//! A decided request logs at `info` with every field operators search on; a
//! request refused before a decision logs at `info` with the stage and code;
//! per-reason detail of a deny goes to `debug`.

use std::time::Duration;

use reqflo_config::Mode;

use reqflo_policy::Decision;

use crate::proxy::ctx::{Ctx, Verdict};
use crate::proxy::decide::Asked;
use crate::respond::{Refusal, UpstreamFailure};
use crate::state::Shared;

/// Records a finished request. `status` is what the client got (0 when no
/// response was written).
pub fn request(shared: &Shared, ctx: &Ctx, status: u16) {
    let m = &shared.metrics;
    let latency = ctx.start.elapsed();
    let route = ctx.route.as_deref().unwrap_or("none");
    let revision = ctx.revision().unwrap_or("none");
    let user = ctx.user.as_deref().unwrap_or("");
    let latency_us = micros(latency);
    // The usual outcome's metric children, resolved once per route and snapshot.
    let cached = ctx
        .derived
        .as_deref()
        .zip(ctx.route.as_deref())
        .and_then(|(d, r)| d.route_metrics(r, m));

    if let Some(failure) = ctx.upstream_failure {
        let kind = match failure {
            UpstreamFailure::Timeout => "timeout",
            UpstreamFailure::Unavailable => "connect",
        };
        m.upstream_errors.with_label_values(&[route, kind]).inc();
    }

    let outcome = match &ctx.verdict {
        Verdict::Pending => {
            tracing::info!(
                target: "reqflo_gateway::request",
                decision_id = %ctx.decision_id,
                route,
                status,
                latency_us,
                outcome = "error",
                "request ended before a decision"
            );
            "error"
        }
        Verdict::Public => {
            tracing::info!(
                target: "reqflo_gateway::request",
                decision_id = %ctx.decision_id,
                route,
                status,
                latency_us,
                outcome = "public",
                "public route forwarded"
            );
            "public"
        }
        Verdict::Refused {
            refusal: Refusal::Denied(d),
            ..
        } => decided(
            shared,
            ctx,
            cached,
            &d.asked,
            &d.decision,
            status,
            latency_us,
        ),
        Verdict::Decided { asked, decision } => {
            decided(shared, ctx, cached, asked, decision, status, latency_us)
        }
        Verdict::Refused { stage, refusal } => {
            let code = refusal.code();
            // Upstream failures are counted above.
            match refusal {
                Refusal::Denied(_) | Refusal::Upstream(_) => {}
                Refusal::Internal(kind) => {
                    m.internal_errors.with_label_values(&[kind.code()]).inc();
                }
                _ => {
                    m.rejected.with_label_values(&[stage.as_str(), code]).inc();
                }
            }
            tracing::info!(
                target: "reqflo_gateway::request",
                decision_id = %ctx.decision_id,
                user,
                route,
                stage = stage.as_str(),
                code,
                revision,
                status,
                latency_us,
                outcome = "refused",
                "{}",
                refusal_message(refusal)
            );
            match refusal {
                Refusal::OrgNotServed => m.org_not_served.inc(),
                Refusal::Stale(st) => m
                    .stale_denials
                    .with_label_values(&[st.level.as_str()])
                    .inc(),
                _ => {}
            }
            match refusal {
                Refusal::Unauthenticated(_) => "unauthenticated",
                Refusal::NoRoute => "no_route",
                Refusal::Internal(_) => "error",
                _ => "rejected",
            }
        }
    };
    let outcome = if ctx.upstream_failure.is_some() {
        "upstream_error"
    } else {
        outcome
    };
    match cached {
        Some(c) if c.outcome == outcome => c.latency.observe(latency.as_secs_f64()),
        _ => m
            .request_seconds
            .with_label_values(&[route, outcome])
            .observe(latency.as_secs_f64()),
    }
}

/// Records a request the policy was asked about: the decision counter, the
/// decision latency and the decision log line. Returns the outcome label.
fn decided(
    shared: &Shared,
    ctx: &Ctx,
    cached: Option<&crate::state::RouteMetrics>,
    asked: &Asked,
    decision: &Decision,
    status: u16,
    latency_us: u64,
) -> &'static str {
    let m = &shared.metrics;
    let route = ctx.route.as_deref().unwrap_or("none");
    let revision = ctx.revision().unwrap_or("none");
    let user = ctx.user.as_deref().unwrap_or("");
    let action = asked.action.as_str();
    let code = decision.code().map_or("none", |c| c.as_str());
    let codes: Vec<&str> = decision.reasons.iter().map(|r| r.code.as_str()).collect();
    let allowed = decision.allowed;
    let shadow = !allowed && ctx.mode == Mode::Shadow;
    let verdict = if allowed { "allow" } else { "deny" };
    match cached.and_then(|c| c.allowed.as_ref()) {
        Some((a, counter)) if allowed && *a == asked.action => counter.inc(),
        _ => m
            .decisions
            .with_label_values(&[route, action, verdict, code, ctx.mode.as_str()])
            .inc(),
    }
    if shadow {
        m.shadow_would_deny
            .with_label_values(&[route, action, code])
            .inc();
    }
    if let Some(took) = ctx.decision_time {
        m.decision_seconds.observe(took.as_secs_f64());
    }
    tracing::info!(
        target: "reqflo_gateway::decision",
        decision_id = %ctx.decision_id,
        user,
        org = %asked.org,
        route,
        action,
        resource = %asked.resource,
        environment = asked.environment.as_deref().unwrap_or(""),
        decision = verdict,
        mode = ctx.mode.as_str(),
        codes = %codes.join(","),
        revision,
        status,
        latency_us,
        decision_ns = ctx.decision_time.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        "{}",
        if shadow { "would deny (shadow mode), forwarded" } else { verdict }
    );
    for reason in &decision.reasons {
        tracing::debug!(
            target: "reqflo_gateway::decision",
            decision_id = %ctx.decision_id,
            code = reason.code.as_str(),
            message = %reason.message,
            "deny reason"
        );
    }
    if shadow { "shadow_deny" } else { verdict }
}

fn refusal_message(refusal: &Refusal) -> String {
    match refusal {
        Refusal::Malformed(r) => r.to_string(),
        Refusal::HeadersTooLarge { limit } => format!("headers over the {limit}-byte limit"),
        Refusal::Unauthenticated(e) => e.to_string(),
        Refusal::NoRoute => "no route matches".to_owned(),
        Refusal::Environment(e) => e.to_string(),
        Refusal::Denied(d) => d.decision.headline.clone(),
        Refusal::Internal(k) => format!("internal error ({})", k.code()),
        Refusal::Upstream(_) => "upstream failure".to_owned(),
        Refusal::OrgNotServed => "org outside this gateway's shard".to_owned(),
        Refusal::Stale(st) => st.message(),
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
