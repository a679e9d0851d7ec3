//! `reqflo-gateway demo`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(args: &Args) -> ExitCode {
    let _ = args;
    ExitCode::from(2)
}
