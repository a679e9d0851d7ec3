//! Hot reload with real files in temporary directories and real `notify`
//! events: every shape of change is seen, changes decisions, and only what
//! compiled is ever served.

#![expect(
    clippy::unwrap_used,
    reason = "test setup helpers: a failed setup step fails the test"
)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use arc_swap::ArcSwap;
use reqflo_config::{ErrorKind, ReloadEvent, Snapshot, WatchHandle, WatchOptions, watch_with};

use common::{
    applied, events, marker_config, mia_may_run, next_change, policy, write_atomic, write_in_place,
};

struct Running {
    _dir: tempfile::TempDir,
    config: PathBuf,
    policy: PathBuf,
    handle: Arc<ArcSwap<Snapshot>>,
    watch: WatchHandle,
    rx: Receiver<ReloadEvent>,
}

fn options() -> WatchOptions {
    WatchOptions {
        quiet: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
    }
}

/// A gateway.yaml + policy.yaml in a fresh directory (mia may not run `j`), loaded and watched.
fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.yaml");
    let policy_path = dir.path().join("policy.yaml");
    write_in_place(&config, &marker_config("policy.yaml", "first"));
    write_in_place(&policy_path, &policy(false, 0));
    watch_dir(dir, config, policy_path)
}

fn watch_dir(dir: tempfile::TempDir, config: PathBuf, policy: PathBuf) -> Running {
    let handle = reqflo_config::load(&config).unwrap().into_handle();
    assert!(!mia_may_run(&handle.load()));
    let (on_event, rx) = events();
    let watch = watch_with(&config, handle.clone(), options(), on_event).unwrap();
    Running {
        _dir: dir,
        config,
        policy,
        handle,
        watch,
        rx,
    }
}

fn route_id(snapshot: &Snapshot) -> String {
    snapshot.routes.routes()[0].id.to_string()
}

#[test]
fn in_place_write_of_the_policy_changes_decisions() {
    let r = start();
    let before = r.handle.load().revision.clone();
    write_in_place(&r.policy, &policy(true, 0));
    let revision = applied(&r.rx);
    let now = r.handle.load();
    assert_eq!(now.revision, revision);
    assert_ne!(revision, before);
    assert!(mia_may_run(&now));
}

#[test]
fn in_place_write_of_the_config_changes_routes() {
    let r = start();
    write_in_place(&r.config, &marker_config("policy.yaml", "second"));
    applied(&r.rx);
    assert_eq!(route_id(&r.handle.load()), "second");
}

#[test]
fn atomic_rename_over_the_file_is_seen() {
    let r = start();
    write_atomic(&r.policy, &policy(true, 0));
    applied(&r.rx);
    assert!(mia_may_run(&r.handle.load()));
}

#[test]
fn delete_then_recreate_keeps_serving_then_applies() {
    let r = start();
    let before = r.handle.load().revision.clone();
    std::fs::remove_file(&r.policy).unwrap();
    match next_change(&r.rx) {
        ReloadEvent::Rejected {
            current, errors, ..
        } => {
            assert_eq!(current, before);
            assert!(
                errors.of_kind(ErrorKind::Read).any(|e| e.file == r.policy),
                "{errors:?}"
            );
        }
        other => panic!("expected a rejected reload, got {other:?}"),
    }
    assert_eq!(
        r.handle.load().revision,
        before,
        "the last good snapshot keeps serving"
    );
    write_in_place(&r.policy, &policy(true, 0));
    applied(&r.rx);
    assert!(mia_may_run(&r.handle.load()));
}

/// Lays out a directory the way the kubelet mounts a ConfigMap:
/// `gateway.yaml -> ..data/gateway.yaml`, `..data -> ..<version>/`.
fn configmap_version(dir: &Path, version: &str, allow: bool) {
    let versioned = dir.join(version);
    std::fs::create_dir(&versioned).unwrap();
    write_in_place(
        &versioned.join("gateway.yaml"),
        &marker_config("policy.yaml", version.trim_start_matches('.')),
    );
    write_in_place(&versioned.join("policy.yaml"), &policy(allow, 0));
    // Atomic swap of `..data`, as the kubelet's AtomicWriter does.
    std::os::unix::fs::symlink(version, dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
}

#[test]
fn kubernetes_configmap_symlink_swap_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    configmap_version(dir.path(), "..v1", false);
    for name in ["gateway.yaml", "policy.yaml"] {
        std::os::unix::fs::symlink(Path::new("..data").join(name), dir.path().join(name)).unwrap();
    }
    let config = dir.path().join("gateway.yaml");
    let policy_path = dir.path().join("policy.yaml");
    let r = watch_dir(dir, config, policy_path);
    assert_eq!(route_id(&r.handle.load()), "v1");

    configmap_version(r._dir.path(), "..v2", true);
    std::fs::remove_dir_all(r._dir.path().join("..v1")).unwrap();
    applied(&r.rx);
    let now = r.handle.load();
    assert_eq!(route_id(&now), "v2");
    assert!(mia_may_run(&now));
}

#[test]
fn a_burst_of_writes_is_one_reload_ending_on_the_last_content() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.yaml");
    let policy_path = dir.path().join("policy.yaml");
    write_in_place(&config, &marker_config("policy.yaml", "first"));
    write_in_place(&policy_path, &policy(false, 0));
    let handle = reqflo_config::load(&config).unwrap().into_handle();
    let (on_event, rx) = events();
    // A generous quiet period, so the burst below (which takes milliseconds)
    // is one burst even on a busy machine.
    let options = WatchOptions {
        quiet: Duration::from_millis(500),
        max_delay: Duration::from_secs(10),
    };
    let watch = watch_with(&config, handle.clone(), options, on_event).unwrap();

    for i in 0..100 {
        // Alternate so every write changes the content; the last one allows.
        write_in_place(&policy_path, &policy(i % 2 == 1, i % 7));
    }
    let last = std::fs::read_to_string(&policy_path).unwrap();
    let revision = applied(&rx);
    assert_eq!(handle.load().revision, revision);
    assert!(mia_may_run(&handle.load()));
    assert_eq!(
        handle.load().policy_revision,
        Snapshot::from_texts(&config, &marker_config("policy.yaml", "first"), &last)
            .unwrap()
            .policy_revision
    );

    // Nothing else was applied: whatever is still queued is processed before
    // this manual reload, and the content is the last write's, so every
    // later attempt can only report `Unchanged`.
    watch.reload_now();
    match rx.recv_timeout(common::BOUND).unwrap() {
        ReloadEvent::Unchanged { revision: same } => assert_eq!(same, revision),
        other => panic!("the burst caused a second reload: {other:?}"),
    }
}

#[test]
fn a_bad_file_keeps_the_old_revision_serving_and_says_why() {
    let r = start();
    let good = r.handle.load().revision.clone();
    // A policy that parses but fails validation, and a config route with an unknown action.
    write_in_place(
        &r.policy,
        "version: 1\norgs:\n  - id: acme\n    resources:\n      - { id: j, kind: journey, depends_on: [ghost] }\n",
    );
    let tried = match next_change(&r.rx) {
        ReloadEvent::Rejected {
            revision_tried,
            current,
            errors,
        } => {
            assert_eq!(current, good);
            assert!(errors.of_kind(ErrorKind::Policy).count() >= 1, "{errors:?}");
            assert!(errors.0.iter().all(|e| e.file == r.policy), "{errors:?}");
            revision_tried.unwrap()
        }
        other => panic!("expected a rejected reload, got {other:?}"),
    };
    assert_ne!(tried, good);
    assert_eq!(r.handle.load().revision, good);
    assert!(!mia_may_run(&r.handle.load()));

    // Fix it: the next good content applies.
    write_in_place(&r.policy, &policy(true, 0));
    applied(&r.rx);
    assert!(mia_may_run(&r.handle.load()));
}

#[test]
fn unparseable_config_is_rejected_with_its_line() {
    let r = start();
    write_in_place(&r.config, "listen: [unclosed\n");
    match next_change(&r.rx) {
        ReloadEvent::Rejected { errors, .. } => {
            let e = &errors.0[0];
            assert_eq!(
                (e.kind, e.file.as_path()),
                (ErrorKind::Parse, r.config.as_path())
            );
            assert!(e.line.is_some(), "{e}");
        }
        other => panic!("expected a rejected reload, got {other:?}"),
    }
    assert_eq!(route_id(&r.handle.load()), "first");
}

#[test]
fn same_content_is_unchanged_and_reload_now_rereads() {
    let r = start();
    let revision = r.handle.load().revision.clone();
    let text = std::fs::read_to_string(&r.policy).unwrap();
    write_in_place(&r.policy, &text);
    match r.rx.recv_timeout(common::BOUND).unwrap() {
        ReloadEvent::Unchanged { revision: same } => assert_eq!(same, revision),
        other => panic!("expected unchanged, got {other:?}"),
    }
    // A manual reload (SIGHUP) re-reads even without an event.
    r.watch.reload_now();
    assert!(matches!(
        r.rx.recv_timeout(common::BOUND).unwrap(),
        ReloadEvent::Unchanged { .. }
    ));
    assert_eq!(r.handle.load().revision, revision);
}

#[test]
fn readers_never_see_a_torn_snapshot_across_1000_swaps() {
    const SWAPS: usize = 1000;
    let path = Path::new("/nonexistent/gateway.yaml");
    // Build k: route `m{k}`, and mia may run `j` exactly when k is odd.
    let build = |k: usize| {
        Snapshot::from_texts(
            path,
            &marker_config("policy.yaml", &format!("m{k}")),
            &policy(k % 2 == 1, k % 5),
        )
        .unwrap()
    };
    let builds: Vec<Snapshot> = (0..SWAPS).map(build).collect();
    let expected: Arc<Vec<(String, String)>> = Arc::new(
        builds
            .iter()
            .map(|s| (s.revision.clone(), s.policy_revision.clone()))
            .collect(),
    );

    let handle = Arc::new(ArcSwap::from_pointee(build(0)));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (handle, done, expected) = (handle.clone(), done.clone(), expected.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !done.load(Ordering::Acquire) || reads == 0 {
                    // One load per request; everything below decides with it.
                    let snapshot = handle.load();
                    let route = snapshot
                        .routes
                        .lookup("GET", "/orgs/acme/journeys/j")
                        .unwrap();
                    let k: usize = route.route.id.trim_start_matches('m').parse().unwrap();
                    assert_eq!(snapshot.revision, expected[k].0, "revision of build {k}");
                    assert_eq!(
                        snapshot.policy_revision, expected[k].1,
                        "policy of build {k}"
                    );
                    assert_eq!(mia_may_run(&snapshot), k % 2 == 1, "decision of build {k}");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for snapshot in builds {
        handle.store(Arc::new(snapshot));
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        assert!(reader.join().unwrap() > 0);
    }
    assert_eq!(
        handle.load().routes.routes()[0].id.as_ref(),
        format!("m{}", SWAPS - 1)
    );
}

#[test]
fn stop_ends_the_watch() {
    let r = start();
    r.watch.stop();
    write_in_place(&r.policy, &policy(true, 0));
    // The thread is gone (its event sender with it), and the handle is untouched.
    assert!(r.rx.recv().is_err());
    assert!(!mia_may_run(&r.handle.load()));
}

#[test]
fn a_key_file_in_another_directory_is_watched_too() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let key = keys.join("signing.pem");
    let pem = std::fs::read_to_string(common::examples().join("keys/rsa-public.pem")).unwrap();
    write_in_place(&key, &pem);
    let config = dir.path().join("gateway.yaml");
    let text = marker_config("policy.yaml", "first").replace(
        "identity:\n  trusted_header: { header: x-user, trusted_sources: [\"127.0.0.1\"] }\n",
        "identity:\n  jwt: { issuer: i, audiences: [a], algorithms: [RS256], keys: [{ kid: k, algorithm: RS256, file: keys/signing.pem }] }\n",
    );
    write_in_place(&config, &text);
    write_in_place(&dir.path().join("policy.yaml"), &policy(false, 0));
    let r = watch_dir(dir, config, PathBuf::new());
    let good = r.handle.load().revision.clone();

    // A broken key is rejected and the old snapshot keeps serving.
    write_in_place(&key, "not a key\n");
    match next_change(&r.rx) {
        ReloadEvent::Rejected { errors, .. } => {
            assert!(
                errors
                    .of_kind(ErrorKind::KeyFile)
                    .any(|e| e.message.contains("signing.pem")),
                "{errors:?}"
            )
        }
        other => panic!("expected a rejected reload, got {other:?}"),
    }
    assert_eq!(r.handle.load().revision, good);
    // A rotated (here: reformatted) key applies, with a new revision.
    write_atomic(&key, &format!("{pem}\n"));
    assert_ne!(applied(&r.rx), good);
}

#[test]
fn a_policy_moved_to_another_directory_is_followed_even_before_it_exists() {
    let r = start();
    let other = r._dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    // The config now names a policy file that is not there yet: rejected…
    write_in_place(&r.config, &marker_config("other/policy.yaml", "moved"));
    match next_change(&r.rx) {
        ReloadEvent::Rejected { errors, .. } => {
            assert!(
                errors
                    .of_kind(ErrorKind::Read)
                    .any(|e| e.file == other.join("policy.yaml")),
                "{errors:?}"
            )
        }
        other => panic!("expected a rejected reload, got {other:?}"),
    }
    assert_eq!(route_id(&r.handle.load()), "first");
    // …and its directory is watched, so the file appearing applies both.
    write_atomic(&other.join("policy.yaml"), &policy(true, 0));
    applied(&r.rx);
    let now = r.handle.load();
    assert_eq!(route_id(&now), "moved");
    assert!(mia_may_run(&now));
}
