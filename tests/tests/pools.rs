//! Upstream pools with real upstreams: requests spread by round robin; a
//! member that dies mid-test costs no failed request (the failed connection
//! is retried on another member and the member ejected); a member that
//! comes back gets requests again once the health check has seen it; a
//! pool with no usable member answers 502 at once; a DNS name that
//! resolves only after the start keeps `/readyz` failing with the reason
//! until it does, and then serves, with nothing edited.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqflo_gateway::upstream::{Lookup, Resolve};
use reqflo_tests::gateway::DeadPort;
use reqflo_tests::{Gateway, Upstream, body_of, fixture_files};

const PUBLIC: &str = "/public/pool";
const HEALTH: &str = "/public/health";
const BOUND: Duration = Duration::from_secs(20);

/// The fixture config with the `reqflo` upstream replaced by `block`
/// (placeholders filled in, so the text is final).
fn config_with(block: &str) -> String {
    let dead = "127.0.0.1:9";
    fixture_files()
        .config
        .replace("  reqflo:\n    address: \"{{UPSTREAM}}\"\n", block)
        .replace("{{UPSTREAM}}", dead)
        .replace("{{DEAD}}", dead)
        .replace(
            "{{KEYS}}",
            &reqflo_tests::jwt::keys_dir().display().to_string(),
        )
}

fn pool_block(addrs: &[String], extra: &str) -> String {
    let list = addrs
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!("  reqflo:\n    addresses: [{list}]\n    connect_timeout_ms: 500\n{extra}")
}

/// Requests to the pool path (health checks left out).
fn served(u: &Upstream) -> usize {
    u.received().iter().filter(|r| r.path() == PUBLIC).count()
}

/// The members of the `reqflo` pool on an `/upstreams` page.
fn members(page: &serde_json::Value) -> Vec<serde_json::Value> {
    page["upstreams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|u| u["name"] == "reqflo")
        .flat_map(|u| u["members"].as_array().cloned().unwrap_or_default())
        .collect()
}

async fn upstreams_page(gateway: &Gateway) -> serde_json::Value {
    let response = gateway.admin().get("/upstreams", &[]).await;
    assert_eq!(response.status, 200);
    response.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_survives_a_member_dying_and_uses_it_again_when_it_comes_back() {
    let a = Upstream::start().await;
    let b = Upstream::start().await;
    let c = Upstream::start().await;
    let b_addr = b.addr();
    let addrs = [a.addr(), b_addr, c.addr()].map(|x| x.to_string());
    let health = format!(
        "    eject_ms: 400\n    health_check:\n      path: {HEALTH}\n      interval_ms: 150\n      timeout_ms: 100\n      healthy_threshold: 1\n      unhealthy_threshold: 1\n"
    );
    let gateway = Gateway::start_text(
        &config_with(&pool_block(&addrs, &health)),
        &fixture_files().policy,
    )
    .await;
    let client = gateway.client();

    for i in 0..30 {
        let response = client.get(PUBLIC, &[]).await;
        assert_eq!(response.status, 200, "request {i}: {}", response.text());
    }
    let spread = [served(&a), served(&b), served(&c)];
    assert_eq!(spread, [10, 10, 10], "round robin over three members");

    // B dies mid-test: not one request fails.
    drop(b);
    for i in 0..30 {
        let response = client.get(PUBLIC, &[]).await;
        assert_eq!(
            response.status,
            200,
            "B dead, request {i}: {}",
            response.text()
        );
    }
    assert_eq!(
        served(&a) + served(&c),
        50,
        "the survivors took every request"
    );

    // B comes back on its port; once the health check has seen it, it serves again.
    let b = Upstream::start_on(b_addr).await;
    let deadline = Instant::now() + BOUND;
    loop {
        let page = upstreams_page(&gateway).await;
        let ready = members(&page).iter().filter(|m| m["ready"] == true).count();
        if ready == 3 && b.received().iter().any(|r| r.path() == HEALTH) {
            break;
        }
        assert!(Instant::now() < deadline, "B never came back: {page:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for i in 0..30 {
        let response = client.get(PUBLIC, &[]).await;
        assert_eq!(
            response.status,
            200,
            "B back, request {i}: {}",
            response.text()
        );
    }
    assert_eq!(served(&b), 10, "B takes its share again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_check_takes_a_failing_member_out_before_any_request_reaches_it() {
    let a = Upstream::start().await;
    let b = Upstream::start().await;
    let addrs = [a.addr(), b.addr()].map(|x| x.to_string());
    // The health path of B answers, but B holds every request: the check
    // times out, B turns unhealthy and gets no request.
    let health = format!(
        "    health_check:\n      path: {HEALTH}\n      interval_ms: 150\n      timeout_ms: 100\n      healthy_threshold: 1\n      unhealthy_threshold: 1\n"
    );
    b.set_hold(true);
    let gateway = Gateway::start_text(
        &config_with(&pool_block(&addrs, &health)),
        &fixture_files().policy,
    )
    .await;
    let deadline = Instant::now() + BOUND;
    loop {
        let page = upstreams_page(&gateway).await;
        if members(&page).iter().any(|m| m["ready"] == false) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B never turned unhealthy: {page:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let client = gateway.client();
    for i in 0..10 {
        let response = client.get(PUBLIC, &[]).await;
        assert_eq!(response.status, 200, "request {i}: {}", response.text());
    }
    assert_eq!(served(&a), 10);
    assert_eq!(served(&b), 0, "the unhealthy member got no request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_with_no_usable_member_answers_502_at_once() {
    let d1 = DeadPort::new();
    let d2 = DeadPort::new();
    let addrs = [d1.addr(), d2.addr()].map(|x| x.to_string());
    let gateway = Gateway::start_text(
        &config_with(&pool_block(&addrs, "    eject_ms: 60000\n")),
        &fixture_files().policy,
    )
    .await;
    let client = gateway.client();
    let first = client.get(PUBLIC, &[]).await;
    let body = body_of("both members refuse", &first, 502);
    assert_eq!(body["code"], "upstream_unavailable", "{body:#}");
    // Both are ejected now: the next answer needs no connection attempt.
    let started = Instant::now();
    let second = client.get(PUBLIC, &[]).await;
    let body = body_of("no usable member", &second, 502);
    assert_eq!(body["code"], "upstream_unavailable", "{body:#}");
    let page = upstreams_page(&gateway).await;
    let members = members(&page);
    assert!(
        members.len() == 2 && members.iter().all(|m| m["ejected"] == true),
        "both ejected: {page:#}"
    );
    // Not a timing assertion on the machine: only that no connect timeout
    // (500 ms here) was waited for.
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Answers lookups from a table the test changes while the gateway runs.
#[derive(Debug, Default)]
struct Table(Mutex<HashMap<String, Vec<SocketAddr>>>);

impl Resolve for Table {
    fn lookup(&self, host: String, _port: u16) -> Lookup {
        let found = self.0.lock().ok().and_then(|t| t.get(&host).cloned());
        Box::pin(async move {
            found.ok_or_else(|| format!("does not resolve: `{host}` is not in the test's table"))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_resolves_after_the_start_makes_the_gateway_ready_by_itself() {
    let up = Upstream::start().await;
    let name = "backend.reqflo.test";
    let table = Arc::new(Table::default());
    let resolver = table.clone();
    let addrs = [format!("{name}:{}", up.addr().port())];
    let gateway = Gateway::start_unready(
        &config_with(&pool_block(&addrs, "    dns_refresh_seconds: 1\n")),
        &fixture_files().policy,
        move |o| o.resolver = resolver,
    )
    .await;
    let admin = gateway.admin();
    let ready = admin.get("/readyz", &[]).await;
    assert_eq!(ready.status, 503, "{}", ready.text());
    assert!(
        ready.text().contains("upstream `reqflo`") && ready.text().contains(name),
        "the reason names the upstream and the name: {}",
        ready.text()
    );
    let refused = gateway.client().get(PUBLIC, &[]).await;
    let body = body_of("not resolved yet", &refused, 502);
    assert_eq!(body["code"], "upstream_unavailable");

    if let Ok(mut t) = table.0.lock() {
        t.insert(name.to_owned(), vec![up.addr()]);
    }
    gateway.wait_ready().await;
    let response = gateway.client().get(PUBLIC, &[]).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(served(&up), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_name_is_resolved_by_the_system_resolver() {
    let up = Upstream::start().await;
    let addrs = [format!("localhost:{}", up.addr().port())];
    let gateway = Gateway::start_text(
        &config_with(&pool_block(&addrs, "")),
        &fixture_files().policy,
    )
    .await;
    let client = gateway.client();
    for i in 0..4 {
        // `localhost` may also resolve to ::1, where nothing listens: that
        // member is ejected and the request retried on 127.0.0.1.
        let response = client.get(PUBLIC, &[]).await;
        assert_eq!(response.status, 200, "request {i}: {}", response.text());
    }
    assert_eq!(served(&up), 4);
}
