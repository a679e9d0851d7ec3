//! `reqflo-gateway bundle build --policy FILE --out DIR [--sign KEY]`:
//! split a whole policy document into a bundle (a manifest and one
//! document per org), what a control plane or a CI job runs to publish a
//! policy to a fleet (`docs/OPERATIONS.md`, "Running a fleet").
//!
//! The document is validated first (every error with where it is, exit 2);
//! org files already in `DIR` with the same content are not rewritten, and
//! the manifest is written last, atomically, so a gateway watching `DIR`
//! (or a server serving it) never sees a manifest naming a missing file.
//! Prints one line: the bundle revision, the orgs and the files written.

use std::path::PathBuf;
use std::process::ExitCode;

use reqflo_config::AssertionKey;

const UNUSABLE: u8 = 2;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Split a policy document into a bundle directory.
    Build(BuildArgs),
}

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The whole policy document (YAML or JSON).
    #[arg(long)]
    pub policy: PathBuf,
    /// The bundle directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Sign the manifest with this PKCS#8 PEM private key.
    #[arg(long)]
    pub sign: Option<PathBuf>,
    /// The signature's algorithm: `EdDSA` (Ed25519) or `ES256`.
    #[arg(long, default_value = "EdDSA")]
    pub algorithm: String,
    /// The `kid` in the signature's header.
    #[arg(long, default_value = "bundle")]
    pub kid: String,
    /// Mark the bundle all-or-nothing: one org that fails to compile keeps
    /// the whole previous bundle serving.
    #[arg(long)]
    pub all_or_nothing: bool,
}

pub fn run(command: &Command) -> ExitCode {
    match command {
        Command::Build(args) => build(args),
    }
}

fn build(args: &BuildArgs) -> ExitCode {
    let fail = |lines: Vec<String>| {
        for line in lines {
            eprintln!("error: {line}");
        }
        ExitCode::from(UNUSABLE)
    };
    let key = match &args.sign {
        None => None,
        Some(path) => {
            let key = std::fs::read_to_string(path)
                .map_err(|e| format!("{}: cannot read key file: {e}", path.display()))
                .and_then(|pem| {
                    AssertionKey::from_pem(&args.algorithm, &args.kid, &pem)
                        .map_err(|e| format!("{}: {e}", path.display()))
                });
            match key {
                Ok(key) => Some(key),
                Err(e) => return fail(vec![e]),
            }
        }
    };
    let document = match super::decide::load_document(&args.policy) {
        Ok((document, _)) => document,
        Err(errors) => return fail(errors),
    };
    match reqflo_config::bundle::build(&document, &args.out, key.as_ref(), args.all_or_nothing) {
        Ok(built) => {
            println!(
                "bundle {}: {} orgs, {} org file(s) written, {}; {}",
                built.manifest.revision,
                built.manifest.orgs.len(),
                built.written.len(),
                if key.is_some() { "signed" } else { "unsigned" },
                args.out
                    .join(reqflo_config::bundle::MANIFEST_FILE)
                    .display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(vec![e]),
    }
}
