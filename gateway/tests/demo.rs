//! `reqflo-gateway demo --check`: every curl line the demo prints answers as
//! printed (allowed runs, each seed denial, staging versus production, the
//! hot reload and a rejected broken edit), on ephemeral ports.

use std::process::Command;

#[test]
fn demo_requests_answer_as_printed() {
    let output = Command::new(env!("CARGO_BIN_EXE_reqflo-gateway"))
        .args([
            "demo",
            "--check",
            "--proxy",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "demo --check failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("demo check: every request answered as printed"),
        "{stdout}"
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
    // The guide prints the cast's tokens and a curl line per step.
    for var in ["MEMBER", "SUPPORT", "SECURITY", "OWNER"] {
        assert!(
            stdout.contains(&format!("export {var}='ey")),
            "no token for {var}"
        );
    }
    assert!(stdout.matches("curl -sS -i").count() >= 20, "{stdout}");
}
