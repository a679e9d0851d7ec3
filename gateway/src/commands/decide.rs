//! `reqflo-gateway decide`: one request against a policy document, as JSON.
//!
//! Exit status: 0 allow, 3 deny, 2 unusable input (unreadable file, a parse
//! error as `error: FILE:LINE:COLUMN: message`, or every validation error as
//! `error: FILE: PATH: message`, all on standard error).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use reqflo_policy::{
    AllowedBy, Decision, Document, Reason, ReasonCode, Request, Snapshot, content_revision, decide,
};
use serde::Serialize;

/// Exit status of an allowed request.
const ALLOW: u8 = 0;
/// Exit status of unusable input.
const UNUSABLE: u8 = 2;
/// Exit status of a denied request.
const DENY: u8 = 3;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy document (YAML, or JSON when it starts with `{`).
    #[arg(long)]
    pub policy: PathBuf,
    /// The org the request is made in.
    #[arg(long)]
    pub org: String,
    /// The user making the request.
    #[arg(long)]
    pub user: String,
    /// The action: `view`, `use`, `run`, `edit`, `administer`, `manage_*`, `attach`.
    #[arg(long)]
    pub action: String,
    /// The target resource's id.
    #[arg(long)]
    pub resource: String,
    /// The target environment's resource id, for runs.
    #[arg(long)]
    pub environment: Option<String>,
}

/// What `decide` prints.
#[derive(Debug, Serialize)]
struct Output<'a> {
    allowed: bool,
    code: Option<ReasonCode>,
    message: &'a str,
    reasons: &'a [Reason],
    allowed_by: Option<&'a AllowedBy>,
    revision: &'a str,
}

pub fn run(args: &Args) -> ExitCode {
    let snapshot = match load(&args.policy) {
        Ok(snapshot) => snapshot,
        Err(lines) => {
            for line in lines {
                eprintln!("error: {line}");
            }
            return ExitCode::from(UNUSABLE);
        }
    };
    let request = Request {
        org: &args.org,
        user: &args.user,
        action: args.action.as_str().into(),
        resource: &args.resource,
        environment: args.environment.as_deref(),
    };
    let decision = decide(&snapshot, &request);
    match render(&decision, snapshot.revision()) {
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("error: cannot print the decision: {e}");
            return ExitCode::from(UNUSABLE);
        }
    }
    ExitCode::from(if decision.allowed { ALLOW } else { DENY })
}

/// Reads, parses, validates and compiles the policy; on failure, the error
/// lines to print (without the `error: ` prefix).
pub(crate) fn load(path: &Path) -> Result<Snapshot, Vec<String>> {
    load_document(path).map(|(_, snapshot)| snapshot)
}

/// Like [`load`], keeping the parsed document too.
pub(crate) fn load_document(path: &Path) -> Result<(Document, Snapshot), Vec<String>> {
    let file = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![format!("{file}: cannot read policy file: {e}")])?;
    let document = Document::parse(&text).map_err(|e| vec![e.located(&file.to_string())])?;
    // Named by the file's content hash, as the gateway and `validate` name it.
    let snapshot = Snapshot::compile_with_revision(&document, content_revision(text.as_bytes()))
        .map_err(|errors| {
            errors
                .0
                .iter()
                .map(|e| format!("{file}: {e}"))
                .collect::<Vec<_>>()
        })?;
    Ok((document, snapshot))
}

fn render(decision: &Decision, revision: &str) -> serde_json::Result<String> {
    let message = decision.message();
    serde_json::to_string_pretty(&Output {
        allowed: decision.allowed,
        code: decision.code(),
        message: &message,
        reasons: &decision.reasons,
        allowed_by: decision.allowed_by.as_ref(),
        revision,
    })
}
