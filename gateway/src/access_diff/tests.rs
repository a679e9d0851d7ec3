use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::*;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn config() -> String {
    std::fs::read_to_string(examples().join("gateway.yaml")).unwrap()
}

fn policy() -> String {
    std::fs::read_to_string(examples().join("policy.yaml")).unwrap()
}

/// The example policy with rudy added to Support Tier 2 (who may run the
/// destructive refund in staging).
fn rudy_in_support() -> String {
    let base = policy();
    let edited = base.replace("members: [tess] }", "members: [tess, rudy] }");
    assert_ne!(edited, base);
    edited
}

fn snapshot(config: &str, policy: &str) -> Arc<Snapshot> {
    Arc::new(Snapshot::from_texts(&examples().join("gateway.yaml"), config, policy).unwrap())
}

/// Waits (bounded) until a diff has finished.
fn finished(diffs: &AccessDiffs) -> Arc<Summary> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = diffs.last() {
            return s;
        }
        assert!(Instant::now() < deadline, "no diff finished within 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_membership_edit_is_summarised_counted_and_listed_risky_first() {
    let metrics = Metrics::new().unwrap();
    let diffs = AccessDiffs::new(metrics.clone());
    let old = snapshot(&config(), &policy());
    let new = snapshot(&config(), &rudy_in_support());
    diffs.submit(&old, &new);
    let s = finished(&diffs);

    assert_eq!(s.outcome, "listed");
    assert_eq!(s.from_policy_revision, old.policy_revision);
    assert_eq!(s.to_policy_revision, new.policy_revision);
    assert_eq!(s.reloads, 1);
    assert_eq!(s.lost, 0);
    assert!(s.risky_gained > 0, "{s:?}");
    // The counts add up and are grouped by direction, risk and action,
    // highest risk first.
    assert_eq!(s.counts.iter().map(|c| c.changes).sum::<usize>(), s.gained);
    assert_eq!(s.counts[0].risk, RiskLevel::Destructive, "{:?}", s.counts);
    assert!(s.counts.contains(&Count {
        direction: "gained",
        risk: RiskLevel::Destructive,
        action: Action::Run,
        changes: 1,
    }));
    // Five entries by default, risky first: rudy's run of the refund in staging.
    assert_eq!(s.first.len(), 5.min(s.gained));
    let refund = s
        .first
        .iter()
        .find(|c| c.action == Action::Run && c.resource == "refund")
        .unwrap();
    assert_eq!(refund.user, "rudy");
    assert_eq!(refund.environment.as_deref(), Some("staging"));
    assert!(refund.gained && refund.is_risky());
    assert_eq!(
        change_text(refund),
        format!(
            "rudy gained run on `refund` in staging (destructive) in org `acme`, because {}",
            refund.causes[0]
        )
    );
    assert!(
        refund.causes[0].contains("support-t2"),
        "{:?}",
        refund.causes
    );

    let text = metrics.encode().unwrap();
    let line = format!(
        "reqflo_gateway_reload_access_changes_total{{direction=\"gained\",risk=\"destructive\"}} {}",
        s.counts
            .iter()
            .filter(|c| c.risk == RiskLevel::Destructive)
            .map(|c| c.changes)
            .sum::<usize>()
    );
    assert!(text.contains(&line), "{line} not in\n{text}");
    assert!(text.contains(
        "reqflo_gateway_reload_access_changes_total{direction=\"lost\",risk=\"destructive\"} 0"
    ));
    assert!(text.contains("reqflo_gateway_reload_access_diffs_total{outcome=\"listed\"} 1"));
    assert!(text.contains("reqflo_gateway_reload_access_diff_duration_seconds_count 1"));
}

#[test]
fn the_reverse_edit_is_lost_access() {
    let diffs = AccessDiffs::new(Metrics::new().unwrap());
    diffs.submit(
        &snapshot(&config(), &rudy_in_support()),
        &snapshot(&config(), &policy()),
    );
    let s = finished(&diffs);
    assert_eq!(s.gained, 0);
    assert!(s.lost > 0 && s.risky_lost > 0, "{s:?}");
    assert!(s.first.iter().all(|c| !c.gained && c.user == "rudy"));
}

#[test]
fn a_diff_over_its_bound_is_counted_too_large_and_lists_nothing() {
    let metrics = Metrics::new().unwrap();
    let diffs = AccessDiffs::new(metrics.clone());
    let bounded = format!("{}\nreload: {{ access_diff_max_pairs: 1 }}\n", config());
    diffs.submit(
        &snapshot(&bounded, &policy()),
        &snapshot(&bounded, &rudy_in_support()),
    );
    let s = finished(&diffs);
    assert_eq!(s.outcome, "too_large");
    assert!(s.first.is_empty() && s.counts.is_empty());
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .contains("more than 1 (user, resource) pairs")
    );
    let text = metrics.encode().unwrap();
    assert!(text.contains("reqflo_gateway_reload_access_diffs_total{outcome=\"too_large\"} 1"));
}

#[test]
fn off_keeps_no_document_and_counts_the_reload_as_off() {
    let metrics = Metrics::new().unwrap();
    let diffs = AccessDiffs::new(metrics.clone());
    let off = format!("{}\nreload: {{ access_diff: false }}\n", config());
    let old = snapshot(&off, &policy());
    let new = snapshot(&off, &rudy_in_support());
    assert!(old.document.is_none() && new.document.is_none());
    assert!(snapshot(&config(), &policy()).document.is_some());
    diffs.submit(&old, &new);
    let text = metrics.encode().unwrap();
    assert!(text.contains("reqflo_gateway_reload_access_diffs_total{outcome=\"off\"} 1"));
    assert!(diffs.last().is_none());
}

#[test]
fn a_route_config_edit_alone_is_not_diffed() {
    let metrics = Metrics::new().unwrap();
    let diffs = AccessDiffs::new(metrics.clone());
    let edited = format!("{}\n# a comment\n", config());
    diffs.submit(
        &snapshot(&config(), &policy()),
        &snapshot(&edited, &policy()),
    );
    let text = metrics.encode().unwrap();
    for outcome in ["listed", "too_large", "failed", "off"] {
        assert!(text.contains(&format!(
            "reqflo_gateway_reload_access_diffs_total{{outcome=\"{outcome}\"}} 0"
        )));
    }
}

#[test]
fn reloads_queued_behind_a_running_diff_merge_into_one() {
    let (a, b, c) = (
        snapshot(&config(), &policy()),
        snapshot(&config(), &rudy_in_support()),
        snapshot(&config(), &format!("{}\n# again\n", rudy_in_support())),
    );
    let mut queue = Queue::default();
    enqueue(&mut queue, &a, &b);
    enqueue(&mut queue, &b, &c);
    let job = queue.next.take().unwrap();
    assert!(Arc::ptr_eq(&job.from, &a) && Arc::ptr_eq(&job.to, &c));
    assert_eq!(job.reloads, 2);
}

#[test]
fn a_change_counts_under_its_highest_risk() {
    let change = AccessChange {
        org: "acme".to_owned(),
        user: "rudy".to_owned(),
        action: Action::Run,
        resource: "refund".to_owned(),
        environment: Some("production".to_owned()),
        gained: true,
        risk: vec![RiskLevel::Production, RiskLevel::Destructive],
        causes: vec!["one".to_owned(), "two".to_owned()],
    };
    assert_eq!(risk(&change), RiskLevel::Destructive);
    assert_eq!(
        risk(&AccessChange {
            risk: vec![],
            ..change.clone()
        }),
        RiskLevel::Normal
    );
    assert_eq!(
        change_text(&change),
        "rudy gained run on `refund` in production (production, destructive) in org `acme`, because one (and 1 more)"
    );
}
