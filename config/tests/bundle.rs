//! Policy bundles from real directories: built, verified, loaded org by
//! org, reloaded through real `notify` events with only the changed org
//! compiled, a bad org rejected alone (or the whole bundle when it is
//! all-or-nothing), signatures and shards.

#![expect(
    clippy::unwrap_used,
    reason = "test setup helpers: a failed setup step fails the test"
)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use reqflo_config::bundle::{self, Manifest, Shard};
use reqflo_config::{AssertionKey, ErrorKind, ReloadEvent, Snapshot, WatchOptions, watch_with};
use reqflo_policy::Document;

use common::{config, events, next_change};

const ORGS: [&str; 3] = ["acme", "beta", "gamma"];

/// Three orgs, each with member `mia` and a restricted journey `j`; mia may
/// run `j` in the orgs of `allowed`; `broken` orgs hold a grant on a
/// resource that does not exist.
fn document(allowed: &[&str], broken: &[&str]) -> Document {
    let memberships: Vec<String> = ORGS
        .iter()
        .map(|o| format!("{{ org: {o}, status: active, roles: [member] }}"))
        .collect();
    let mut text = format!(
        "version: 1\nusers:\n  - {{ id: mia, memberships: [{}] }}\norgs:\n",
        memberships.join(", ")
    );
    for org in ORGS {
        text.push_str(&format!(
            "  - id: {org}\n    resources:\n      - {{ id: j, kind: journey, access_mode: restricted }}\n    grants:\n"
        ));
        if allowed.contains(&org) {
            text.push_str("      - { id: g, principal: { user: mia }, scope: { resource: j }, actions: [run] }\n");
        }
        if broken.contains(&org) {
            text.push_str("      - { id: bad, principal: { user: mia }, scope: { resource: nowhere }, actions: [run] }\n");
        }
        if !allowed.contains(&org) && !broken.contains(&org) {
            text.push_str("      []\n");
        }
    }
    Document::parse(&text.replace("    grants:\n      []\n", "")).unwrap()
}

fn may_run(snapshot: &Snapshot, org: &str) -> bool {
    let request = reqflo_policy::Request {
        org,
        user: "mia",
        action: "run".into(),
        resource: "j",
        environment: None,
    };
    reqflo_policy::decide(&snapshot.policy, &request).allowed
}

struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    /// A gateway.yaml whose policy is `bundle/manifest.json`, with `extra` appended.
    fn new(extra: &str) -> Dir {
        let dir = tempfile::tempdir().unwrap();
        let text = config(
            "bundle/manifest.json",
            "  - { id: run, methods: [POST], path: \"/orgs/{org}/journeys/{journey}/runs\", action: run, org: \"{org}\", resource: \"{journey}\", upstream: api }\n",
        );
        std::fs::write(dir.path().join("gateway.yaml"), format!("{text}{extra}")).unwrap();
        Dir { dir }
    }
    fn config(&self) -> PathBuf {
        self.dir.path().join("gateway.yaml")
    }
    fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }
    fn build(&self, doc: &Document, key: Option<&AssertionKey>, all_or_nothing: bool) -> Manifest {
        bundle::build(doc, &self.bundle(), key, all_or_nothing)
            .unwrap()
            .manifest
    }
    fn org_file(&self, manifest: &Manifest, org: &str) -> PathBuf {
        let entry = manifest.orgs.iter().find(|e| e.org == org).unwrap();
        self.bundle().join(&entry.file)
    }
    fn load(&self) -> Result<Snapshot, reqflo_config::ConfigErrors> {
        reqflo_config::load(&self.config())
    }
}

fn ed25519() -> (AssertionKey, String) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let key = AssertionKey::from_pem("EdDSA", "bundle-2026", &pair.serialize_pem()).unwrap();
    (key, pair.public_key_pem())
}

#[test]
fn a_bundle_decides_as_its_whole_document_does() {
    let d = Dir::new("");
    let doc = document(&["acme", "gamma"], &[]);
    let manifest = d.build(&doc, None, false);
    assert_eq!(manifest.orgs.len(), 3);
    let snapshot = d.load().unwrap();
    let state = snapshot.bundle.as_deref().unwrap();
    assert_eq!(state.revision, manifest.revision);
    assert_eq!(state.orgs.len(), 3);
    assert_eq!(state.compiled, 3);
    assert!(!state.verified && state.signed_by.is_none());
    assert!(snapshot.document.is_none());
    for org in ORGS {
        assert_eq!(may_run(&snapshot, org), org != "beta", "{org}");
    }
    // The same counts as the whole document's snapshot.
    let whole = reqflo_policy::Snapshot::compile(&doc).unwrap();
    assert_eq!(snapshot.policy.counts().resources, whole.counts().resources);
    assert_eq!(snapshot.policy.counts().grants, whole.counts().grants);
}

#[test]
fn a_rebuilt_bundle_rewrites_only_changed_org_files() {
    let d = Dir::new("");
    d.build(&document(&[], &[]), None, false);
    let again = bundle::build(&document(&["beta"], &[]), &d.bundle(), None, false).unwrap();
    assert_eq!(again.written.len(), 1, "{:?}", again.written);
    assert!(again.written[0].display().to_string().contains("beta."));
}

fn options() -> WatchOptions {
    WatchOptions {
        quiet: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
    }
}

fn applied(rx: &std::sync::mpsc::Receiver<ReloadEvent>) -> Arc<Snapshot> {
    match next_change(rx) {
        ReloadEvent::Applied { serving, .. } => serving,
        other => panic!("expected an applied reload, got {other:?}"),
    }
}

#[test]
fn a_changed_org_is_compiled_alone_and_the_others_are_shared() {
    let d = Dir::new("");
    d.build(&document(&[], &[]), None, false);
    let handle: Arc<ArcSwap<Snapshot>> = d.load().unwrap().into_handle();
    let before = handle.load_full();
    let (on_event, rx) = events();
    let _watch = watch_with(&d.config(), handle.clone(), options(), on_event).unwrap();

    d.build(&document(&["beta"], &[]), None, false);
    let now = applied(&rx);
    assert!(Arc::ptr_eq(&now, &handle.load_full()));
    let state = now.bundle.as_deref().unwrap();
    assert_eq!(state.compiled, 1, "only beta compiles");
    assert!(may_run(&now, "beta") && !may_run(&now, "acme"));
    let old = before.bundle.as_deref().unwrap();
    for (old, new) in old.orgs.iter().zip(&state.orgs) {
        let shared = now.policy.shares_org(old.serving.as_deref().unwrap());
        assert_eq!(shared, old.org != "beta", "{}", old.org);
        assert!(now.policy.shares_org(new.serving.as_deref().unwrap()));
    }
}

#[test]
fn a_bad_org_is_rejected_alone_and_its_previous_version_keeps_serving() {
    let d = Dir::new("");
    d.build(&document(&["beta"], &[]), None, false);
    let handle: Arc<ArcSwap<Snapshot>> = d.load().unwrap().into_handle();
    let beta_before = handle.load().bundle.as_ref().unwrap().orgs[1]
        .sha256
        .clone();
    let (on_event, rx) = events();
    let _watch = watch_with(&d.config(), handle.clone(), options(), on_event).unwrap();

    // acme gains a grant, beta breaks: acme applies, beta keeps serving its old version.
    let manifest = d.build(&document(&["acme", "beta"], &["beta"]), None, false);
    let now = applied(&rx);
    let state = now.bundle.as_deref().unwrap();
    assert_eq!(state.revision, manifest.revision);
    assert!(may_run(&now, "acme"), "acme's change applied");
    assert!(may_run(&now, "beta"), "beta's previous version serves");
    let beta = &state.orgs[1];
    assert_eq!(beta.org, "beta");
    assert_ne!(beta.sha256, beta_before);
    assert_eq!(beta.serving_sha256(), Some(beta_before.as_str()));
    assert_eq!(beta.rejected.len(), 1, "{:?}", beta.rejected);
    let error = &beta.rejected[0];
    assert_eq!(error.kind, ErrorKind::Policy);
    assert_eq!(error.file, d.org_file(&manifest, "beta"));
    assert!(error.message.contains("nowhere"), "{error}");
    assert_eq!(state.rejected().count(), 1);

    // The same change in an all-or-nothing bundle: nothing applies.
    let revision = handle.load().revision.clone();
    d.build(&document(&["gamma", "beta"], &["beta"]), None, true);
    match next_change(&rx) {
        ReloadEvent::Rejected {
            current, errors, ..
        } => {
            assert_eq!(current, revision);
            assert!(
                errors.0.iter().any(|e| e.message.contains("nowhere")),
                "{errors:?}"
            );
        }
        other => panic!("expected a rejected reload, got {other:?}"),
    }
    assert!(
        !may_run(&handle.load(), "gamma"),
        "gamma's change did not apply"
    );
}

#[test]
fn files_that_do_not_match_their_manifest_entry_are_rejected() {
    let d = Dir::new("");
    let manifest = d.build(&document(&["acme", "beta", "gamma"], &[]), None, false);
    // beta: one byte more; gamma: the same size, another byte.
    let beta = d.org_file(&manifest, "beta");
    let mut bytes = std::fs::read(&beta).unwrap();
    bytes.push(b' ');
    std::fs::write(&beta, &bytes).unwrap();
    let gamma = d.org_file(&manifest, "gamma");
    let text = std::fs::read_to_string(&gamma)
        .unwrap()
        .replacen("\"j\"", "\"k\"", 1);
    std::fs::write(&gamma, text).unwrap();
    let snapshot = d.load().unwrap();
    let state = snapshot.bundle.as_deref().unwrap();
    let rejected: Vec<(&str, &str)> = state
        .rejected()
        .map(|o| (o.org.as_str(), o.rejected[0].message.as_str()))
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(
        rejected[0].1.contains("is more bytes, the manifest says"),
        "{rejected:?}"
    );
    assert!(rejected[1].1.contains("has SHA-256"), "{rejected:?}");
    assert!(state.orgs[1].serving.is_none() && state.orgs[2].serving.is_none());
    // Not served: their requests are decided as for an org that does not exist.
    assert!(may_run(&snapshot, "acme"));
    assert!(!may_run(&snapshot, "beta") && !may_run(&snapshot, "gamma"));
    assert!(!snapshot.policy.has_org("beta"));
}

#[test]
fn a_manifest_entry_outside_the_bundle_or_above_the_cap_is_refused_unread() {
    let d = Dir::new("bundle: { max_org_bytes: 100000 }\n");
    let mut manifest = d.build(&document(&[], &[]), None, false);
    manifest.orgs[0].file = "../gateway.yaml".to_owned();
    manifest.orgs[1].size = 200_000;
    let text = serde_json::to_vec(&manifest).unwrap();
    std::fs::write(d.bundle().join("manifest.json"), text).unwrap();
    let snapshot = d.load().unwrap();
    let messages: Vec<&str> = snapshot
        .bundle
        .as_deref()
        .unwrap()
        .rejected()
        .map(|o| o.rejected[0].message.as_str())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].contains("is not a path inside the bundle"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("above `max_org_bytes` (100000)"),
        "{messages:?}"
    );
}

#[test]
fn with_a_key_configured_only_a_bundle_it_signed_loads() {
    let (key, public) = ed25519();
    let d = Dir::new("bundle: { public_key: bundle.pub.pem }\n");
    std::fs::write(d.dir.path().join("bundle.pub.pem"), &public).unwrap();
    let doc = document(&["acme"], &[]);

    // Unsigned: refused whole.
    d.build(&doc, None, false);
    let errors = d.load().unwrap_err();
    assert_eq!(errors.0[0].kind, ErrorKind::Bundle);
    assert!(errors.0[0].message.contains("not signed"), "{errors}");

    // Signed: loads, with the kid.
    let manifest = d.build(&doc, Some(&key), false);
    let snapshot = d.load().unwrap();
    let state = snapshot.bundle.as_deref().unwrap();
    assert!(state.verified);
    assert_eq!(state.signed_by.as_deref(), Some("bundle-2026"));
    assert!(may_run(&snapshot, "acme"));

    // A signed manifest edited afterwards (one org's hash swapped for another's).
    let mut tampered = manifest.clone();
    tampered.orgs[0].sha256 = manifest.orgs[1].sha256.clone();
    std::fs::write(
        d.bundle().join("manifest.json"),
        serde_json::to_vec(&tampered).unwrap(),
    )
    .unwrap();
    let errors = d.load().unwrap_err();
    assert!(errors.0[0].message.contains("does not verify"), "{errors}");

    // Signed by another key.
    let (other, _) = ed25519();
    d.build(&doc, Some(&other), false);
    let errors = d.load().unwrap_err();
    assert!(errors.0[0].message.contains("does not verify"), "{errors}");
}

#[test]
fn the_signature_covers_canonical_json_whatever_the_key_order() {
    let (key, public) = ed25519();
    let d = Dir::new("bundle: { public_key: bundle.pub.pem }\n");
    std::fs::write(d.dir.path().join("bundle.pub.pem"), &public).unwrap();
    d.build(&document(&[], &[]), Some(&key), false);
    // The same manifest, re-serialised with its keys in another order and indented.
    let path = d.bundle().join("manifest.json");
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut reordered = String::from("{\n");
    let object = value.as_object().unwrap();
    let mut keys: Vec<&String> = object.keys().collect();
    keys.reverse();
    for (i, k) in keys.iter().enumerate() {
        let sep = if i + 1 < keys.len() { "," } else { "" };
        reordered.push_str(&format!("  {:?}: {}{sep}\n", k, object[k.as_str()]));
    }
    reordered.push('}');
    std::fs::write(&path, reordered).unwrap();
    assert!(d.load().unwrap().bundle.as_deref().unwrap().verified);
}

#[test]
fn a_shard_compiles_only_its_orgs() {
    let d = Dir::new("bundle: { shard: { index: 1, count: 2 } }\n");
    d.build(&document(&["acme", "beta", "gamma"], &[]), None, false);
    let snapshot = d.load().unwrap();
    let state = snapshot.bundle.as_deref().unwrap();
    let expected: Vec<&str> = ORGS
        .iter()
        .copied()
        .filter(|o| bundle::shard_hash(o) % 2 == 1)
        .collect();
    let served: Vec<&str> = state.orgs.iter().map(|o| o.org.as_str()).collect();
    assert_eq!(served, expected);
    assert_eq!(state.not_served, 3 - expected.len());
    assert_eq!(state.shard, Shard::Hash { index: 1, count: 2 });
    for org in ORGS {
        assert_eq!(
            snapshot.policy.has_org(org),
            expected.contains(&org),
            "{org}"
        );
        assert_eq!(state.shard.serves(org), expected.contains(&org), "{org}");
    }

    let d = Dir::new("bundle: { shard: { orgs: [gamma] } }\n");
    d.build(&document(&[], &[]), None, false);
    let snapshot = d.load().unwrap();
    assert_eq!(snapshot.bundle.as_deref().unwrap().orgs.len(), 1);
    assert!(snapshot.policy.has_org("gamma") && !snapshot.policy.has_org("acme"));
}

#[test]
fn bundle_settings_are_checked() {
    let d = Dir::new("bundle: { shard: { index: 2, count: 2 }, max_org_bytes: 0 }\n");
    d.build(&document(&[], &[]), None, false);
    let errors = d.load().unwrap_err();
    let text = errors.to_string() + &format!("{errors:?}");
    assert!(text.contains("is not below `count: 2`"), "{text}");
    assert!(text.contains("max_org_bytes` is 0"), "{text}");

    // `bundle:` with a plain policy document.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.yaml");
    let text = common::marker_config("policy.yaml", "m");
    std::fs::write(&path, format!("{text}bundle: {{ max_org_bytes: 10 }}\n")).unwrap();
    std::fs::write(dir.path().join("policy.yaml"), common::policy(false, 0)).unwrap();
    let errors = reqflo_config::load(&path).unwrap_err();
    assert!(
        errors.to_string().contains("not a bundle's manifest"),
        "{errors}"
    );
}
