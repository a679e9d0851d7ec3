//! `reqflo-loadtest compare`: every contender, side by side.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use reqflo_loadtest::compare::contenders::{ALL, Kind};
use reqflo_loadtest::compare::{CompareOptions, compare};

use super::{sibling, write_json};

/// Arguments of `compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Length of one measured round per contender.
    #[arg(long, default_value = "10s", value_parser = reqflo_loadtest::duration::parse)]
    pub duration: Duration,
    /// Rounds; each round runs every contender once, in order.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Unmeasured load per contender before the first round (warms the JWT cache).
    #[arg(long, default_value = "2s", value_parser = reqflo_loadtest::duration::parse)]
    pub warmup: Duration,
    /// Concurrent keep-alive connections per contender.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Open loop at this total rate (requests/s); closed loop when absent.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Worker threads (pingora) / worker processes (nginx) of the proxies.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// `RUST_LOG` of the gateway processes. `warn` (default) leaves out the
    /// per-decision info lines, as the other proxies run without access logs.
    #[arg(long, default_value = "warn")]
    pub gateway_log: String,
    /// Only these contenders, comma-separated ids (default: all).
    /// Ids: upstream, pingora, nginx, nginx-tls, gw-header, gw-assertion, gw-tls,
    /// gw-pool, gw-jwt, gw-jwt-nocache, gw-jwt-rs256, gw-jwt-rs256-nocache,
    /// gw-denied, gw-policy-l, gw-reload.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// The `reqflo-gateway` binary (default: next to this one).
    #[arg(long)]
    pub gateway_bin: Option<PathBuf>,
    /// The `reqflo-passthrough` binary (default: next to this one).
    #[arg(long)]
    pub passthrough_bin: Option<PathBuf>,
    /// Leave nginx out even when it is installed.
    #[arg(long)]
    pub no_nginx: bool,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write an HTML report here: latency percentile curves, CPU per
    /// request bars and the table, in one self-contained page.
    #[arg(long)]
    pub html: Option<PathBuf>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How long each contender may take to accept connections (the L policy gets 4×).
    #[arg(long, default_value = "30s", value_parser = reqflo_loadtest::duration::parse)]
    pub ready_timeout: Duration,
    /// Keep the generated configs and logs (the directory is printed).
    #[arg(long)]
    pub keep_dir: bool,
    /// Exit with status 1 if any row had errors.
    #[arg(long)]
    pub fail_on_errors: bool,
}

pub async fn run(args: CompareArgs) -> ExitCode {
    let only = if args.only.is_empty() {
        ALL.to_vec()
    } else {
        let mut kinds = Vec::new();
        for id in &args.only {
            match Kind::parse(id.trim()) {
                Some(k) => kinds.push(k),
                None => {
                    eprintln!("error: unknown contender `{id}`");
                    return ExitCode::from(2);
                }
            }
        }
        kinds.sort();
        kinds.dedup();
        kinds
    };
    let Ok(self_bin) = std::env::current_exe() else {
        eprintln!("error: cannot locate this executable");
        return ExitCode::from(2);
    };
    let Some(passthrough_bin) = args
        .passthrough_bin
        .clone()
        .or_else(|| sibling("reqflo-passthrough"))
    else {
        eprintln!(
            "error: `reqflo-passthrough` not found next to this binary; build it (`cargo build -p reqflo-loadtest`) or pass `--passthrough-bin`"
        );
        return ExitCode::from(2);
    };
    let options = CompareOptions {
        duration: args.duration,
        rounds: args.rounds.max(1),
        warmup: args.warmup,
        connections: args.connections.max(1),
        rate: args.rate,
        threads: args.threads.max(1),
        gateway_log: args.gateway_log.clone(),
        only,
        gateway_bin: args
            .gateway_bin
            .clone()
            .or_else(|| sibling("reqflo-gateway")),
        passthrough_bin,
        self_bin,
        nginx: !args.no_nginx,
        seed: args.seed,
        keep_dir: args.keep_dir,
        ready_timeout: args.ready_timeout,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let report = match compare(&options).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "\nreqflo-loadtest compare: {} rounds × {:?} per contender, {} connections, {}; {} cores ({}), load {} → {}\n",
        report.settings.rounds,
        options.duration,
        report.settings.connections,
        options.rate.map_or("closed loop".to_owned(), |r| format!(
            "open loop at {r} req/s"
        )),
        report.machine.nproc,
        report.machine.cpu_model,
        report.machine.load_before,
        report.machine.load_after,
    );
    print!("{}", report.render());
    if let Some(path) = &args.json
        && let Err(e) = write_json(path, &report)
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if let Some(path) = &args.html
        && let Err(e) =
            reqflo_loadtest::html::write(path, &reqflo_loadtest::html::compare_page(&report))
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let errors: u64 = report.contenders.iter().map(|c| c.report.errors).sum();
    if args.fail_on_errors && errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
