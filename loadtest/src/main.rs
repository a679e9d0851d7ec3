//! `reqflo-loadtest`: load generator and side-by-side comparisons.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

/// Load generator and side-by-side comparisons for the Reqflo gateway.
#[derive(Debug, Parser)]
#[command(name = "reqflo-loadtest", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Drive one target with a scenario mix and report latency, errors, CPU.
    Run(cli::run::RunArgs),
    /// Start every contender and compare them in alternating rounds.
    Compare(cli::compare::CompareArgs),
    /// Serve the built-in upstream (200 and a short JSON body) until stdin closes.
    Upstream {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Also serve on these addresses (a pool of several upstream addresses).
        #[arg(long)]
        also_listen: Vec<SocketAddr>,
        /// Keep serving after standard input closes.
        #[arg(long)]
        ignore_stdin: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(args) => cli::run::run(args).await,
        Command::Compare(args) => cli::compare::run(args).await,
        Command::Upstream {
            listen,
            also_listen,
            ignore_stdin,
        } => cli::upstream::run(listen, &also_listen, ignore_stdin).await,
    }
}
