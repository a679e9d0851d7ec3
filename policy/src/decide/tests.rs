//! Each step of the flow, `allowed_by` precedence, and the allow path.

use std::sync::{Arc, OnceLock};

use super::decide;
use crate::compile::Snapshot;
use crate::decision::{AllowedBy, Decision, ReasonCode, Request};
use crate::document::Document;
use crate::model::{OrgRole, ResourceRole, ServiceRole};

pub(crate) const WORLD: &str = r#"
users:
  - { id: alice, memberships: [{ org: acme, status: active, roles: [member] }] }
  - { id: owen, memberships: [{ org: acme, status: active, roles: [org_owner] }] }
  - { id: vera, memberships: [{ org: acme, status: active, roles: [viewer] }] }
  - { id: sam, memberships: [{ org: acme, status: active, roles: [member, security_admin] }] }
  - { id: bill, memberships: [{ org: acme, status: active, roles: [billing_admin] }] }
  - { id: ian, memberships: [{ org: acme, status: active, roles: [integration_admin] }] }
  - { id: adam, memberships: [{ org: acme, status: active, roles: [org_admin] }] }
  - { id: sue, memberships: [{ org: acme, status: suspended, roles: [member] }] }
  - { id: nora, memberships: [{ org: acme, status: active }] }
  - { id: tina, memberships: [{ org: acme, status: active, roles: [member] }] }
  - { id: rita, memberships: [{ org: acme, status: active, roles: [member] }] }
  - { id: mo, memberships: [{ org: acme, status: active, roles: [member] }] }
  - { id: gus, memberships: [{ org: acme, status: active, roles: [member] }] }
  - { id: pete, memberships: [{ org: acme, status: active, roles: [member] }] }
  - { id: oscar, memberships: [{ org: acme, status: active, roles: [member] }] }
  - { id: olga, memberships: [{ org: other, status: active, roles: [org_owner] }] }
  - { id: val, memberships: [{ org: acme, status: active, roles: [viewer] }] }
orgs:
  - id: other
  - id: acme
    groups:
      - { id: tier2, name: Support Tier 2, members: [tina] }
      - { id: pay-maint, members: [mo] }
      - { id: owners, members: [gus], roles: [org_owner] }
    services:
      - id: payments
        name: Payments
        team:
          - { member: { user: rita }, role: runner }
          - { member: { group: pay-maint }, role: maintainer }
          - { member: { user: oscar }, role: owner }
    resources:
      - { id: staging, kind: environment, name: staging }
      - { id: prod, kind: environment, name: production, risk: [production] }
      - { id: checkout, kind: journey, depends_on: [oauth-prod] }
      - { id: oauth-prod, kind: oauth_config, access_mode: restricted, risk: [production] }
      - { id: refund, kind: journey, depends_on: [hidden-comp] }
      - { id: hidden-comp, kind: component, visibility: restricted, access_mode: restricted }
      - { id: support-comp, kind: component, access_mode: restricted }
      - { id: deploy, kind: journey }
      - { id: wipe, kind: journey, risk: [destructive] }
      - { id: settle, kind: journey, service: payments, access_mode: service_controlled }
      - { id: vault, kind: secret, service: payments, risk: [sensitive] }
      - { id: lib, kind: component, service: payments }
      - id: owned
        kind: request_template
        roles:
          - { principal: { user: alice }, role: owner }
      - { id: invoices, kind: billing_setting }
      - { id: slack, kind: integration_connection }
      - { id: sso, kind: auth_config, secret_backed: true, risk: [sensitive] }
      - { id: shared-comp, kind: component, access_mode: restricted }
      - { id: live-cred, kind: credential, risk: [production], access_mode: open, weaker_access_reason: "test: the production privilege alone guards it" }
      - { id: secrets-doc, kind: runbook, visibility: restricted, visible_to: [{ group: tier2 }] }
      - { id: lab, kind: environment, name: lab, visibility: restricted, visible_to: [{ group: tier2 }] }
    grants:
      - { id: g-val-run, principal: { user: val }, scope: { resource: deploy }, actions: [run] }
      - { id: g-support, principal: { group: tier2 }, scope: { resource: support-comp }, actions: [use] }
      - { id: g-shared-1, principal: { group: tier2 }, scope: { resource: shared-comp }, actions: [use] }
      - { id: g-shared-2, principal: { group: pay-maint }, scope: { resource: shared-comp }, actions: [use, run] }
      - id: g-prod
        principal: { user: pete }
        scope: { kind: journey }
        actions: [run]
        privileges: [production]
        environments: [prod]
      - id: g-prod-env
        principal: { user: pete }
        scope: { resource: prod }
        actions: [use]
        privileges: [production]
      - { id: g-attach, principal: { user: mo }, scope: { resource: vault }, actions: [attach] }
"#;

pub(crate) fn snapshot() -> &'static Snapshot {
    static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| Snapshot::compile(&Document::from_yaml(WORLD).unwrap()).unwrap())
}

pub(crate) fn ask(user: &str, action: &str, resource: &str, environment: Option<&str>) -> Decision {
    decide(
        snapshot(),
        &Request {
            org: "acme",
            user,
            action: action.into(),
            resource,
            environment,
        },
    )
}

fn codes(d: &Decision) -> Vec<ReasonCode> {
    d.reasons.iter().map(|r| r.code).collect()
}

#[test]
fn step1_membership_comes_first_and_reveals_nothing() {
    let d = ask("nobody", "frobnicate", "missing", None);
    assert_eq!(codes(&d), [ReasonCode::NotOrgMember]);
    assert_eq!(d.reasons[0].object.as_ref().unwrap().kind, "org");
    let d = decide(
        snapshot(),
        &Request {
            org: "nope",
            user: "alice",
            action: "view".into(),
            resource: "deploy",
            environment: None,
        },
    );
    assert_eq!(codes(&d), [ReasonCode::NotOrgMember]);
    let d = decide(
        snapshot(),
        &Request {
            org: "other",
            user: "alice",
            action: "view".into(),
            resource: "deploy",
            environment: None,
        },
    );
    assert_eq!(codes(&d), [ReasonCode::NotOrgMember]);
    let d = ask("sue", "view", "deploy", None);
    assert_eq!(codes(&d), [ReasonCode::MembershipInactive]);
    assert_eq!(
        d.headline,
        "Your membership in this organization is suspended."
    );
}

#[test]
fn step2_reports_every_unidentified_part() {
    // A missing resource is reported alone, whatever else is wrong.
    let d = ask("alice", "frobnicate", "missing", Some("nowhere"));
    assert_eq!(codes(&d), [ReasonCode::ResourceNotFound]);
    let d = ask("alice", "frobnicate", "deploy", Some("nowhere"));
    assert_eq!(
        codes(&d),
        [ReasonCode::UnknownAction, ReasonCode::EnvironmentNotFound]
    );
    // An existing resource that is not an environment is not an environment.
    let d = ask("alice", "run", "deploy", Some("checkout"));
    assert_eq!(codes(&d), [ReasonCode::EnvironmentNotFound]);
}

#[test]
fn a_hidden_environment_reads_as_a_missing_one() {
    // `lab` is visible only to the Support Tier 2 group (tina).
    let hidden = ask("alice", "run", "deploy", Some("lab"));
    let missing = ask("alice", "run", "deploy", Some("nowhere"));
    assert_eq!(codes(&hidden), [ReasonCode::EnvironmentNotFound]);
    assert_eq!(codes(&missing), [ReasonCode::EnvironmentNotFound]);
    assert_eq!(hidden.headline.replace("lab", "nowhere"), missing.headline);
    assert_eq!(
        serde_json::to_string(&hidden.reasons)
            .unwrap()
            .replace("lab", "nowhere"),
        serde_json::to_string(&missing.reasons).unwrap()
    );
    assert!(ask("tina", "run", "deploy", Some("lab")).allowed);
}

#[test]
fn step3_not_visible_is_alone_and_looks_like_not_found() {
    // Whatever else is wrong with the request, a hidden resource answers as
    // a missing one: no reason about the environment or the action.
    for (action, env) in [
        ("run", Some("nowhere")),
        ("frobnicate", Some("lab")),
        ("use", None),
    ] {
        let hidden = ask("alice", action, "hidden-comp", env);
        let missing = ask("alice", action, "no-such-thing", env);
        assert_eq!(codes(&hidden), [ReasonCode::NotVisible], "{action} {env:?}");
        assert_eq!(
            codes(&missing),
            [ReasonCode::ResourceNotFound],
            "{action} {env:?}"
        );
        assert_eq!(hidden.headline, missing.headline);
    }
    let hidden = ask("alice", "edit", "hidden-comp", None);
    let missing = ask("alice", "edit", "no-such-thing", None);
    assert_eq!(codes(&hidden), [ReasonCode::NotVisible]);
    assert_eq!(codes(&missing), [ReasonCode::ResourceNotFound]);
    assert_eq!(hidden.headline, missing.headline);
    assert_eq!(
        hidden.reasons,
        missing
            .reasons
            .iter()
            .map(|r| crate::Reason {
                code: ReasonCode::NotVisible,
                ..r.clone()
            })
            .collect::<Vec<_>>()
    );
    // visible_to, org owners and any seat make it visible.
    assert!(ask("tina", "view", "secrets-doc", None).allowed);
    assert!(ask("owen", "view", "hidden-comp", None).allowed);
    assert!(!ask("alice", "view", "secrets-doc", None).allowed);
}

#[test]
fn step4_admin_actions_need_an_explicit_source() {
    let d = ask("alice", "manage_scopes", "oauth-prod", None);
    assert_eq!(codes(&d), [ReasonCode::AdminRoleRequired]);
    assert_eq!(d.headline, "Only Security Admins can edit OAuth scopes.");
    assert!(ask("sam", "manage_scopes", "oauth-prod", None).allowed);
    assert!(ask("bill", "manage_billing", "invoices", None).allowed);
    assert!(!ask("adam", "manage_billing", "invoices", None).allowed);
    assert!(ask("adam", "manage_users", "deploy", None).allowed);
    assert!(ask("ian", "manage_integrations", "slack", None).allowed);
    assert!(ask("alice", "administer", "owned", None).allowed);
    assert!(ask("oscar", "manage_access", "settle", None).allowed);
    assert!(!ask("rita", "manage_access", "settle", None).allowed);
    // manage_access: security admins only on sensitive resources.
    assert!(ask("sam", "manage_access", "sso", None).allowed);
    assert!(!ask("sam", "manage_access", "deploy", None).allowed);
}

#[test]
fn step5_defaults_by_role_and_access_mode() {
    assert!(ask("alice", "run", "deploy", None).allowed);
    assert!(ask("alice", "view", "deploy", None).allowed);
    assert_eq!(
        codes(&ask("alice", "edit", "deploy", None)),
        [ReasonCode::PermissionMissing]
    );
    assert_eq!(
        codes(&ask("vera", "run", "deploy", None)),
        [ReasonCode::PermissionMissing]
    );
    assert!(ask("vera", "view", "deploy", None).allowed);
    assert_eq!(
        codes(&ask("nora", "use", "deploy", None)),
        [ReasonCode::PermissionMissing]
    );
    // Admin roles carry member rights.
    assert!(ask("adam", "run", "deploy", None).allowed);
    // service_controlled: only the team.
    assert_eq!(
        codes(&ask("alice", "run", "settle", None)),
        [ReasonCode::PermissionMissing]
    );
    assert!(ask("rita", "run", "settle", None).allowed);
    assert!(!ask("mo", "run", "settle", None).allowed);
    assert!(ask("mo", "edit", "settle", None).allowed);
    // restricted: only explicit sources.
    assert!(!ask("alice", "use", "support-comp", None).allowed);
    assert!(ask("tina", "use", "support-comp", None).allowed);
    // sensitive: no member defaults; security admins edit secret-backed auth configs.
    assert!(!ask("alice", "use", "sso", None).allowed);
    assert!(ask("sam", "edit", "sso", None).allowed);
    assert!(ask("bill", "view", "invoices", None).allowed);
    assert!(ask("ian", "edit", "slack", None).allowed);
}

#[test]
fn step5_risk_privileges_are_listed_even_without_permission() {
    let d = ask("vera", "run", "wipe", None);
    assert_eq!(
        codes(&d),
        [
            ReasonCode::PermissionMissing,
            ReasonCode::RiskPrivilegeMissing
        ]
    );
    assert_eq!(
        codes(&ask("alice", "run", "wipe", None)),
        [ReasonCode::RiskPrivilegeMissing]
    );
    assert!(ask("alice", "use", "wipe", None).allowed);
    assert!(ask("owen", "run", "wipe", None).allowed);
    // The environment's production risk applies to runs in it.
    // (The environment itself then blocks as a dependency too.)
    assert_eq!(
        codes(&ask("alice", "run", "deploy", Some("prod"))),
        [
            ReasonCode::RiskPrivilegeMissing,
            ReasonCode::RestrictedDependency
        ]
    );
    assert!(ask("alice", "run", "deploy", Some("staging")).allowed);
    // A grant limited to the environment confers its privilege there only.
    assert!(ask("pete", "run", "deploy", Some("prod")).allowed);
    assert!(!ask("pete", "run", "wipe", Some("prod")).allowed);
}

#[test]
fn step5_attach() {
    // Non-secret component: `use` suffices.
    assert!(ask("alice", "attach", "deploy", None).allowed);
    assert!(!ask("vera", "attach", "deploy", None).allowed);
    // Secret-backed: an explicit attach grant (or org_owner) as well.
    let d = ask("rita", "attach", "vault", None);
    assert_eq!(codes(&d), [ReasonCode::PermissionMissing]);
    let d = ask("alice", "attach", "vault", None);
    assert_eq!(
        codes(&d),
        [ReasonCode::PermissionMissing, ReasonCode::PermissionMissing]
    );
    assert!(ask("mo", "attach", "vault", None).allowed);
    assert!(ask("owen", "attach", "vault", None).allowed);
}

#[test]
fn step6_restricted_dependencies() {
    let d = ask("alice", "run", "checkout", None);
    assert_eq!(codes(&d), [ReasonCode::RestrictedDependency]);
    let r = &d.reasons[0];
    assert_eq!(r.object.as_ref().unwrap().id.as_deref(), Some("oauth-prod"));
    assert_eq!(
        r.cause.as_ref().unwrap().code,
        ReasonCode::PermissionMissing
    );
    // Not blocked for view and edit.
    assert!(ask("alice", "view", "checkout", None).allowed);
    // A dependency the user cannot see is named by kind only.
    let d = ask("alice", "use", "refund", None);
    assert_eq!(codes(&d), [ReasonCode::RestrictedDependency]);
    assert_eq!(d.reasons[0].object.as_ref().unwrap().id, None);
    assert_eq!(
        d.reasons[0].cause.as_ref().unwrap().code,
        ReasonCode::NotVisible
    );
    // The target environment is a dependency too; org owners pass everything.
    assert!(ask("owen", "run", "checkout", Some("prod")).allowed);
    // An open, normal environment the user can see is tighter than nothing:
    // it never blocks, so a viewer is refused for the missing permission
    // alone, and a viewer separately granted `run` may run in it.
    let d = ask("vera", "run", "deploy", Some("staging"));
    assert_eq!(codes(&d), [ReasonCode::PermissionMissing]);
    assert!(ask("val", "run", "deploy", Some("staging")).allowed);
    // A production environment is tighter: it blocks the same viewer.
    let d = ask("val", "run", "deploy", Some("prod"));
    assert_eq!(
        codes(&d),
        [
            ReasonCode::RiskPrivilegeMissing,
            ReasonCode::RestrictedDependency
        ]
    );
    assert_eq!(
        d.reasons[1].object.as_ref().unwrap().id.as_deref(),
        Some("prod")
    );
}

#[test]
fn allowed_by_follows_the_documented_precedence() {
    let by = |d: Decision| d.allowed_by.unwrap();
    assert_eq!(
        by(ask("owen", "run", "deploy", None)),
        AllowedBy::OrgRole {
            role: OrgRole::OrgOwner,
            via_group: None
        }
    );
    assert_eq!(
        by(ask("gus", "run", "deploy", None)),
        AllowedBy::OrgRole {
            role: OrgRole::OrgOwner,
            via_group: Some("owners".into())
        }
    );
    assert_eq!(
        by(ask("sam", "edit", "sso", None)),
        AllowedBy::OrgRole {
            role: OrgRole::SecurityAdmin,
            via_group: None
        }
    );
    assert_eq!(
        by(ask("rita", "run", "settle", None)),
        AllowedBy::ServiceRole {
            service: "payments".into(),
            role: ServiceRole::Runner
        }
    );
    assert_eq!(
        by(ask("alice", "edit", "owned", None)),
        AllowedBy::ResourceRole {
            role: ResourceRole::Owner
        }
    );
    assert_eq!(
        by(ask("tina", "use", "support-comp", None)),
        AllowedBy::Grant {
            id: "g-support".into()
        }
    );
    assert_eq!(
        by(ask("pete", "run", "deploy", Some("prod"))),
        AllowedBy::Grant {
            id: "g-prod".into()
        }
    );
    assert_eq!(
        by(ask("alice", "run", "deploy", None)),
        AllowedBy::Default {
            role: OrgRole::Member
        }
    );
    assert_eq!(
        by(ask("adam", "run", "deploy", None)),
        AllowedBy::Default {
            role: OrgRole::OrgAdmin
        }
    );
    assert_eq!(
        by(ask("vera", "view", "deploy", None)),
        AllowedBy::Visibility
    );
    // attach: the source of `attach`, failing that of `use`.
    assert_eq!(
        by(ask("oscar", "attach", "lib", None)),
        AllowedBy::ServiceRole {
            service: "payments".into(),
            role: ServiceRole::Owner
        }
    );
    assert_eq!(
        by(ask("alice", "attach", "deploy", None)),
        AllowedBy::Default {
            role: OrgRole::Member
        }
    );
    // Service roles come before resource roles and grants, org roles before all.
    assert_eq!(
        by(ask("mo", "attach", "vault", None)),
        AllowedBy::Grant {
            id: "g-attach".into()
        }
    );
    assert_eq!(
        by(ask("mo", "use", "vault", None)),
        AllowedBy::ServiceRole {
            service: "payments".into(),
            role: ServiceRole::Maintainer
        }
    );
}

#[test]
fn the_allow_path_builds_nothing_on_the_heap() {
    for (user, action, resource, env) in [
        ("alice", "run", "deploy", None),
        ("owen", "run", "checkout", Some("prod")),
        ("tina", "use", "support-comp", None),
        ("vera", "view", "deploy", None),
    ] {
        let d = ask(user, action, resource, env);
        assert!(d.allowed, "{user} {action} {resource}");
        assert_eq!(d.reasons.capacity(), 0);
        assert_eq!(d.headline.capacity(), 0);
    }
}

#[test]
fn an_empty_policy_denies_everything() {
    let snapshot = Snapshot::compile(&Document::from_yaml("orgs: []").unwrap()).unwrap();
    let d = decide(
        &snapshot,
        &Request {
            org: "a",
            user: "b",
            action: "view".into(),
            resource: "c",
            environment: None,
        },
    );
    assert_eq!(d.code(), Some(ReasonCode::NotOrgMember));
}

/// Large grant buckets are read through their key tables (one probe per
/// principal key of the member, org-role keys only where the service rows
/// allow); the same snapshot with the tables and rows dropped scans or
/// binary-searches the entries directly. Both must decide
/// every request identically (and, at S, agree with the reference evaluator).
fn compact_bucket_keys_change_no_decision(
    size: crate::synthetic::Size,
    oracle: bool,
    key_limits: &[usize],
) {
    use crate::synthetic::{self, Mix};
    let document = synthetic::generate(size, 42);
    let compact = Snapshot::compile(&document).unwrap();
    let mut plain = Snapshot::compile(&document).unwrap();
    let mut compacted = 0;
    for org in &mut plain.orgs {
        let org = Arc::get_mut(org).unwrap();
        org.service_rows = crate::compile::ServiceRows::default();
        let buckets = org
            .by_service
            .iter_mut()
            .map(|b| &mut b.bucket)
            .chain(org.by_kind.iter_mut())
            .chain(org.by_label.iter_mut());
        for b in buckets {
            compacted += usize::from(b.without_table());
        }
        for r in &mut org.resources {
            compacted += usize::from(!r.grant_table.is_empty());
            r.grant_table = crate::compile::KeyTable::default();
            r.set_lists();
        }
    }
    assert!(compacted > 0, "the world has no large bucket");
    // Members on both sides of the limits the lookups treat apart (the
    // service rows' seven own bits, the first line's 11 inline keys, the
    // 23 inline slots).
    let counts: Vec<usize> = compact
        .orgs
        .iter()
        .flat_map(|o| o.members.iter().map(|m| m.key_count()))
        .collect();
    for &limit in key_limits {
        assert!(
            counts.iter().any(|c| *c <= limit),
            "no member with <= {limit} keys"
        );
        assert!(
            counts.iter().any(|c| *c > limit),
            "no member with > {limit} keys"
        );
    }
    for mix in Mix::ALL {
        for owned in synthetic::requests(&document, 3_000, 11, *mix) {
            let request = owned.as_request();
            let a = decide(&compact, &request);
            assert_eq!(a, decide(&plain, &request), "{request:?}");
            if oracle {
                let expected = crate::reference::decide(&document, &request);
                assert_eq!(a.allowed, expected.allowed, "{request:?}");
            }
        }
    }
}

#[test]
fn compact_bucket_keys_change_no_decision_at_s() {
    compact_bucket_keys_change_no_decision(crate::synthetic::Size::S, true, &[7, 11]);
}

#[test]
fn compact_bucket_keys_change_no_decision_at_m() {
    compact_bucket_keys_change_no_decision(crate::synthetic::Size::M, false, &[7, 11, 23]);
}

/// Ids are kept inline up to 23 bytes; longer ones must be named whole too.
#[test]
fn allowed_by_names_long_ids_in_full() {
    let group = "platform-owners-group-of-the-acme-org";
    let service = "payments-service-with-a-long-identifier";
    let grant = "grant-000000000000000000000000000000000042";
    let world = format!(
        r#"
users:
  - {{ id: gus, memberships: [{{ org: acme, status: active, roles: [member] }}] }}
  - {{ id: rita, memberships: [{{ org: acme, status: active, roles: [member] }}] }}
  - {{ id: tina, memberships: [{{ org: acme, status: active, roles: [member] }}] }}
orgs:
  - id: acme
    groups:
      - {{ id: {group}, members: [gus], roles: [org_owner] }}
    services:
      - id: {service}
        team: [{{ member: {{ user: rita }}, role: runner }}]
    resources:
      - {{ id: deploy, kind: journey, service: {service}, access_mode: restricted }}
    grants:
      - {{ id: {grant}, principal: {{ user: tina }}, scope: {{ resource: deploy }}, actions: [run] }}
"#
    );
    let snapshot = Snapshot::compile(&Document::from_yaml(&world).unwrap()).unwrap();
    let by = |user| {
        let request = Request {
            org: "acme",
            user,
            action: "run".into(),
            resource: "deploy",
            environment: None,
        };
        decide(&snapshot, &request).allowed_by.unwrap()
    };
    assert_eq!(
        by("gus"),
        AllowedBy::OrgRole {
            role: OrgRole::OrgOwner,
            via_group: Some(group.into())
        }
    );
    assert_eq!(
        by("rita"),
        AllowedBy::ServiceRole {
            service: service.into(),
            role: ServiceRole::Runner
        }
    );
    assert_eq!(by("tina"), AllowedBy::Grant { id: grant.into() });
}
