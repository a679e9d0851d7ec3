//! The access an applied policy reload gains and loses.
//!
//! After the reload thread swaps a new snapshot in (it serves at once), the
//! snapshot it replaced and the new one are handed to one background thread,
//! which runs [`diff_bounded_on`] on one core and reports the answer three
//! ways: a bounded log summary (counts by direction, risk and action, then
//! the first few changes, risky first), the counters
//! `reqflo_gateway_reload_access_changes_total{direction, risk}` and
//! `reqflo_gateway_reload_access_diffs_total{outcome}`, and the admin
//! `/policy` page's `last_access_diff`.
//!
//! Reloads that arrive while a diff runs are merged: the next diff goes from
//! the last snapshot diffed to the newest one, so every applied change is
//! counted once and nothing queues without bound.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use reqflo_config::Snapshot;
use reqflo_policy::analysis::diff::{AccessChange, diff_bounded_on};
use reqflo_policy::{Action, RiskLevel};
use serde::Serialize;

use crate::metrics::Metrics;
use crate::state::unix_seconds;

/// The answer of one diff, as the admin page and the log give it.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The policy revisions compared.
    pub from_policy_revision: String,
    pub to_policy_revision: String,
    /// Applied reloads this diff covers (more than one when reloads came
    /// while the previous diff ran).
    pub reloads: usize,
    /// `listed`, `too_large` or `failed`.
    pub outcome: &'static str,
    pub finished_at: f64,
    pub took_ms: f64,
    pub gained: usize,
    pub lost: usize,
    /// Production or destructive access gained and lost.
    pub risky_gained: usize,
    pub risky_lost: usize,
    /// Changes by direction, risk (the highest of the request's) and action.
    pub counts: Vec<Count>,
    /// The first changes, risky first, as many as the settings log.
    pub first: Vec<AccessChange>,
    /// Why nothing is listed (`too_large`, `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Changes of one direction, risk and action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Count {
    pub direction: &'static str,
    pub risk: RiskLevel,
    pub action: Action,
    pub changes: usize,
}

/// `gained` or `lost`.
fn direction(change: &AccessChange) -> &'static str {
    if change.gained { "gained" } else { "lost" }
}

/// The highest of a change's risk levels (`normal` when it has none).
fn risk(change: &AccessChange) -> RiskLevel {
    change
        .risk
        .iter()
        .copied()
        .max()
        .unwrap_or(RiskLevel::Normal)
}

impl Summary {
    fn listed(job: &Job, changes: &[AccessChange], log_entries: usize, took: f64) -> Summary {
        let mut counts: BTreeMap<(bool, std::cmp::Reverse<RiskLevel>, Action), usize> =
            BTreeMap::new();
        for c in changes {
            *counts
                .entry((!c.gained, std::cmp::Reverse(risk(c)), c.action))
                .or_default() += 1;
        }
        let gained = changes.iter().filter(|c| c.gained).count();
        Summary {
            reloads: job.reloads,
            outcome: "listed",
            gained,
            lost: changes.len() - gained,
            risky_gained: changes.iter().filter(|c| c.gained && c.is_risky()).count(),
            risky_lost: changes.iter().filter(|c| !c.gained && c.is_risky()).count(),
            counts: counts
                .into_iter()
                .map(|((lost, risk, action), changes)| Count {
                    direction: if lost { "lost" } else { "gained" },
                    risk: risk.0,
                    action,
                    changes,
                })
                .collect(),
            first: changes.iter().take(log_entries).cloned().collect(),
            message: None,
            ..Summary::empty(job, took)
        }
    }

    fn unlisted(job: &Job, outcome: &'static str, message: String, took: f64) -> Summary {
        Summary {
            outcome,
            message: Some(message),
            ..Summary::empty(job, took)
        }
    }

    fn empty(job: &Job, took: f64) -> Summary {
        Summary {
            from_policy_revision: job.from.policy_revision.clone(),
            to_policy_revision: job.to.policy_revision.clone(),
            reloads: job.reloads,
            outcome: "listed",
            finished_at: unix_seconds(SystemTime::now()),
            took_ms: took * 1e3,
            gained: 0,
            lost: 0,
            risky_gained: 0,
            risky_lost: 0,
            counts: Vec::new(),
            first: Vec::new(),
            message: None,
        }
    }

    /// The counts as one bounded log field:
    /// `gained production run 2, gained normal view 1, lost sensitive edit 1`.
    pub fn counts_text(&self) -> String {
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|c| format!("{} {} {} {}", c.direction, c.risk, c.action, c.changes))
            .collect();
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// One change as one log line's message.
pub fn change_text(c: &AccessChange) -> String {
    let env = c
        .environment
        .as_deref()
        .map(|e| format!(" in {e}"))
        .unwrap_or_default();
    let risk = if c.risk.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = c.risk.iter().map(|r| r.as_str()).collect();
        format!(" ({})", names.join(", "))
    };
    let cause = match c.causes.as_slice() {
        [] => String::new(),
        [one] => format!(", because {one}"),
        [first, rest @ ..] => format!(", because {first} (and {} more)", rest.len()),
    };
    format!(
        "{} {} {} on `{}`{env}{risk} in org `{}`{cause}",
        c.user,
        direction(c),
        c.action,
        c.resource,
        c.org
    )
}

/// Two snapshots to compare, and how many reloads lie between them.
struct Job {
    from: Arc<Snapshot>,
    to: Arc<Snapshot>,
    reloads: usize,
}

#[derive(Default)]
struct Queue {
    next: Option<Job>,
    started: bool,
    stopped: bool,
}

struct Inner {
    queue: Mutex<Queue>,
    wake: Condvar,
    metrics: Metrics,
    last: Mutex<Option<Arc<Summary>>>,
}

/// The background diff of applied reloads; its thread starts with the
/// first reload to diff and ends when this is dropped (after the diff it is
/// running, if any).
pub struct AccessDiffs {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AccessDiffs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessDiffs").finish_non_exhaustive()
    }
}

impl AccessDiffs {
    pub fn new(metrics: Metrics) -> AccessDiffs {
        AccessDiffs {
            inner: Arc::new(Inner {
                queue: Mutex::new(Queue::default()),
                wake: Condvar::new(),
                metrics,
                last: Mutex::new(None),
            }),
        }
    }

    /// The answer of the last diff finished.
    pub fn last(&self) -> Option<Arc<Summary>> {
        self.inner
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Queues the diff of one applied reload. Nothing to do when the policy
    /// did not change (a route config edit); counted as `off` when either
    /// snapshot was built without its document (`reload.access_diff: false`).
    pub fn submit(&self, replaced: &Arc<Snapshot>, serving: &Arc<Snapshot>) {
        if replaced.policy_revision == serving.policy_revision {
            return;
        }
        if serving.document.is_none() || replaced.document.is_none() {
            self.inner
                .metrics
                .access_diffs
                .with_label_values(&["off"])
                .inc();
            tracing::debug!(target: "reqflo_gateway::reload", "access diff off (reload.access_diff)");
            return;
        }
        let mut queue = self
            .inner
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        enqueue(&mut queue, replaced, serving);
        if !queue.started {
            let inner = self.inner.clone();
            let spawned = std::thread::Builder::new()
                .name("reqflo-access-diff".to_owned())
                .spawn(move || inner.run());
            match spawned {
                Ok(_) => queue.started = true,
                Err(e) => {
                    queue.next = None;
                    self.inner
                        .metrics
                        .access_diffs
                        .with_label_values(&["failed"])
                        .inc();
                    tracing::warn!(target: "reqflo_gateway::reload", error = %e, "cannot start the access diff thread");
                }
            }
        }
        self.inner.wake.notify_one();
    }
}

/// Queues the diff from `replaced` to `serving`; a diff still waiting
/// (one is running) is extended to `serving` instead.
fn enqueue(queue: &mut Queue, replaced: &Arc<Snapshot>, serving: &Arc<Snapshot>) {
    match &mut queue.next {
        Some(job) => {
            job.to = serving.clone();
            job.reloads += 1;
        }
        None => {
            queue.next = Some(Job {
                from: replaced.clone(),
                to: serving.clone(),
                reloads: 1,
            });
        }
    }
}

impl Drop for AccessDiffs {
    fn drop(&mut self) {
        let mut queue = self
            .inner
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        queue.stopped = true;
        queue.next = None;
        self.inner.wake.notify_all();
    }
}

impl Inner {
    fn run(&self) {
        loop {
            let job = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    if queue.stopped {
                        return;
                    }
                    if let Some(job) = queue.next.take() {
                        break job;
                    }
                    queue = self
                        .wake
                        .wait(queue)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            let summary = Arc::new(self.diff(&job));
            report(&summary);
            *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(summary);
        }
    }

    fn diff(&self, job: &Job) -> Summary {
        let started = Instant::now();
        let (Some(old), Some(new), Some(settings)) = (
            &job.from.document,
            &job.to.document,
            job.to.settings.access_diff,
        ) else {
            return Summary::unlisted(job, "failed", "a snapshot has no document".to_owned(), 0.0);
        };
        let answer = std::panic::catch_unwind(AssertUnwindSafe(|| {
            diff_bounded_on(
                old,
                &job.from.policy,
                new,
                &job.to.policy,
                settings.max_pairs,
                1,
            )
        }));
        let took = started.elapsed().as_secs_f64();
        let m = &self.metrics;
        m.access_diff_seconds.observe(took);
        let summary = match answer {
            Ok(Ok(changes)) => {
                for c in &changes {
                    m.access_changes
                        .with_label_values(&[direction(c), risk(c).as_str()])
                        .inc();
                }
                Summary::listed(job, &changes, settings.log_entries, took)
            }
            Ok(Err(too_large)) => Summary::unlisted(job, "too_large", too_large.to_string(), took),
            Err(_) => Summary::unlisted(job, "failed", "the diff panicked".to_owned(), took),
        };
        m.access_diffs.with_label_values(&[summary.outcome]).inc();
        summary
    }
}

/// The log lines of one diff: a summary, then one line per listed change.
fn report(s: &Summary) {
    let counts = s.counts_text();
    match s.outcome {
        "listed" if s.risky_gained > 0 => tracing::warn!(
            target: "reqflo_gateway::reload",
            outcome = s.outcome,
            from = %s.from_policy_revision,
            to = %s.to_policy_revision,
            reloads = s.reloads,
            gained = s.gained,
            lost = s.lost,
            risky_gained = s.risky_gained,
            risky_lost = s.risky_lost,
            counts = %counts,
            took_ms = s.took_ms,
            "policy reload gained production or destructive access"
        ),
        "listed" => tracing::info!(
            target: "reqflo_gateway::reload",
            outcome = s.outcome,
            from = %s.from_policy_revision,
            to = %s.to_policy_revision,
            reloads = s.reloads,
            gained = s.gained,
            lost = s.lost,
            risky_gained = s.risky_gained,
            risky_lost = s.risky_lost,
            counts = %counts,
            took_ms = s.took_ms,
            "policy reload access diff"
        ),
        _ => tracing::warn!(
            target: "reqflo_gateway::reload",
            outcome = s.outcome,
            from = %s.from_policy_revision,
            to = %s.to_policy_revision,
            reloads = s.reloads,
            message = s.message.as_deref().unwrap_or_default(),
            took_ms = s.took_ms,
            "policy reload access diff not listed"
        ),
    }
    for c in &s.first {
        tracing::info!(
            target: "reqflo_gateway::reload",
            direction = direction(c),
            risk = risk(c).as_str(),
            user = %c.user,
            action = c.action.as_str(),
            resource = %c.resource,
            environment = c.environment.as_deref().unwrap_or_default(),
            "{}",
            change_text(c)
        );
    }
}

#[cfg(test)]
mod tests;
