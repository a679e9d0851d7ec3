//! Command-line front ends of the three subcommands.

pub mod compare;
pub mod run;
pub mod upstream;

use std::path::{Path, PathBuf};

/// A sibling binary of the running executable (same target directory).
pub fn sibling(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let candidate = dir.join(name);
    if candidate.is_file() {
        return Some(candidate);
    }
    // Test binaries live in `target/<profile>/deps`.
    let up = dir.parent().map(|d| d.join(name))?;
    up.is_file().then_some(up)
}

/// Writes `value` as pretty JSON to `path`.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}
