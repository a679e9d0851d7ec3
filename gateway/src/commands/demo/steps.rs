//! The requests the demo prints as `curl` lines, each with the answer it
//! should get; `demo --check` sends them and compares.

use std::net::SocketAddr;

/// The demo cast: who each token is for.
pub const CAST: &[(&str, &str, &str)] = &[
    ("MEMBER", "mia", "Mia, a member"),
    ("SUPPORT", "tess", "Tess, Support Tier 2"),
    ("SECURITY", "sam", "Sam, a security admin"),
    ("OWNER", "olivia", "Olivia, the org owner"),
];

/// One request and the answer it should get.
#[derive(Clone, Debug)]
pub struct Step {
    pub title: &'static str,
    /// The shell variable holding the bearer token (`None`: no token).
    pub token: Option<&'static str>,
    pub method: &'static str,
    pub path: &'static str,
    pub headers: &'static [(&'static str, &'static str)],
    pub body: Option<&'static str>,
    pub status: u16,
    /// The JSON `code` of a refusal.
    pub code: Option<&'static str>,
    /// The sentence the deny should carry.
    pub message: Option<&'static str>,
}

const JSON: &[(&str, &str)] = &[("content-type", "application/json")];

const fn step(
    title: &'static str,
    token: Option<&'static str>,
    method: &'static str,
    path: &'static str,
) -> Step {
    Step {
        title,
        token,
        method,
        path,
        headers: &[],
        body: None,
        status: 200,
        code: None,
        message: None,
    }
}

impl Step {
    const fn body(mut self, body: &'static str) -> Step {
        self.body = Some(body);
        self.headers = JSON;
        self
    }
    const fn headers(mut self, headers: &'static [(&'static str, &'static str)]) -> Step {
        self.headers = headers;
        self
    }
    const fn denied(
        mut self,
        status: u16,
        code: &'static str,
        message: Option<&'static str>,
    ) -> Step {
        self.status = status;
        self.code = Some(code);
        self.message = message;
        self
    }
}

/// Sections of steps, in the order printed.
pub fn sections() -> Vec<(&'static str, Vec<Step>)> {
    vec![
        (
            "Allowed: a member runs an open journey in staging",
            vec![
                step("Mia runs the Browse catalog journey in staging", Some("MEMBER"), "POST", "/api/v1/orgs/acme/journeys/browse-catalog/runs")
                    .body(r#"{"environment":"staging","inputs":{"query":"shoes"}}"#),
                step("the backend's health check is public: no token needed", None, "GET", "/api/v1/health"),
            ],
        ),
        (
            "Staging versus production",
            vec![
                step("Tess (Support Tier 2) runs the destructive Refund journey in staging", Some("SUPPORT"), "POST", "/api/v1/orgs/acme/journeys/refund/runs")
                    .body(r#"{"environment":"staging"}"#),
                step("… and in production", Some("SUPPORT"), "POST", "/api/v1/orgs/acme/journeys/refund/runs")
                    .body(r#"{"environment":"production"}"#)
                    .denied(403, "risk_privilege_missing", Some("You can run this journey in staging, but not production.")),
                step("Mia, a member, may not run the destructive Refund journey at all", Some("MEMBER"), "POST", "/api/v1/orgs/acme/journeys/refund/runs")
                    .body(r#"{"environment":"staging"}"#)
                    .denied(403, "risk_privilege_missing", Some("You cannot run this journey without the destructive privilege.")),
                step("Olivia, the org owner, may run it in production", Some("OWNER"), "POST", "/api/v1/orgs/acme/journeys/refund/runs")
                    .body(r#"{"environment":"production"}"#),
            ],
        ),
        (
            "The seeds' example denials",
            vec![
                step("Mia runs Partner payout in staging: it uses the restricted Payments OAuth config", Some("MEMBER"), "POST", "/api/v1/orgs/acme/journeys/partner-payout/runs")
                    .body(r#"{"environment":"staging"}"#)
                    .denied(403, "restricted_dependency", Some("You can view this journey, but you cannot run it because it uses a restricted OAuth config.")),
                step("Mia edits the OAuth scopes of Payments OAuth", Some("MEMBER"), "PUT", "/api/v1/orgs/acme/oauth-configs/payments-oauth/scopes")
                    .body(r#"{"scopes":["refunds:write"]}"#)
                    .denied(403, "admin_role_required", Some("Only Security Admins can edit OAuth scopes.")),
                step("Sam, a security admin, may", Some("SECURITY"), "PUT", "/api/v1/orgs/acme/oauth-configs/payments-oauth/scopes")
                    .body(r#"{"scopes":["refunds:write"]}"#),
                step("Mia invokes the Refund console component", Some("MEMBER"), "POST", "/api/v1/orgs/acme/components/refund-console/invocations")
                    .body(r#"{"order":"A-1001"}"#)
                    .denied(403, "permission_missing", Some("This component is restricted to the Support Tier 2 group.")),
                step("Tess, in Support Tier 2, may", Some("SUPPORT"), "POST", "/api/v1/orgs/acme/components/refund-console/invocations")
                    .body(r#"{"order":"A-1001"}"#),
                step("Mia runs Customer diagnostics, whose component she may not see", Some("MEMBER"), "POST", "/api/v1/orgs/acme/journeys/diagnostics/runs")
                    .body(r#"{"environment":"staging"}"#)
                    .denied(403, "restricted_dependency", Some("You have access to the journey, but not to one of its required components.")),
                step("Tess, in Support Tier 2, may", Some("SUPPORT"), "POST", "/api/v1/orgs/acme/journeys/diagnostics/runs")
                    .body(r#"{"environment":"staging"}"#),
            ],
        ),
        (
            "What the gateway refuses before asking the policy",
            vec![
                step("a resource Mia may not see looks exactly like one that does not exist", Some("MEMBER"), "GET", "/api/v1/orgs/acme/components/support-toolkit")
                    .denied(404, "resource_not_found", Some("This resource does not exist, or you do not have access to it.")),
                step("(the same 404 for a made-up id)", Some("MEMBER"), "GET", "/api/v1/orgs/acme/components/no-such-component")
                    .denied(404, "resource_not_found", Some("This resource does not exist, or you do not have access to it.")),
                step("(and for a journey's id on the component route: the route's kind must match)", Some("MEMBER"), "GET", "/api/v1/orgs/acme/components/browse-catalog")
                    .denied(404, "resource_not_found", Some("This resource does not exist, or you do not have access to it.")),
                step("no token: 401 with a challenge", None, "GET", "/api/v1/orgs/acme/journeys/browse-catalog")
                    .denied(401, "missing_credentials", None),
                step("an encoded dot-dot segment: 400, never cleaned up", Some("MEMBER"), "GET", "/api/v1/orgs/acme/journeys/%2e%2e/billing")
                    .denied(400, "dot_segment", None),
                step("a method-override header: 400", Some("MEMBER"), "GET", "/api/v1/orgs/acme/journeys/browse-catalog")
                    .headers(&[("x-http-method-override", "DELETE")])
                    .denied(400, "method_override", None),
                step("duplicate keys in the body that names the environment: 400", Some("MEMBER"), "POST", "/api/v1/orgs/acme/journeys/browse-catalog/runs")
                    .body(r#"{"environment":"staging","environment":"production"}"#)
                    .denied(400, "body_duplicate_key", None),
                step("no route matches: 404, fail closed", Some("MEMBER"), "GET", "/api/v1/orgs/acme/unknown-things")
                    .denied(404, "no_route", None),
            ],
        ),
    ]
}

/// The hot-reload request: denied before the policy edit, allowed after.
pub fn reload_step() -> Step {
    step(
        "Mia opens the Support toolkit component",
        Some("MEMBER"),
        "GET",
        "/api/v1/orgs/acme/components/support-toolkit",
    )
}

/// The step as a ready-to-paste `curl` line.
pub fn curl(step: &Step, proxy: SocketAddr) -> String {
    let mut line = format!(
        "curl -sS -i --path-as-is -X {} 'http://{proxy}{}'",
        step.method, step.path
    );
    if let Some(token) = step.token {
        line.push_str(&format!(" -H \"Authorization: Bearer ${token}\""));
    }
    for (k, v) in step.headers {
        line.push_str(&format!(" -H '{k}: {v}'"));
    }
    if let Some(body) = step.body {
        line.push_str(&format!(" -d '{body}'"));
    }
    line
}

/// What the step should answer, in words.
pub fn expectation(step: &Step) -> String {
    let mut text = format!("{}", step.status);
    if let Some(code) = step.code {
        text.push_str(&format!(" {code}"));
    }
    if let Some(message) = step.message {
        text.push_str(&format!(": \"{message}\""));
    }
    text
}
