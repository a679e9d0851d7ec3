//! `reqflo-gateway diff OLD NEW`: the access that changes between two
//! policy documents, gained and lost, each with the changes that cause it,
//! production and destructive access first.
//!
//! Exit status: 0 no production or destructive access gained (or
//! `--accept-risky`); 1 such access gained, or the documents differ too
//! much to list every change (`--max-pairs`; failing closed, so a CI gate
//! never passes what it did not check); 2 unusable input (every error of a
//! document that does not parse or validate, with where it is).

use std::path::PathBuf;
use std::process::ExitCode;

use reqflo_policy::analysis::diff::{AccessChange, diff_bounded};
use serde::Serialize;

use super::access::Format;

const RISKY: u8 = 1;
const UNUSABLE: u8 = 2;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy document before the change.
    pub old: PathBuf,
    /// The policy document after it.
    pub new: PathBuf,
    /// Exit 0 even when production or destructive access is gained.
    #[arg(long)]
    pub accept_risky: bool,
    /// Refuse (exit 1) rather than ask about more (user, resource) pairs than this.
    #[arg(long, default_value_t = 2_000_000)]
    pub max_pairs: usize,
    /// With `--format text`: list at most this many changes (the counts are always complete).
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Serialize)]
struct Output<'a> {
    old_revision: &'a str,
    new_revision: &'a str,
    gained: usize,
    lost: usize,
    risky_gained: usize,
    changes: &'a [AccessChange],
}

pub fn run(args: &Args) -> ExitCode {
    let mut failed = Vec::new();
    let old = super::decide::load_document(&args.old).map_err(|e| failed.extend(e));
    let new = super::decide::load_document(&args.new).map_err(|e| failed.extend(e));
    let (Ok((old_doc, old_snap)), Ok((new_doc, new_snap))) = (old, new) else {
        for line in failed {
            eprintln!("error: {line}");
        }
        return ExitCode::from(UNUSABLE);
    };
    let changes = match diff_bounded(&old_doc, &old_snap, &new_doc, &new_snap, args.max_pairs) {
        Ok(c) => c,
        Err(too_large) => {
            eprintln!("error: {too_large}; not checked, treated as a risky change");
            return ExitCode::from(RISKY);
        }
    };
    let gained = changes.iter().filter(|c| c.gained).count();
    let risky_gained = changes.iter().filter(|c| c.gained && c.is_risky()).count();
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&Output {
            old_revision: old_snap.revision(),
            new_revision: new_snap.revision(),
            gained,
            lost: changes.len() - gained,
            risky_gained,
            changes: &changes,
        }) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: cannot print the diff: {e}");
                return ExitCode::from(UNUSABLE);
            }
        },
        Format::Text => {
            println!(
                "policy {} → {}: {} change{} ({gained} gained, {} lost); production or destructive access gained: {risky_gained}",
                old_snap.revision(),
                new_snap.revision(),
                changes.len(),
                if changes.len() == 1 { "" } else { "s" },
                changes.len() - gained
            );
            for c in changes.iter().take(args.limit) {
                let risk: Vec<&str> = c.risk.iter().map(|r| r.as_str()).collect();
                let env = c
                    .environment
                    .as_deref()
                    .map_or(String::new(), |e| format!(" in `{e}`"));
                println!(
                    "  {} {:<11} {}: `{}` {} `{}`{env} ({})",
                    if c.gained { "+" } else { "-" },
                    if risk.is_empty() {
                        "normal".to_owned()
                    } else {
                        risk.join("+")
                    },
                    c.org,
                    c.user,
                    c.action,
                    c.resource,
                    c.causes.join("; ")
                );
            }
            if changes.len() > args.limit {
                println!(
                    "  … {} more (--limit, or --format json for all)",
                    changes.len() - args.limit
                );
            }
        }
    }
    if risky_gained > 0 && !args.accept_risky {
        ExitCode::from(RISKY)
    } else {
        ExitCode::SUCCESS
    }
}
