//! `reqflo-loadtest run`: one target, one mix.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Duration;

use reqflo_loadtest::compare::process::{Running, Stop};
use reqflo_loadtest::driver::{LoadSpec, drive};
use reqflo_loadtest::mix::Mix;
use reqflo_loadtest::procstat::Probe;
use reqflo_loadtest::report::{TargetUsage, render_run};

use super::write_json;

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Target, `http://host:port` or `host:port` (plain HTTP/1.1).
    #[arg(long)]
    pub target: String,
    /// Scenario mix file (YAML).
    #[arg(long)]
    pub mix: PathBuf,
    /// Concurrent keep-alive connections (one per worker).
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// How long to send (`10s`, `500ms`, `2m`).
    #[arg(long, default_value = "10s", value_parser = reqflo_loadtest::duration::parse)]
    pub duration: Duration,
    /// Open loop at this total rate (requests/s), latency from the scheduled
    /// send time; closed loop when absent.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Measure this process (and its children): CPU per request, peak RSS.
    #[arg(long)]
    pub target_pid: Option<u32>,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write an HTML report here: latency percentile curves, CPU per
    /// request bars and the table, in one self-contained page.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Seed of the template picker.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// With a command: how long to wait for it to accept connections.
    #[arg(long, default_value = "30s", value_parser = reqflo_loadtest::duration::parse)]
    pub ready_timeout: Duration,
    /// Exit with status 1 if any request failed or got an unexpected status.
    #[arg(long)]
    pub fail_on_errors: bool,
    /// Start this target command first (after `--`), measure it, stop it after.
    #[arg(last = true)]
    pub command: Vec<String>,
}

fn resolve(target: &str) -> Result<(SocketAddr, String), String> {
    let rest = target.strip_prefix("http://").unwrap_or(target);
    if rest.starts_with("https://") || target.starts_with("https://") {
        return Err(format!("target `{target}`: only plain HTTP is supported"));
    }
    let authority = rest.split('/').next().unwrap_or(rest);
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("target `{target}`: {e}"))?
        .next()
        .ok_or_else(|| format!("target `{target}` resolves to no address"))?;
    Ok((addr, authority.to_owned()))
}

pub async fn run(args: RunArgs) -> ExitCode {
    match run_inner(args).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run_inner(args: RunArgs) -> Result<ExitCode, String> {
    let (addr, host) = resolve(&args.target)?;
    let text = std::fs::read_to_string(&args.mix)
        .map_err(|e| format!("cannot read `{}`: {e}", args.mix.display()))?;
    let mix = Mix::from_yaml(&text, &|var| std::env::var(var).ok())
        .map_err(|e| format!("{}: {e}", args.mix.display()))?;
    let mut started = None;
    if let Some((program, rest)) = args.command.split_first() {
        let mut command = Command::new(program);
        command.args(rest);
        let mut running =
            Running::spawn(program, command, Stop::Term, None).map_err(|e| e.to_string())?;
        running
            .wait_ready(addr, args.ready_timeout)
            .map_err(|e| e.to_string())?;
        started = Some(running);
    }
    let probe = args
        .target_pid
        .or(started.as_ref().map(Running::pid))
        .map(Probe::new);
    let before = match &probe {
        Some(p) => Some(p.sample().map_err(|e| e.to_string())?),
        None => None,
    };
    let mix = Arc::new(mix);
    let spec = LoadSpec {
        addr,
        host,
        mix: mix.clone(),
        connections: args.connections,
        duration: args.duration,
        rate: args.rate,
        seed: args.seed,
        progress: Some(format!("[{}]", mix.name)),
        tls: None,
    };
    let outcome = drive(&spec).await;
    let mut report = outcome.report(&args.target, &mix, args.rate);
    if let (Some(p), Some(before)) = (&probe, before) {
        let after = p.sample().map_err(|e| e.to_string())?;
        let cpu = (after.cpu_seconds - before.cpu_seconds).max(0.0);
        report.target = Some(TargetUsage {
            cpu_seconds: cpu,
            cpu_us_per_request: cpu * 1e6 / (outcome.requests.max(1) as f64),
            peak_rss_kib: after.peak_rss_kib,
        });
    }
    drop(started);
    print!("{}", render_run(&report));
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    if let Some(path) = &args.html {
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        reqflo_loadtest::html::write(path, &reqflo_loadtest::html::run_page(&report, &command))?;
    }
    Ok(if args.fail_on_errors && report.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
