//! The body-environment route (`POST …/journeys/{journey}/runs`, environment
//! from the JSON body's top-level `environment`): allowed requests arrive
//! upstream byte-identical; anything ambiguous or unreadable is refused with
//! 400/413 and nothing reaches the upstream.

use reqflo_tests::raw::{self, RawConn};
use reqflo_tests::{Deny, Env, assert_allowed, assert_deny, assert_rejected, bearer};

const RUNS: &str = "/api/v1/orgs/acme/journeys/checkout-smoke/runs";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_bodies_arrive_byte_identical() {
    let env = Env::start().await;
    let alice = bearer("alice");
    let bodies: &[(&str, &[u8])] = &[
        ("plain", br#"{"environment":"staging"}"#),
        ("odd whitespace", b"  \r\n\t{ \"environment\"\t:\n  \"staging\" ,\r\n\"note\" : \"x\"   }\n\n  "),
        ("unicode", "{\"environment\":\"staging\",\"name\":\"Zoë — 日本語 🚀\",\"esc\":\"\\u00e9\\ud83d\\ude80\"}".as_bytes()),
        ("field not first", br#"{"inputs":{"a":[1,2,{"b":null}]},"environment":"staging","flag":true}"#),
        ("nested environment is not the one", br#"{"params":{"environment":"production"},"environment":"staging"}"#),
        ("escaped key", br#"{"environ\u006dent":"staging"}"#),
        ("numbers", br#"{"environment":"staging","n":-0.0,"m":1e-7,"k":12345678901234567890}"#),
        ("exactly at the limit", &padded(4096)),
    ];
    for (name, body) in bodies {
        let response = env
            .client
            .post(
                RUNS,
                &[
                    ("authorization", &alice),
                    ("content-type", "application/json"),
                ],
                body.to_vec(),
            )
            .await;
        assert_allowed(name, &response);
        let got = env.upstream.take_one(name);
        assert_eq!(
            got.body.as_ref(),
            *body,
            "{name}: the body changed on the way"
        );
        assert_eq!(
            got.header("content-length"),
            body.len().to_string(),
            "{name}: content-length"
        );
    }
    // Chunked upload: the same bytes arrive (framing may change, content may not).
    let body = br#"{"environment": "staging", "chunked": "yes"}"#;
    let mut bytes = raw::request(
        "POST",
        RUNS.as_bytes(),
        &[
            &format!("Authorization: {alice}"),
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ],
        b"",
    );
    let (a, b) = body.split_at(10);
    bytes.extend_from_slice(format!("{:x}\r\n", a.len()).as_bytes());
    bytes.extend_from_slice(a);
    bytes.extend_from_slice(format!("\r\n{:x}\r\n", b.len()).as_bytes());
    bytes.extend_from_slice(b);
    bytes.extend_from_slice(b"\r\n0\r\n\r\n");
    let response = RawConn::connect(env.gateway.proxy)
        .await
        .roundtrip(&bytes)
        .await
        .response("chunked");
    assert_allowed("chunked", &response);
    assert_eq!(env.upstream.take_one("chunked").body.as_ref(), body);
}

/// A body of exactly `len` bytes that is a valid, allowed run request.
fn padded(len: usize) -> Vec<u8> {
    let head = br#"{"environment":"staging","pad":""#;
    let tail = br#""}"#;
    let mut out = head.to_vec();
    out.resize(len - tail.len(), b'x');
    out.extend_from_slice(tail);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_or_unreadable_bodies_are_refused() {
    let env = Env::start().await;
    let alice = bearer("alice");
    let cases: &[(&str, Vec<u8>, u16, &str)] = &[
        (
            "duplicate key",
            br#"{"environment":"staging","environment":"production"}"#.to_vec(),
            400,
            "body_duplicate_key",
        ),
        (
            "duplicate key, production first",
            br#"{"environment":"production","environment":"staging"}"#.to_vec(),
            400,
            "body_duplicate_key",
        ),
        (
            "duplicate key through an escape",
            br#"{"environment":"staging","environ\u006dent":"production"}"#.to_vec(),
            400,
            "body_duplicate_key",
        ),
        (
            "duplicate nested key",
            br#"{"environment":"staging","x":{"a":1,"a":2}}"#.to_vec(),
            400,
            "body_duplicate_key",
        ),
        (
            "truncated JSON",
            br#"{"environment":"staging""#.to_vec(),
            400,
            "body_not_json",
        ),
        (
            "trailing garbage",
            br#"{"environment":"staging"} x"#.to_vec(),
            400,
            "body_not_json",
        ),
        (
            "two documents",
            br#"{"environment":"staging"}{"environment":"production"}"#.to_vec(),
            400,
            "body_not_json",
        ),
        (
            "single quotes",
            b"{'environment':'staging'}".to_vec(),
            400,
            "body_not_json",
        ),
        (
            "byte order mark",
            b"\xEF\xBB\xBF{\"environment\":\"staging\"}".to_vec(),
            400,
            "body_not_json",
        ),
        (
            "invalid UTF-8",
            b"{\"environment\":\"staging\",\"x\":\"\xff\xfe\"}".to_vec(),
            400,
            "body_not_json",
        ),
        (
            "lone surrogate",
            br#"{"environment":"staging","x":"\ud800"}"#.to_vec(),
            400,
            "body_not_json",
        ),
        (
            "not an object",
            br#"["staging"]"#.to_vec(),
            400,
            "body_not_object",
        ),
        (
            "a bare string",
            br#""staging""#.to_vec(),
            400,
            "body_not_object",
        ),
        (
            "missing field",
            br#"{"env":"staging"}"#.to_vec(),
            400,
            "environment_missing",
        ),
        (
            "null field (missing, or not a string)",
            br#"{"environment":null}"#.to_vec(),
            400,
            "",
        ),
        (
            "number field",
            br#"{"environment":5}"#.to_vec(),
            400,
            "environment_not_string",
        ),
        (
            "array field",
            br#"{"environment":["staging"]}"#.to_vec(),
            400,
            "environment_not_string",
        ),
        (
            "empty field",
            br#"{"environment":""}"#.to_vec(),
            400,
            "environment_empty",
        ),
        ("oversize", padded(4097), 413, "body_too_large"),
        ("far oversize", padded(64 * 1024), 413, "body_too_large"),
    ];
    for (name, body, status, code) in cases {
        let response = env
            .client
            .post(
                RUNS,
                &[
                    ("authorization", &alice),
                    ("content-type", "application/json"),
                ],
                body.clone(),
            )
            .await;
        let json = assert_rejected(name, &response, *status);
        if !code.is_empty() {
            assert_eq!(json["code"], *code, "{name}: {json}");
        }
        env.upstream.assert_nothing(name);
    }
    // An empty body has no environment.
    let response = env
        .client
        .post(RUNS, &[("authorization", &alice)], Vec::new())
        .await;
    assert!(
        response.status == 400,
        "empty body: {} {}",
        response.status,
        response.text()
    );
    env.upstream.assert_nothing("empty body");
    // Oversize and chunked: no Content-Length to check up front.
    let mut bytes = raw::request(
        "POST",
        RUNS.as_bytes(),
        &[
            &format!("Authorization: {alice}"),
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ],
        b"",
    );
    let big = padded(8192);
    for chunk in big.chunks(1000) {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    let response = RawConn::connect(env.gateway.proxy)
        .await
        .roundtrip(&bytes)
        .await
        .response("chunked oversize");
    let json = assert_rejected("chunked oversize", &response, 413);
    assert_eq!(json["code"], "body_too_large");
    env.upstream.assert_nothing("chunked oversize");
    assert_eq!(
        env.upstream.connections(),
        0,
        "a refused request opened an upstream connection"
    );
}

/// A policy denial read from the body names the body's environment, and an
/// unauthenticated body request is refused before the body matters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_environment_feeds_the_decision() {
    let env = Env::start().await;
    let response = env
        .client
        .post(
            RUNS,
            &[
                ("authorization", &bearer("alice")),
                ("content-type", "application/json"),
            ],
            r#"{"environment":"production","note":"please"}"#,
        )
        .await;
    let want = Deny {
        status: 403,
        code: "risk_privilege_missing",
        message: "You can run this journey in staging, but not production.",
        action: "run",
        resource: "checkout-smoke",
        environment: Some("production"),
    };
    assert_deny("production from the body", &response, &want);
    // The environment is read after JSON unescaping, like any JSON reader upstream would.
    let response = env
        .client
        .post(
            RUNS,
            &[
                ("authorization", &bearer("alice")),
                ("content-type", "application/json"),
            ],
            r#"{"environment":"pro\u0064uction"}"#,
        )
        .await;
    assert_deny("escaped production from the body", &response, &want);
    let response = env
        .client
        .post(
            RUNS,
            &[("authorization", &bearer("alice"))],
            r#"{"environment":"nowhere"}"#,
        )
        .await;
    let json = reqflo_tests::body_of("unknown environment", &response, 403);
    assert_eq!(json["code"], "environment_not_found", "{json}");
    let response = env
        .client
        .post(RUNS, &[], r#"{"environment":"staging"}"#)
        .await;
    reqflo_tests::assert_unauthenticated("no token", &response);
    env.upstream.assert_nothing("denials");
    // The org owner may run in production: the same body shape is forwarded.
    let body = r#"{"environment":"production"}"#;
    let response = env
        .client
        .post(RUNS, &[("authorization", &bearer("olga"))], body)
        .await;
    assert_allowed("owner in production", &response);
    assert_eq!(
        env.upstream.take_one("owner").body.as_ref(),
        body.as_bytes()
    );
}
