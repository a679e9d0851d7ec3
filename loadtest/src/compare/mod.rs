//! `reqflo-loadtest compare`: every contender started on local ports against
//! one built-in upstream, measured in alternating rounds (A B C A B C …) so
//! drift on a shared machine hits all of them alike.

pub mod contenders;
pub mod gateway;
pub mod nginx;
pub mod process;
pub mod summary;
pub mod tls;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::driver::{LoadSpec, Outcome, drive, send};
use crate::procstat::Sample;
use crate::report::TargetUsage;

use contenders::{Contender, Kind, PrepareError, Prepared, Setup};
use process::{Running, StartError, Stop, free_port};
use summary::{CompareReport, ContenderResult, Machine, Round, Settings, Skipped};

/// What `compare` was asked to do.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    pub duration: Duration,
    pub rounds: usize,
    pub warmup: Duration,
    pub connections: usize,
    pub rate: Option<f64>,
    pub threads: usize,
    /// `RUST_LOG` for the gateway processes.
    pub gateway_log: String,
    pub only: Vec<Kind>,
    pub gateway_bin: Option<PathBuf>,
    pub passthrough_bin: PathBuf,
    /// The `reqflo-loadtest` binary itself, for the upstream subcommand.
    pub self_bin: PathBuf,
    pub nginx: bool,
    pub seed: u64,
    pub keep_dir: bool,
    pub ready_timeout: Duration,
    pub command: String,
}

/// Why the comparison could not run.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("cannot create a temporary directory: {0}")]
    TempDir(std::io::Error),
    #[error("cannot start the upstream: {0}")]
    Upstream(#[from] StartError),
    #[error("cannot start `{id}`: {source}")]
    Contender {
        id: &'static str,
        source: PrepareError,
    },
    #[error("`{id}` answered a probe request with {got}, expected {want}")]
    Probe {
        id: &'static str,
        got: String,
        want: String,
    },
    #[error("cannot read `/proc` for `{id}`: {source}")]
    Proc {
        id: &'static str,
        source: crate::procstat::ProcError,
    },
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default()
}

fn spec(c: &Contender, options: &CompareOptions, duration: Duration, round: usize) -> LoadSpec {
    LoadSpec {
        addr: c.addr,
        host: format!("127.0.0.1:{}", c.addr.port()),
        mix: c.mix.clone(),
        connections: options.connections,
        duration,
        rate: options.rate,
        seed: options.seed.wrapping_add(round as u64),
        progress: Some(format!("[round {round} {:<14}]", c.kind.id())),
        tls: c.tls.clone(),
    }
}

fn probe_spec(c: &Contender) -> LoadSpec {
    LoadSpec {
        addr: c.addr,
        host: format!("127.0.0.1:{}", c.addr.port()),
        mix: c.mix.clone(),
        connections: 1,
        duration: Duration::ZERO,
        rate: None,
        seed: 0,
        progress: None,
        tls: c.tls.clone(),
    }
}

/// Rewrites a contender's policy file every 100 ms, and signals the gateway
/// to reload it, until stopped.
struct Reloader {
    stop: Arc<AtomicBool>,
    writes: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

fn start_reloader(files: &gateway::GatewayFiles, counter: u64, pid: u32) -> Reloader {
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let files = gateway::GatewayFiles {
        dir: files.dir.clone(),
        config: files.config.clone(),
        policy: files.policy.clone(),
    };
    let (s, w) = (stop.clone(), writes.clone());
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut n = counter;
        while !s.load(Ordering::Relaxed) {
            tick.tick().await;
            n += 1;
            if gateway::replace_policy(&files, &gateway::small_policy(Some(n))).is_ok() {
                w.fetch_add(1, Ordering::Relaxed);
                // The file watcher debounces (a write every 100 ms would be
                // folded into one reload every couple of seconds); SIGHUP
                // makes the gateway re-read now, so every write is a reload.
                let _ = tokio::process::Command::new("kill")
                    .args(["-HUP", &pid.to_string()])
                    .status()
                    .await;
            }
        }
    });
    Reloader { stop, writes, task }
}

impl Reloader {
    async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.writes.load(Ordering::Relaxed)
    }
}

/// Sends one request to check a contender answers as its mix expects.
async fn probe_request(c: &Contender) -> Result<(), CompareError> {
    let spec = probe_spec(c);
    let Some(template) = c.mix.templates.first() else {
        return Ok(());
    };
    let mut conn = None;
    let want = template
        .expect
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join("/");
    match send(&mut conn, &spec, template).await {
        Ok(status) if template.is_expected(status) => Ok(()),
        Ok(status) => Err(CompareError::Probe {
            id: c.kind.id(),
            got: status.to_string(),
            want,
        }),
        Err(e) => Err(CompareError::Probe {
            id: c.kind.id(),
            got: e.to_string(),
            want,
        }),
    }
}

/// Per-contender accumulation over rounds.
struct Tally {
    outcome: Option<Outcome>,
    cpu_seconds: f64,
    rounds: Vec<Round>,
    reload_writes: u64,
    /// Reloads the gateway reported, by outcome.
    reloads_seen: std::collections::BTreeMap<String, f64>,
}

/// Starts everything, runs the rounds, stops everything, and reports.
pub async fn compare(options: &CompareOptions) -> Result<CompareReport, CompareError> {
    let load_before = load_average();
    let tmp = tempfile::Builder::new()
        .prefix("reqflo-compare-")
        .tempdir()
        .map_err(CompareError::TempDir)?;
    let dir = tmp.path().to_path_buf();
    if options.keep_dir {
        eprintln!("compare: files in {}", dir.display());
    }

    // The shared upstream, in its own process so its CPU is not the proxy's.
    let upstream = free_port().map_err(|e| StartError::Prepare {
        name: "upstream".to_owned(),
        message: e.to_string(),
    })?;
    // The same upstream on three loopback addresses: the pool contender's members.
    let pool: Vec<std::net::SocketAddr> = [1u8, 2, 3]
        .iter()
        .map(|last| std::net::SocketAddr::from(([127, 0, 0, *last], upstream.port())))
        .collect();
    let mut command = std::process::Command::new(&options.self_bin);
    command
        .arg("upstream")
        .arg("--listen")
        .arg(upstream.to_string());
    for extra in &pool[1..] {
        command.arg("--also-listen").arg(extra.to_string());
    }
    let mut upstream_process = Running::spawn(
        "upstream",
        command,
        Stop::Kill,
        Some(&dir.join("upstream.log")),
    )?;
    upstream_process.wait_ready(upstream, options.ready_timeout)?;

    let tls = tls::Material::new().map_err(|e| StartError::Prepare {
        name: "TLS certificate".to_owned(),
        message: e.to_string(),
    })?;
    let setup = Setup {
        dir: dir.clone(),
        upstream,
        pool,
        tls,
        upstream_pid: upstream_process.pid(),
        passthrough_bin: options.passthrough_bin.clone(),
        gateway_bin: options.gateway_bin.clone(),
        nginx_bin: if options.nginx { nginx::find() } else { None },
        threads: options.threads,
        gateway_log: options.gateway_log.clone(),
        seed: options.seed,
        ready_timeout: options.ready_timeout,
    };
    let mut running = Vec::new();
    let mut skipped = Vec::new();
    for &kind in &options.only {
        eprintln!("compare: starting {}", kind.title());
        match contenders::prepare(kind, &setup) {
            Ok(Prepared::Ready(c)) => running.push(*c),
            Ok(Prepared::Skipped(reason)) => {
                eprintln!("compare: skipping {}: {reason}", kind.title());
                skipped.push(Skipped {
                    id: kind.id().to_owned(),
                    title: kind.title().to_owned(),
                    reason,
                });
            }
            Err(source) => {
                return Err(CompareError::Contender {
                    id: kind.id(),
                    source,
                });
            }
        }
    }
    for c in &running {
        probe_request(c).await?;
    }

    if !options.warmup.is_zero() {
        for c in &running {
            eprintln!("compare: warm-up {} ({:?})", c.kind.id(), options.warmup);
            let mut s = spec(c, options, options.warmup, 0);
            s.progress = None;
            drive(&s).await;
        }
    }

    let mut tallies: Vec<Tally> = running
        .iter()
        .map(|_| Tally {
            outcome: None,
            cpu_seconds: 0.0,
            rounds: Vec::new(),
            reload_writes: 0,
            reloads_seen: Default::default(),
        })
        .collect();
    let mut reload_counter = 0;
    for round in 1..=options.rounds {
        for (c, tally) in running.iter().zip(&mut tallies) {
            let reloads_before = match (&c.reload, c.admin) {
                (Some(_), Some(admin)) => gateway::reload_counts(admin),
                _ => None,
            };
            let reloader = c
                .reload
                .as_ref()
                .map(|files| start_reloader(files, reload_counter, c.probe.pid));
            let before = sample(c)?;
            let outcome = drive(&spec(c, options, options.duration, round)).await;
            let after = sample(c)?;
            if let Some(r) = reloader {
                let writes = r.finish().await;
                reload_counter += writes;
                tally.reload_writes += writes;
                if let (Some(before), Some(admin)) = (reloads_before, c.admin) {
                    // Let the last write's debounce settle before counting.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if let Some(after) = gateway::reload_counts(admin) {
                        for (outcome, n) in after {
                            let delta = n - before.get(&outcome).copied().unwrap_or(0.0);
                            *tally.reloads_seen.entry(outcome).or_default() += delta;
                        }
                    }
                }
            }
            let cpu = (after.cpu_seconds - before.cpu_seconds).max(0.0);
            tally.cpu_seconds += cpu;
            tally.rounds.push(Round {
                round,
                requests: outcome.requests,
                errors: outcome.errors(),
                throughput_rps: outcome.requests as f64 / outcome.elapsed.as_secs_f64().max(1e-9),
                cpu_us_per_request: cpu * 1e6 / (outcome.requests.max(1) as f64),
            });
            match &mut tally.outcome {
                Some(total) => total.merge(&outcome),
                None => tally.outcome = Some(outcome),
            }
        }
    }

    let mut contenders = Vec::new();
    for (c, tally) in running.iter().zip(tallies) {
        let peak = sample(c)?.peak_rss_kib;
        let Some(outcome) = tally.outcome else {
            continue;
        };
        let mut report = outcome.report(c.kind.title(), &c.mix, options.rate);
        report.target = Some(TargetUsage {
            cpu_seconds: tally.cpu_seconds,
            cpu_us_per_request: tally.cpu_seconds * 1e6 / (outcome.requests.max(1) as f64),
            peak_rss_kib: peak,
        });
        let per_round: Vec<f64> = tally.rounds.iter().map(|r| r.cpu_us_per_request).collect();
        let mut notes = Vec::new();
        if c.reload.is_some() {
            let seen: Vec<String> = tally
                .reloads_seen
                .iter()
                .map(|(outcome, n)| format!("{n:.0} {outcome}"))
                .collect();
            notes.push(format!(
                "policy file rewritten {} times while measured; gateway reloads: {}",
                tally.reload_writes,
                if seen.is_empty() {
                    "not reported".to_owned()
                } else {
                    seen.join(", ")
                }
            ));
        }
        contenders.push(ContenderResult {
            id: c.kind.id().to_owned(),
            title: c.kind.title().to_owned(),
            report,
            cpu_spread_pct: summary::spread_pct(&per_round),
            rounds: tally.rounds,
            vs_pingora: None,
            vs_nginx: None,
            notes,
        });
    }
    drop(running);
    drop(upstream_process);
    if options.keep_dir {
        let _ = tmp.keep();
    }

    let mut report = CompareReport {
        command: options.command.clone(),
        machine: Machine {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: cpu_model(),
            load_before,
            load_after: load_average(),
        },
        settings: Settings {
            duration_s: options.duration.as_secs_f64(),
            rounds: options.rounds,
            warmup_s: options.warmup.as_secs_f64(),
            connections: options.connections,
            rate_rps: options.rate,
            threads: options.threads,
        },
        contenders,
        skipped,
        targets: Vec::new(),
    };
    report.add_ratios();
    report.check_targets();
    Ok(report)
}

fn sample(c: &Contender) -> Result<Sample, CompareError> {
    c.probe.sample().map_err(|source| CompareError::Proc {
        id: c.kind.id(),
        source,
    })
}
