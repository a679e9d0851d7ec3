//! End to end with real processes on ephemeral ports, for a second or so:
//! `compare` over the upstream and the pingora pass-through, and `run` over a
//! target it starts itself. Behaviour only, no timing assertions.

use std::path::PathBuf;
use std::process::Command;

fn loadtest() -> Command {
    Command::new(env!("CARGO_BIN_EXE_reqflo-loadtest"))
}

#[expect(
    clippy::unwrap_used,
    reason = "test helper: a missing report fails the test"
)]
fn json(path: &PathBuf) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn compare_runs_upstream_and_pingora_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("compare.json");
    let status = loadtest()
        .args([
            "compare",
            "--only",
            "upstream,pingora",
            "--duration",
            "500ms",
        ])
        .args([
            "--rounds",
            "2",
            "--warmup",
            "0s",
            "--connections",
            "2",
            "--threads",
            "1",
        ])
        .args(["--fail-on-errors", "--passthrough-bin"])
        .arg(env!("CARGO_BIN_EXE_reqflo-passthrough"))
        .arg("--json")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let report = json(&out);
    let rows = report["contenders"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["upstream", "pingora"]);
    for row in rows {
        assert!(row["report"]["requests"].as_u64().unwrap() > 0);
        assert_eq!(row["report"]["errors"].as_u64(), Some(0));
        assert_eq!(row["rounds"].as_array().unwrap().len(), 2);
        assert!(row["report"]["target"]["peak_rss_kib"].as_u64().unwrap() > 0);
    }
    // Ratios against pingora exist; against nginx they do not (not selected).
    assert_eq!(rows[1]["vs_pingora"]["throughput"].as_f64(), Some(1.0));
    assert!(rows[1]["vs_nginx"].is_null());
}

#[test]
fn run_starts_its_target_and_counts_unexpected_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mix = dir.path().join("mix.yaml");
    // The upstream answers 200 to everything: the second template expects
    // 403, so its requests are counted as errors by status.
    std::fs::write(
        &mix,
        "requests:\n  - { name: ok, weight: 3, path: /a }\n  - { name: wrong, weight: 1, path: /b, expect: [403] }\n",
    )
    .unwrap();
    let out = dir.path().join("run.json");
    let status = loadtest()
        .args(["run", "--target"])
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--mix")
        .arg(&mix)
        .args([
            "--connections",
            "2",
            "--duration",
            "500ms",
            "--rate",
            "400",
            "--json",
        ])
        .arg(&out)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_reqflo-loadtest"))
        .args(["upstream", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .status()
        .unwrap();
    assert!(status.success());
    let report = json(&out);
    let requests = report["requests"].as_u64().unwrap();
    let wrong = report["per_template"]["wrong"].as_u64().unwrap();
    assert!(requests > 0);
    assert_eq!(report["errors_by_status"]["200"].as_u64(), Some(wrong));
    assert_eq!(report["statuses"]["200"].as_u64(), Some(requests));
    assert!(report["target"]["cpu_seconds"].as_f64().is_some());
    assert_eq!(report["rate_rps"].as_f64(), Some(400.0));
}
