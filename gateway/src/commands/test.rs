//! `reqflo-gateway test`: runs policy scenario files (`docs/scenario-format.md`).
//!
//! One line per failing request on standard output —
//! `FAIL FILE: REQUEST NAME: field: expected …, got …; …` — then
//! `N passed, N failed` (counting requests). Files that cannot be read or are
//! invalid print every fault as `error: WHERE: message` on standard error.
//!
//! Exit status: 0 nothing failed, 1 a request failed, 2 a file was unusable.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use reqflo_policy::scenario::{self, Loaded, PolicySource, ScenarioError};

/// Exit status when a request failed.
const FAILED: u8 = 1;
/// Exit status when a file could not be read or is invalid.
const UNUSABLE: u8 = 2;

pub fn run(files: &[PathBuf]) -> ExitCode {
    let mut passed = 0usize;
    let mut failed = 0usize;
    let mut unusable = false;
    for file in files {
        let loaded = match load(file) {
            Ok(loaded) => loaded,
            Err(lines) => {
                for line in lines {
                    eprintln!("error: {line}");
                }
                unusable = true;
                continue;
            }
        };
        for outcome in loaded.run() {
            if outcome.passed() {
                passed += 1;
            } else {
                failed += 1;
                let differences: Vec<String> = outcome
                    .differences
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                println!(
                    "FAIL {}: {}: {}",
                    file.display(),
                    outcome.name,
                    differences.join("; ")
                );
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if unusable {
        ExitCode::from(UNUSABLE)
    } else if failed > 0 {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Reads a scenario and its policy; on failure, every line to print (without `error: `).
fn load(file: &Path) -> Result<Loaded, Vec<String>> {
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file)
        .map_err(|e| vec![format!("{shown}: cannot read scenario file: {e}")])?;
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let resolve =
        |include: &str| std::fs::read_to_string(base.join(include)).map_err(|e| e.to_string());
    scenario::load(&text, resolve).map_err(|error| match error {
        ScenarioError::Parse(e) => vec![e.located(&shown)],
        ScenarioError::Invalid(faults) => faults.iter().map(|f| format!("{shown}: {f}")).collect(),
        ScenarioError::Include { path, message } => {
            vec![format!(
                "{shown}: cannot read policy `{}`: {message}",
                base.join(path).display()
            )]
        }
        ScenarioError::Policy { path, source } => {
            vec![source.located(&base.join(path).display().to_string())]
        }
        ScenarioError::Validation(errors) => {
            // Name the file the faults are in: the included policy, or the scenario's `policy:`.
            let place = match scenario::parse(&text).map(|s| s.policy) {
                Ok(PolicySource::File(path)) => base.join(path).display().to_string(),
                _ => format!("{shown}: policy"),
            };
            errors.0.iter().map(|e| format!("{place}: {e}")).collect()
        }
    })
}
