//! The bundled `examples/gateway.yaml` and `examples/policy.yaml`, end to end:
//! for every route of the example config, an allowed request (forwarded to
//! the right upstream with the decision id and the verified user) and a
//! denied one (status, code, sentence; nothing upstream), including the
//! requests `examples/README.md` lists.

use std::path::PathBuf;

use reqflo_tests::jwt::Claims;
use reqflo_tests::{Client, DECISION_ID, Gateway, HttpResponse, Upstream};
use serde_json::Value;

const ISSUER: &str = "https://auth.reqflo.example";
const ACME: &str = "/api/v1/orgs/acme";

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("examples")
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A demo token: RS256 with the committed demo key, as examples/README.md describes.
fn token(user: &str) -> String {
    let key = read(examples_dir().join("keys/demo-private/rsa-private.pem"));
    format!(
        "Bearer {}",
        Claims::for_user(user)
            .set("iss", ISSUER)
            .rs256_with("demo-rsa-2026", key.as_bytes())
    )
}

fn es_token(user: &str) -> String {
    let key = read(examples_dir().join("keys/demo-private/ec-private.pem"));
    format!(
        "Bearer {}",
        Claims::for_user(user)
            .set("iss", ISSUER)
            .es256_with("demo-ec-2026", key.as_bytes())
    )
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Up {
    Run,
    Admin,
}

#[derive(Clone, Debug)]
enum Want {
    Allow(Up),
    Deny {
        status: u16,
        code: &'static str,
        message: Option<&'static str>,
    },
}

struct Case {
    route: &'static str,
    user: Option<&'static str>,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, &'static str)>,
    body: &'static str,
    want: Want,
}

fn allow(
    route: &'static str,
    user: &'static str,
    method: &'static str,
    path: &str,
    up: Up,
) -> Case {
    Case {
        route,
        user: Some(user),
        method,
        path: path.to_owned(),
        headers: vec![],
        body: "",
        want: Want::Allow(up),
    }
}

fn deny(
    route: &'static str,
    user: &'static str,
    method: &'static str,
    path: &str,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        route,
        user: Some(user),
        method,
        path: path.to_owned(),
        headers: vec![],
        body: "",
        want: Want::Deny {
            status,
            code,
            message: None,
        },
    }
}

impl Case {
    fn body(mut self, body: &'static str) -> Case {
        self.body = body;
        self.headers.push(("content-type", "application/json"));
        self
    }
    fn header(mut self, name: &'static str, value: &'static str) -> Case {
        self.headers.push((name, value));
        self
    }
    fn says(mut self, sentence: &'static str) -> Case {
        if let Want::Deny { message, .. } = &mut self.want {
            *message = Some(sentence);
        }
        self
    }
    fn anonymous(mut self) -> Case {
        self.user = None;
        self
    }
}

fn cases() -> Vec<Case> {
    use Up::{Admin, Run};
    let p = |rest: &str| format!("{ACME}{rest}");
    vec![
        allow("backend-health", "-", "GET", "/api/v1/health", Run).anonymous(),
        allow("public-status", "-", "GET", "/api/v1/public/status", Admin).anonymous(),
        deny("(no route)", "mia", "GET", "/api/v1/nothing-here", 404, "no_route"),
        allow("journey-view", "mia", "GET", &p("/journeys/browse-catalog"), Admin),
        deny("journey-view", "sue", "GET", &p("/journeys/browse-catalog"), 403, "membership_inactive")
            .says("Your membership in this organization is suspended."),
        deny("journey-view", "mia", "GET", &p("/journeys/no-such-journey"), 404, "resource_not_found"),
        allow("journey-edit", "cora", "PUT", &p("/journeys/checkout-smoke"), Admin).body("{}"),
        deny("journey-edit", "mia", "PUT", &p("/journeys/checkout-smoke"), 403, "permission_missing").body("{}"),
        allow("journey-run", "tess", "POST", &p("/journeys/refund/runs"), Run).body(r#"{"environment":"staging"}"#),
        deny("journey-run", "tess", "POST", &p("/journeys/refund/runs"), 403, "risk_privilege_missing")
            .body(r#"{"environment":"production"}"#)
            .says("You can run this journey in staging, but not production."),
        deny("journey-run", "mia", "POST", &p("/journeys/refund/runs"), 403, "")
            .body(r#"{"environment":"staging"}"#),
        allow("journey-run", "mia", "POST", &p("/journeys/browse-catalog/runs"), Run)
            .body(r#"{"environment":"staging"}"#),
        deny("journey-run", "mia", "POST", &p("/journeys/partner-payout/runs"), 403, "restricted_dependency")
            .body(r#"{"environment":"staging"}"#)
            .says("You can view this journey, but you cannot run it because it uses a restricted OAuth config."),
        allow("journey-component-attach", "olivia", "PUT", &p("/journeys/browse-catalog/components/pagination-helper"), Admin),
        deny("journey-component-attach", "mia", "PUT", &p("/journeys/browse-catalog/components/pagination-helper"), 403, ""),
        allow("request-template-view", "mia", "GET", &p("/request-templates/catalog-search"), Admin),
        deny("request-template-view", "sue", "GET", &p("/request-templates/catalog-search"), 403, "membership_inactive"),
        allow("request-template-edit", "cora", "PUT", &p("/request-templates/create-order"), Admin).body("{}"),
        deny("request-template-edit", "mia", "PUT", &p("/request-templates/create-order"), 403, "permission_missing").body("{}"),
        allow("request-template-send", "mia", "POST", &p("/request-templates/catalog-search/send"), Run)
            .header("x-reqflo-environment", "staging"),
        deny("request-template-send", "mia", "POST", &p("/request-templates/catalog-search/send"), 403, "risk_privilege_missing")
            .header("x-reqflo-environment", "production"),
        allow("runbook-view", "mia", "GET", &p("/runbooks/tenant-deletion"), Admin),
        deny("runbook-view", "sue", "GET", &p("/runbooks/tenant-deletion"), 403, "membership_inactive"),
        allow("runbook-run", "tess", "POST", &p("/runbooks/incident-response/runs?environment=staging"), Run),
        deny("runbook-run", "mia", "POST", &p("/runbooks/tenant-deletion/runs?environment=staging"), 403, "risk_privilege_missing")
            .says("You cannot run this runbook without the destructive privilege."),
        allow("runbook-run-in-environment", "tess", "POST", &p("/environments/staging/runbooks/incident-response/runs"), Run),
        deny("runbook-run-in-environment", "mia", "POST", &p("/environments/staging/runbooks/incident-response/runs"), 403, "permission_missing"),
        allow("component-view", "tess", "GET", &p("/components/support-toolkit"), Admin),
        deny("component-view", "mia", "GET", &p("/components/support-toolkit"), 404, "resource_not_found")
            .says("This resource does not exist, or you do not have access to it."),
        allow("component-invoke", "tess", "POST", &p("/components/refund-console/invocations"), Run).body("{}"),
        deny("component-invoke", "mia", "POST", &p("/components/refund-console/invocations"), 403, "permission_missing")
            .body("{}")
            .says("This component is restricted to the Support Tier 2 group."),
        allow("environment-view", "mia", "GET", &p("/environments/production"), Admin),
        deny("environment-view", "sue", "GET", &p("/environments/production"), 403, "membership_inactive"),
        allow("environment-edit", "olivia", "PUT", &p("/environments/staging"), Admin).body("{}"),
        deny("environment-edit", "mia", "PUT", &p("/environments/staging"), 403, "permission_missing").body("{}"),
        allow("auth-config-view", "mia", "GET", &p("/auth-configs/okta-auth"), Admin),
        deny("auth-config-view", "sue", "GET", &p("/auth-configs/okta-auth"), 403, "membership_inactive"),
        allow("auth-config-edit", "sam", "PUT", &p("/auth-configs/okta-auth"), Admin).body("{}"),
        deny("auth-config-edit", "mia", "PUT", &p("/auth-configs/okta-auth"), 403, "permission_missing").body("{}"),
        allow("oauth-config-view", "mia", "GET", &p("/oauth-configs/payments-oauth"), Admin),
        deny("oauth-config-view", "sue", "GET", &p("/oauth-configs/payments-oauth"), 403, "membership_inactive"),
        allow("oauth-scopes-edit", "sam", "PUT", &p("/oauth-configs/payments-oauth/scopes"), Admin).body("[]"),
        deny("oauth-scopes-edit", "mia", "PUT", &p("/oauth-configs/payments-oauth/scopes"), 403, "admin_role_required")
            .body("[]")
            .says("Only Security Admins can edit OAuth scopes."),
        allow("secret-view", "olivia", "GET", &p("/secrets/stripe-api-key"), Admin),
        deny("secret-view", "mia", "GET", &p("/secrets/stripe-api-key"), 404, "resource_not_found"),
        allow("secret-manage", "sam", "PUT", &p("/secrets/stripe-api-key"), Admin).body("{}"),
        deny("secret-manage", "mia", "PUT", &p("/secrets/stripe-api-key"), 404, "resource_not_found").body("{}"),
        allow("integration-view", "mia", "GET", &p("/integrations/github"), Admin),
        allow("integration-manage", "olivia", "PUT", &p("/integrations/github"), Admin).body("{}"),
        deny("integration-manage", "mia", "PUT", &p("/integrations/github"), 403, "admin_role_required")
            .body("{}")
            .says("Only Integration Admins can configure integrations."),
        allow("billing-view", "bill", "GET", &p("/billing"), Admin),
        deny("billing-view", "mia", "GET", &p("/billing"), 404, "resource_not_found"),
        allow("billing-manage", "bill", "PUT", &p("/billing"), Admin).body("{}"),
        deny("billing-manage", "vic", "PUT", &p("/billing"), 404, "resource_not_found").body("{}"),
        allow("sso-view", "mia", "GET", &p("/sso"), Admin),
        deny("sso-view", "sue", "GET", &p("/sso"), 403, "membership_inactive"),
        allow("sso-manage", "sam", "PUT", &p("/sso"), Admin).body("{}"),
        deny("sso-manage", "adam", "PUT", &p("/sso"), 403, "admin_role_required")
            .body("{}")
            .says("Only Security Admins can configure SSO."),
        allow("scim-manage", "sam", "PUT", &p("/scim"), Admin).body("{}"),
        deny("scim-manage", "adam", "PUT", &p("/scim"), 403, "admin_role_required")
            .body("{}")
            .says("Only Security Admins can configure SCIM."),
        allow("invite-create", "adam", "POST", &p("/invites"), Admin).body(r#"{"email":"new@acme.test"}"#),
        deny("invite-create", "sam", "POST", &p("/invites"), 403, "admin_role_required")
            .body(r#"{"email":"new@acme.test"}"#)
            .says("Only Org Admins can invite users or change roles."),
        allow("member-roles-change", "adam", "PUT", &p("/members/mia/roles"), Admin).body(r#"["viewer"]"#),
        deny("member-roles-change", "mia", "PUT", &p("/members/mia/roles"), 403, "admin_role_required").body(r#"["org_owner"]"#),
        allow("org-settings-change", "adam", "PUT", &p("/settings"), Admin).body("{}"),
        deny("org-settings-change", "mia", "PUT", &p("/settings"), 403, "admin_role_required")
            .body("{}")
            .says("Only Org Admins can change organization settings."),
        allow("access-manage", "sam", "PUT", &p("/resources/okta-auth/access"), Admin).body("{}"),
        deny("access-manage", "mia", "PUT", &p("/resources/okta-auth/access"), 403, "admin_role_required").body("{}"),
    ]
}

/// Route ids in the example config (the `- id:` lines under `routes:`).
fn example_route_ids(config: &str) -> Vec<String> {
    let routes = config.split("\nroutes:").nth(1).unwrap_or_default();
    routes
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- id: "))
        .map(|id| id.trim().to_owned())
        .collect()
}

fn check(
    case: &Case,
    response: &HttpResponse,
    run: &Upstream,
    admin: &Upstream,
) -> Result<(), String> {
    let body = String::from_utf8_lossy(&response.body);
    let (got_run, got_admin) = (run.take(), admin.take());
    match &case.want {
        Want::Allow(up) => {
            if response.status != 200 {
                return Err(format!(
                    "status {} (wanted an allow): {body}",
                    response.status
                ));
            }
            let (hit, other) = if *up == Up::Run {
                (&got_run, &got_admin)
            } else {
                (&got_admin, &got_run)
            };
            if hit.len() != 1 || !other.is_empty() {
                return Err(format!(
                    "wanted one request on {up:?}: run got {got_run:?}, admin got {got_admin:?}"
                ));
            }
            let got = &hit[0];
            if got.target != case.path
                || got.method != case.method
                || got.body != case.body.as_bytes()
            {
                return Err(format!(
                    "forwarded {} {} {:?}",
                    got.method, got.target, got.body
                ));
            }
            if let Some(user) = case.user {
                if got.header_all("x-reqflo-user") != [user] {
                    return Err(format!(
                        "upstream user {:?}",
                        got.header_all("x-reqflo-user")
                    ));
                }
                let id = response.header(DECISION_ID).unwrap_or_default();
                if id.is_empty() || got.header_all(DECISION_ID) != [id.clone()] {
                    return Err(format!(
                        "decision id {id:?} vs upstream {:?}",
                        got.header_all(DECISION_ID)
                    ));
                }
            }
            Ok(())
        }
        Want::Deny {
            status,
            code,
            message,
        } => {
            if !got_run.is_empty() || !got_admin.is_empty() {
                return Err(format!(
                    "denied, but the upstreams got {got_run:?} {got_admin:?}"
                ));
            }
            if response.status != *status {
                return Err(format!(
                    "status {} (wanted {status}): {body}",
                    response.status
                ));
            }
            let json: Value = serde_json::from_slice(&response.body)
                .map_err(|e| format!("not JSON ({e}): {body}"))?;
            if json["decision"] != "deny" || json["decision_id"].as_str().is_none_or(str::is_empty)
            {
                return Err(format!("not a deny body: {json}"));
            }
            if !code.is_empty() && json["code"] != *code {
                return Err(format!("code {} (wanted {code}): {json}", json["code"]));
            }
            if let Some(message) = message
                && json["message"] != *message
            {
                return Err(format!("message {} (wanted {message:?})", json["message"]));
            }
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_route_allows_and_denies() {
    let (run, admin) = (Upstream::start().await, Upstream::start().await);
    let dir = examples_dir();
    let config = read(dir.join("gateway.yaml"));
    let keys = dir.join("keys").canonicalize().unwrap();
    let config_for_test = config
        .replace("127.0.0.1:18081", &run.addr().to_string())
        .replace("127.0.0.1:18082", &admin.addr().to_string())
        .replace("file: keys/", &format!("file: {}/", keys.display()));
    assert_ne!(config_for_test, config);
    let gateway = Gateway::start_text(&config_for_test, &read(dir.join("policy.yaml"))).await;
    let client = Client::new(gateway.proxy);

    let cases = cases();
    let mut failures = Vec::new();
    let mut tokens = std::collections::HashMap::new();
    for case in &cases {
        let auth = case
            .user
            .map(|u| tokens.entry(u).or_insert_with(|| token(u)).clone());
        let mut headers: Vec<(&str, &str)> = case.headers.clone();
        if let Some(auth) = &auth {
            headers.push(("authorization", auth));
        }
        let response = client
            .send(case.method, &case.path, &headers, case.body)
            .await;
        if let Err(why) = check(case, &response, &run, &admin) {
            let user = case.user.unwrap_or("anonymous");
            eprintln!(
                "FAILED `{}` {} {} as {user}: {why}",
                case.route, case.method, case.path
            );
            failures.push(format!(
                "`{}` {} {} as {user}: {why}",
                case.route, case.method, case.path
            ));
        }
    }
    // Every route of the example config has an allowed case, and a denied one
    // unless it is public or in shadow mode.
    for id in example_route_ids(&config) {
        let allowed = cases
            .iter()
            .any(|c| c.route == id && matches!(c.want, Want::Allow(_)));
        let denied = cases
            .iter()
            .any(|c| c.route == id && matches!(c.want, Want::Deny { .. }));
        let exempt = matches!(id.as_str(), "backend-health" | "integration-view");
        if !allowed || (!denied && !exempt) {
            failures.push(format!("route `{id}` lacks an allowed or a denied case"));
        }
    }
    // ES256 demo tokens work too.
    let es = es_token("mia");
    let response = client
        .get(
            &format!("{ACME}/journeys/browse-catalog"),
            &[("authorization", &es)],
        )
        .await;
    assert_eq!(
        response.status,
        200,
        "ES256 demo token: {}",
        response.text()
    );
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
