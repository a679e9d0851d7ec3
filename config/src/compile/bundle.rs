//! A policy bundle: verify the manifest, then compile only the orgs whose
//! file changed (in parallel), sharing every other org's compiled tables
//! with the snapshot serving now.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqflo_policy::{Document, OrgPolicy};

use super::{Errors, Inputs};
use crate::bundle::{
    BundleKey, BundleOrg, BundleSettings, BundleState, FetchSettings, Manifest, OrgEntry, Shard,
    Staleness, sha256_hex,
};
use crate::error::{ConfigError, ErrorKind};
use crate::raw::{RawBundle, RawShard};
use crate::snapshot::Snapshot;
use crate::source::Source;

/// Reads the `bundle:` section; errors are recorded.
pub(super) fn settings(inputs: &Inputs, errors: &mut Errors<'_>) -> Option<BundleSettings> {
    let default = RawBundle::default();
    let raw = inputs.raw.bundle.as_ref().unwrap_or(&default);
    let before = errors.len();
    let mut invalid = |key: &str, message: String| {
        errors.setting(ErrorKind::Invalid, "bundle", key, message);
    };
    if raw.max_org_bytes == 0 {
        invalid(
            "max_org_bytes",
            "bundle `max_org_bytes` is 0, which refuses every org".to_owned(),
        );
    }
    let shard = match &raw.shard {
        None => Shard::All,
        Some(RawShard::Orgs { orgs }) => {
            if orgs.is_empty() {
                invalid(
                    "shard",
                    "bundle `shard.orgs` is empty: this gateway would serve no org".to_owned(),
                );
            }
            Shard::Orgs(orgs.iter().cloned().collect())
        }
        Some(RawShard::Hash { index, count }) => {
            if *count == 0 || index >= count {
                invalid(
                    "shard",
                    format!("bundle shard `index: {index}` is not below `count: {count}`"),
                );
            }
            Shard::Hash {
                index: *index,
                count: *count,
            }
        }
    };
    let fetch = match &raw.url {
        None => None,
        Some(url) => {
            if let Err(why) = crate::compile::fetchable_url(url) {
                invalid("url", format!("bundle `url` `{url}` {why}"));
            }
            if raw.poll_interval_ms == 0 {
                invalid(
                    "poll_interval_ms",
                    "bundle `poll_interval_ms` is 0: the server would be polled without a pause"
                        .to_owned(),
                );
            }
            if raw.fetch_timeout_ms == 0 {
                invalid(
                    "fetch_timeout_ms",
                    "bundle `fetch_timeout_ms` is 0, which fails every fetch".to_owned(),
                );
            }
            Some(FetchSettings {
                url: url.trim_end_matches('/').to_owned(),
                poll_interval: Duration::from_millis(raw.poll_interval_ms),
                poll_jitter: Duration::from_millis(raw.poll_jitter_ms),
                long_poll: Duration::from_secs(raw.long_poll_seconds),
                timeout: Duration::from_millis(raw.fetch_timeout_ms),
            })
        }
    };
    let staleness = match raw.max_staleness_ms {
        None => None,
        Some(ms) => {
            if raw.url.is_none() {
                invalid(
                    "max_staleness_ms",
                    "bundle `max_staleness_ms` needs `url`: only a fetched bundle is confirmed by its server".to_owned(),
                );
            }
            if ms == 0 {
                invalid(
                    "max_staleness_ms",
                    "bundle `max_staleness_ms` is 0: every protected request would be denied"
                        .to_owned(),
                );
            }
            let mut protects = Vec::new();
            for level in &raw.stale_protects {
                match reqflo_policy::RiskLevel::parse(level) {
                    Some(l) => protects.push(l),
                    None => invalid(
                        "stale_protects",
                        format!(
                            "bundle `stale_protects` names `{level}`, not a risk level ({})",
                            reqflo_policy::RiskLevel::ALL
                                .iter()
                                .map(|l| l.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ),
                }
            }
            Some(Staleness {
                max: Duration::from_millis(ms),
                protects,
                not_ready: raw.stale_not_ready,
            })
        }
    };
    let key = match &inputs.bundle_key {
        None => None,
        Some((path, bytes)) => {
            let parsed = bytes
                .as_ref()
                .map_err(|e| format!("cannot read key file `{}`: {e}", path.display()))
                .and_then(|b| {
                    BundleKey::from_pem(&raw.algorithm, b)
                        .map_err(|e| format!("key file `{}` {e}", path.display()))
                });
            match parsed {
                Ok(key) => Some(key),
                Err(message) => {
                    errors.push(ConfigError {
                        kind: ErrorKind::KeyFile,
                        file: inputs.config_path.clone(),
                        line: raw
                            .public_key
                            .as_deref()
                            .and_then(|k| crate::lines::value_line(errors.text(), "public_key", k)),
                        column: None,
                        route: None,
                        message: format!("bundle public key: {message}"),
                    });
                    None
                }
            }
        }
    };
    (errors.len() == before).then(|| BundleSettings {
        key,
        max_org_bytes: raw.max_org_bytes,
        shard,
        fetch,
        cache_dir: inputs
            .policy_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        staleness,
    })
}

/// Why an org did not compile: every error, and whether its file is not
/// there (then the same manifest is worth compiling again once it is).
struct OrgFailure {
    errors: Vec<ConfigError>,
    missing: bool,
}

/// One org compiled, or why not.
type OrgResult = Result<Arc<OrgPolicy>, OrgFailure>;

/// What a bundle compiled to.
pub(super) struct Compiled {
    pub policy: reqflo_policy::Snapshot,
    pub state: BundleState,
}

fn bundle_error(file: &Path, message: String) -> ConfigError {
    ConfigError {
        kind: ErrorKind::Bundle,
        file: file.to_owned(),
        line: None,
        column: None,
        route: None,
        message,
    }
}

/// Verifies the manifest and compiles the bundle. Manifest faults (not a
/// manifest, signature) are recorded in `errors` and nothing compiles; an
/// org that fails is listed in the state with its errors and its previous
/// version keeps serving, unless the manifest is all-or-nothing (then its
/// errors are recorded in `errors`).
pub(super) fn compile(
    source: &dyn Source,
    inputs: &Inputs,
    settings: &BundleSettings,
    previous: Option<&Snapshot>,
    errors: &mut Errors<'_>,
) -> Option<Compiled> {
    let text = match &inputs.policy_text {
        Ok(text) => text,
        // A fetched bundle with nothing cached yet: serve nothing until the
        // server answers (the gateway is not ready meanwhile).
        Err(_) if settings.fetch.is_some() && !inputs.policy_path.exists() => {
            return Some(nothing_cached(settings, None));
        }
        Err(e) => {
            errors.push(e.clone());
            return None;
        }
    };
    // A fetched bundle's cache that is unusable at start is ignored (the
    // server is asked instead); on a reload it is refused like any bundle.
    let ignore_cache = settings.fetch.is_some() && previous.is_none();
    let manifest = match Manifest::parse(text.as_bytes()) {
        Ok(m) => m,
        Err(message) if ignore_cache => return Some(nothing_cached(settings, Some(message))),
        Err(message) => {
            errors.push(bundle_error(&inputs.policy_path, message));
            return None;
        }
    };
    let signed_by = match &settings.key {
        None => None,
        Some(key) => match manifest.verify(key) {
            Ok(kid) => kid,
            Err(message) if ignore_cache => {
                return Some(nothing_cached(settings, Some(message)));
            }
            Err(message) => {
                errors.push(bundle_error(&inputs.policy_path, message));
                return None;
            }
        },
    };
    let base = inputs
        .policy_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let before: std::collections::HashMap<&str, &BundleOrg> = previous
        .and_then(|p| p.bundle.as_deref())
        .map(|b| b.orgs.iter().map(|o| (o.org.as_str(), o)).collect())
        .unwrap_or_default();

    let mut seen = std::collections::HashSet::new();
    let mut served: Vec<&OrgEntry> = Vec::new();
    let mut not_served = 0;
    for entry in &manifest.orgs {
        if !seen.insert(entry.org.as_str()) {
            errors.push(bundle_error(
                &inputs.policy_path,
                format!("the manifest lists org `{}` twice", entry.org),
            ));
            return None;
        }
        if settings.shard.serves(&entry.org) {
            served.push(entry);
        } else {
            not_served += 1;
        }
    }
    // Orgs whose file changed: compiled now, in parallel.
    let changed: Vec<&OrgEntry> = served
        .iter()
        .copied()
        .filter(|e| before.get(e.org.as_str()).and_then(|o| o.serving_sha256()) != Some(&*e.sha256))
        .collect();
    let results = compile_all(source, &base, &changed, settings.max_org_bytes);
    let mut results: std::collections::HashMap<&str, OrgResult> = changed
        .iter()
        .map(|e| e.org.as_str())
        .zip(results)
        .collect();

    let mut orgs = Vec::with_capacity(served.len());
    let mut failed = false;
    for entry in served {
        let old = before.get(entry.org.as_str());
        let (serving, rejected, missing) = match results.remove(entry.org.as_str()) {
            None => (old.and_then(|o| o.serving.clone()), Vec::new(), false),
            Some(Ok(compiled)) => (Some(compiled), Vec::new(), false),
            Some(Err(failure)) => {
                failed = true;
                (
                    old.and_then(|o| o.serving.clone()),
                    failure.errors,
                    failure.missing,
                )
            }
        };
        let missing_file = missing.then(|| base.join(&entry.file));
        orgs.push(BundleOrg {
            org: entry.org.clone(),
            sha256: entry.sha256.clone(),
            serving,
            rejected,
            missing_file,
        });
    }
    if failed && manifest.all_or_nothing {
        for org in &orgs {
            for e in &org.rejected {
                errors.push(e.clone());
            }
        }
        return None;
    }
    let parts: Vec<Arc<OrgPolicy>> = orgs.iter().filter_map(|o| o.serving.clone()).collect();
    let policy = reqflo_policy::Snapshot::from_orgs(inputs.policy_revision.clone(), &parts);
    Some(Compiled {
        policy,
        state: BundleState {
            revision: manifest.revision.clone(),
            all_or_nothing: manifest.all_or_nothing,
            verified: settings.key.is_some(),
            signed_by,
            shard: settings.shard.clone(),
            orgs,
            not_served,
            compiled: changed.len(),
            missing: false,
            cache_ignored: None,
        },
    })
}

/// A fetched bundle with nothing usable cached: nothing is served until
/// the server answers (`/readyz` says so).
fn nothing_cached(settings: &BundleSettings, ignored: Option<String>) -> Compiled {
    Compiled {
        policy: reqflo_policy::Snapshot::from_orgs(String::new(), &[]),
        state: BundleState {
            revision: String::new(),
            all_or_nothing: false,
            signed_by: None,
            verified: settings.key.is_some(),
            shard: settings.shard.clone(),
            orgs: Vec::new(),
            not_served: 0,
            compiled: 0,
            missing: true,
            cache_ignored: ignored,
        },
    }
}

/// Compiles each entry, on every core; results in `entries`' order.
fn compile_all(
    source: &dyn Source,
    base: &Path,
    entries: &[&OrgEntry],
    max_bytes: u64,
) -> Vec<OrgResult> {
    let threads = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .min(entries.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<OrgResult>> = (0..entries.len()).map(|_| None).collect();
    let done: Vec<Vec<(usize, OrgResult)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(entry) = entries.get(i) else {
                            return out;
                        };
                        out.push((i, compile_org(source, base, entry, max_bytes)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    for (i, result) in done.into_iter().flatten() {
        if let Some(slot) = slots.get_mut(i) {
            *slot = Some(result);
        }
    }
    slots
        .into_iter()
        .map(|s| {
            s.unwrap_or_else(|| {
                Err(OrgFailure {
                    errors: vec![bundle_error(
                        base,
                        "the org's compile thread failed".to_owned(),
                    )],
                    missing: false,
                })
            })
        })
        .collect()
}

/// Reads, checks and compiles one org file.
fn compile_org(source: &dyn Source, base: &Path, entry: &OrgEntry, max_bytes: u64) -> OrgResult {
    let path: PathBuf = base.join(&entry.file);
    let fail = |message: String| OrgFailure {
        errors: vec![bundle_error(
            &path,
            format!("org `{}`: {message}", entry.org),
        )],
        missing: false,
    };
    if entry.file.starts_with('/') || entry.file.split('/').any(|part| part == "..") {
        return Err(fail(format!(
            "file `{}` is not a path inside the bundle",
            entry.file
        )));
    }
    if entry.size > max_bytes {
        return Err(fail(format!(
            "the manifest says {} bytes, above `max_org_bytes` ({max_bytes})",
            entry.size
        )));
    }
    let bytes = source.read_at_most(&path, entry.size).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            OrgFailure {
                missing: true,
                ..fail(format!("`{}` is not in the bundle directory", entry.file))
            }
        } else {
            fail(format!("cannot read `{}`: {e}", entry.file))
        }
    })?;
    if bytes.len() as u64 != entry.size {
        let size = if bytes.len() as u64 > entry.size {
            "more".to_owned()
        } else {
            bytes.len().to_string()
        };
        return Err(fail(format!(
            "`{}` is {size} bytes, the manifest says {}",
            entry.file, entry.size
        )));
    }
    let sha256 = sha256_hex(&bytes);
    if sha256 != entry.sha256 {
        return Err(fail(format!(
            "`{}` has SHA-256 {sha256}, the manifest says {}",
            entry.file, entry.sha256
        )));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| fail("the file is not UTF-8".to_owned()))?;
    let document = Document::parse(text).map_err(|e| fail(format!("does not parse: {e}")))?;
    if document.orgs.first().map(|o| o.id.as_str()) != Some(entry.org.as_str()) {
        return Err(fail(format!(
            "`{}` does not hold org `{}`",
            entry.file, entry.org
        )));
    }
    OrgPolicy::compile(&document, sha256)
        .map(Arc::new)
        .map_err(|failures| OrgFailure {
            errors: failures
                .0
                .into_iter()
                .map(|f| ConfigError {
                    kind: ErrorKind::Policy,
                    file: path.clone(),
                    line: crate::lines::policy_path_line(text, &f.path),
                    column: None,
                    route: None,
                    message: format!("org `{}`: {f}", entry.org),
                })
                .collect(),
            missing: false,
        })
}
