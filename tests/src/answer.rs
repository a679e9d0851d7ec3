//! Assertions on the gateway's answers: the JSON deny body of the spec, the
//! 401 challenge, the pre-routing 400s, and the allow headers.

use serde_json::Value;

use crate::client::HttpResponse;
use crate::raw::RawResponse;

/// The response header carrying the decision id (also sent upstream).
pub const DECISION_ID: &str = "x-reqflo-decision-id";

/// A response of either client, for the shared assertions.
pub trait Answer {
    fn status(&self) -> u16;
    fn header_value(&self, name: &str) -> Option<String>;
    fn body_bytes(&self) -> &[u8];

    /// The body as JSON; panics (showing status and body) when it is not JSON.
    #[track_caller]
    fn body_json(&self) -> Value {
        serde_json::from_slice(self.body_bytes()).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {:?}",
                self.status(),
                String::from_utf8_lossy(self.body_bytes())
            )
        })
    }
}

impl Answer for HttpResponse {
    fn status(&self) -> u16 {
        self.status
    }
    fn header_value(&self, name: &str) -> Option<String> {
        self.header(name)
    }
    fn body_bytes(&self) -> &[u8] {
        &self.body
    }
}

impl Answer for RawResponse {
    fn status(&self) -> u16 {
        self.status
    }
    fn header_value(&self, name: &str) -> Option<String> {
        self.header(name).map(str::to_owned)
    }
    fn body_bytes(&self) -> &[u8] {
        &self.body
    }
}

/// What a policy denial must say.
#[derive(Clone, Debug)]
pub struct Deny<'a> {
    pub status: u16,
    pub code: &'a str,
    /// The headline sentence, exactly.
    pub message: &'a str,
    pub action: &'a str,
    pub resource: &'a str,
    pub environment: Option<&'a str>,
}

/// Asserts a policy denial body with every field of the spec; returns the body.
#[track_caller]
pub fn assert_deny(context: &str, answer: &impl Answer, want: &Deny<'_>) -> Value {
    let body = body_of(context, answer, want.status);
    let field = |name: &str| {
        body.get(name)
            .unwrap_or_else(|| panic!("{context}: deny body lacks `{name}`: {body}"))
    };
    assert_eq!(field("decision"), "deny", "{context}: {body}");
    assert_eq!(field("code"), want.code, "{context}: {body}");
    assert_eq!(field("message"), want.message, "{context}: {body}");
    assert_eq!(field("action"), want.action, "{context}: {body}");
    assert_eq!(field("resource"), want.resource, "{context}: {body}");
    match want.environment {
        Some(env) => assert_eq!(field("environment"), env, "{context}: {body}"),
        None => assert!(
            body.get("environment").is_none_or(Value::is_null),
            "{context}: environment: {body}"
        ),
    }
    let revision = field("policy_revision").as_str().unwrap_or_default();
    assert!(
        !revision.is_empty(),
        "{context}: empty policy_revision: {body}"
    );
    let decision_id = field("decision_id").as_str().unwrap_or_default();
    assert!(
        !decision_id.is_empty(),
        "{context}: empty decision_id: {body}"
    );
    let reasons = field("reasons")
        .as_array()
        .unwrap_or_else(|| panic!("{context}: reasons is not an array: {body}"));
    assert!(!reasons.is_empty(), "{context}: no reasons: {body}");
    assert_eq!(
        reasons[0]["code"], want.code,
        "{context}: first reason: {body}"
    );
    assert_eq!(
        reasons[0]["message"], want.message,
        "{context}: first reason: {body}"
    );
    for reason in reasons {
        assert!(
            reason["code"].is_string() && reason["message"].is_string(),
            "{context}: reason {reason}"
        );
    }
    body
}

/// Asserts the status, a JSON content type and a JSON object body; returns it.
#[track_caller]
pub fn body_of(context: &str, answer: &impl Answer, status: u16) -> Value {
    assert_eq!(
        answer.status(),
        status,
        "{context}: status; body {:?}",
        String::from_utf8_lossy(answer.body_bytes())
    );
    let content_type = answer.header_value("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{context}: content-type {content_type:?}"
    );
    let body = answer.body_json();
    assert!(
        body.is_object(),
        "{context}: body is not a JSON object: {body}"
    );
    body
}

/// Asserts a 401 with a `WWW-Authenticate` challenge and a JSON body.
#[track_caller]
pub fn assert_unauthenticated(context: &str, answer: &impl Answer) -> Value {
    let body = body_of(context, answer, 401);
    let challenge = answer.header_value("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer"),
        "{context}: WWW-Authenticate {challenge:?}"
    );
    body
}

/// Asserts a rejection before routing (400 or another status) with a JSON body naming a reason.
#[track_caller]
pub fn assert_rejected(context: &str, answer: &impl Answer, status: u16) -> Value {
    let body = body_of(context, answer, status);
    assert!(
        body.get("code")
            .and_then(Value::as_str)
            .is_some_and(|c| !c.is_empty()),
        "{context}: rejection without a code: {body}"
    );
    assert!(
        body.get("message")
            .and_then(Value::as_str)
            .is_some_and(|c| !c.is_empty()),
        "{context}: rejection without a message: {body}"
    );
    body
}

/// Asserts an allowed response (200 from the upstream) and returns its decision id.
#[track_caller]
pub fn assert_allowed(context: &str, answer: &impl Answer) -> String {
    assert_eq!(
        answer.status(),
        200,
        "{context}: expected an allow; body {:?}",
        String::from_utf8_lossy(answer.body_bytes())
    );
    let body = answer.body_json();
    assert_eq!(
        body["upstream"], "ok",
        "{context}: not the upstream's body: {body}"
    );
    let id = answer.header_value(DECISION_ID).unwrap_or_default();
    assert!(
        !id.is_empty(),
        "{context}: allowed response without {DECISION_ID}"
    );
    id
}
