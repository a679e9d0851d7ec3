//! `reqflo-gateway serve`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use reqflo_gateway::logging::{self, LogFormat};
use reqflo_gateway::{Gateway, Options, StartError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The route config file (it names the policy document).
    #[arg(long)]
    pub config: PathBuf,
    /// Log lines as text or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// On SIGTERM: stop accepting, then let in-flight requests finish for this long.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub grace_period: u64,
    /// Proxy worker threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

pub fn run(args: &Args) -> ExitCode {
    logging::init(args.log_format);
    let options = Options {
        watch: true,
        handle_signals: true,
        grace_period: Duration::from_secs(args.grace_period),
        threads: args.threads,
        ..Options::new(&args.config)
    };
    match Gateway::start(options) {
        Ok(running) => {
            eprintln!(
                "reqflo-gateway: proxy on http://{}, admin on http://{} (/metrics /healthz /readyz /policy)",
                running.proxy_addr, running.admin_addr
            );
            running.wait();
            ExitCode::SUCCESS
        }
        Err(StartError::Config(errors)) => {
            eprintln!(
                "reqflo-gateway: refusing to start: {} error(s) in the config:",
                errors.len()
            );
            for e in &errors.0 {
                eprintln!("  {e}");
            }
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("reqflo-gateway: cannot start: {e}");
            ExitCode::from(1)
        }
    }
}
