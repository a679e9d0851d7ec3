//! The rows of the adversarial table: one hostile request per line, with
//! what it must get back. Kept on one line each (`rustfmt::skip`) so the
//! table reads as a table.

use reqflo_tests::jwt::{self, Claims};
use reqflo_tests::raw;

pub const VIEW: &str = "/api/v1/orgs/acme/journeys/checkout-smoke";
const HIDDEN: &str = "/api/v1/orgs/acme/journeys/incident-drill";
const PREVIEW: &str = "/api/v1/orgs/acme/journeys/checkout-smoke/preview";
const DRY_RUN: &str = "/api/v1/orgs/acme/journeys/checkout-smoke/dry-runs";
const RUNS: &str = "/api/v1/orgs/acme/journeys/checkout-smoke/runs";
const LIVE: &str = "/api/v1/orgs/acme/journeys/checkout-smoke/live";
const INVOKE: &str = "/api/v1/orgs/acme/components/diagnostics/invocations";
const RUN_IN_STAGING: &str = "/api/v1/orgs/acme/environments/staging/journeys/checkout-smoke/runs";

fn json(method: &str, target: &str, headers: &[&str], body: &str) -> Vec<u8> {
    let mut all = vec!["Content-Type: application/json"];
    all.extend_from_slice(headers);
    as_alice(method, target.as_bytes(), &all, body.as_bytes())
}

fn form(target: &str, body: &str) -> Vec<u8> {
    as_alice(
        "POST",
        target.as_bytes(),
        &["Content-Type: application/x-www-form-urlencoded"],
        body.as_bytes(),
    )
}

fn dry_run(headers: &[&str]) -> Vec<u8> {
    as_alice("POST", DRY_RUN.as_bytes(), headers, b"")
}

/// What a row must get back.
#[derive(Clone, Debug)]
pub enum Want {
    /// This status with a JSON body; its `code` too when not empty.
    Status(u16, &'static str),
    /// One of these statuses (nothing upstream).
    AnyOf(&'static [u16]),
    /// Refused at the HTTP layer: a 400 (any body) or the connection closed
    /// without a response. Nothing upstream either way.
    Refused,
    /// Allowed: 200 from the upstream, which got exactly one request with
    /// the verified `user`, a gateway decision id, none of the `absent`
    /// headers, and (when given) this exact target.
    Allowed {
        user: &'static str,
        absent: &'static [&'static str],
        target: Option<&'static str>,
    },
    /// Too large to read: 400, 413 or 431, or the connection closed; nothing upstream.
    TooLarge,
    /// Either a 400, or allowed and forwarded as `target` (the canonical form
    /// the decision was made on).
    RejectOrAllowedAs(&'static str),
    /// Allowed, and the upstream request is exactly the decided one: this
    /// target, alice once, the decision id, the decided `environment` in
    /// `x-reqflo-decided-environment` (absent for `None`) and everywhere
    /// else the request names one, the row's method and body bytes, and
    /// nothing a backend could read as another identity, address or path.
    Forwarded {
        target: &'static str,
        environment: Option<&'static str>,
    },
}

pub struct Row {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    pub want: Want,
}

fn row(name: &'static str, bytes: Vec<u8>, want: Want) -> Row {
    Row { name, bytes, want }
}

/// `METHOD target` with alice's valid token and the extra header lines.
fn as_alice(method: &str, target: &[u8], headers: &[&str], body: &[u8]) -> Vec<u8> {
    let auth = format!(
        "Authorization: Bearer {}",
        Claims::for_user("alice").rs256()
    );
    let mut all = vec![auth.as_str()];
    all.extend_from_slice(headers);
    raw::request(method, target, &all, body)
}

fn get(target: &str) -> Vec<u8> {
    as_alice("GET", target.as_bytes(), &[], b"")
}

fn with_token(target: &str, token: &str) -> Vec<u8> {
    raw::request(
        "GET",
        target.as_bytes(),
        &[&format!("Authorization: Bearer {token}")],
        b"",
    )
}

/// Raw bytes after the request line's target, for hand-built framing.
fn head(method: &str, target: &str, lines: &[&str]) -> Vec<u8> {
    let auth = format!(
        "Authorization: Bearer {}",
        Claims::for_user("alice").rs256()
    );
    let mut out =
        format!("{method} {target} HTTP/1.1\r\nHost: gateway.test\r\n{auth}\r\n").into_bytes();
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn with_body(mut head: Vec<u8>, body: &[u8]) -> Vec<u8> {
    head.extend_from_slice(body);
    head
}

/// An ES256 token whose header was swapped for the RS256 one (RSA kid and alg).
fn es256_under_rsa_header() -> String {
    let alice = Claims::for_user("alice");
    let rsa = alice.rs256();
    let mut parts: Vec<String> = alice.es256().split('.').map(str::to_owned).collect();
    parts[0] = rsa.split('.').next().unwrap_or_default().to_owned();
    parts.join(".")
}

/// `GET  /…`: two spaces after the method.
fn double_space_after_method(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes.splice(3..4, b"  ".iter().copied());
    bytes
}

#[rustfmt::skip]
pub fn rows() -> Vec<Row> {
    use Want::*;
    let now = jwt::now();
    let alice = || Claims::for_user("alice");
    let env_body = br#"{"environment":"staging"}"#;
    vec![
        // ---- path tricks: rejected before routing
        row("dot-dot segment", get("/api/v1/orgs/acme/journeys/../journeys/checkout-smoke"), Status(400, "dot_segment")),
        row("dot segment", get("/api/v1/orgs/acme/journeys/./checkout-smoke"), Status(400, "dot_segment")),
        row("trailing dot-dot", get("/api/v1/orgs/acme/journeys/checkout-smoke/.."), Status(400, "dot_segment")),
        row("%2e%2e", get("/api/v1/orgs/acme/journeys/%2e%2e/journeys/incident-drill"), Status(400, "dot_segment")),
        row("%2E upper", get("/api/v1/orgs/acme/journeys/%2E/checkout-smoke"), Status(400, "dot_segment")),
        row("mixed .%2e", get("/api/v1/orgs/acme/journeys/.%2e/incident-drill"), Status(400, "dot_segment")),
        row("empty segment //", get("/api/v1/orgs/acme//journeys/checkout-smoke"), Status(400, "empty_segment")),
        row("leading //", get("//api/v1/orgs/acme/journeys/checkout-smoke"), Status(400, "empty_segment")),
        row("trailing slash", get("/api/v1/orgs/acme/journeys/checkout-smoke/"), AnyOf(&[400, 404])),
        row("%2F in a segment", get("/api/v1/orgs/acme/journeys/checkout-smoke%2Fruns"), Status(400, "encoded_delimiter")),
        row("%2f lower", get("/api/v1/orgs/acme/journeys%2fcheckout-smoke"), Status(400, "encoded_delimiter")),
        row("%5C backslash", get("/api/v1/orgs/acme/journeys/x%5C..%5Cincident-drill"), Status(400, "")),
        row("raw backslash", get("/api/v1/orgs/acme/journeys\\checkout-smoke"), AnyOf(&[400])),
        row(";params", get("/api/v1/orgs/acme/journeys/checkout-smoke;jsessionid=1"), Status(400, "path_parameter")),
        row(";params mid-path", get("/api/v1/orgs/acme;x=y/journeys/checkout-smoke"), Status(400, "path_parameter")),
        row("%3B encoded ;", get("/api/v1/orgs/acme/journeys/checkout-smoke%3Bx=y"), Status(400, "encoded_delimiter")),
        row("%00 NUL", get("/api/v1/orgs/acme/journeys/checkout-smoke%00"), Status(400, "")),
        row("%00 before a suffix", get("/api/v1/orgs/acme/journeys/incident-drill%00.json"), Status(400, "")),
        row("%23 encoded #", get("/api/v1/orgs/acme/journeys/incident-drill%23x"), Status(400, "encoded_delimiter")),
        row("%3F encoded ?", get("/api/v1/orgs/acme/journeys/incident-drill%3Fx=1"), Status(400, "encoded_delimiter")),
        row("raw # fragment", get("/api/v1/orgs/acme/journeys/checkout-smoke#frag"), AnyOf(&[400])),
        row("%ff invalid UTF-8", get("/api/v1/orgs/acme/journeys/%ff%fe"), Status(400, "invalid_utf8")),
        row("raw invalid UTF-8 byte", as_alice("GET", b"/api/v1/orgs/acme/journeys/\xff", &[], b""), Refused),
        row("overlong %c0%ae%c0%ae", get("/api/v1/orgs/acme/journeys/%c0%ae%c0%ae/incident-drill"), Status(400, "invalid_utf8")),
        row("overlong %c0%af slash", get("/api/v1/orgs/acme/journeys%c0%afincident-drill"), Status(400, "invalid_utf8")),
        row("overlong %e0%80%ae", get("/api/v1/orgs/acme/journeys/%e0%80%ae%e0%80%ae/x"), Status(400, "invalid_utf8")),
        row("double encoding %252e", get("/api/v1/orgs/acme/journeys/%252e%252e/incident-drill"), Status(400, "double_encoding")),
        row("double encoding %252F", get("/api/v1/orgs/acme/journeys/checkout-smoke%252Fruns"), Status(400, "double_encoding")),
        row("bad percent %zz", get("/api/v1/orgs/acme/journeys/%zz"), Status(400, "invalid_encoding")),
        row("truncated percent %2", get("/api/v1/orgs/acme/journeys/x%2"), Status(400, "invalid_encoding")),
        row("%09 control", get("/api/v1/orgs/acme/journeys/checkout%09smoke"), Status(400, "control_character")),
        row("%7F control", get("/api/v1/orgs/acme/journeys/checkout-smoke%7F"), Status(400, "control_character")),
        row("case: /API", get("/API/v1/orgs/acme/journeys/checkout-smoke"), Status(404, "no_route")),
        row("case: /Journeys", get("/api/v1/orgs/acme/Journeys/checkout-smoke"), Status(404, "no_route")),
        row("case: org id", get("/api/v1/orgs/ACME/journeys/checkout-smoke"), Status(403, "not_org_member")),
        row("case: resource id", get("/api/v1/orgs/acme/journeys/Incident-Drill"), Status(404, "resource_not_found")),
        row("encoded unreserved %61", get("/%61pi/v1/orgs/acme/journeys/checkout-smoke"), RejectOrAllowedAs("/api/v1/orgs/acme/journeys/checkout-smoke")),
        row("absolute-form target", as_alice("GET", b"http://gateway.test/api/v1/orgs/acme/journeys/incident-drill", &[], b""), AnyOf(&[400, 404])),
        row("asterisk target", as_alice("OPTIONS", b"*", &[], b""), AnyOf(&[400, 404])),
        // ---- method overrides
        row("X-HTTP-Method-Override", as_alice("GET", VIEW.as_bytes(), &["X-HTTP-Method-Override: DELETE"], b""), Status(400, "method_override")),
        row("X-HTTP-Method", as_alice("GET", VIEW.as_bytes(), &["X-HTTP-Method: PUT"], b""), Status(400, "method_override")),
        row("X-Method-Override", as_alice("GET", VIEW.as_bytes(), &["X-Method-Override: POST"], b""), Status(400, "method_override")),
        row("lower-case override header", as_alice("GET", VIEW.as_bytes(), &["x-http-method-override: PUT"], b""), Status(400, "method_override")),
        row("underscore override header", as_alice("GET", VIEW.as_bytes(), &["X_HTTP_Method_Override: PUT"], b""), Status(400, "")),
        row("_method query", get(&format!("{VIEW}?_method=DELETE")), Status(400, "method_override")),
        row("_method in a POST form body", as_alice("POST", RUNS.as_bytes(), &["Content-Type: application/x-www-form-urlencoded"], b"_method=DELETE"), AnyOf(&[400])),
        row("lower-case method", as_alice("get", VIEW.as_bytes(), &[], b""), AnyOf(&[400, 404, 405, 501])),
        row("TRACE", as_alice("TRACE", VIEW.as_bytes(), &[], b""), AnyOf(&[400, 404, 405, 501])),
        // ---- duplicate and comma-joined decision inputs
        row("duplicate env query", get(&format!("{PREVIEW}?environment=staging&environment=production" )), Status(400, "duplicate_query_parameter")),
        row("comma-joined env query", get(&format!("{PREVIEW}?environment=staging,production")), Status(400, "comma_joined_value")),
        row("encoded comma env query", get(&format!("{PREVIEW}?environment=staging%2Cproduction")), AnyOf(&[400, 403])),
        row("semicolon query separator", get(&format!("{PREVIEW}?environment=staging;environment=production" )), Status(400, "")),
        row("encoded env param name", get(&format!("{PREVIEW}?environment=staging&%65nvironment=production" )), AnyOf(&[400])),
        row("empty env query", get(&format!("{PREVIEW}?environment=")), Status(400, "")),
        row("env query without a value", get(&format!("{PREVIEW}?environment")), Status(400, "")),
        row("array-style env query", get(&format!("{PREVIEW}?environment[]=staging")), Status(400, "environment_missing")),
        row("duplicate env header", as_alice("POST", DRY_RUN.as_bytes(), &["X-Reqflo-Environment: staging", "X-Reqflo-Environment: production"], b""), Status(400, "duplicate_header")),
        row("comma-joined env header", as_alice("POST", DRY_RUN.as_bytes(), &["X-Reqflo-Environment: staging, production"], b""), Status(400, "comma_joined_value")),
        row("underscore twin beside the env header", as_alice("POST", DRY_RUN.as_bytes(), &["X-Reqflo-Environment: staging", "X_Reqflo_Environment: production"], b""), Status(400, "underscore_header")),
        row("underscore env header alone", as_alice("POST", DRY_RUN.as_bytes(), &["X_Reqflo_Environment: staging"], b""), AnyOf(&[400])),
        row("duplicate Authorization", as_alice("GET", VIEW.as_bytes(), &[&format!("Authorization: Bearer {}", Claims::for_user("olga").rs256() )], b""), Status(400, "")),
        // ---- client-supplied identity headers: stripped, never trusted
        row("X-Reqflo-User on a hidden resource", as_alice("GET", HIDDEN.as_bytes(), &["X-Reqflo-User: olga"], b""), Status(404, "resource_not_found")),
        row("X-Reqflo-User is replaced upstream", as_alice("GET", VIEW.as_bytes(), &["X-Reqflo-User: olga"], b""), Allowed {user: "alice", absent: &[], target: Some(VIEW)}),
        row("forged decision id", as_alice("GET", VIEW.as_bytes(), &["X-Reqflo-Decision-Id: forged-1"], b""), Allowed {user: "alice", absent: &[], target: Some(VIEW)}),
        row("X_Reqflo_User underscore alias", as_alice("GET", VIEW.as_bytes(), &["X_Reqflo_User: olga"], b""), Allowed {user: "alice", absent: &["x_reqflo_user"], target: Some(VIEW)}),
        row("identity header without a token", raw::request("GET", HIDDEN.as_bytes(), &["X-Reqflo-User: olga"], b""), Status(401, "missing_credentials")),
        // ---- forged or unusable JWTs
        row("alg none", with_token(VIEW, &alice().alg_none()), Status(401, "")),
        row("HS256 keyed with the RSA public key", with_token(VIEW, &alice().hs256_with_rsa_public_key()), Status(401, "")),
        row("HS256 with a shared secret", with_token(VIEW, &alice().hs256()), Status(401, "")),
        row("expired", with_token(VIEW, &alice().set("exp", now - 3600).rs256()), Status(401, "token_expired")),
        row("expired inside the leeway", with_token(VIEW, &alice().set("exp", now - 5).rs256()), Allowed {user: "alice", absent: &[], target: Some(VIEW)}),
        row("not yet valid", with_token(VIEW, &alice().set("nbf", now + 3600).rs256()), Status(401, "token_not_yet_valid")),
        row("wrong iss", with_token(VIEW, &alice().set("iss", "https://evil.test").rs256()), Status(401, "wrong_issuer")),
        row("wrong aud", with_token(VIEW, &alice().set("aud", "another-service").rs256()), Status(401, "wrong_audience")),
        row("missing exp", with_token(VIEW, &alice().remove("exp").rs256()), Status(401, "")),
        row("missing iss", with_token(VIEW, &alice().remove("iss").rs256()), Status(401, "")),
        row("missing aud", with_token(VIEW, &alice().remove("aud").rs256()), Status(401, "")),
        row("missing sub", with_token(VIEW, &alice().remove("sub").rs256()), Status(401, "")),
        row("exp as a string", with_token(VIEW, &alice().set("exp", (now + 3600).to_string()).rs256()), Status(401, "")),
        row("unknown kid", with_token(VIEW, &alice().rs256_unknown_kid()), Status(401, "unknown_kid")),
        row("missing kid", with_token(VIEW, &alice().rs256_no_kid()), Status(401, "")),
        row("signed with another key", with_token(VIEW, &alice().rs256_wrong_key()), Status(401, "bad_signature")),
        row("tampered payload", with_token(HIDDEN, &alice().rs256_tampered("sub", "olga")), Status(401, "bad_signature")),
        row("ES256 token under the RSA kid", with_token(VIEW, &es256_under_rsa_header()), Status(401, "")),
        row("empty bearer", raw::request("GET", VIEW.as_bytes(), &["Authorization: Bearer "], b""), Status(401, "")),
        row("lower-case scheme", raw::request("GET", VIEW.as_bytes(), &[&format!("Authorization: bearer {}", alice().rs256())], b""), AnyOf(&[200, 401])),
        // ---- request framing: conflicting lengths (smuggling)
        row("Content-Length with Transfer-Encoding", with_body(head("POST", RUNS, &["Content-Type: application/json", "Content-Length: 25", "Transfer-Encoding: chunked"]), b"19\r\n{\"environment\":\"staging\"}\r\n0\r\n\r\n"), Refused),
        row("Transfer-Encoding then Content-Length", with_body(head("POST", RUNS, &["Transfer-Encoding: chunked", "Content-Length: 4"]), b"0\r\n\r\n"), Refused),
        row("duplicate Content-Length, different", with_body(head("POST", RUNS, &["Content-Length: 25", "Content-Length: 26"]), env_body), Refused),
        row("duplicate Content-Length, same", with_body(head("POST", RUNS, &["Content-Length: 25", "Content-Length: 25"]), env_body), Refused),
        row("comma-joined Content-Length", with_body(head("POST", RUNS, &["Content-Length: 25, 25"]), env_body), Refused),
        row("negative Content-Length", with_body(head("POST", RUNS, &["Content-Length: -1"]), env_body), Refused),
        row("Transfer-Encoding: chunked, identity", with_body(head("POST", RUNS, &["Transfer-Encoding: chunked, identity"]), b"0\r\n\r\n"), Refused),
        row("Transfer-Encoding: xchunked", with_body(head("POST", RUNS, &["Transfer-Encoding: xchunked"]), b"0\r\n\r\n"), AnyOf(&[400, 501])),
        row("space before the colon", with_body(head("POST", RUNS, &["Transfer-Encoding : chunked", "Content-Length: 25"]), env_body), Refused),
        row("obs-fold continuation", head("POST", DRY_RUN, &["X-Reqflo-Environment: staging", " production", "Content-Length: 0"]), Refused),
        row("GET with a chunked body", with_body(head("GET", HIDDEN, &["Transfer-Encoding: chunked"]), b"0\r\n\r\n"), Status(404, "")),
        row("env header twice in different case", as_alice("POST", DRY_RUN.as_bytes(), &["X-Reqflo-Environment: staging", "X-REQFLO-ENVIRONMENT: production"], b""), Status(400, "duplicate_header")),
        row("double space in the request line", double_space_after_method(get(VIEW)), Refused),
        row("HTTP/0.9 request line", format!("GET {HIDDEN}\r\n\r\n").into_bytes(), Refused),
        row("NUL byte in a header value", as_alice("GET", VIEW.as_bytes(), &["X-Note: a\0b"], b""), Refused),
        row("bare LF line endings", format!("GET {HIDDEN} HTTP/1.1\nHost: gateway.test\nAuthorization: {}\n\n", reqflo_tests::bearer("olga")).into_bytes(), AnyOf(&[200, 400])),
        row("token in the query string", raw::request("GET", format!("{VIEW}?access_token={}", alice().rs256()).as_bytes(), &[], b""), Status(401, "missing_credentials")),
        row("token in a cookie", raw::request("GET", VIEW.as_bytes(), &[&format!("Cookie: access_token={}", alice().rs256())], b""), Status(401, "missing_credentials")),
        // ---- hop-by-hop: a Connection header naming what the decision read
        row("Connection names the env header, before it", dry_run(&["Connection: X-Reqflo-Environment", "X-Reqflo-Environment: staging"]), Status(400, "connection_nomination")),
        row("Connection names the env header, after it", dry_run(&["X-Reqflo-Environment: staging", "Connection: keep-alive, x-reqflo-environment"]), Status(400, "connection_nomination")),
        row("Connection names Authorization", as_alice("GET", VIEW.as_bytes(), &["Connection: Authorization"], b""), Status(400, "connection_nomination")),
        row("Connection names X-Reqflo-User", as_alice("GET", VIEW.as_bytes(), &["Connection: X-Reqflo-User"], b""), Status(400, "connection_nomination")),
        row("Connection names Content-Type on a body route", json("POST", RUNS, &["Connection: Content-Type"], r#"{"environment":"staging"}"#), Status(400, "connection_nomination")),
        row("twin: Connection keep-alive with the env header", dry_run(&["Connection: keep-alive", "X-Reqflo-Environment: staging"]), Forwarded { target: DRY_RUN, environment: Some("staging") }),
        // ---- other spellings of the environment
        row("body: environment and Environment differ", json("POST", RUNS, &[], r#"{"environment":"staging","Environment":"production"}"#), Status(400, "environment_conflict")),
        row("body: ENVIRONMENT differs", json("POST", RUNS, &[], r#"{"ENVIRONMENT":"production","environment":"staging"}"#), Status(400, "environment_conflict")),
        row("body: padded key differs", json("POST", RUNS, &[], r#"{"environment":"staging"," environment ":"production"}"#), Status(400, "environment_conflict")),
        row("body: Environment alone", json("POST", RUNS, &[], r#"{"Environment":"production"}"#), Status(400, "")),
        row("body: variant with a non-string value", json("POST", RUNS, &[], r#"{"environment":"staging","Environment":["production"]}"#), Status(400, "environment_conflict")),
        row("twin: body variant with the same value", json("POST", RUNS, &[], r#"{"environment":"staging","Environment":"staging"}"#), Forwarded { target: RUNS, environment: Some("staging") }),
        row("query: environment[] differs", get(&format!("{PREVIEW}?environment=staging&environment[]=production")), Status(400, "environment_conflict")),
        row("query: environment[0] differs", get(&format!("{PREVIEW}?environment=staging&environment%5B0%5D=production")), Status(400, "environment_conflict")),
        row("query: padded key differs", get(&format!("{PREVIEW}?environment=staging&environment%20=production")), Status(400, "environment_conflict")),
        row("query: Environment alone", get(&format!("{PREVIEW}?Environment=staging")), Status(400, "")),
        row("twin: query variant with the same value", get(&format!("{PREVIEW}?environment=staging&environment[]=staging")), Forwarded { target: "/api/v1/orgs/acme/journeys/checkout-smoke/preview?environment=staging&environment%5B%5D=staging", environment: Some("staging") }),
        row("query env on a body route", json("POST", &format!("{RUNS}?environment=production"), &[], r#"{"environment":"staging"}"#), Status(400, "environment_conflict")),
        row("twin: query env on a body route, same value", json("POST", &format!("{RUNS}?environment=staging"), &[], r#"{"environment":"staging"}"#), Forwarded { target: "/api/v1/orgs/acme/journeys/checkout-smoke/runs?environment=staging", environment: Some("staging") }),
        row("header env on a body route", json("POST", RUNS, &["X-Reqflo-Environment: production"], r#"{"environment":"staging"}"#), Status(400, "environment_conflict")),
        row("body env on a header route", json("POST", DRY_RUN, &["X-Reqflo-Environment: staging"], r#"{"environment":"production"}"#), Status(400, "environment_conflict")),
        row("twin: body env on a header route, same value", json("POST", DRY_RUN, &["X-Reqflo-Environment: staging"], r#"{"environment":"staging"}"#), Forwarded { target: DRY_RUN, environment: Some("staging") }),
        row("query env on a path route", as_alice("POST", format!("{RUN_IN_STAGING}?environment=production").as_bytes(), &[], b""), Status(400, "environment_conflict")),
        row("twin: path route", as_alice("POST", RUN_IN_STAGING.as_bytes(), &[], b""), Forwarded { target: RUN_IN_STAGING, environment: Some("staging") }),
        row("query env on a route without one", get(&format!("{VIEW}?environment=production")), Status(400, "environment_conflict")),
        row("header env on a route without one", as_alice("GET", VIEW.as_bytes(), &["X-Reqflo-Environment: production"], b""), Status(400, "environment_conflict")),
        row("form env on a route without one", form(INVOKE, "input=1&environment=production"), Status(400, "environment_conflict")),
        row("twin: a route without an environment", get(VIEW), Forwarded { target: VIEW, environment: None }),
        row("client sets the decided-environment header", dry_run(&["X-Reqflo-Environment: staging", "X-Reqflo-Decided-Environment: production"]), Forwarded { target: DRY_RUN, environment: Some("staging") }),
        // ---- upgrades and tunnels
        row("websocket upgrade on a plain route", as_alice("GET", VIEW.as_bytes(), &["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="], b""), Status(400, "upgrade_not_allowed")),
        row("h2c upgrade", as_alice("GET", VIEW.as_bytes(), &["Connection: Upgrade", "Upgrade: h2c"], b""), Status(400, "upgrade_not_allowed")),
        row("h2c upgrade on the websocket route", as_alice("GET", LIVE.as_bytes(), &["Connection: Upgrade", "Upgrade: h2c"], b""), Status(400, "upgrade_not_allowed")),
        row("upgrade on a POST to the websocket route's path", as_alice("POST", LIVE.as_bytes(), &["Connection: Upgrade", "Upgrade: websocket"], b""), AnyOf(&[400, 404])),
        row("upgrade on a public prefix", raw::request("GET", b"/public/status", &["Connection: Upgrade", "Upgrade: websocket"], b""), Status(400, "upgrade_not_allowed")),
        row("upgrade where no route matches", as_alice("GET", b"/api/v1/orgs/acme/tunnel", &["Connection: Upgrade", "Upgrade: websocket"], b""), Status(400, "upgrade_not_allowed")),
        row("twin: websocket upgrade on the websocket route", as_alice("GET", LIVE.as_bytes(), &["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="], b""), Forwarded { target: LIVE, environment: None }),
        // ---- routing and identity headers from the client
        row("X-Original-URL", as_alice("GET", VIEW.as_bytes(), &["X-Original-URL: /api/v1/orgs/acme/billing"], b""), Status(400, "rewrite_header")),
        row("X-Rewrite-URL", as_alice("GET", VIEW.as_bytes(), &["X-Rewrite-URL: /api/v1/orgs/acme/billing"], b""), Status(400, "rewrite_header")),
        row("X-Envoy-Original-Path", as_alice("GET", VIEW.as_bytes(), &["X-Envoy-Original-Path: /admin"], b""), Status(400, "rewrite_header")),
        row("X-Forwarded-Prefix", as_alice("GET", VIEW.as_bytes(), &["X-Forwarded-Prefix: /admin"], b""), Status(400, "rewrite_header")),
        row("X-Forwarded-Uri", as_alice("GET", VIEW.as_bytes(), &["X-Forwarded-Uri: /admin"], b""), Status(400, "rewrite_header")),
        row("X_Original_URL underscore", as_alice("GET", VIEW.as_bytes(), &["X_Original_URL: /admin"], b""), Status(400, "rewrite_header")),
        row("client forwarding headers are replaced", as_alice("GET", VIEW.as_bytes(), &["X-Forwarded-For: 10.9.9.9", "X-Forwarded-Host: evil.test", "X-Forwarded-Proto: https", "Forwarded: for=10.9.9.9;host=evil.test", "X-Real-IP: 10.9.9.9"], b""), Forwarded { target: VIEW, environment: None }),
        row("identity aliases are stripped", as_alice("GET", VIEW.as_bytes(), &["X-Forwarded-User: olga", "X-Forwarded-Email: olga@acme.test", "X-Remote-User: olga", "Remote-User: olga", "X-Auth-Request-User: olga", "X-Auth-Request-Email: olga@acme.test", "X_Remote_User: olga"], b""), Forwarded { target: VIEW, environment: None }),
        // ---- _method in a form body
        row("_method in a form body to a body route", form(RUNS, "_method=DELETE"), Status(400, "method_override")),
        row("_method in a form body to a route without an environment", form(INVOKE, "input=1&_method=DELETE"), Status(400, "method_override")),
        row("_METHOD in a form body", form(INVOKE, "_METHOD=PUT"), Status(400, "method_override")),
        row("twin: a form body without _method", form(RUN_IN_STAGING, "input=1&note=hello+world"), Forwarded { target: RUN_IN_STAGING, environment: Some("staging") }),
        // ---- JWT crit
        row("JWT with an unknown crit extension", with_token(VIEW, &alice().rs256_crit(&["http://example.test/ext"])), Status(401, "unsupported_critical_header")),
        row("JWT with crit naming exp", with_token(VIEW, &alice().rs256_crit(&["exp"])), Status(401, "unsupported_critical_header")),
    ]
}

/// Requests over `limits.max_header_bytes` (64 KiB by default).
#[rustfmt::skip]
pub fn limit_rows() -> Vec<Row> {
    use Want::{Status, TooLarge};
    vec![
        row("header block over the limit (64 KiB)", as_alice("GET", VIEW.as_bytes(), &[&format!("X-Pad: {}", "a".repeat(70 * 1024))], b""), Status(431, "headers_too_large")),
        row("many headers over the limit", as_alice("GET", VIEW.as_bytes(), &(0..2000).map(|i| format!("X-Pad-{i}: {}", "b".repeat(40))).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>(), b""), TooLarge),
    ]
}
