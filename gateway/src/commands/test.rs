//! `reqflo-gateway test`.

use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(files: &[PathBuf]) -> ExitCode {
    let _ = files;
    ExitCode::from(2)
}
