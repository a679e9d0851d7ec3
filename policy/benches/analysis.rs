//! who-can for one resource and what-can for one user, at S, M and L.
//!
//! `cargo bench -p reqflo-policy --bench analysis -- --warm-up-time 1 --measurement-time 5`
//! (`REQFLO_BENCH_SIZES=L` for L only). Each case prints how many users
//! the answer lists. Cases, in the org with the most members:
//! - `view-open`: `view` of an org-visible resource (every member: the
//!   largest answer);
//! - `run-production`: `run` of a production-risk resource in a production
//!   environment (few: a privilege is needed);
//! - `edit-restricted`: `edit` of a restricted resource.
//!
//! `review`: the whole access review of that org, timed once.
//!
//! `diff/SIZE/three-edits`: the world against itself with one membership's
//! roles, one resource-scoped grant's actions and one resource's risk
//! changed; timed once more on one thread (as the gateway diffs an applied
//! reload), with the peak resident memory the diff adds;
//! and, timed once, against the world of another seed (at S every pair is
//! asked; from M on the default pair limit refuses it).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use reqflo_policy::analysis::diff::{diff_bounded, diff_bounded_on};
use reqflo_policy::analysis::review::{TargetAccess, review_every};
use reqflo_policy::analysis::{what_can, who_can};
use reqflo_policy::document::{Document, Scope};
use reqflo_policy::synthetic;
use reqflo_policy::{AccessMode, Action, OrgRole, RiskLevel, Snapshot, Visibility};

#[path = "support/sizes.rs"]
mod sizes;

/// The org with the most memberships.
fn largest_org(doc: &Document) -> String {
    let mut counts = std::collections::HashMap::<&str, usize>::new();
    for u in &doc.users {
        for m in &u.memberships {
            *counts.entry(m.org.as_str()).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(o, _)| o.to_owned())
        .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("analysis");
    group.sample_size(10);
    for size in sizes::sizes() {
        let doc = synthetic::generate(size, 42);
        let snapshot = Snapshot::compile(&doc).unwrap_or_else(|e| panic!("{e}"));
        let org_id = largest_org(&doc);
        let org = doc
            .orgs
            .iter()
            .find(|o| o.id == org_id)
            .unwrap_or_else(|| panic!("org"));
        let members = doc
            .users
            .iter()
            .filter(|u| u.memberships.iter().any(|m| m.org == org_id))
            .count();
        let open = org
            .resources
            .iter()
            .find(|r| r.visibility == Visibility::Org && r.kind != "environment");
        let production_env = org
            .resources
            .iter()
            .find(|r| r.kind == "environment" && r.risk.contains(&RiskLevel::Production));
        let production = org
            .resources
            .iter()
            .find(|r| r.kind != "environment" && r.risk.contains(&RiskLevel::Production));
        let restricted = org.resources.iter().find(|r| {
            r.access_mode == Some(AccessMode::Restricted) || r.visibility == Visibility::Restricted
        });
        let cases = [
            ("view-open", Action::View, open, None),
            ("run-production", Action::Run, production, production_env),
            ("edit-restricted", Action::Edit, restricted, None),
        ];
        for (name, action, resource, env) in cases {
            let Some(resource) = resource else {
                println!("{} {name}: no such resource in the world", size.name());
                continue;
            };
            let env = env.map(|e| e.id.as_str());
            let answer = who_can(&snapshot, &org_id, action, &resource.id, env)
                .unwrap_or_else(|e| panic!("{e}"));
            println!(
                "{} who-can {name}: {} of {members} members listed ({action} {} in {env:?})",
                size.name(),
                answer.len(),
                resource.id
            );
            group.bench_function(format!("who-can/{}/{name}", size.name()), |b| {
                b.iter(|| black_box(who_can(&snapshot, &org_id, action, &resource.id, env)))
            });
        }
        // what-can for the member with the most grants' reach: the first
        // user with an org role other than member, else the first member.
        let user = doc
            .users
            .iter()
            .find(|u| u.memberships.iter().any(|m| m.org == org_id))
            .map(|u| u.id.clone())
            .unwrap_or_default();
        let answer = what_can(&snapshot, &user, Some(&org_id)).unwrap_or_else(|e| panic!("{e}"));
        println!(
            "{} what-can {user}: {} risky accesses over {} resources",
            size.name(),
            answer.len(),
            org.resources.len() + org.services.len()
        );
        group.bench_function(format!("what-can/{}", size.name()), |b| {
            b.iter(|| black_box(what_can(&snapshot, &user, Some(&org_id))))
        });

        // The access review of the largest org, whole, timed once.
        let nth = 1;
        let started = std::time::Instant::now();
        let reviewed =
            review_every(&snapshot, Some(&org_id), nth).unwrap_or_else(|e| panic!("{e}"));
        let took = started.elapsed();
        if let Some(o) = reviewed.orgs.first() {
            let targets: usize = o.resources.iter().map(|r| r.access.len()).sum();
            let rows = |f: fn(&TargetAccess) -> usize| -> usize {
                o.resources.iter().flat_map(|r| &r.access).map(f).sum()
            };
            println!(
                "{} review (every {nth}. reviewed resource): {} resources, {targets} targets, {} users listed, {} group and team rows, {} class rows, {} users summarised, {} individual exceptions in {took:.2?}; the whole review: {:.1?}",
                size.name(),
                o.resources.len(),
                rows(|t| t.users.len()),
                rows(|t| t.principals.len()),
                rows(|t| t.classes.len()),
                o.users.len(),
                o.individual_exceptions.len(),
                took * nth as u32
            );
        }
        drop(reviewed);

        // One membership, one grant, one resource setting.
        let mut edited = doc.clone();
        if let Some(m) = edited
            .users
            .iter_mut()
            .find(|u| u.memberships.iter().any(|m| m.org == org_id))
            .and_then(|u| u.memberships.iter_mut().find(|m| m.org == org_id))
        {
            m.roles.push(OrgRole::Viewer);
        }
        let org = edited
            .orgs
            .iter_mut()
            .find(|o| o.id == org_id)
            .unwrap_or_else(|| panic!("org"));
        // The typical grant: one resource's (nine in ten of the world's).
        if let Some(g) = org
            .grants
            .iter_mut()
            .find(|g| matches!(g.scope, Scope::Resource(_)) && !g.actions.contains(&Action::Edit))
        {
            g.actions.push(Action::Edit);
        }
        if let Some(r) = org.resources.iter_mut().find(|r| r.kind != "environment") {
            r.risk.push(RiskLevel::Sensitive);
        }
        let edited_snapshot = Snapshot::compile(&edited).unwrap_or_else(|e| panic!("{e}"));
        let started = std::time::Instant::now();
        let changes = diff_bounded(&doc, &snapshot, &edited, &edited_snapshot, usize::MAX)
            .unwrap_or_default();
        println!(
            "{} diff three-edits: {} changes in {:.2?} (one run)",
            size.name(),
            changes.len(),
            started.elapsed()
        );
        // What the gateway does after an applied reload: the same diff on one
        // thread, with the memory it takes beyond the two documents and
        // snapshots (the peak resident size is reset first).
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = status_kib("VmRSS");
        let started = std::time::Instant::now();
        let one = diff_bounded_on(&doc, &snapshot, &edited, &edited_snapshot, 2_000_000, 1)
            .unwrap_or_default();
        println!(
            "{} diff three-edits on one thread (the reload diff): {} changes in {:.2?}; peak resident +{:.0} MiB over {:.0} MiB",
            size.name(),
            one.len(),
            started.elapsed(),
            status_kib("VmHWM").saturating_sub(before) as f64 / 1024.0,
            before as f64 / 1024.0,
        );
        // L is timed once above: each run asks millions of questions.
        if size != synthetic::Size::L {
            group.bench_function(format!("diff/{}/three-edits", size.name()), |b| {
                b.iter(|| {
                    black_box(diff_bounded(
                        &doc,
                        &snapshot,
                        &edited,
                        &edited_snapshot,
                        usize::MAX,
                    ))
                })
            });
        }
        drop((edited, edited_snapshot));
        // Two unrelated worlds: timed once (at S every pair is asked; from
        // M on the pair budget refuses it).
        let other = synthetic::generate(size, 43);
        let other_snapshot = Snapshot::compile(&other).unwrap_or_else(|e| panic!("{e}"));
        let started = std::time::Instant::now();
        let answer = diff_bounded(&doc, &snapshot, &other, &other_snapshot, 2_000_000);
        let took = started.elapsed();
        match answer {
            Ok(c) => println!(
                "{} diff unrelated: {} changes in {took:.2?}",
                size.name(),
                c.len()
            ),
            Err(e) => println!("{} diff unrelated: refused in {took:.2?}: {e}", size.name()),
        }
    }
    group.finish();
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`); 0 off Linux.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

criterion_group!(benches, bench);
criterion_main!(benches);
