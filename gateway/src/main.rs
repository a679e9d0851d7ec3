//! `reqflo-gateway`: the enforcement proxy and its operator commands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;

/// mimalloc: the proxy allocates and frees dozens of small buffers per
/// request (pingora's headers, ours); it costs about a third of glibc's
/// malloc here (docs/PERFORMANCE.md, "Load test"). The pass-through it is
/// compared with uses the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Reqflo's authorization enforcement gateway.
#[derive(Debug, Parser)]
#[command(name = "reqflo-gateway", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decide one request against a policy document and print the decision as JSON.
    ///
    /// Exit status: 0 allow, 3 deny, 2 unusable input.
    Decide(commands::decide::Args),
    /// List every user the policy allows an action on a resource, with what allows each.
    ///
    /// Exit status: 0 answered, 2 unusable input (an unknown id is named).
    WhoCan(commands::access::WhoCanArgs),
    /// List the risky access one user holds (run, use, edit, administer of
    /// sensitive, production, destructive or secret-backed targets).
    ///
    /// Exit status: 0 answered, 2 unusable input.
    WhatCan(commands::access::WhatCanArgs),
    /// Write the access review: who can run, use, edit and administer every
    /// sensitive, production, destructive or secret-backed resource, in
    /// which environments, through which path; individual exceptions; each
    /// member's production and destructive access.
    ///
    /// Exit status: 0 written, 2 unusable input.
    Review(commands::review::Args),
    /// List the access that changes between two policy documents, gained
    /// and lost, each with its causes; production and destructive first.
    ///
    /// Exit status: 0 no production or destructive access gained (or
    /// `--accept-risky`), 1 gained (or too large to check), 2 unusable input.
    Diff(commands::diff::Args),
    /// Run route test files through the proxy's pipeline: which route,
    /// action, resource, environment, decision and status each request
    /// gets; ends with `N passed, N failed` and the route coverage.
    ///
    /// Exit status: 0 passed, 1 a test failed or coverage is below
    /// `--min-coverage`, 2 unusable input.
    TestRoutes(commands::routes::Args),
    /// Run policy scenario files; ends with `N passed, N failed`.
    Test {
        /// Scenario files (YAML or JSON).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Policy bundles for a fleet: `bundle build` splits a policy document
    /// into a manifest and one document per org, optionally signed.
    ///
    /// Exit status: 0 written, 2 unusable input.
    #[command(subcommand)]
    Bundle(commands::bundle::Command),
    /// Check a route config and the policy document it names, without serving.
    Validate {
        #[arg(long)]
        config: PathBuf,
    },
    /// Serve: the enforcement proxy and its admin listener.
    ///
    /// Refuses to start (exit 2) when the config or policy is invalid, printing
    /// every error. SIGTERM drains gracefully, SIGINT stops at once, SIGHUP
    /// reloads the files now.
    Serve(commands::serve::Args),
    /// Start the gateway with the bundled examples and a mock Reqflo backend.
    Demo(commands::demo::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Decide(args) => commands::decide::run(&args),
        Command::WhoCan(args) => commands::access::who_can(&args),
        Command::WhatCan(args) => commands::access::what_can(&args),
        Command::Review(args) => commands::review::run(&args),
        Command::Diff(args) => commands::diff::run(&args),
        Command::TestRoutes(args) => commands::routes::run(&args),
        Command::Test { files } => commands::test::run(&files),
        Command::Bundle(command) => commands::bundle::run(&command),
        Command::Validate { config } => commands::validate::run(&config),
        Command::Serve(args) => commands::serve::run(&args),
        Command::Demo(args) => commands::demo::run(&args),
    }
}
