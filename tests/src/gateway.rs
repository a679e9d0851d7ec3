//! Starting the real `reqflo-gateway` binary on ephemeral ports, with a route
//! config and a policy document written to a temp dir, and stopping it on drop.
//!
//! The ports are found by binding `127.0.0.1:0` and releasing the socket just
//! before the gateway starts; if another process grabs one in between, the
//! gateway exits and [`Gateway::start`] tries again with fresh ports (a
//! bounded number of times).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::client::Client;
use crate::fail::OrPanic;
use crate::jwt;
use crate::upstream::Upstream;

/// How long a gateway may take to become ready before the harness gives up.
pub const READY_BOUND: Duration = Duration::from_secs(30);

/// The two files a gateway is started with. The route config may use the
/// placeholders `{{PROXY}}`, `{{ADMIN}}`, `{{UPSTREAM}}` (the recording
/// upstream's `host:port`), `{{DEAD}}` (a `host:port` nothing listens on) and
/// `{{KEYS}}` (the absolute directory of the test keys); it must name the
/// policy file `policy.yaml`.
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

/// The path of the gateway binary: `$REQFLO_GATEWAY_BIN`, else the
/// `reqflo-gateway-under-test` binary of this crate beside the running test.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("REQFLO_GATEWAY_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().or_panic("current test executable");
    // target/<profile>/deps/<test> → target/<profile>/<bin>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .or_panic("target profile dir");
    let bin = profile_dir.join(format!(
        "reqflo-gateway-under-test{}",
        std::env::consts::EXE_SUFFIX
    ));
    assert!(
        bin.exists(),
        "the gateway binary {} is not built; run the tests with `cargo test`",
        bin.display()
    );
    bin
}

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").or_panic("bind an ephemeral port");
    listener.local_addr().or_panic("ephemeral address")
}

/// A running gateway; killed (and its temp dir removed) when dropped.
#[derive(Debug)]
pub struct Gateway {
    child: Child,
    dir: TempDir,
    pub proxy: SocketAddr,
    pub admin: SocketAddr,
}

impl Gateway {
    /// Starts the gateway with `files` in front of `upstream` and waits for `/readyz`.
    pub async fn start(upstream: &Upstream, files: &Files) -> Gateway {
        let mut last_log = String::new();
        for _attempt in 0..3 {
            match Gateway::try_start(upstream, files).await {
                Ok(gateway) => return gateway,
                Err(log) => last_log = log,
            }
        }
        panic!("the gateway did not become ready; its output:\n{last_log}");
    }

    async fn try_start(upstream: &Upstream, files: &Files) -> Result<Gateway, String> {
        let dir = tempfile::tempdir().or_panic("temp dir");
        let (proxy, admin, dead) = (free_addr(), free_addr(), free_addr());
        let config = files
            .config
            .replace("{{PROXY}}", &proxy.to_string())
            .replace("{{ADMIN}}", &admin.to_string())
            .replace("{{UPSTREAM}}", &upstream.addr().to_string())
            .replace("{{DEAD}}", &dead.to_string())
            .replace("{{KEYS}}", &jwt::keys_dir().display().to_string());
        std::fs::write(dir.path().join("gateway.yaml"), config).or_panic("write gateway.yaml");
        std::fs::write(dir.path().join("policy.yaml"), &files.policy).or_panic("write policy.yaml");
        let log =
            std::fs::File::create(dir.path().join("gateway.log")).or_panic("create gateway.log");
        let child = Command::new(binary())
            .arg("serve")
            .arg("--config")
            .arg(dir.path().join("gateway.yaml"))
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().or_panic("clone log handle"))
            .stderr(log)
            .spawn()
            .or_panic("spawn the gateway");
        let mut gateway = Gateway {
            child,
            dir,
            proxy,
            admin,
        };
        match gateway.wait_ready().await {
            Ok(()) => Ok(gateway),
            Err(why) => Err(format!("{why}\n{}", gateway.log())),
        }
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let admin = Client::new(self.admin);
        let deadline = Instant::now() + READY_BOUND;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the gateway exited with {status}"));
            }
            if let Ok(response) = admin
                .try_send("GET", "/readyz", &[], bytes::Bytes::new())
                .await
                && response.status == 200
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not ready within {READY_BOUND:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The gateway's stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gateway.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
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

    /// A client for the proxy listener.
    pub fn client(&self) -> Client {
        Client::new(self.proxy)
    }

    /// A client for the admin listener.
    pub fn admin(&self) -> Client {
        Client::new(self.admin)
    }

    /// Whether the gateway process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- gateway output ----\n{}", self.log());
        }
    }
}
