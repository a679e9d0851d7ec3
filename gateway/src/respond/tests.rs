use reqflo_policy::{Decision, ObjectRef, Reason, ReasonCode};
use serde_json::{Value, json};

use super::*;

fn reason(code: ReasonCode, message: &str, object: Option<(&str, Option<&str>)>) -> Reason {
    Reason {
        code,
        message: message.to_owned(),
        object: object.map(|(kind, id)| ObjectRef {
            kind: kind.into(),
            id: id.map(Into::into),
        }),
        cause: None,
        remedy: Vec::new(),
    }
}

fn denial(reasons: Vec<Reason>) -> Refusal {
    Refusal::Denied(Box::new(Denial {
        asked: crate::proxy::decide::Asked {
            org: "acme".into(),
            action: reqflo_policy::Action::Run,
            resource: "refund-journey".into(),
            environment: Some("production".into()),
        },
        decision: Decision::deny(reasons),
        policy_revision: "0123456789abcdef".into(),
    }))
}

fn body(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[test]
fn policy_denial_is_403_with_the_explanation() {
    let r = denial(vec![
        reason(
            ReasonCode::RiskPrivilegeMissing,
            "You can run this journey in staging, but not production.",
            Some(("journey", Some("refund-journey"))),
        ),
        reason(ReasonCode::PermissionMissing, "second", None),
    ])
    .render("d-1", Some("ignored"));
    assert_eq!(r.status, 403);
    assert_eq!(r.challenge, None);
    assert_eq!(
        body(&r),
        json!({
            "decision": "deny",
            "code": "risk_privilege_missing",
            "message": "You can run this journey in staging, but not production.",
            "reasons": [
                {"code": "risk_privilege_missing", "message": "You can run this journey in staging, but not production.",
                 "object": {"kind": "journey", "id": "refund-journey"}},
                {"code": "permission_missing", "message": "second"}
            ],
            "action": "run",
            "resource": "refund-journey",
            "environment": "production",
            "policy_revision": "0123456789abcdef",
            "decision_id": "d-1"
        })
    );
}

#[test]
fn hidden_denials_are_identical_404s() {
    let sentence = "This resource does not exist, or you do not have access to it.";
    let not_visible = denial(vec![reason(
        ReasonCode::NotVisible,
        sentence,
        Some(("oauth_config", Some("x"))),
    )]);
    let not_found = denial(vec![reason(
        ReasonCode::ResourceNotFound,
        sentence,
        Some(("resource", None)),
    )]);
    let a = not_visible.render("same", None);
    let b = not_found.render("same", None);
    assert_eq!(a.status, 404);
    assert_eq!(a, b);
    assert_eq!(body(&a)["code"], "resource_not_found");
    assert_eq!(
        body(&a)["reasons"],
        json!([{"code": "resource_not_found", "message": sentence}])
    );
}

#[test]
fn statuses_are_chosen_in_one_place() {
    let table: Vec<(Refusal, u16, &str)> = vec![
        (
            Refusal::Malformed(Rejection::DotSegment),
            400,
            "dot_segment",
        ),
        (
            Refusal::HeadersTooLarge { limit: 1024 },
            431,
            "headers_too_large",
        ),
        (
            Refusal::Unauthenticated(AuthError::Expired),
            401,
            "token_expired",
        ),
        (Refusal::NoRoute, 404, "no_route"),
        (
            Refusal::Environment(EnvError::BodyTooLarge { limit: 10 }),
            413,
            "body_too_large",
        ),
        (
            Refusal::Environment(EnvError::DuplicateKey("environment".into())),
            400,
            "body_duplicate_key",
        ),
        (
            Refusal::Environment(EnvError::Missing("query parameter `environment`".into())),
            400,
            "environment_missing",
        ),
        (Refusal::Internal(Internal::Panic), 500, "internal_error"),
        (
            Refusal::Upstream(UpstreamFailure::Unavailable),
            502,
            "upstream_unavailable",
        ),
        (
            Refusal::Upstream(UpstreamFailure::Timeout),
            504,
            "upstream_timeout",
        ),
    ];
    for (refusal, status, code) in table {
        let r = refusal.render("id", Some("rev"));
        assert_eq!(r.status, status, "{refusal:?}");
        let b = body(&r);
        assert_eq!(b["code"], code, "{refusal:?}");
        assert_eq!(b["decision_id"], "id");
        assert!(
            b["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{refusal:?}"
        );
    }
}

#[test]
fn unauthenticated_carries_a_challenge() {
    let r = Refusal::Unauthenticated(AuthError::Missing).render("id", None);
    assert_eq!(r.challenge.as_deref(), Some("Bearer realm=\"reqflo\""));
    let r = Refusal::Unauthenticated(AuthError::WrongAudience).render("id", None);
    assert_eq!(
        r.challenge.as_deref(),
        Some(
            "Bearer realm=\"reqflo\", error=\"invalid_token\", error_description=\"the token is meant for another audience\""
        )
    );
}
