//! Helpers shared by the integration tests: files in temp dirs, bounded waits.

#![allow(dead_code, reason = "each test binary uses a different subset")]
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed file write fails the test"
)]

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use reqflo_config::ReloadEvent;

/// How long any wait for a file event may take before the test fails.
pub const BOUND: Duration = Duration::from_secs(10);

/// The repository's `examples/` directory.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// A route config with trusted-header identity (no key files) and the given routes.
pub fn config(policy: &str, routes: &str) -> String {
    format!(
        r#"listen: {{ proxy: "127.0.0.1:0", admin: "127.0.0.1:0" }}
policy: {policy}
upstreams:
  api: {{ address: "127.0.0.1:9" }}
identity:
  trusted_header: {{ header: x-user, trusted_sources: ["127.0.0.1"] }}
routes:
{routes}"#
    )
}

/// One route `GET /m/{{x}}` with id `marker`: enough for most reload tests.
pub fn marker_config(policy: &str, marker: &str) -> String {
    config(
        policy,
        &format!(
            "  - {{ id: {marker}, methods: [GET], path: \"/orgs/{{org}}/journeys/{{journey}}\", action: run, resource: \"{{journey}}\", upstream: api }}\n"
        ),
    )
}

/// A policy where `mia` (a member) may run the restricted journey `j` only
/// when `allow` is set (through a grant), and org `acme` has `extra` resources.
pub fn policy(allow: bool, extra: usize) -> String {
    let mut text = String::from(
        "version: 1\nusers:\n  - { id: mia, memberships: [{ org: acme, status: active, roles: [member] }] }\norgs:\n  - id: acme\n    resources:\n      - { id: j, kind: journey, access_mode: restricted }\n",
    );
    for i in 0..extra {
        text.push_str(&format!("      - {{ id: r{i}, kind: journey }}\n"));
    }
    if allow {
        text.push_str("    grants:\n      - { id: g, principal: { user: mia }, scope: { resource: j }, actions: [run] }\n");
    }
    text
}

/// Whether `mia` may run `j` in `acme` on this snapshot.
pub fn mia_may_run(snapshot: &reqflo_config::Snapshot) -> bool {
    let request = reqflo_policy::Request {
        org: "acme",
        user: "mia",
        action: "run".into(),
        resource: "j",
        environment: None,
    };
    reqflo_policy::decide(&snapshot.policy, &request).allowed
}

/// Writes `text` to `path` in place (truncate and write, same inode).
pub fn write_in_place(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// Writes to a temporary file in the same directory, then renames it over `path`.
pub fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// An event channel for [`reqflo_config::watch`].
pub fn events() -> (
    impl FnMut(ReloadEvent) + Send + 'static,
    Receiver<ReloadEvent>,
) {
    let (tx, rx) = channel();
    (move |event| drop(tx.send(event)), rx)
}

/// The next event that is not `Unchanged`, within [`BOUND`].
pub fn next_change(rx: &Receiver<ReloadEvent>) -> ReloadEvent {
    let deadline = Instant::now() + BOUND;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(ReloadEvent::Unchanged { .. }) => continue,
            Ok(event) => return event,
            Err(e) => panic!("no reload event within {BOUND:?}: {e}"),
        }
    }
}

/// Waits for an `Applied` event and returns its revision; panics on anything else.
pub fn applied(rx: &Receiver<ReloadEvent>) -> String {
    match next_change(rx) {
        ReloadEvent::Applied { revision, .. } => revision,
        other => panic!("expected an applied reload, got {other:?}"),
    }
}
