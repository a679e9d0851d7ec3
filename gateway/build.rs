//! Records the commit the binary is built from, for the `build_info` metric.

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))
        // Outside a checkout (a container build), the builder may say it.
        .or_else(|| std::env::var("REQFLO_GIT_COMMIT").ok())
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    println!("cargo:rerun-if-env-changed=REQFLO_GIT_COMMIT");
    if let Some(commit) = commit {
        println!("cargo:rustc-env=REQFLO_GIT_COMMIT={commit}");
    }
    // A new commit changes HEAD, or the branch file it names.
    let mut watch = vec!["../.git/HEAD".to_owned(), "../.git/packed-refs".to_owned()];
    if let Ok(head) = std::fs::read_to_string("../.git/HEAD")
        && let Some(branch) = head.trim().strip_prefix("ref: ")
    {
        watch.push(format!("../.git/{branch}"));
    }
    for path in watch {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
