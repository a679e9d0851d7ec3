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

/// Chromium (Debian's `chromium`), or `None` after saying the check is
/// skipped; with `REQFLO_REQUIRE_TOOLS=1` (CI) a missing browser fails.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("REQFLO_REQUIRE_TOOLS").map_or(true, |v| v != "1"),
            "chromium is not installed and REQFLO_REQUIRE_TOOLS=1: apt-get install -y chromium"
        );
        eprintln!(
            "skipped: chromium is not installed (apt-get install -y chromium runs this check)"
        );
    }
    found
}

/// Takes a screenshot of `page` in headless Chromium and checks it is a
/// PNG of the asked size with a drawing on it, not a blank or error page.
#[expect(clippy::unwrap_used, reason = "test helper")]
fn render_in_chromium(page: &std::path::Path, png: &std::path::Path) {
    let Some(browser) = chromium() else {
        return;
    };
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1100,1600",
        ])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let bytes = std::fs::read(png).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1100, 1600));
    // A white page of that size compresses to a few KiB; curves, bars,
    // labels and the table take far more.
    assert!(bytes.len() > 40_000, "{} bytes: a blank page?", bytes.len());
}

#[test]
fn compare_runs_upstream_and_pingora_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("compare.json");
    let html = dir.path().join("compare.html");
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
        .arg("--html")
        .arg(&html)
        .status()
        .unwrap();
    assert!(status.success());
    let report = json(&out);
    let rows = report["contenders"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["upstream", "pingora"]);
    // The HTML report: a percentile curve per contender, CPU bars for the
    // measured ones, and it renders in a real browser.
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<polyline").count(), 2, "{page}");
    assert!(page.contains("CPU per request"), "{page}");
    render_in_chromium(&html, &dir.path().join("compare.png"));
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
