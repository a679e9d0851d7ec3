//! Starting the real gateway (`reqflo_gateway::Gateway`, the same code
//! `reqflo-gateway serve` runs: pingora proxy, admin listener, file watcher)
//! on ephemeral ports, with a route config and a policy document written to
//! a temp dir, and stopping it on drop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqflo_gateway::{Options, Running};
use tempfile::TempDir;
use tokio::net::TcpSocket;

use crate::client::Client;
use crate::fail::OrPanic;
use crate::jwt;
use crate::upstream::Upstream;

/// How long a gateway may take to become ready before the harness gives up.
pub const READY_BOUND: Duration = Duration::from_secs(30);

/// The two files a gateway is started with. The route config may use the
/// placeholders `{{UPSTREAM}}` (the recording upstream's `host:port`),
/// `{{DEAD}}` (a `host:port` that refuses connections) and `{{KEYS}}` (the absolute
/// directory of the test keys); it must name the policy file `policy.yaml`.
/// Its `listen` addresses are overridden with `127.0.0.1:0`.
#[derive(Clone, Debug)]
pub struct Files {
    pub config: String,
    pub policy: String,
}

/// The route config and policy fixtures under `tests/fixtures/`.
pub fn fixture_files() -> Files {
    Files {
        config: include_str!("../fixtures/gateway.yaml").to_owned(),
        policy: include_str!("../fixtures/policy.yaml").to_owned(),
    }
}

/// `policy` (the fixture policy) with grants that let alice run
/// checkout-smoke in production: added to its first `grants:` block.
pub fn with_production_grant(policy: &str) -> String {
    let grant = "    grants:\n      - id: alice-production\n        principal: { user: alice }\n        \
                 scope: { resource: checkout-smoke }\n        actions: [run]\n        privileges: [production]\n      \
                 - id: alice-production-environment\n        principal: { user: alice }\n        \
                 scope: { resource: production }\n        actions: [use]\n        privileges: [production]\n";
    policy.replacen("    grants:\n", grant, 1)
}

/// A port that refuses connections: a socket bound to `127.0.0.1:0` that
/// never listens (a connection attempt gets a reset). Holding it keeps the
/// port from being handed to another test's listener.
#[derive(Debug)]
pub struct DeadPort {
    socket: TcpSocket,
}

impl DeadPort {
    pub fn new() -> DeadPort {
        let socket = TcpSocket::new_v4().or_panic("a socket for the dead port");
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .or_panic("bind the dead port");
        DeadPort { socket }
    }

    pub fn addr(&self) -> SocketAddr {
        self.socket.local_addr().or_panic("dead port address")
    }
}

impl Default for DeadPort {
    fn default() -> Self {
        DeadPort::new()
    }
}

/// A running gateway; stopped (and its temp dir removed) when dropped.
#[derive(Debug)]
pub struct Gateway {
    // Declared before `dir`: the gateway stops before its files go away.
    running: Option<Running>,
    dir: TempDir,
    /// Held while the gateway runs: the `{{DEAD}}` upstream's port.
    dead: Option<DeadPort>,
    pub proxy: SocketAddr,
    pub admin: SocketAddr,
}

impl Gateway {
    /// Starts a gateway with `files` in front of `upstream` and waits for `/readyz`.
    pub async fn start(upstream: &Upstream, files: &Files) -> Gateway {
        let dead = DeadPort::new();
        let config = files
            .config
            .replace("{{UPSTREAM}}", &upstream.addr().to_string())
            .replace("{{DEAD}}", &dead.addr().to_string())
            .replace("{{KEYS}}", &jwt::keys_dir().display().to_string());
        let mut gateway = Gateway::start_text(&config, &files.policy).await;
        gateway.dead = Some(dead);
        gateway
    }

    /// Starts a gateway from a route config and a policy text as they are
    /// (the config must name the policy `policy.yaml`), and waits for `/readyz`.
    pub async fn start_text(config: &str, policy: &str) -> Gateway {
        let gateway = Gateway::start_unready(config, policy, |_| {}).await;
        gateway.wait_ready().await;
        gateway
    }

    /// Starts like [`Gateway::start_text`] with `adjust` applied to the
    /// options, and returns without waiting for `/readyz`.
    pub async fn start_unready(
        config: &str,
        policy: &str,
        adjust: impl FnOnce(&mut Options),
    ) -> Gateway {
        let dir = tempfile::tempdir().or_panic("temp dir");
        let config_path = dir.path().join("gateway.yaml");
        std::fs::write(&config_path, config).or_panic("write gateway.yaml");
        std::fs::write(dir.path().join("policy.yaml"), policy).or_panic("write policy.yaml");
        let mut options = Options::ephemeral(&config_path);
        adjust(&mut options);
        let running = tokio::task::spawn_blocking(move || reqflo_gateway::Gateway::start(options))
            .await
            .or_panic("the gateway start task")
            .or_panic("start the gateway");
        Gateway {
            proxy: running.proxy_addr,
            admin: running.admin_addr,
            running: Some(running),
            dir,
            dead: None,
        }
    }

    /// Waits (within [`READY_BOUND`]) until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        let admin = self.admin();
        let deadline = Instant::now() + READY_BOUND;
        loop {
            if let Ok(response) = admin
                .try_send("GET", "/readyz", &[], bytes::Bytes::new())
                .await
                && response.status == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway was not ready within {READY_BOUND:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls `/readyz` (which must answer 503 meanwhile) until its body
    /// contains `needle`, within [`READY_BOUND`]; returns the body.
    pub async fn wait_not_ready_with(&self, needle: &str) -> String {
        let admin = self.admin();
        let deadline = Instant::now() + READY_BOUND;
        loop {
            let ready = admin.get("/readyz", &[]).await;
            assert_eq!(ready.status, 503, "{}", ready.text());
            if ready.text().contains(needle) {
                return ready.text();
            }
            assert!(
                Instant::now() < deadline,
                "`/readyz` never said {needle:?}: {}",
                ready.text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("gateway.yaml")
    }

    pub fn policy_path(&self) -> PathBuf {
        self.dir.path().join("policy.yaml")
    }

    /// Replaces the policy file atomically (write a sibling, then rename),
    /// as a control plane or a ConfigMap update would.
    pub fn write_policy(&self, text: &str) {
        let tmp = self.dir.path().join(".policy.yaml.tmp");
        std::fs::write(&tmp, text).or_panic("write the new policy");
        std::fs::rename(&tmp, self.policy_path()).or_panic("rename the new policy into place");
    }

    /// Rewrites the route config atomically, applying `edit` to its current text.
    pub fn edit_config(&self, edit: impl FnOnce(&str) -> String) {
        let current = std::fs::read_to_string(self.config_path()).or_panic("read gateway.yaml");
        let tmp = self.dir.path().join(".gateway.yaml.tmp");
        std::fs::write(&tmp, edit(&current)).or_panic("write the new route config");
        std::fs::rename(&tmp, self.config_path())
            .or_panic("rename the new route config into place");
    }

    /// A client for the proxy listener.
    pub fn client(&self) -> Client {
        Client::new(self.proxy)
    }

    /// A client for the admin listener.
    pub fn admin(&self) -> Client {
        Client::new(self.admin)
    }

    /// The in-process gateway handle.
    pub fn running(&self) -> &Running {
        self.running.as_ref().or_panic("the gateway is running")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            // Stopping joins the gateway's threads; keep that off the async runtime.
            let _ = std::thread::spawn(move || running.stop()).join();
        }
    }
}
