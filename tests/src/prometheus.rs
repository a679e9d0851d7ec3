//! A real Prometheus server (Debian's `prometheus` package) on an ephemeral
//! port, scraping targets every second and evaluating rule files every
//! second, queried through its HTTP API.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::fail::OrPanic;
use crate::gateway::READY_BOUND;

/// A running Prometheus; killed on drop.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    client: Client,
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

/// One scrape job: its name and its targets.
#[derive(Clone, Debug)]
pub struct Job {
    pub name: String,
    pub targets: Vec<SocketAddr>,
}

impl Prometheus {
    /// Starts `binary` scraping `jobs` every second with `rules` loaded,
    /// and waits (within [`READY_BOUND`]) until it answers `/-/ready`.
    pub async fn start(binary: &Path, jobs: &[Job], rules: &[PathBuf]) -> Prometheus {
        let dir = tempfile::tempdir().or_panic("a directory for Prometheus");
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n",
        );
        config.push_str("rule_files:\n");
        for r in rules {
            config.push_str(&format!("  - {:?}\n", r.display().to_string()));
        }
        config.push_str("scrape_configs:\n");
        for job in jobs {
            let targets: Vec<String> = job
                .targets
                .iter()
                .map(|t| format!("{t:?}").replace('"', ""))
                .collect();
            config.push_str(&format!(
                "  - job_name: {:?}\n    static_configs:\n      - targets: {:?}\n",
                job.name, targets
            ));
        }
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).or_panic("write prometheus.yml");
        let mut child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg("--web.listen-address=127.0.0.1:0")
            .arg("--log.level=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .or_panic("start prometheus");
        let stderr = child.stderr.take().or_panic("prometheus's stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = mpsc::channel();
        let lines = Arc::clone(&log);
        // Drained to the end, so Prometheus never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("msg=\"Listening on\"")
                    && let Some(addr) = line
                        .split_whitespace()
                        .find_map(|f| f.strip_prefix("address="))
                        .and_then(|a| a.parse::<SocketAddr>().ok())
                {
                    let _ = address_tx.send(addr);
                }
                if let Ok(mut log) = lines.lock() {
                    log.push(line);
                }
            }
        });
        let addr = match address_rx.recv_timeout(READY_BOUND) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let log = log.lock().map(|l| l.join("\n")).unwrap_or_default();
                panic!("prometheus did not say where it listens within {READY_BOUND:?}:\n{log}");
            }
        };
        let prometheus = Prometheus {
            child,
            client: Client::new(addr),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + READY_BOUND;
        loop {
            if let Ok(r) = prometheus.client.try_send("GET", "/-/ready", &[], "").await
                && r.status == 200
            {
                return prometheus;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready within {READY_BOUND:?}:\n{}",
                prometheus.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything Prometheus logged so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// An instant query: `Ok(result)` (the `data.result` array), or the
    /// error Prometheus gave.
    pub async fn query(&self, expr: &str) -> Result<Vec<serde_json::Value>, String> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("query", expr)
            .finish();
        let response = self
            .client
            .try_send("GET", &format!("/api/v1/query?{query}"), &[], "")
            .await?;
        let body: serde_json::Value = serde_json::from_slice(&response.body)
            .map_err(|e| format!("{e}: {}", response.text()))?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", response.status, body["error"]));
        }
        match &body["data"]["result"] {
            serde_json::Value::Array(a) => Ok(a.clone()),
            // A scalar or string result: one value.
            other => Ok(vec![other.clone()]),
        }
    }

    /// Polls `expr` until it returns at least one series (within `bound`).
    pub async fn wait_for(&self, expr: &str, bound: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + bound;
        loop {
            match self.query(expr).await {
                Ok(r) if !r.is_empty() => return r,
                Ok(_) => {}
                Err(e) => panic!("{expr}: {e}"),
            }
            assert!(
                Instant::now() < deadline,
                "{expr}: no data within {bound:?}\nprometheus log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The state of the alerting rules, from `/api/v1/rules?type=alert`:
    /// alert name → `inactive`, `pending` or `firing`.
    pub async fn alert_states(&self) -> Vec<(String, String)> {
        let response = self.client.get("/api/v1/rules?type=alert", &[]).await;
        let body = response.json();
        let mut states = Vec::new();
        for group in body["data"]["groups"].as_array().into_iter().flatten() {
            for rule in group["rules"].as_array().into_iter().flatten() {
                states.push((
                    rule["name"].as_str().unwrap_or_default().to_owned(),
                    rule["state"].as_str().unwrap_or_default().to_owned(),
                ));
            }
        }
        states
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
