//! The table of decisions in `policy/README.md`'s worked example, checked.

use reqflo_policy::{Document, ReasonCode, Request, Snapshot, decide};

/// (user, action, resource, environment, headline code or `None` for allow, message)
type Row = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<ReasonCode>,
    &'static str,
);

const TABLE: &[Row] = &[
    (
        "tom",
        "run",
        "refund",
        Some("staging"),
        None,
        "Allowed by grant `support-refunds`.",
    ),
    (
        "carla",
        "run",
        "checkout-smoke",
        Some("production"),
        None,
        "Allowed by service role `runner` on service `checkout`.",
    ),
    (
        "carla",
        "run",
        "refund",
        Some("production"),
        Some(ReasonCode::RiskPrivilegeMissing),
        "You cannot run this journey without the destructive privilege.",
    ),
    (
        "maya",
        "run",
        "checkout-smoke",
        Some("staging"),
        Some(ReasonCode::RestrictedDependency),
        "You can view this journey, but you cannot run it because it uses a restricted OAuth config.",
    ),
    (
        "maya",
        "run",
        "order-status",
        Some("staging"),
        Some(ReasonCode::RestrictedDependency),
        "You can view this journey, but you cannot run it because it uses a restricted component.",
    ),
    (
        "maya",
        "use",
        "diagnostics-probe",
        None,
        Some(ReasonCode::PermissionMissing),
        "This component is restricted to the Support Tier 2 group.",
    ),
    (
        "tom",
        "run",
        "order-status",
        Some("staging"),
        None,
        "Allowed by the `member` defaults for open resources.",
    ),
    (
        "tom",
        "run",
        "order-status",
        Some("production"),
        Some(ReasonCode::RiskPrivilegeMissing),
        "You can run this journey in staging, but not production.",
    ),
    (
        "maya",
        "manage_scopes",
        "checkout-oauth",
        None,
        Some(ReasonCode::AdminRoleRequired),
        "Only Security Admins can edit OAuth scopes.",
    ),
    (
        "sam",
        "manage_scopes",
        "checkout-oauth",
        None,
        None,
        "Allowed by org role `security_admin` through group `security`.",
    ),
    (
        "vic",
        "run",
        "order-status",
        None,
        Some(ReasonCode::PermissionMissing),
        "You can view this journey, but you cannot run it. Viewers have read-only access.",
    ),
    (
        "ivan",
        "view",
        "order-status",
        None,
        Some(ReasonCode::MembershipInactive),
        "Your membership in this organization is invited.",
    ),
    (
        "olivia",
        "run",
        "refund",
        Some("production"),
        None,
        "Allowed by org role `org_owner`.",
    ),
];

#[test]
fn the_readme_table_holds() {
    let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/worked.yaml"));
    let snapshot = Snapshot::compile(&Document::parse(text).unwrap()).unwrap();
    for &(user, action, resource, environment, code, message) in TABLE {
        let request = Request {
            org: "acme",
            user,
            action: action.into(),
            resource,
            environment,
        };
        let decision = decide(&snapshot, &request);
        assert_eq!(
            decision.allowed,
            code.is_none(),
            "{request:?}: {}",
            decision.message()
        );
        assert_eq!(decision.code(), code, "{request:?}");
        assert_eq!(decision.message(), message, "{request:?}");
    }
}
