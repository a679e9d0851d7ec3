//! The shipped examples load, route and decide as examples/README.md says.

mod common;

use reqflo_config::{Access, EnvironmentSource, Identity, Mode};
use reqflo_policy::{Request, decide};

fn snapshot() -> reqflo_config::Snapshot {
    match reqflo_config::load(&common::examples().join("gateway.yaml")) {
        Ok(s) => s,
        Err(errors) => panic!(
            "examples do not load:\n{}",
            errors
                .0
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

#[test]
fn examples_load_with_both_keys() {
    let s = snapshot();
    assert_eq!(s.revision.len(), 16);
    assert!(s.routes.len() >= 30, "{} routes", s.routes.len());
    match &s.settings.identity {
        Identity::Jwt(jwt) => {
            assert_eq!(jwt.keys.len(), 2);
            assert!(
                jwt.keys.contains_key("demo-rsa-2026") && jwt.keys.contains_key("demo-ec-2026")
            );
        }
        other => panic!("expected jwt identity, got {other:?}"),
    }
    assert_eq!(s.settings.upstreams.len(), 2);
}

#[test]
fn examples_route_runs_with_their_environment_source() {
    let s = snapshot();
    let m = s
        .routes
        .lookup("POST", "/api/v1/orgs/acme/journeys/refund/runs")
        .unwrap();
    assert_eq!(&*m.route.id, "journey-run");
    assert_eq!(m.param("journey"), Some("refund"));
    let Access::Decide(check) = &m.route.access else {
        panic!("journey-run is not public")
    };
    assert_eq!(
        check.environment,
        Some(EnvironmentSource::Body("environment".into()))
    );
    assert!(check.environment_required);
    assert_eq!(
        check.resource.render(|p| m.param(p)).as_deref(),
        Some("refund")
    );
    assert_eq!(check.org.render(|p| m.param(p)).as_deref(), Some("acme"));

    let m = s
        .routes
        .lookup("POST", "/api/v1/orgs/acme/runbooks/tenant-deletion/runs")
        .unwrap();
    assert_eq!(&*m.route.id, "runbook-run");
    let m = s.routes.lookup("GET", "/api/v1/health").unwrap();
    assert!(matches!(m.route.access, Access::Public));
    let m = s
        .routes
        .lookup("GET", "/api/v1/public/status/page")
        .unwrap();
    assert_eq!(&*m.route.id, "public-status");
    assert_eq!(s.routes.get("integration-view").unwrap().mode, Mode::Shadow);
    // Fail closed: unknown paths, unknown methods, a parameter never spans `/`.
    assert!(
        s.routes
            .lookup("DELETE", "/api/v1/orgs/acme/journeys/refund")
            .is_none()
    );
    assert!(
        s.routes
            .lookup("GET", "/api/v1/orgs/acme/journeys/a/b")
            .is_none()
    );
    assert!(s.routes.lookup("GET", "/api/v1/unknown").is_none());
}

#[test]
fn examples_decide_like_the_readme_says() {
    let s = snapshot();
    let run = |user, resource, environment| {
        decide(
            &s.policy,
            &Request {
                org: "acme",
                user,
                action: "run".into(),
                resource,
                environment,
            },
        )
    };
    // Support Tier 2 runs the destructive refund in staging, not in production.
    assert!(run("tess", "refund", Some("staging")).allowed);
    let denied = run("tess", "refund", Some("production"));
    assert!(!denied.allowed);
    // A member cannot run it at all; the owner can, anywhere.
    assert!(!run("mia", "refund", Some("staging")).allowed);
    assert!(run("olivia", "refund", Some("production")).allowed);
    // The open catalog is runnable by members; the suspended user is refused.
    assert!(run("mia", "browse-catalog", Some("staging")).allowed);
    assert!(!run("sue", "browse-catalog", Some("staging")).allowed);
    // Checkout: its runner may run the smoke test, a plain member may not.
    assert!(run("rudy", "checkout-smoke", Some("staging")).allowed);
    assert!(!run("mia", "checkout-smoke", Some("staging")).allowed);
    let admin = |user, action: &str, resource| {
        decide(
            &s.policy,
            &Request {
                org: "acme",
                user,
                action: action.into(),
                resource,
                environment: None,
            },
        )
        .allowed
    };
    assert!(admin("sam", "manage_scopes", "payments-oauth"));
    assert!(!admin("mia", "manage_scopes", "payments-oauth"));
    assert!(admin("adam", "manage_users", "members"));
    assert!(!admin("sam", "manage_users", "members"));
    assert!(admin("bill", "manage_billing", "billing"));
    assert!(admin("sam", "manage_secrets", "stripe-api-key"));
    assert!(admin("vic", "view", "browse-catalog"));
    assert!(admin("tess", "view", "support-toolkit"));
    let hidden = decide(
        &s.policy,
        &Request {
            org: "acme",
            user: "mia",
            action: "view".into(),
            resource: "support-toolkit",
            environment: None,
        },
    );
    assert!(hidden.code().is_some_and(|c| c.is_hidden()), "{hidden:?}");
    assert!(run("tess", "incident-response", Some("staging")).allowed);
    assert!(run("tess", "diagnostics", Some("staging")).allowed);
    assert!(!run("mia", "diagnostics", Some("staging")).allowed);
    assert!(!run("mia", "tenant-deletion", Some("staging")).allowed);
    assert!(!run("rudy", "checkout-smoke", Some("production")).allowed);
    assert!(admin("cora", "edit", "checkout-smoke"));
    assert!(!admin("rudy", "edit", "checkout-smoke"));
    // Attach = `attach` on the component and `edit` on the journey (the route's `also`).
    assert!(
        admin("olivia", "attach", "pagination-helper") && admin("olivia", "edit", "browse-catalog")
    );
    assert!(admin("mia", "attach", "pagination-helper") && !admin("mia", "edit", "browse-catalog"));
    assert!(!run("vic", "browse-catalog", Some("staging")).allowed);
}
