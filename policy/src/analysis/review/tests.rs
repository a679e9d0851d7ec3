//! The review against brute force: every reviewed resource, action and
//! environment asked with `decide` for every member of the org, the rows
//! expanded to users (class rows: every member of the class but those
//! listed and the exceptions), over the synthetic S world, a sample of M
//! and a few hundred small worlds from random bytes.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::analysis::Paths;
use crate::decide::decide;
use crate::decision::{Request, RequestAction};
use crate::document::Document;
use crate::synthetic::{self, Size, rng::Rng};

/// What brute force finds for one user on one target.
type Allowed = BTreeMap<String, AllowedBy>;

/// Every member of the org: (user id, class id in the review).
fn members(data: &OrgData, review: &OrgReview) -> Vec<(String, usize)> {
    data.members
        .iter()
        .map(|m| {
            let roles: Vec<OrgRole> = m.roles.iter().collect();
            let class = review
                .classes
                .iter()
                .find(|c| c.status == m.status && c.roles == roles)
                .expect("every member has a class")
                .class;
            (data.members.user_id(m).unwrap().to_owned(), class)
        })
        .collect()
}

/// The org members a group or team names, read from the document.
fn principal_members(
    doc: &Document,
    data: &OrgData,
    org: &str,
    through: &Through,
) -> BTreeSet<String> {
    let o = doc.orgs.iter().find(|o| o.id == org).unwrap();
    let group = |g: &str| -> Vec<String> {
        o.groups
            .iter()
            .filter(|x| x.id == g)
            .flat_map(|x| x.members.clone())
            .collect()
    };
    let users: Vec<String> = match through {
        Through::Group { group: g } => group(g),
        Through::Team { service } => o
            .services
            .iter()
            .filter(|s| &s.id == service)
            .flat_map(|s| &s.team)
            .flat_map(|seat| match &seat.member {
                crate::document::TeamMember::User(u) => vec![u.clone()],
                crate::document::TeamMember::Group(g) => group(g),
            })
            .collect(),
        other => panic!("a principal row through {other:?}"),
    };
    users
        .into_iter()
        .filter(|u| data.members.get(u).is_some())
        .collect()
}

/// The review's answer for one target, expanded to users.
fn expand(
    target: Option<&TargetAccess>,
    members: &[(String, usize)],
    principal: impl Fn(&Through) -> BTreeSet<String>,
) -> Allowed {
    let mut out = Allowed::new();
    let Some(t) = target else { return out };
    for h in &t.users {
        assert!(
            out.insert(h.user.to_string(), h.allowed_by.clone())
                .is_none()
        );
    }
    for row in &t.principals {
        let mut n = 0;
        for user in principal(&row.through) {
            if !row.except.iter().any(|e| *e == user) {
                assert!(
                    out.insert(user.clone(), row.allowed_by.clone()).is_none(),
                    "{user} on two rows"
                );
                n += 1;
            }
        }
        assert_eq!(n, row.members, "{:?} {:?}", row.through, t.action);
    }
    let listed = out.clone();
    for row in &t.classes {
        let mut n = 0;
        for (user, class) in members {
            if *class == row.class
                && !listed.contains_key(user)
                && !row.except.iter().any(|e| e == user)
            {
                assert!(out.insert(user.clone(), row.allowed_by.clone()).is_none());
                n += 1;
            }
        }
        assert_eq!(n, row.members, "class {} of {:?}", row.class, t.action);
    }
    out
}

/// Checks the review of every `nth` reviewed resource of `doc` (and its
/// per-user summary of those) against brute force; returns how many targets were compared and how many users
/// the class rows stood for.
fn check_review(doc: &Document, nth: usize) -> (usize, usize) {
    let snapshot = Snapshot::compile(doc).unwrap();
    let review = review_every(&snapshot, None, nth).unwrap();
    let paths = Paths::new(doc);
    let mut targets = 0;
    let mut by_class = 0;
    let mut by_principal = 0;
    for org in &review.orgs {
        let data = org_data(&snapshot, &org.org).unwrap();
        let members = members(data, org);
        let envs: Vec<&str> = data
            .environments
            .iter()
            .map(|&e| &*data.resource(e).unwrap().id)
            .collect();
        let reviewed: Vec<&ResourceData> = data
            .resources
            .iter()
            .filter(|r| {
                risky_bits(r.risk) != 0
                    || r.secret_backed
                    || matches!(data.kind_name(r), "credential" | "oauth_config")
            })
            .collect();
        let reviewed: Vec<&ResourceData> = reviewed.into_iter().step_by(nth).collect();
        assert_eq!(
            org.resources
                .iter()
                .map(|r| &*r.resource)
                .collect::<Vec<_>>(),
            reviewed.iter().map(|r| &*r.id).collect::<Vec<_>>(),
            "the reviewed resources of {}",
            org.org
        );
        let mut brute_privileges: BTreeMap<&str, Privileges> = BTreeMap::new();
        let mut brute_exceptions = Vec::new();
        for (r, row) in reviewed.iter().zip(&org.resources) {
            let mut expected_targets = Vec::new();
            for action in REVIEWED_ACTIONS {
                let choices: Vec<Option<&str>> =
                    if action.checks_dependencies() && !r.is_environment && !envs.is_empty() {
                        envs.iter().map(|e| Some(*e)).collect()
                    } else {
                        vec![None]
                    };
                for env in choices {
                    let env_risk = env
                        .and_then(|e| data.resource_index.get(e))
                        .and_then(|i| data.resource(i))
                        .map_or(0, |e| e.risk);
                    let risk = if action.checks_dependencies() {
                        r.risk | env_risk
                    } else {
                        r.risk
                    };
                    let mut slow = Allowed::new();
                    for (user, _) in &members {
                        let d = decide(
                            &snapshot,
                            &Request {
                                org: &org.org,
                                user,
                                action: RequestAction::Known(action),
                                resource: &r.id,
                                environment: env,
                            },
                        );
                        if d.allowed {
                            let by = d.allowed_by.unwrap();
                            let through = paths.through(&org.org, user, &r.id, &by);
                            let individual = through.as_ref().is_some_and(Through::is_individual);
                            brute_privileges
                                .entry(user)
                                .or_default()
                                .count(action, risk, individual);
                            if individual {
                                brute_exceptions.push(Exception {
                                    user: user.as_str().into(),
                                    resource: r.id.to_string(),
                                    action,
                                    environment: env.map(str::to_owned),
                                    risk: levels(risky_bits(risk)),
                                    allowed_by: by.clone(),
                                });
                            }
                            slow.insert(user.clone(), by);
                        }
                    }
                    let target = row
                        .access
                        .iter()
                        .find(|t| t.action == action && t.environment.as_deref() == env);
                    if let Some(t) = target {
                        assert_eq!(t.risk, levels(risky_bits(risk)));
                        for h in &t.users {
                            let through = paths.through(&org.org, &h.user, &r.id, &h.allowed_by);
                            assert_eq!(h.through, through);
                            assert_eq!(h.individual, through.is_some_and(|t| t.is_individual()));
                        }
                        by_class += t.classes.iter().map(|c| c.members).sum::<usize>();
                        by_principal += t.principals.iter().map(|c| c.members).sum::<usize>();
                        expected_targets.push((action, env.map(str::to_owned)));
                    }
                    let fast = expand(target, &members, |t| {
                        principal_members(doc, data, &org.org, t)
                    });
                    assert_eq!(
                        fast, slow,
                        "review of {action} {} in {env:?} (org {})",
                        r.id, org.org
                    );
                    targets += 1;
                }
            }
            let listed: Vec<(Action, Option<String>)> = row
                .access
                .iter()
                .map(|t| (t.action, t.environment.clone()))
                .collect();
            assert_eq!(listed, expected_targets, "the targets of {}", r.id);
        }
        {
            for (user, class) in &members {
                let slow = brute_privileges
                    .get(user.as_str())
                    .copied()
                    .unwrap_or_default();
                let fast = match org.users.iter().find(|u| &u.user == user) {
                    Some(summary) => {
                        assert_eq!(summary.class, *class);
                        summary.privileges
                    }
                    None => org.classes[*class].holds,
                };
                assert_eq!(fast, slow, "the summary of {user} in {}", org.org);
            }
            for class in &org.classes {
                let listed = org.users.iter().filter(|u| u.class == class.class).count();
                assert_eq!(class.unlisted + listed, class.members);
            }
            assert_eq!(org.individual_exceptions.len(), brute_exceptions.len());
            let fast: BTreeSet<String> = org
                .individual_exceptions
                .iter()
                .map(|e| format!("{e:?}"))
                .collect();
            let slow: BTreeSet<String> =
                brute_exceptions.iter().map(|e| format!("{e:?}")).collect();
            assert_eq!(fast, slow, "individual exceptions of {}", org.org);
        }
    }
    assert!(
        by_principal > 0 || targets < 500,
        "no principal rows in {targets} targets"
    );
    (targets, by_class)
}

#[test]
fn the_review_is_exactly_decide_on_small_random_worlds() {
    let mut r = Rng::new(23);
    let mut rng = move || r.next_u64() as u8;
    let (mut targets, mut by_class) = (0, 0);
    for _ in 0..300 {
        let bytes: Vec<u8> = (0..256).map(|_| rng()).collect();
        let doc = synthetic::bytes::world(&bytes);
        if Snapshot::compile(&doc).is_err() {
            continue;
        }
        let (t, c) = check_review(&doc, 1);
        targets += t;
        by_class += c;
    }
    assert!(targets > 2_000, "{targets} targets");
    assert!(
        by_class > 100,
        "{by_class}: the class rows stood for too few"
    );
}

#[test]
fn the_review_is_exactly_decide_at_s() {
    let s = synthetic::generate(Size::S, 1);
    let (targets, by_class) = check_review(&s, 1);
    assert!(targets > 1_000, "{targets}");
    assert!(by_class > 1_000, "{by_class}");
}

#[test]
fn the_review_is_exactly_decide_on_a_sample_of_m() {
    let m = synthetic::generate(Size::M, 1);
    let (targets, _) = check_review(&m, 997);
    assert!(targets > 50, "{targets}");
}

#[test]
fn an_unknown_org_is_named() {
    let s = synthetic::generate(Size::S, 1);
    let snapshot = Snapshot::compile(&s).unwrap();
    assert_eq!(
        review(&snapshot, Some("nope")).unwrap_err().to_string(),
        "unknown org `nope`"
    );
}
