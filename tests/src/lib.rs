#![doc = include_str!("../README.md")]

pub mod answer;
pub mod bundle_server;
pub mod client;
pub mod fail;
pub mod gateway;
pub mod jwks;
pub mod jwt;
pub mod metrics;
pub mod prometheus;
pub mod raw;
pub mod tls;
pub mod tools;
pub mod upstream;

pub use answer::{
    Answer, DECISION_ID, Deny, assert_allowed, assert_deny, assert_rejected,
    assert_unauthenticated, body_of,
};
pub use client::{Client, HttpResponse};
pub use fail::OrPanic;
pub use gateway::{Files, Gateway, fixture_files, with_production_grant};
pub use jwt::{Claims, bearer};
pub use metrics::Exposition;
pub use raw::{Outcome, RawConn, RawResponse};
pub use upstream::{Recorded, Upstream};

/// A recording upstream and a gateway in front of it, started together.
#[derive(Debug)]
pub struct Env {
    // Field order is drop order: the gateway stops before its upstream.
    pub gateway: Gateway,
    pub upstream: Upstream,
    pub client: Client,
}

impl Env {
    /// The fixture config and policy (`tests/fixtures/`).
    pub async fn start() -> Env {
        Env::start_with(&fixture_files()).await
    }

    pub async fn start_with(files: &Files) -> Env {
        let upstream = Upstream::start().await;
        let gateway = Gateway::start(&upstream, files).await;
        let client = gateway.client();
        Env {
            gateway,
            upstream,
            client,
        }
    }

    /// Scrapes and strictly parses `/metrics`.
    pub async fn metrics(&self) -> Exposition {
        let response = self.gateway.admin().get("/metrics", &[]).await;
        assert_eq!(response.status, 200, "/metrics: {}", response.text());
        Exposition::parse(&response.text())
            .unwrap_or_else(|e| panic!("/metrics does not parse: {e}"))
    }

    /// Scrapes `/metrics` until `settled` holds (within [`gateway::READY_BOUND`]).
    ///
    /// The gateway counts a request in pingora's `logging` phase, which runs
    /// after the response has been sent, so a scrape right after a response
    /// may not include it yet.
    pub async fn metrics_until(
        &self,
        what: &str,
        settled: impl Fn(&Exposition) -> bool,
    ) -> Exposition {
        let deadline = std::time::Instant::now() + gateway::READY_BOUND;
        loop {
            let metrics = self.metrics().await;
            if settled(&metrics) {
                return metrics;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: metrics did not settle; names: {:?}",
                metrics.names_with_prefix("")
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// `GET /policy` on the admin listener, as JSON.
    pub async fn policy_status(&self) -> serde_json::Value {
        let response = self.gateway.admin().get("/policy", &[]).await;
        assert_eq!(response.status, 200, "/policy: {}", response.text());
        response.json()
    }

    /// Polls `/policy` until `done` holds (within [`gateway::READY_BOUND`]).
    pub async fn policy_until(
        &self,
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = std::time::Instant::now() + gateway::READY_BOUND;
        loop {
            let status = self.policy_status().await;
            if done(&status) {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: not seen within {:?}; /policy: {status:#}",
                gateway::READY_BOUND
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
