//! The diff against brute force: every member (of either document), every
//! resource, every action and environment, decided on both snapshots.

use super::*;
use crate::decide::decide;
use crate::model::{ResourceRole, ServiceRole};
use crate::synthetic::{self, rng::Rng};

fn brute(
    old: &Document,
    os: &Snapshot,
    new: &Document,
    ns: &Snapshot,
) -> Vec<(String, String, Action, String, Option<String>, bool)> {
    let mut out = Vec::new();
    let orgs: BTreeSet<&str> = old
        .orgs
        .iter()
        .chain(&new.orgs)
        .map(|o| o.id.as_str())
        .collect();
    for org in orgs {
        let (a, b) = (Side::of(old, org), Side::of(new, org));
        let users: BTreeSet<&str> = a.members.keys().chain(b.members.keys()).copied().collect();
        let resources: BTreeSet<&str> = a.entries.keys().chain(b.entries.keys()).copied().collect();
        let envs: BTreeSet<&str> = a
            .environments
            .iter()
            .chain(&b.environments)
            .copied()
            .collect();
        for &u in &users {
            for &r in &resources {
                for &action in Action::ALL {
                    let choices: Vec<Option<&str>> = if action.checks_dependencies() {
                        std::iter::once(None)
                            .chain(envs.iter().map(|e| Some(*e)))
                            .collect()
                    } else {
                        vec![None]
                    };
                    for env in choices {
                        let q = Request {
                            org,
                            user: u,
                            action: RequestAction::Known(action),
                            resource: r,
                            environment: env,
                        };
                        let (x, y) = (decide(os, &q).allowed, decide(ns, &q).allowed);
                        if x != y {
                            out.push((
                                org.to_owned(),
                                u.to_owned(),
                                action,
                                r.to_owned(),
                                env.map(str::to_owned),
                                y,
                            ));
                        }
                    }
                }
            }
        }
    }
    out.sort();
    out
}

fn fast(
    old: &Document,
    os: &Snapshot,
    new: &Document,
    ns: &Snapshot,
) -> Vec<(String, String, Action, String, Option<String>, bool)> {
    let mut out: Vec<_> = diff(old, os, new, ns)
        .into_iter()
        .map(|c| {
            assert!(!c.causes.is_empty(), "a change without a cause: {c:?}");
            (c.org, c.user, c.action, c.resource, c.environment, c.gained)
        })
        .collect();
    let n = out.len();
    out.sort();
    out.dedup();
    assert_eq!(out.len(), n, "a change listed twice");
    out
}

fn check(old: &Document, new: &Document) -> usize {
    let (Ok(os), Ok(ns)) = (Snapshot::compile(old), Snapshot::compile(new)) else {
        return 0;
    };
    let want = brute(old, &os, new, &ns);
    assert_eq!(fast(old, &os, new, &ns), want);
    let one_thread = diff_bounded_on(old, &os, new, &ns, usize::MAX, 1).unwrap();
    assert_eq!(
        one_thread,
        diff(old, &os, new, &ns),
        "one thread answers alike"
    );
    want.len()
}

/// One structural edit of `doc`, chosen by `rng`: the kinds of change a
/// policy push or a SCIM sync makes.
fn mutate(doc: &mut Document, rng: &mut Rng) {
    let pick_user = rng.below(doc.users.len().max(1));
    let Some(org) = doc.orgs.first_mut() else {
        return;
    };
    match rng.below(10) {
        0 => {
            if let Some(m) = doc
                .users
                .get_mut(pick_user)
                .and_then(|u| u.memberships.first_mut())
            {
                if m.roles.is_empty() {
                    m.roles.push(*rng.pick(crate::model::OrgRole::ALL).unwrap());
                } else {
                    m.roles.clear();
                }
            }
        }
        1 => {
            if let Some(u) = doc.users.get_mut(pick_user) {
                u.memberships.clear();
            }
        }
        2 => {
            let n = org.groups.len();
            let user = doc
                .users
                .get(rng.below(doc.users.len().max(1)))
                .map(|u| u.id.clone());
            if let (Some(g), Some(user)) = (org.groups.get_mut(rng.below(n.max(1))), user) {
                if let Some(i) = g.members.iter().position(|m| *m == user) {
                    g.members.remove(i);
                } else {
                    g.members.push(user);
                }
            }
        }
        3 => {
            let n = org.grants.len();
            if let Some(g) = org.grants.get_mut(rng.below(n.max(1))) {
                let a = *rng.pick(Action::ALL).unwrap();
                if let Some(i) = g.actions.iter().position(|x| *x == a) {
                    g.actions.remove(i);
                } else {
                    g.actions.push(a);
                }
            }
        }
        4 => {
            let n = org.grants.len();
            if n > 0 {
                org.grants.remove(rng.below(n));
            }
        }
        5 => {
            let n = org.resources.len();
            if let Some(r) = org.resources.get_mut(rng.below(n.max(1))) {
                let level = *rng.pick(RiskLevel::ALL).unwrap();
                if let Some(i) = r.risk.iter().position(|x| *x == level) {
                    r.risk.remove(i);
                } else {
                    r.risk.push(level);
                }
            }
        }
        6 => {
            let n = org.resources.len();
            if let Some(r) = org.resources.get_mut(rng.below(n.max(1))) {
                r.visibility = match r.visibility {
                    crate::model::Visibility::Org => crate::model::Visibility::Restricted,
                    crate::model::Visibility::Restricted => crate::model::Visibility::Org,
                };
            }
        }
        7 => {
            let n = org.services.len();
            let user = doc
                .users
                .get(rng.below(doc.users.len().max(1)))
                .map(|u| u.id.clone());
            if let (Some(s), Some(user)) = (org.services.get_mut(rng.below(n.max(1))), user) {
                if s.team.is_empty() {
                    s.team.push(crate::document::Seat {
                        member: TeamMember::User(user),
                        role: ServiceRole::Runner,
                    });
                } else {
                    s.team.pop();
                }
            }
        }
        8 => {
            let n = org.resources.len();
            let user = doc
                .users
                .get(rng.below(doc.users.len().max(1)))
                .map(|u| u.id.clone());
            if let (Some(r), Some(user)) = (org.resources.get_mut(rng.below(n.max(1))), user) {
                if r.roles.is_empty() {
                    r.roles.push(crate::document::RoleAssignment {
                        principal: Principal::User(user),
                        role: ResourceRole::Owner,
                    });
                } else {
                    r.roles.clear();
                }
            }
        }
        _ => {
            let n = org.resources.len();
            if n > 1 {
                let dep = org.resources[rng.below(n)].id.clone();
                if let Some(r) = org.resources.get_mut(rng.below(n)) {
                    if r.depends_on.is_empty() && r.id != dep {
                        r.depends_on.push(dep);
                    } else {
                        r.depends_on.clear();
                    }
                }
            }
        }
    }
}

#[test]
fn the_diff_is_exactly_brute_force_over_edited_random_worlds() {
    let mut rng = Rng::new(21);
    let mut changes = 0;
    let mut pairs = 0;
    for _ in 0..1500 {
        let bytes: Vec<u8> = (0..256).map(|_| rng.next_u64() as u8).collect();
        let old = synthetic::bytes::world(&bytes);
        let mut new = old.clone();
        for _ in 0..=rng.below(3) {
            mutate(&mut new, &mut rng);
        }
        changes += check(&old, &new);
        pairs += 1;
    }
    assert!(pairs > 1000);
    assert!(
        changes > 200,
        "{changes} changes: the edits change too little to test anything"
    );
}

#[test]
fn unrelated_random_worlds_diff_exactly_too() {
    let mut rng = Rng::new(5);
    let mut changes = 0;
    for _ in 0..400 {
        let a: Vec<u8> = (0..256).map(|_| rng.next_u64() as u8).collect();
        let mut b = a.clone();
        // A few bytes flipped: the generator builds another world from there.
        for _ in 0..4 {
            let i = rng.below(b.len());
            b[i] = rng.next_u64() as u8;
        }
        changes += check(&synthetic::bytes::world(&a), &synthetic::bytes::world(&b));
    }
    assert!(changes > 400, "{changes}");
}
