//! The snapshot's revision, counts, lookups and precomputed tables.

use super::Snapshot;
use crate::decide::tests::WORLD;
use crate::decision::{AllowedBy, Request};
use crate::document::Document;

fn compile(text: &str) -> Snapshot {
    Snapshot::compile(&Document::parse(text).unwrap()).unwrap()
}

#[test]
fn snapshot_is_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Snapshot>();
}

#[test]
fn yaml_and_json_forms_have_one_revision() {
    let doc = Document::from_yaml(WORLD).unwrap();
    let json = serde_json::to_string_pretty(&doc).unwrap();
    let a = compile(WORLD);
    let b = compile(&json);
    assert_eq!(a.revision(), b.revision());
    assert_eq!(a.revision().len(), 16);
    assert!(a.revision().chars().all(|c| c.is_ascii_hexdigit()));
    let changed = compile(&WORLD.replace("name: Payments", "name: Payments Team"));
    assert_ne!(a.revision(), changed.revision());
}

#[test]
fn compile_with_revision_keeps_the_callers_revision_and_still_validates() {
    let doc = Document::from_yaml(WORLD).unwrap();
    let s = Snapshot::compile_with_revision(&doc, "feedfacecafebeef".to_owned()).unwrap();
    assert_eq!(s.revision(), "feedfacecafebeef");
    assert_eq!(s.counts(), compile(WORLD).counts());
    let mut broken = doc.clone();
    let grant = broken
        .orgs
        .iter_mut()
        .find_map(|o| o.grants.first_mut())
        .unwrap();
    grant.scope = crate::document::Scope::Resource("nowhere".to_owned());
    assert!(Snapshot::compile_with_revision(&broken, "x".to_owned()).is_err());
}

#[test]
fn counts_and_lookups() {
    let s = compile(WORLD);
    let c = s.counts();
    assert_eq!((c.orgs, c.users, c.groups, c.services), (2, 17, 3, 1));
    assert_eq!(c.resources, 20);
    assert_eq!(c.grants, 7);
    assert!(s.has_org("acme") && !s.has_org("nope"));
    assert_eq!(s.resource_kind("acme", "payments"), Some("service"));
    assert_eq!(s.resource_kind("acme", "oauth-prod"), Some("oauth_config"));
    assert_eq!(s.resource_kind("acme", "nope"), None);
    assert_eq!(s.resource_kind("other", "deploy"), None);
}

#[test]
fn closures_are_depth_first_pre_order_each_once() {
    let s = compile(
        r#"
users: []
orgs:
  - id: o
    resources:
      - { id: a, kind: journey, depends_on: [b, d] }
      - { id: b, kind: component, depends_on: [c, d] }
      - { id: c, kind: component }
      - { id: d, kind: component, depends_on: [e] }
      - { id: e, kind: component }
"#,
    );
    let org = &s.orgs[0];
    let names = |id: &str| -> Vec<&str> {
        let r = &org.resources[org.resource_index.get(id).unwrap() as usize];
        r.closure
            .iter()
            .map(|i| &*org.resources[*i as usize].id)
            .collect()
    };
    assert_eq!(names("a"), ["b", "c", "d", "e"]);
    assert_eq!(names("b"), ["c", "d", "e"]);
    assert!(names("e").is_empty());
}

#[test]
fn memberships_expand_groups_and_seats() {
    let s = compile(WORLD);
    let acme = s.org_index.get("acme").unwrap();
    let org = &s.orgs[acme as usize];
    let member = |user: &str| org.members.get(user).unwrap();
    let payments = org.resource_index.get("payments").unwrap();
    // mo sits on the team through the pay-maint group.
    assert_ne!(member("mo").seat_roles(payments), 0);
    assert_eq!(member("alice").seat_roles(payments), 0);
    // gus holds org_owner through the owners group only.
    assert!(member("gus").roles.contains(crate::OrgRole::OrgOwner));
    assert!(
        !member("gus")
            .direct_roles
            .contains(crate::OrgRole::OrgOwner)
    );
}

/// More grants in one scope than are scanned (`SCAN_PER_KEY` per key): the bucket is probed by the
/// user's principal keys and still finds the first grant in document order.
#[test]
fn large_buckets_are_probed_by_principal() {
    let mut text = String::from(
        "users:\n  - { id: u, memberships: [{ org: o, status: active, roles: [viewer] }] }\n",
    );
    for i in 0..520 {
        text.push_str(&format!(
            "  - {{ id: x{i}, memberships: [{{ org: o, status: active }}] }}\n"
        ));
    }
    text.push_str("orgs:\n  - id: o\n    groups:\n      - { id: g, members: [u] }\n    resources:\n      - { id: j, kind: journey }\n    grants:\n");
    for i in 0..520 {
        text.push_str(&format!("      - {{ id: k{i}, principal: {{ user: x{i} }}, scope: {{ kind: journey }}, actions: [run] }}\n"));
    }
    text.push_str(
        "      - { id: late, principal: { group: g }, scope: { kind: journey }, actions: [run] }\n",
    );
    text.push_str(
        "      - { id: later, principal: { user: u }, scope: { kind: journey }, actions: [run] }\n",
    );
    let s = compile(&text);
    let d = crate::decide(
        &s,
        &Request {
            org: "o",
            user: "u",
            action: "run".into(),
            resource: "j",
            environment: None,
        },
    );
    assert_eq!(d.allowed_by, Some(AllowedBy::Grant { id: "late".into() }));
    let d = crate::decide(
        &s,
        &Request {
            org: "o",
            user: "x7",
            action: "run".into(),
            resource: "j",
            environment: None,
        },
    );
    assert_eq!(d.allowed_by, Some(AllowedBy::Grant { id: "k7".into() }));
}

#[test]
fn member_slots_for_one_and_for_several_memberships() {
    let world = WORLD.replace(
        "memberships: [{ org: other, status: active, roles: [org_owner] }]",
        "memberships: [{ org: other, status: active, roles: [org_owner] }, { org: acme, status: suspended, roles: [member] }]",
    );
    assert_ne!(world, WORLD);
    let s = compile(&world);
    let acme = s.org_index.get("acme").unwrap();
    let other = s.org_index.get("other").unwrap();
    let org = |o: u32| &s.orgs[o as usize];
    // alice: a member of acme only.
    let alice = org(acme).members.get("alice").unwrap();
    assert!(org(other).members.get("alice").is_none());
    // olga: two memberships, one in each org's table.
    let in_acme = org(acme).members.get("olga").unwrap();
    let in_other = org(other).members.get("olga").unwrap();
    assert_eq!(in_acme.status, crate::model::MembershipStatus::Suspended);
    assert!(in_other.roles.contains(crate::model::OrgRole::OrgOwner));
    assert_ne!(in_acme.slot, alice.slot);
    assert!(org(acme).members.get("nobody").is_none());
}

#[test]
fn grant_environments_inline_or_in_a_list_contain_exactly_theirs() {
    use super::GrantEnvs;
    let mut long = Vec::new();
    let none = GrantEnvs::new(&[], &mut long);
    let one = GrantEnvs::new(&[4], &mut long);
    let two = GrantEnvs::new(&[4, 9], &mut long);
    let three = GrantEnvs::new(&[4, 9, 12], &mut long);
    assert_eq!(long.len(), 1, "only the list of three is stored aside");
    for env in [0, 4, 9, 12, u32::MAX] {
        assert!(!none.contains(env, &long), "{env}");
        assert_eq!(one.contains(env, &long), env == 4, "{env}");
        assert_eq!(two.contains(env, &long), [4, 9].contains(&env), "{env}");
        assert_eq!(
            three.contains(env, &long),
            [4, 9, 12].contains(&env),
            "{env}"
        );
    }
}

/// A grant limited to three environments (stored aside) applies in each of
/// them and nowhere else (nor without an environment).
#[test]
fn a_grant_limited_to_many_environments_applies_in_each() {
    let world = r#"
users:
  - { id: pat, memberships: [{ org: acme, status: active, roles: [member] }] }
orgs:
  - id: acme
    resources:
      - { id: dev, kind: environment }
      - { id: qa, kind: environment }
      - { id: staging, kind: environment }
      - { id: prod, kind: environment, risk: [production] }
      - { id: deploy, kind: journey, access_mode: restricted }
      - { id: report, kind: journey, access_mode: restricted }
    grants:
      - { id: g-three, principal: { user: pat }, scope: { resource: deploy }, actions: [run], environments: [dev, qa, staging] }
      - { id: g-one, principal: { user: pat }, scope: { resource: report }, actions: [run], environments: [qa] }
"#;
    let snapshot = compile(world);
    let run = |resource, env| {
        crate::decide(
            &snapshot,
            &Request {
                org: "acme",
                user: "pat",
                action: "run".into(),
                resource,
                environment: env,
            },
        )
    };
    for env in ["dev", "qa", "staging"] {
        let d = run("deploy", Some(env));
        assert!(d.allowed, "{env}: {d:?}");
        assert_eq!(
            d.allowed_by,
            Some(AllowedBy::Grant {
                id: "g-three".into()
            })
        );
    }
    assert!(!run("deploy", Some("prod")).allowed);
    assert!(!run("deploy", None).allowed);
    assert!(!run("report", Some("dev")).allowed);
    assert!(run("report", Some("qa")).allowed);
}

/// A snapshot assembled from orgs compiled alone decides every request as
/// the whole document's does, and replacing one org shares the others.
#[test]
fn a_snapshot_assembled_from_orgs_decides_as_the_whole_document() {
    use crate::synthetic::{Mix, Size, generate, requests};
    use crate::{OrgPolicy, decide};
    use std::sync::Arc;
    for size in [Size::S, Size::M] {
        let doc = generate(size, 42);
        let whole = Snapshot::compile(&doc).unwrap();
        let orgs: Vec<Arc<OrgPolicy>> = doc
            .orgs
            .iter()
            .map(|org| {
                let part = doc.org_document(org);
                Arc::new(OrgPolicy::compile(&part, org.id.clone()).unwrap())
            })
            .collect();
        let assembled = Snapshot::from_orgs("bundle".to_owned(), &orgs);
        let c = whole.counts();
        let a = assembled.counts();
        assert_eq!(
            (a.orgs, a.groups, a.services, a.resources, a.grants),
            (c.orgs, c.groups, c.services, c.resources, c.grants)
        );
        assert_eq!(
            assembled.weakened_defaults().collect::<Vec<_>>(),
            whole.weakened_defaults().collect::<Vec<_>>()
        );
        let mut compared = 0;
        for &mix in Mix::ALL {
            for owned in requests(&doc, 5_000, 7, mix) {
                let request = owned.as_request();
                assert_eq!(
                    decide(&assembled, &request),
                    decide(&whole, &request),
                    "{owned:?}"
                );
                compared += 1;
            }
        }
        assert!(compared >= 10_000);
        for org in &orgs {
            assert!(assembled.shares_org(org));
        }
        // One org replaced: the others' tables are the same allocation.
        if let [first, rest @ ..] = orgs.as_slice() {
            let again = Arc::new(
                OrgPolicy::compile(&doc.org_document(&doc.orgs[0]), "again".to_owned()).unwrap(),
            );
            let mut next = vec![again.clone()];
            next.extend(rest.iter().cloned());
            let replaced = Snapshot::from_orgs("bundle-2".to_owned(), &next);
            assert!(replaced.shares_org(&again) && !replaced.shares_org(first));
            assert!(rest.iter().all(|org| replaced.shares_org(org)));
        }
    }
}

#[test]
fn an_org_document_with_other_than_one_org_is_refused() {
    let doc = Document::from_yaml(WORLD).unwrap();
    let err = crate::OrgPolicy::compile(&doc, "x".to_owned()).unwrap_err();
    assert!(err.to_string().contains("exactly one org"), "{err}");
}
