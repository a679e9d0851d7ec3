//! Every sentence template, character for character.

use crate::decide::tests::{ask, snapshot};
use crate::decision::{ReasonCode, Request};

fn headline(user: &str, action: &str, resource: &str, environment: Option<&str>) -> String {
    let d = ask(user, action, resource, environment);
    assert!(!d.allowed, "{user} {action} {resource} was allowed");
    d.headline
}

#[test]
fn step1_and_step2_sentences() {
    let d = crate::decide(
        snapshot(),
        &Request {
            org: "acme",
            user: "olga",
            action: "view".into(),
            resource: "x",
            environment: None,
        },
    );
    assert_eq!(d.headline, "You are not a member of this organization.");
    let d = ask("alice", "frobnicate", "missing", Some("nowhere"));
    assert_eq!(
        d.headline,
        "This resource does not exist, or you do not have access to it."
    );
    assert_eq!(d.reasons.len(), 1);
    let d = ask("alice", "frobnicate", "deploy", Some("nowhere"));
    let messages: Vec<&str> = d.reasons.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "`frobnicate` is not an action Reqflo knows.",
            "The environment `nowhere` does not exist in this organization, or you do not have access to it.",
        ]
    );
}

#[test]
fn admin_sentences() {
    for (action, resource, sentence) in [
        (
            "manage_scopes",
            "oauth-prod",
            "Only Security Admins can edit OAuth scopes.",
        ),
        (
            "manage_secrets",
            "vault",
            "Only Security Admins can manage secrets.",
        ),
        (
            "manage_sso",
            "sso",
            "Only Security Admins can configure SSO.",
        ),
        (
            "manage_scim",
            "sso",
            "Only Security Admins can configure SCIM.",
        ),
        (
            "manage_billing",
            "invoices",
            "Only Billing Admins can manage billing.",
        ),
        (
            "manage_integrations",
            "slack",
            "Only Integration Admins can configure integrations.",
        ),
        (
            "manage_users",
            "deploy",
            "Only Org Admins can invite users or change roles.",
        ),
        (
            "manage_groups",
            "deploy",
            "Only Org Admins can manage groups.",
        ),
        (
            "manage_settings",
            "deploy",
            "Only Org Admins can change organization settings.",
        ),
        (
            "manage_access",
            "deploy",
            "Only the owners of this journey can manage access to it.",
        ),
        (
            "manage_access",
            "sso",
            "Only the owners of this auth config and Security Admins can manage access to it.",
        ),
        (
            "administer",
            "deploy",
            "Only Org Owners can administer this journey.",
        ),
    ] {
        assert_eq!(
            headline("alice", action, resource, None),
            sentence,
            "{action} on {resource}"
        );
    }
}

#[test]
fn permission_sentences() {
    assert_eq!(
        headline("alice", "use", "support-comp", None),
        "This component is restricted to the Support Tier 2 group."
    );
    // `use` is carried by both groups' grants, `run` by pay-maint's only.
    assert_eq!(
        headline("alice", "use", "shared-comp", None),
        "This component is restricted to the Support Tier 2 and pay-maint groups."
    );
    assert_eq!(
        headline("alice", "run", "shared-comp", None),
        "This component is restricted to the pay-maint group."
    );
    assert_eq!(
        headline("alice", "edit", "deploy", None),
        "You can view this journey, but you cannot edit it."
    );
    assert_eq!(
        headline("alice", "run", "settle", None),
        "You can view this journey, but you cannot run it. Ask a Payments service owner for the runner role."
    );
    assert_eq!(
        headline("vera", "run", "deploy", None),
        "You can view this journey, but you cannot run it. Viewers have read-only access."
    );
    assert_eq!(
        headline("alice", "use", "sso", None),
        "You can view this auth config, but you cannot use it. It needs an explicit role or grant."
    );
}

#[test]
fn attach_names_the_missing_permission() {
    let d = ask("alice", "attach", "vault", None);
    let messages: Vec<&str> = d.reasons.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "You can view this secret, but you cannot use it. It needs an explicit role or grant.",
            "You can view this secret, but you cannot attach it. It needs an explicit role or grant.",
        ]
    );
}

#[test]
fn risk_sentences() {
    assert_eq!(
        headline("alice", "run", "deploy", Some("prod")),
        "You can run this journey in staging, but not production."
    );
    assert_eq!(
        headline("alice", "use", "live-cred", None),
        "You cannot use this credential without the production privilege."
    );
    assert_eq!(
        headline("alice", "run", "wipe", None),
        "You cannot run this journey without the destructive privilege."
    );
    // R itself production: never the environment sentence.
    assert_eq!(
        headline("alice", "use", "live-cred", Some("prod")),
        "You cannot use this credential without the production privilege."
    );
}

#[test]
fn dependency_sentences_and_causes() {
    let d = ask("alice", "run", "checkout", None);
    assert_eq!(
        d.headline,
        "You can view this journey, but you cannot run it because it uses a restricted OAuth config."
    );
    let cause = d.reasons[0].cause.as_ref().unwrap();
    assert_eq!(
        cause.message,
        "You can view this OAuth config, but you cannot use it. It needs an explicit role or grant."
    );
    assert_eq!(
        cause.object.as_ref().unwrap().id.as_deref(),
        Some("oauth-prod")
    );

    let d = ask("alice", "use", "refund", None);
    assert_eq!(
        d.headline,
        "You have access to the journey, but not to one of its required components."
    );
    let object = d.reasons[0].object.as_ref().unwrap();
    assert_eq!(
        (object.kind.as_str(), object.id.as_deref()),
        ("component", None)
    );
    let cause = d.reasons[0].cause.as_ref().unwrap();
    assert_eq!(cause.code, ReasonCode::NotVisible);
    assert_eq!(cause.object, None);
}
