use super::*;

fn world() -> Document {
    Document::from_yaml(
        r#"
users:
  - { id: ann, memberships: [{ org: acme, status: active, roles: [member] }] }
  - { id: sue, memberships: [{ org: acme, status: suspended, roles: [org_owner] }] }
orgs:
  - id: acme
    resources:
      - { id: staging, kind: environment, name: staging }
      - { id: prod, kind: environment, name: production, risk: [production], depends_on: [loop] }
      - { id: quiet, kind: environment, risk: [sensitive] }
      - { id: loop, kind: journey }
      - { id: tool, kind: component }
      - { id: secret, kind: secret, access_mode: restricted }
"#,
    )
    .unwrap()
}

fn ask(
    document: &Document,
    user: &str,
    action: &str,
    resource: &str,
    environment: Option<&str>,
) -> Decision {
    decide(
        document,
        &Request {
            org: "acme",
            user,
            action: action.into(),
            resource,
            environment,
        },
    )
}

fn codes(decision: &Decision) -> Vec<ReasonCode> {
    decision.reasons.iter().map(|r| r.code).collect()
}

#[test]
fn membership_is_checked_before_anything_else() {
    let decision = ask(&world(), "sue", "launch", "nothing", Some("nowhere"));
    assert_eq!(codes(&decision), [ReasonCode::MembershipInactive]);
    assert_eq!(
        decision.headline,
        "Your membership in this organization is suspended."
    );
}

#[test]
fn attach_does_not_take_the_environment_risk() {
    let document = world();
    assert!(ask(&document, "ann", "attach", "tool", Some("prod")).allowed);
    assert!(ask(&document, "ann", "attach", "tool", Some("quiet")).allowed);
    // use of the same component in production needs the privilege.
    let used = ask(&document, "ann", "use", "tool", Some("prod"));
    assert_eq!(
        codes(&used),
        [
            ReasonCode::RiskPrivilegeMissing,
            ReasonCode::RestrictedDependency
        ]
    );
    assert_eq!(
        used.headline,
        "You can use this component in staging, but not production."
    );
}

#[test]
fn the_dependency_walk_never_checks_the_resource_itself() {
    // prod depends on loop: running loop in prod checks prod, not loop again.
    let decision = ask(&world(), "ann", "run", "loop", Some("prod"));
    let last = decision.reasons.last().unwrap();
    assert_eq!(last.code, ReasonCode::RestrictedDependency);
    assert_eq!(last.object.as_ref().unwrap().id.as_deref(), Some("prod"));
}

#[test]
fn secret_kind_is_secret_backed() {
    let decision = ask(&world(), "ann", "attach", "secret", None);
    assert_eq!(
        codes(&decision),
        [ReasonCode::PermissionMissing, ReasonCode::PermissionMissing]
    );
    assert_eq!(
        decision.reasons[1].message,
        "You can view this secret, but you cannot attach it. It needs an explicit role or grant."
    );
}

#[test]
fn sensitive_environment_removes_the_defaults() {
    let decision = ask(&world(), "ann", "run", "loop", Some("quiet"));
    assert_eq!(
        codes(&decision),
        [
            ReasonCode::PermissionMissing,
            ReasonCode::RestrictedDependency
        ]
    );
    assert!(ask(&world(), "ann", "run", "loop", Some("staging")).allowed);
}
