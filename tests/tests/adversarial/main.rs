//! A table of hostile requests, sent as raw bytes over TCP (hyper would
//! normalize some of them), each with the expected answer and — for every
//! refusal — zero requests reaching the upstream. Every row runs; the test
//! fails at the end naming each failing row.

mod rows;

use reqflo_tests::raw::{self, Outcome};
use reqflo_tests::{DECISION_ID, Env, Recorded};
use rows::{Row, VIEW, Want, limit_rows, rows};

fn check(row: &Row, outcome: &Outcome, received: &[Recorded]) -> Result<(), String> {
    let denied_nothing_upstream = || {
        if received.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "refused, but the upstream received {} request(s): {received:?}",
                received.len()
            ))
        }
    };
    let response = match (outcome, &row.want) {
        (Outcome::Closed, Want::Refused | Want::TooLarge) => return denied_nothing_upstream(),
        (Outcome::Closed, want) => {
            return Err(format!(
                "connection closed without a response; wanted {want:?}"
            ));
        }
        (Outcome::Response(r), _) => r,
    };
    let body_text = String::from_utf8_lossy(&response.body);
    let code_of = || {
        serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .map(|v| v["code"].clone())
    };
    match &row.want {
        Want::Status(status, code) => {
            if response.status != *status {
                return Err(format!(
                    "status {} (wanted {status}): {body_text}",
                    response.status
                ));
            }
            let Some(got) = code_of() else {
                return Err(format!("body is not JSON: {body_text}"));
            };
            if !code.is_empty() && got != *code {
                return Err(format!("code {got} (wanted {code}): {body_text}"));
            }
            denied_nothing_upstream()
        }
        Want::AnyOf(statuses) => {
            if !statuses.contains(&response.status) {
                return Err(format!(
                    "status {} (wanted one of {statuses:?}): {body_text}",
                    response.status
                ));
            }
            if response.status == 200 {
                let [got] = received else {
                    return Err(format!("200 with {} upstream requests", received.len()));
                };
                return check_exact(&row.bytes, got, None);
            }
            denied_nothing_upstream()
        }
        Want::TooLarge => {
            if !matches!(response.status, 400 | 413 | 431) {
                return Err(format!(
                    "status {} (wanted 400, 413 or 431): {body_text}",
                    response.status
                ));
            }
            denied_nothing_upstream()
        }
        Want::Refused => {
            if response.status != 400 {
                return Err(format!(
                    "status {} (wanted 400 or a closed connection): {body_text}",
                    response.status
                ));
            }
            denied_nothing_upstream()
        }
        // The rows' older allowed requests are all on a route without an
        // environment: exactly the decided request, with none.
        Want::Allowed {
            user,
            absent,
            target,
        } => {
            check_allowed(response, received, user, absent, *target)?;
            check_exact(&row.bytes, &received[0], None)
        }
        Want::RejectOrAllowedAs(target) => {
            if response.status == 400 {
                return denied_nothing_upstream();
            }
            check_allowed(response, received, "alice", &[], Some(target))?;
            check_exact(&row.bytes, &received[0], None)
        }
        Want::Forwarded {
            target,
            environment,
        } => {
            check_allowed(response, received, "alice", &[], Some(target))?;
            check_exact(&row.bytes, &received[0], *environment)
        }
    }
}

/// Client headers no upstream may receive (the gateway sets its own
/// `X-Forwarded-*`, checked below).
const NEVER_FORWARDED: &[&str] = &[
    "forwarded",
    "x-real-ip",
    "x-original-url",
    "x-rewrite-url",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-remote-user",
    "x_remote_user",
    "remote-user",
    "x-auth-request-user",
    "x-auth-request-email",
    "x-forwarded-prefix",
    "x-forwarded-uri",
];

/// The upstream request is exactly the decided one: method, body bytes, the
/// decided environment everywhere one is named, one identity, the gateway's
/// forwarding headers, nothing from [`NEVER_FORWARDED`].
fn check_exact(sent: &[u8], got: &Recorded, environment: Option<&str>) -> Result<(), String> {
    let method = sent.split(|b| *b == b' ').next().unwrap_or_default();
    if got.method.as_bytes() != method {
        return Err(format!(
            "upstream method {} (sent {})",
            got.method,
            String::from_utf8_lossy(method)
        ));
    }
    let body = sent
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(&[][..], |i| &sent[i + 4..]);
    if got.body.as_ref() != body {
        return Err(format!(
            "upstream body {:?} (sent {:?})",
            got.body,
            String::from_utf8_lossy(body)
        ));
    }
    let decided = got.header_all("x-reqflo-decided-environment");
    if decided
        != environment
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    {
        return Err(format!(
            "upstream decided environment {decided:?} (wanted {environment:?})"
        ));
    }
    for (name, want) in [
        ("x-forwarded-for", "127.0.0.1"),
        ("x-forwarded-proto", "http"),
        ("x-forwarded-host", "gateway.test"),
    ] {
        if got.header_all(name) != [want] {
            return Err(format!(
                "upstream {name} {:?} (wanted [{want:?}])",
                got.header_all(name)
            ));
        }
    }
    for name in NEVER_FORWARDED {
        if !got.header_all(name).is_empty() {
            return Err(format!("upstream received the client's `{name}` header"));
        }
    }
    // Every other place naming an environment says the decided one.
    let names_env = |key: &str| reqflo_config::normalize_key(key) == "environment";
    for value in got.header_all("x-reqflo-environment") {
        if Some(value.as_str()) != environment {
            return Err(format!(
                "upstream x-reqflo-environment {value:?} (decided {environment:?})"
            ));
        }
    }
    let query = got.target.split_once('?').map_or("", |(_, q)| q);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if names_env(&key) && Some(value.as_ref()) != environment {
            return Err(format!(
                "upstream query `{key}={value}` (decided {environment:?})"
            ));
        }
    }
    if let Ok(serde_json::Value::Object(map)) =
        serde_json::from_slice::<serde_json::Value>(&got.body)
    {
        for (key, value) in map {
            if names_env(&key) && value.as_str() != environment {
                return Err(format!(
                    "upstream body `{key}: {value}` (decided {environment:?})"
                ));
            }
        }
    }
    Ok(())
}

fn check_allowed(
    response: &reqflo_tests::RawResponse,
    received: &[Recorded],
    user: &str,
    absent: &[&str],
    target: Option<&str>,
) -> Result<(), String> {
    if response.status != 200 {
        return Err(format!(
            "status {} (wanted 200): {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        ));
    }
    let [got] = received else {
        return Err(format!("wanted one upstream request, got {received:?}"));
    };
    if got.header_all("x-reqflo-user") != [user] {
        return Err(format!(
            "upstream x-reqflo-user {:?} (wanted [{user:?}])",
            got.header_all("x-reqflo-user")
        ));
    }
    let ids = got.header_all(DECISION_ID);
    let response_id = response.header(DECISION_ID).unwrap_or_default();
    if ids.len() != 1 || ids[0] != response_id || response_id.starts_with("forged") {
        return Err(format!(
            "upstream decision ids {ids:?}, response id {response_id:?}"
        ));
    }
    for name in absent {
        if !got.header_all(name).is_empty() {
            return Err(format!("upstream received the client's `{name}` header"));
        }
    }
    if let Some(target) = target
        && got.target != target
    {
        return Err(format!(
            "upstream target {:?} (wanted {target:?})",
            got.target
        ));
    }
    Ok(())
}

/// Sends every row on a fresh connection; returns the failures, each naming its row.
async fn run_rows(env: &Env, rows: &[Row]) -> Vec<String> {
    let mut failures = Vec::new();
    for row in rows {
        let outcome = raw::roundtrip(env.gateway.proxy, &row.bytes).await;
        let received = env.upstream.take();
        if let Err(why) = check(row, &outcome, &received) {
            eprintln!("FAILED row `{}`: {why}", row.name);
            failures.push(format!("`{}`: {why}", row.name));
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adversarial_table() {
    let env = Env::start().await;
    let rows = rows();
    assert!(rows.len() >= 50, "the table has {} rows", rows.len());
    let failures = run_rows(&env, &rows).await;
    // The gateway still serves normally after the table.
    let response = env
        .client
        .get(VIEW, &[("authorization", &reqflo_tests::bearer("alice"))])
        .await;
    reqflo_tests::assert_allowed("after the table", &response);
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// The configured header limit is enforced: an oversized header block is
/// refused before anything else happens, and nothing reaches the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_limit_is_enforced() {
    let env = Env::start().await;
    let rows = limit_rows();
    let failures = run_rows(&env, &rows).await;
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
