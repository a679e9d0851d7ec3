//! who-can and what-can against brute force: every user of the document
//! (members or not) asked with `decide`, over whole worlds: the synthetic
//! S and M worlds and a few hundred small worlds built from random bytes
//! (the fuzzers' generator, which reaches every corner of the model).

use super::*;
use crate::decide::decide;
use crate::document::Document;
use crate::synthetic::{self, Size, rng::Rng};

/// Every (resource id, is environment) of an org, services included.
fn targets(doc: &Document, org: &str) -> Vec<String> {
    let o = doc.orgs.iter().find(|o| o.id == org).unwrap();
    o.services
        .iter()
        .map(|s| s.id.clone())
        .chain(o.resources.iter().map(|r| r.id.clone()))
        .collect()
}

fn environments(doc: &Document, org: &str) -> Vec<String> {
    let o = doc.orgs.iter().find(|o| o.id == org).unwrap();
    o.resources
        .iter()
        .filter(|r| r.kind == "environment")
        .map(|r| r.id.clone())
        .collect()
}

/// Brute force: every user of the document, through `decide`.
fn brute_who_can(
    snapshot: &Snapshot,
    doc: &Document,
    org: &str,
    action: Action,
    resource: &str,
    environment: Option<&str>,
) -> Vec<Holder> {
    let mut out: Vec<Holder> = doc
        .users
        .iter()
        .filter_map(|u| {
            let d = decide(
                snapshot,
                &Request {
                    org,
                    user: &u.id,
                    action: RequestAction::Known(action),
                    resource,
                    environment,
                },
            );
            d.allowed.then(|| Holder {
                user: u.id.clone(),
                allowed_by: d.allowed_by.unwrap(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.user.cmp(&b.user));
    out.dedup_by(|a, b| a.user == b.user);
    out
}

/// who-can equals brute force for every org, resource, action and
/// environment (and none) of `doc`; returns how many questions were asked.
fn check_who_can(
    doc: &Document,
    actions: &[Action],
    every_nth_resource: usize,
    max_environments: usize,
) -> usize {
    let snapshot = Snapshot::compile(doc).unwrap();
    let mut asked = 0;
    for org in &doc.orgs {
        let envs = environments(doc, &org.id);
        let env_choices: Vec<Option<&str>> = std::iter::once(None)
            .chain(envs.iter().take(max_environments).map(|e| Some(e.as_str())))
            .collect();
        for resource in targets(doc, &org.id).iter().step_by(every_nth_resource) {
            for &action in actions {
                for &env in &env_choices {
                    let fast = who_can(&snapshot, &org.id, action, resource, env).unwrap();
                    let slow = brute_who_can(&snapshot, doc, &org.id, action, resource, env);
                    assert_eq!(
                        fast, slow,
                        "who-can {action} {resource} in {env:?} (org {})",
                        org.id
                    );
                    asked += 1;
                }
            }
        }
    }
    asked
}

#[test]
fn who_can_is_exactly_decide_on_small_random_worlds() {
    let mut r = Rng::new(7);
    let mut rng = move || r.next_u64() as u8;
    let mut asked = 0;
    let mut allowed_somewhere = 0;
    for _ in 0..300 {
        let bytes: Vec<u8> = (0..256).map(|_| rng()).collect();
        let doc = synthetic::bytes::world(&bytes);
        if Snapshot::compile(&doc).is_err() {
            continue;
        }
        asked += check_who_can(&doc, Action::ALL, 1, usize::MAX);
        let snapshot = Snapshot::compile(&doc).unwrap();
        for org in &doc.orgs {
            for r in targets(&doc, &org.id) {
                if !who_can(&snapshot, &org.id, Action::Run, &r, None)
                    .unwrap()
                    .is_empty()
                {
                    allowed_somewhere += 1;
                }
            }
        }
    }
    assert!(asked > 10_000, "{asked} questions");
    assert!(
        allowed_somewhere > 100,
        "{allowed_somewhere}: the worlds allow too little to test anything"
    );
}

#[test]
fn who_can_is_exactly_decide_at_s() {
    let s = synthetic::generate(Size::S, 1);
    // Every 7th resource, every environment: seconds in a debug build.
    assert!(check_who_can(&s, &REVIEWED_ACTIONS, 7, usize::MAX) > 100);
}

#[test]
fn who_can_is_exactly_decide_at_m() {
    // M: 5k users; a sample of resources keeps the brute force (every
    // user, twice per question) to seconds in a debug build.
    let m = synthetic::generate(Size::M, 1);
    assert!(check_who_can(&m, &[Action::Run, Action::Edit], 2_003, 2) > 20);
}

/// Brute force: every resource, reviewed action and environment (and
/// none) of every org, through `decide`, kept when risky.
fn brute_what_can(snapshot: &Snapshot, doc: &Document, user: &str) -> Vec<Access> {
    let mut out = Vec::new();
    for org in &doc.orgs {
        if what_can(snapshot, user, Some(&org.id)).is_err() {
            continue;
        }
        let data = org_data(snapshot, &org.id).unwrap();
        let envs = environments(doc, &org.id);
        for id in targets(doc, &org.id) {
            let r = data
                .resource(data.resource_index.get(&id).unwrap())
                .unwrap();
            for action in REVIEWED_ACTIONS {
                let choices: Vec<Option<&str>> = if action.checks_dependencies() && !envs.is_empty()
                {
                    envs.iter().map(|e| Some(e.as_str())).collect()
                } else {
                    vec![None]
                };
                for env in choices {
                    let env_risk = env
                        .and_then(|e| data.resource_index.get(e))
                        .and_then(|i| data.resource(i))
                        .map_or(0, |e| e.risk);
                    let risk = r.risk | env_risk;
                    let d = decide(
                        snapshot,
                        &Request {
                            org: &org.id,
                            user,
                            action: RequestAction::Known(action),
                            resource: &id,
                            environment: env,
                        },
                    );
                    if d.allowed && (risky_bits(risk) != 0 || r.secret_backed) {
                        out.push(access(
                            &org.id,
                            data,
                            r,
                            action,
                            env,
                            risk,
                            d.allowed_by.unwrap(),
                        ));
                    }
                }
            }
        }
    }
    out.sort_by(Access::order);
    out
}

#[test]
fn what_can_is_exactly_decide_on_worlds() {
    let mut r = Rng::new(11);
    let mut rng = move || r.next_u64() as u8;
    let mut found = 0;
    for _ in 0..200 {
        let bytes: Vec<u8> = (0..256).map(|_| rng()).collect();
        let doc = synthetic::bytes::world(&bytes);
        let Ok(snapshot) = Snapshot::compile(&doc) else {
            continue;
        };
        for user in &doc.users {
            let slow = brute_what_can(&snapshot, &doc, &user.id);
            match what_can(&snapshot, &user.id, None) {
                Ok(fast) => {
                    assert_eq!(fast, slow, "what-can {}", user.id);
                    found += fast.len();
                }
                Err(_) => assert!(slow.is_empty()),
            }
        }
    }
    assert!(
        found > 50,
        "{found}: too little risky access to test anything"
    );
    let s = synthetic::generate(Size::S, 1);
    let snapshot = Snapshot::compile(&s).unwrap();
    for user in s.users.iter().take(20) {
        let slow = brute_what_can(&snapshot, &s, &user.id);
        assert_eq!(
            what_can(&snapshot, &user.id, None).unwrap_or_default(),
            slow,
            "{}",
            user.id
        );
    }
}

#[test]
fn unknown_ids_are_named() {
    let s = synthetic::generate(Size::S, 1);
    let snapshot = Snapshot::compile(&s).unwrap();
    let org = &s.orgs[0].id;
    let resource = &targets(&s, org)[0];
    assert_eq!(
        who_can(&snapshot, "nope", Action::Run, resource, None)
            .unwrap_err()
            .to_string(),
        "unknown org `nope`"
    );
    assert_eq!(
        who_can(&snapshot, org, Action::Run, "nope", None).unwrap_err(),
        Unknown::Resource {
            org: org.clone(),
            resource: "nope".into()
        }
    );
    // A resource that is not an environment is not one.
    assert!(
        matches!(
            who_can(&snapshot, org, Action::Run, resource, Some(resource)).unwrap_err(),
            Unknown::Environment { .. }
        ) || environments(&s, org).contains(resource)
    );
    assert_eq!(
        what_can(&snapshot, "nobody-at-all", None)
            .unwrap_err()
            .to_string(),
        "`nobody-at-all` is a member of no org"
    );
}

/// Every allow that comes from a grant, a seat or a resource role names
/// the principal it came through, and that principal matches the user.
#[test]
fn through_names_a_matching_principal_for_every_grant_seat_and_resource_role() {
    let mut r = Rng::new(13);
    let mut rng = move || r.next_u64() as u8;
    let mut named = 0;
    for _ in 0..200 {
        let bytes: Vec<u8> = (0..256).map(|_| rng()).collect();
        let doc = synthetic::bytes::world(&bytes);
        let Ok(snapshot) = Snapshot::compile(&doc) else {
            continue;
        };
        for org in &doc.orgs {
            for resource in targets(&doc, &org.id) {
                for action in REVIEWED_ACTIONS {
                    for h in who_can(&snapshot, &org.id, action, &resource, None).unwrap() {
                        let t = through(&doc, &org.id, &h.user, &resource, &h.allowed_by);
                        match &h.allowed_by {
                            AllowedBy::Grant { .. }
                            | AllowedBy::ServiceRole { .. }
                            | AllowedBy::ResourceRole { .. } => {
                                let t = t.unwrap_or_else(|| {
                                    panic!(
                                        "{} {action} {resource}: {:?} through nothing",
                                        h.user, h.allowed_by
                                    )
                                });
                                if let Through::Group { group } = &t {
                                    let g = org.groups.iter().find(|g| &g.id == group).unwrap();
                                    assert!(g.members.contains(&h.user), "{t:?} for {}", h.user);
                                }
                                named += 1;
                            }
                            AllowedBy::OrgRole {
                                via_group: None, ..
                            }
                            | AllowedBy::Default { .. }
                            | AllowedBy::Visibility => assert_eq!(t, None),
                            AllowedBy::OrgRole {
                                via_group: Some(g), ..
                            } => {
                                assert_eq!(
                                    t,
                                    Some(Through::Group {
                                        group: g.to_string().into()
                                    })
                                )
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(named > 100, "{named}");
}
