//! `reqflo-gateway decide`.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub policy: PathBuf,
    #[arg(long)]
    pub org: String,
    #[arg(long)]
    pub user: String,
    #[arg(long)]
    pub action: String,
    #[arg(long)]
    pub resource: String,
    #[arg(long)]
    pub environment: Option<String>,
}

pub fn run(args: &Args) -> ExitCode {
    let _ = args;
    ExitCode::from(2)
}
