//! External programs some tests drive for real (Prometheus, promtool,
//! Chromium), found on `PATH` or in `/usr/sbin`.
//!
//! On a machine without one, the test that needs it says so on stderr and
//! returns; with `REQFLO_REQUIRE_TOOLS=1` (set by `.ci/run`, which installs
//! them) a missing program fails the test instead, so CI never passes by
//! skipping.

use std::path::PathBuf;

/// The program's path, or `None` after saying the test is skipped.
///
/// # Panics
/// When the program is missing and `REQFLO_REQUIRE_TOOLS` is `1`.
pub fn find(program: &str, package: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file());
    if found.is_none() {
        let required = std::env::var("REQFLO_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "`{program}` is not installed and REQFLO_REQUIRE_TOOLS=1: apt-get install -y {package}"
        );
        eprintln!(
            "skipped: `{program}` is not installed (apt-get install -y {package} runs this test)"
        );
    }
    found
}

/// The repository's root (the workspace directory).
pub fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
