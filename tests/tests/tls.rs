//! TLS on both sides, with certificates made at test time: a real TLS
//! client against the proxy listener (HTTP/1.1 and HTTP/2 over ALPN, TLS
//! 1.2 and 1.3, client certificates), certificate rotation by reload
//! without dropping a request in flight, bad files refused at start and on
//! reload, and real TLS upstreams that check SNI, present a certificate of
//! the test CA (or a wrong one: 502, never plain text) and ask for a client
//! certificate.

use std::path::Path;
use std::time::{Duration, Instant};

use reqflo_tests::tls::{Pem, TestCa, TlsClient, TlsUpstream, der_of};
use reqflo_tests::{Env, Files, OrPanic, body_of, fixture_files};

const NAME: &str = "gateway.reqflo.test";
const PUBLIC: &str = "/public/status";
const BOUND: Duration = Duration::from_secs(20);

/// The fixture config with `tls` under `listen`, naming files in `dir`.
fn tls_listener_files(dir: &Path, extra: &str) -> Files {
    let files = fixture_files();
    let listen = format!(
        "listen:\n  proxy: 127.0.0.1:0\n  admin: 127.0.0.1:0\n  tls:\n    certificate: {}\n    key: {}\n{extra}",
        dir.join("server.crt").display(),
        dir.join("server.key").display(),
    );
    Files {
        config: files.config.replace(
            "listen:\n  proxy: 127.0.0.1:0\n  admin: 127.0.0.1:0\n",
            &listen,
        ),
        policy: files.policy,
    }
}

/// A listener certificate in `dir`, and a bundle of service callers
/// (`callers.pem`) with the `client_ca:` line naming it.
fn with_callers(dir: &Path) -> (TestCa, TestCa, String) {
    let ca = TestCa::new("reqflo test CA");
    ca.server(&[NAME]).write(dir, "server");
    let callers = TestCa::new("reqflo service callers");
    std::fs::write(dir.join("callers.pem"), &callers.certificate).or_panic("bundle");
    let extra = format!("    client_ca: {}\n", dir.join("callers.pem").display());
    (ca, callers, extra)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_serves_http1_and_http2_over_tls_1_2_and_1_3() {
    let dir = tempfile::tempdir().or_panic("cert dir");
    let ca = TestCa::new("reqflo test CA");
    ca.server(&[NAME]).write(dir.path(), "server");
    let env = Env::start_with(&tls_listener_files(dir.path(), "")).await;
    let proxy = env.gateway.proxy;

    for (alpn, want) in [
        (&["h2", "http/1.1"][..], "h2"),
        (&["http/1.1"][..], "http/1.1"),
    ] {
        let client = TlsClient::new(&ca, None, alpn);
        let answer = client
            .request(proxy, NAME, "GET", PUBLIC, &[])
            .await
            .or_panic("a TLS request");
        assert_eq!(answer.alpn.as_deref(), Some(want), "ALPN with {alpn:?}");
        assert_eq!(answer.status, 200, "{want}: {}", answer.body);
        let got = env.upstream.take_one(want);
        assert_eq!(got.path(), PUBLIC, "{want}: the upstream got the request");
    }
    // A decided request over HTTP/2: the JWT is verified, the policy
    // decides, and the upstream gets the verified user.
    let h2 = TlsClient::new(&ca, None, &["h2"]);
    let token = reqflo_tests::bearer("alice");
    let answer = h2
        .request(
            proxy,
            NAME,
            "GET",
            "/api/v1/orgs/acme/journeys/checkout-smoke",
            &[("authorization", token.as_str())],
        )
        .await
        .or_panic("a decided request over HTTP/2");
    assert_eq!(answer.alpn.as_deref(), Some("h2"));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let got = env.upstream.take_one("h2, decided");
    assert_eq!(got.header_all("x-reqflo-user"), ["alice"]);
    let denied = h2
        .request(
            proxy,
            NAME,
            "GET",
            "/api/v1/orgs/acme/journeys/incident-drill",
            &[("authorization", token.as_str())],
        )
        .await
        .or_panic("a denied request over HTTP/2");
    assert_eq!(denied.status, 404, "{}", denied.body);
    env.upstream.assert_nothing("h2, denied");

    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let client = TlsClient::with_version(&ca, version);
        let answer = client
            .request(proxy, NAME, "GET", PUBLIC, &[])
            .await
            .or_panic("a TLS request of one version");
        assert_eq!(answer.status, 200, "{version:?}");
        env.upstream.take_one("one version");
    }
    // Plain HTTP on the TLS listener gets no HTTP answer.
    let plain = env
        .client
        .try_send("GET", PUBLIC, &[], bytes::Bytes::new())
        .await;
    assert!(
        plain.as_ref().map(|r| r.status != 200).unwrap_or(true),
        "plain HTTP was served on the TLS listener: {plain:?}"
    );
    env.upstream
        .assert_nothing("plain HTTP on the TLS listener");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_certificate_serves_new_connections_and_in_flight_requests_finish() {
    let dir = tempfile::tempdir().or_panic("cert dir");
    let ca = TestCa::new("reqflo test CA");
    let first = ca.server(&[NAME]);
    first.write(dir.path(), "server");
    let env = Env::start_with(&tls_listener_files(dir.path(), "")).await;
    let proxy = env.gateway.proxy;
    let client = TlsClient::new(&ca, None, &["http/1.1"]);
    let before = client
        .request(proxy, NAME, "GET", PUBLIC, &[])
        .await
        .or_panic("before");
    assert_eq!(before.server_certificate, der_of(&first));
    env.upstream.take();

    // A request in flight on the old certificate while it rotates.
    env.upstream.set_hold(true);
    let in_flight = {
        let client = client.clone();
        tokio::spawn(async move { client.request(proxy, NAME, "GET", PUBLIC, &[]).await })
    };
    let deadline = Instant::now() + BOUND;
    while env.upstream.count() == 0 {
        assert!(Instant::now() < deadline, "the held request never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let revision = env.policy_status().await["revision"].clone();
    let second = ca.server(&[NAME]);
    // A reload between the two writes (a key that does not match) is
    // rejected and the first pair keeps serving until both are written.
    second.write(dir.path(), "server");
    env.policy_until("the rotation", |s| s["revision"] != revision)
        .await;
    // The request was in flight across the rotation; let it finish.
    env.upstream.set_hold(false);
    // A new client: a resumed session would not show the certificate again.
    let after = TlsClient::new(&ca, None, &["http/1.1"])
        .request(proxy, NAME, "GET", PUBLIC, &[])
        .await
        .or_panic("after");
    assert_eq!(after.status, 200);
    assert_eq!(
        after.server_certificate,
        der_of(&second),
        "a new connection gets the new certificate"
    );
    let finished = in_flight
        .await
        .or_panic("the in-flight task")
        .or_panic("the in-flight request");
    assert_eq!(finished.status, 200, "the in-flight request finished");
    assert_eq!(finished.server_certificate, der_of(&first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_certificate_reload_is_rejected_and_the_old_one_keeps_serving() {
    let dir = tempfile::tempdir().or_panic("cert dir");
    let ca = TestCa::new("reqflo test CA");
    let good = ca.server(&[NAME]);
    good.write(dir.path(), "server");
    let env = Env::start_with(&tls_listener_files(dir.path(), "")).await;

    // A key that belongs to another certificate.
    let other = ca.server(&[NAME]);
    std::fs::write(dir.path().join("server.key"), &other.key).or_panic("write a wrong key");
    let status = env
        .policy_until("the rejection", |s| !s["last_rejected_reload"].is_null())
        .await;
    let text = status["last_rejected_reload"]["errors"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        text.contains("server.key") && text.contains("does not belong to the certificate"),
        "the rejection names the file and the fault: {text}"
    );
    assert_eq!(
        status["last_rejected_reload"]["errors"][0]["kind"],
        "tls_file"
    );
    let answer = TlsClient::new(&ca, None, &["http/1.1"])
        .request(env.gateway.proxy, NAME, "GET", PUBLIC, &[])
        .await
        .or_panic("after the rejected reload");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.server_certificate,
        der_of(&good),
        "the old pair serves"
    );

    // Garbage in the certificate file: rejected too, with the file named.
    std::fs::write(dir.path().join("server.key"), &good.key).or_panic("restore the key");
    std::fs::write(dir.path().join("server.crt"), "not a certificate").or_panic("garbage");
    env.policy_until("the second rejection", |s| {
        s["last_rejected_reload"]["errors"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("server.crt") && t.contains("no PEM CERTIFICATE"))
    })
    .await;
    let answer = TlsClient::new(&ca, None, &["http/1.1"])
        .request(env.gateway.proxy, NAME, "GET", PUBLIC, &[])
        .await
        .or_panic("after the second rejected reload");
    assert_eq!(answer.server_certificate, der_of(&good));
}

#[test]
fn bad_tls_files_are_start_errors_naming_the_file_and_line() {
    let dir = tempfile::tempdir().or_panic("dir");
    let ca = TestCa::new("reqflo test CA");
    let a = ca.server(&[NAME]);
    let b = ca.server(&[NAME]);
    std::fs::write(dir.path().join("server.crt"), &a.certificate).or_panic("cert");
    std::fs::write(dir.path().join("server.key"), &b.key).or_panic("key");
    std::fs::write(dir.path().join("policy.yaml"), fixture_files().policy).or_panic("policy");
    let config = tls_listener_files(dir.path(), "    client_ca: missing-ca.pem\n")
        .config
        .replace("{{UPSTREAM}}", "127.0.0.1:9")
        .replace("{{DEAD}}", "127.0.0.1:9")
        .replace(
            "{{KEYS}}",
            &reqflo_tests::jwt::keys_dir().display().to_string(),
        );
    let path = dir.path().join("gateway.yaml");
    std::fs::write(&path, &config).or_panic("config");
    let errors = reqflo_config::load(&path)
        .err()
        .or_panic("the config is refused");
    let tls: Vec<String> = errors
        .of_kind(reqflo_config::ErrorKind::TlsFile)
        .map(|e| e.to_string())
        .collect();
    assert_eq!(tls.len(), 2, "{tls:#?}");
    let line_of = |needle: &str| {
        config
            .lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .or_panic("the line")
    };
    assert!(
        tls.iter().any(|e| e.contains(&format!(
            "gateway.yaml:{}: `key` file",
            line_of("    key: ")
        )) && e.contains("does not belong")),
        "{tls:#?}"
    );
    assert!(
        tls.iter().any(|e| e.contains(&format!(
            "gateway.yaml:{}: `client_ca` file",
            line_of("client_ca:")
        )) && e.contains("missing-ca.pem")
            && e.contains("cannot be read")),
        "{tls:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_verified_against_the_bundle() {
    let dir = tempfile::tempdir().or_panic("cert dir");
    let (ca, callers, extra) = with_callers(dir.path());
    let env = Env::start_with(&tls_listener_files(dir.path(), &extra)).await;
    let proxy = env.gateway.proxy;

    let caller = callers.client("runner.payments");
    let with = TlsClient::new(&ca, Some(&caller), &["h2", "http/1.1"]);
    let answer = with
        .request(proxy, NAME, "GET", PUBLIC, &[])
        .await
        .or_panic("with a client certificate");
    assert_eq!(answer.status, 200);
    env.upstream.take_one("with a client certificate");

    let without = TlsClient::new(&ca, None, &["http/1.1"]);
    assert!(
        without
            .request(proxy, NAME, "GET", PUBLIC, &[])
            .await
            .is_err(),
        "no client certificate: refused"
    );
    let stranger = TestCa::new("someone else").client("runner.payments");
    let wrong = TlsClient::new(&ca, Some(&stranger), &["http/1.1"]);
    assert!(
        wrong
            .request(proxy, NAME, "GET", PUBLIC, &[])
            .await
            .is_err(),
        "a certificate of another CA: refused"
    );
    env.upstream.assert_nothing("refused handshakes");
}

/// The fixture config with the `reqflo` upstream replaced by `block`.
fn with_upstream(block: &str) -> Files {
    let files = fixture_files();
    Files {
        config: files
            .config
            .replace("  reqflo:\n    address: \"{{UPSTREAM}}\"\n", block),
        policy: files.policy,
    }
}

fn upstream_block(addr: std::net::SocketAddr, tls: &str) -> String {
    format!("  reqflo:\n    address: \"{addr}\"\n    sni: upstream.reqflo.test\n    tls:\n{tls}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_upstream_is_verified_with_sni_and_a_wrong_certificate_is_a_502() {
    let dir = tempfile::tempdir().or_panic("cert dir");
    let ca = TestCa::new("upstream CA");
    std::fs::write(dir.path().join("ca.pem"), &ca.certificate).or_panic("ca");
    let tls = format!("      ca: {}\n", dir.path().join("ca.pem").display());

    let good = TlsUpstream::start(&ca.server(&["upstream.reqflo.test"]), None).await;
    let env = Env::start_with(&with_upstream(&upstream_block(good.addr(), &tls))).await;
    let response = env.client.get(PUBLIC, &[]).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.text(), "tls-upstream");
    assert_eq!(good.sni(), [Some("upstream.reqflo.test".to_owned())]);
    drop(env);

    // The same name, signed by another CA: the handshake fails, 502, and no
    // request is ever sent in plain text.
    let impostor_ca = TestCa::new("impostor");
    let impostor = TlsUpstream::start(&impostor_ca.server(&["upstream.reqflo.test"]), None).await;
    let env = Env::start_with(&with_upstream(&upstream_block(impostor.addr(), &tls))).await;
    let response = env.client.get(PUBLIC, &[]).await;
    let body = body_of("wrong certificate", &response, 502);
    assert_eq!(body["code"], "upstream_unavailable", "{body:#}");
    assert_eq!(impostor.requests(), 0, "nothing reached the impostor");
    drop(env);

    // The right CA, but a certificate for another name.
    let other_name = TlsUpstream::start(&ca.server(&["other.reqflo.test"]), None).await;
    let env = Env::start_with(&with_upstream(&upstream_block(other_name.addr(), &tls))).await;
    let response = env.client.get(PUBLIC, &[]).await;
    body_of("wrong name", &response, 502);
    assert_eq!(other_name.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_upstream_that_asks_for_a_client_certificate_gets_the_configured_one() {
    let dir = tempfile::tempdir().or_panic("cert dir");
    let ca = TestCa::new("upstream CA");
    std::fs::write(dir.path().join("ca.pem"), &ca.certificate).or_panic("ca");
    let gateways = TestCa::new("gateway clients");
    let pem: Pem = gateways.client("reqflo-gateway");
    pem.write(dir.path(), "client");
    let upstream = TlsUpstream::start(&ca.server(&["upstream.reqflo.test"]), Some(&gateways)).await;
    let tls = format!(
        "      ca: {}\n      client_certificate: {}\n      client_key: {}\n",
        dir.path().join("ca.pem").display(),
        dir.path().join("client.crt").display(),
        dir.path().join("client.key").display(),
    );
    let env = Env::start_with(&with_upstream(&upstream_block(upstream.addr(), &tls))).await;
    let response = env.client.get(PUBLIC, &[]).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(upstream.client_certificates(), [true]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_the_identity_only_where_the_config_says_so() {
    let dir = tempfile::tempdir().or_panic("cert dir");
    let (ca, callers, extra) = with_callers(dir.path());
    let files = tls_listener_files(dir.path(), &extra);
    let start = files.config.find("identity:\n").or_panic("identity block");
    let end = files.config.find("limits:\n").or_panic("limits block");
    let config = format!(
        "{}identity:\n  client_certificate:\n    user_from: common_name\n{}",
        &files.config[..start],
        &files.config[end..]
    );
    let env = Env::start_with(&Files {
        config: config.clone(),
        policy: files.policy.clone(),
    })
    .await;
    let view = "/api/v1/orgs/acme/journeys/checkout-smoke";
    let hidden = "/api/v1/orgs/acme/journeys/incident-drill";
    let alice = TlsClient::new(&ca, Some(&callers.client("alice")), &["http/1.1"]);
    let answer = alice
        .request(
            env.gateway.proxy,
            NAME,
            "GET",
            view,
            &[("x-reqflo-user", "olga")],
        )
        .await
        .or_panic("alice's certificate");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let got = env.upstream.take_one("alice");
    assert_eq!(
        got.header_all("x-reqflo-user"),
        ["alice"],
        "the certificate's name, never a client header"
    );
    // The certificate decides: alice may not see the hidden journey.
    let answer = alice
        .request(env.gateway.proxy, NAME, "GET", hidden, &[])
        .await
        .or_panic("alice, hidden");
    assert_eq!(answer.status, 404, "{}", answer.body);
    drop(env);

    // Without `client_ca` (or with certificates optional) the mode is refused.
    let optional = config.replace(
        &extra,
        &format!("{extra}    client_certificates: optional\n"),
    );
    let dir2 = tempfile::tempdir().or_panic("dir");
    std::fs::write(dir2.path().join("policy.yaml"), &files.policy).or_panic("policy");
    let text = optional
        .replace("{{UPSTREAM}}", "127.0.0.1:9")
        .replace("{{DEAD}}", "127.0.0.1:9");
    std::fs::write(dir2.path().join("gateway.yaml"), &text).or_panic("config");
    let errors = reqflo_config::load(&dir2.path().join("gateway.yaml"))
        .err()
        .or_panic("refused");
    assert!(
        errors
            .0
            .iter()
            .any(|e| e.message.contains("`client_certificates: required`")),
        "{errors}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_connection_outlives_the_head_timeout() {
    // HTTP/2 heads arrive as frames on streams of their own: the head
    // deadline (here 300 ms) is for HTTP/1 connections only, and an HTTP/2
    // connection carries requests for as long as it stays open.
    let dir = tempfile::tempdir().or_panic("cert dir");
    let ca = TestCa::new("reqflo test CA");
    ca.server(&[NAME]).write(dir.path(), "server");
    let mut files = tls_listener_files(dir.path(), "");
    files.config = files.config.replace(
        "limits:\n  max_body_bytes: 4096\n",
        "limits:\n  max_body_bytes: 4096\n  head_timeout_ms: 300\n",
    );
    assert!(files.config.contains("head_timeout_ms: 300"));
    let env = Env::start_with(&files).await;
    let client = TlsClient::new(&ca, None, &["h2"]);
    let stream = client
        .connect(env.gateway.proxy, NAME)
        .await
        .or_panic("TLS connect");
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .or_panic("h2 handshake");
    tokio::spawn(conn);
    for n in 0..2 {
        if n > 0 {
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        let request = http::Request::get(format!("https://{NAME}{PUBLIC}"))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .or_panic("request");
        let response = sender
            .send_request(request)
            .await
            .or_panic("a request on the same HTTP/2 connection");
        assert_eq!(response.status(), 200, "request {n}");
        env.upstream.take_one("h2 after the head timeout");
    }
}
