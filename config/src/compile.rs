//! Validating the route config and the policy together, and compiling them.
//!
//! Two stages: [`read_inputs`] reads every file (config, the policy it names,
//! key files) and hashes them, which is cheap and lets the reloader skip
//! unchanged content; [`compile`] validates and builds, collecting every error.

mod bundle;
mod errors;
mod policy;
mod routes;
mod settings;
pub use settings::fetchable_url;
mod tls;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::error::{ConfigError, ConfigErrors, ErrorKind};
use crate::raw::RawConfig;
use crate::snapshot::Snapshot;
use crate::source::Source;

pub(crate) use errors::Errors;

/// Everything read for one build attempt.
#[derive(Debug)]
pub(crate) struct Inputs {
    pub config_path: PathBuf,
    pub config_text: String,
    pub raw: RawConfig,
    pub policy_path: PathBuf,
    /// The policy text, or the error reading it.
    pub policy_text: Result<String, ConfigError>,
    /// Key file path → bytes, or the read error message.
    pub keys: Vec<(PathBuf, Result<Vec<u8>, String>)>,
    /// The assertion signing key file → bytes, or the read error message.
    pub assertion_key: Option<(PathBuf, Result<Vec<u8>, String>)>,
    /// Every TLS file the config names → bytes, or the read error message.
    pub tls_files: Vec<(PathBuf, Result<Vec<u8>, String>)>,
    /// The bundle's public key file → bytes, or the read error message.
    pub bundle_key: Option<(PathBuf, Result<Vec<u8>, String>)>,
    /// Whether `policy` names a bundle manifest rather than a document.
    pub is_bundle: bool,
    pub revision: String,
    pub config_revision: String,
    pub policy_revision: String,
}

/// A build attempt that failed, with the revision of what was tried where known.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub revision: Option<String>,
    pub errors: ConfigErrors,
    /// The files the attempt read (or tried to), for the watcher.
    pub files: Vec<PathBuf>,
}

/// Every input file is named by the same revision function as the policy
/// crate's, so `decide`, `validate` and the gateway agree on a file's revision.
fn short_hash(bytes: &[u8]) -> String {
    reqflo_policy::content_revision(bytes)
}

/// The directory relative paths in `config_path` resolve against.
pub(crate) fn base_dir(config_path: &Path) -> PathBuf {
    config_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

pub(crate) fn resolve(config_path: &Path, file: &str) -> PathBuf {
    base_dir(config_path).join(file)
}

/// The policy path a config text names, resolved against its directory.
pub(crate) fn policy_path_of(config_path: &Path, config: &str) -> Option<PathBuf> {
    RawConfig::parse(config)
        .ok()
        .map(|raw| resolve(config_path, &raw.policy))
}

fn read_text(source: &dyn Source, path: &Path) -> Result<String, ConfigError> {
    let read_error = |message: String| ConfigError {
        kind: ErrorKind::Read,
        file: path.to_owned(),
        line: None,
        column: None,
        route: None,
        message,
    };
    let bytes = source
        .read(path)
        .map_err(|e| read_error(format!("cannot read file: {e}")))?;
    String::from_utf8(bytes).map_err(|_| read_error("file is not valid UTF-8".to_owned()))
}

/// Reads the config, the policy and key files, and hashes them all.
///
/// Fails only when the config itself cannot be read or parsed; a missing
/// policy or key file is reported later by [`compile`], with the rest.
pub(crate) fn read_inputs(source: &dyn Source, config_path: &Path) -> Result<Inputs, Rejection> {
    let config_text = read_text(source, config_path).map_err(|e| Rejection {
        files: vec![config_path.to_owned()],
        revision: None,
        errors: ConfigErrors(vec![e]),
    })?;
    let config_revision = short_hash(config_text.as_bytes());
    let raw = RawConfig::parse(&config_text).map_err(|e| {
        let (line, column) = e.position().unzip();
        Rejection {
            files: vec![config_path.to_owned()],
            revision: Some(config_revision.clone()),
            errors: ConfigErrors(vec![ConfigError {
                kind: ErrorKind::Parse,
                file: config_path.to_owned(),
                line,
                column,
                route: None,
                message: crate::suggest::serde_message(&e.to_string()),
            }]),
        }
    })?;
    let policy_path = resolve(config_path, &raw.policy);
    let policy = read_text(source, &policy_path);
    let mut keys = Vec::new();
    if let crate::raw::RawIdentity::Jwt(jwt) = &raw.identity {
        for key in &jwt.keys {
            let path = resolve(config_path, &key.file);
            let bytes = source.read(&path).map_err(|e| e.to_string());
            keys.push((path, bytes));
        }
    }
    let assertion_key = raw.assertion.as_ref().map(|a| {
        let path = resolve(config_path, &a.key);
        let bytes = source.read(&path).map_err(|e| e.to_string());
        (path, bytes)
    });
    let bundle_key = raw
        .bundle
        .as_ref()
        .and_then(|b| b.public_key.as_deref())
        .map(|file| {
            let path = resolve(config_path, file);
            let bytes = source.read(&path).map_err(|e| e.to_string());
            (path, bytes)
        });
    // A fetched bundle's manifest may not be cached yet: it is a bundle
    // whatever the file holds (and a file that is no manifest is an error).
    let is_bundle = raw.bundle.as_ref().is_some_and(|b| b.url.is_some())
        || policy
            .as_ref()
            .is_ok_and(|text| crate::bundle::Manifest::is_manifest(text.as_bytes()));
    let mut tls_files: Vec<(PathBuf, Result<Vec<u8>, String>)> = Vec::new();
    for file in raw.tls_files() {
        let path = resolve(config_path, file);
        if tls_files.iter().all(|(p, _)| *p != path) {
            let bytes = source.read(&path).map_err(|e| e.to_string());
            tls_files.push((path, bytes));
        }
    }

    // The combined revision hashes each input's own hash (each file is read
    // and hashed once, which matters for a 100 MB policy).
    let mut all = Sha256::new();
    let mut part = |label: &[u8], digest: &[u8]| {
        all.update(label);
        all.update([0]);
        all.update(digest);
    };
    part(b"config", config_revision.as_bytes());
    let policy_revision = match &policy {
        Ok(text) => short_hash(text.as_bytes()),
        Err(_) => String::new(),
    };
    part(b"policy", policy_revision.as_bytes());
    for (path, bytes) in keys
        .iter()
        .chain(&assertion_key)
        .chain(&tls_files)
        .chain(&bundle_key)
    {
        part(
            path.as_os_str().as_encoded_bytes(),
            &Sha256::digest(bytes.as_deref().unwrap_or_default()),
        );
    }
    let revision = hex::encode(&all.finalize()[..8]);

    Ok(Inputs {
        config_path: config_path.to_owned(),
        config_text,
        raw,
        policy_path,
        policy_text: policy,
        keys,
        assertion_key,
        tls_files,
        bundle_key,
        is_bundle,
        revision,
        config_revision,
        policy_revision,
    })
}

/// Validates everything and builds the snapshot, or returns every error.
///
/// A bundle's org files are read through `source` here, and only those
/// whose hash differs from what `previous` serves: the other orgs' compiled
/// tables are shared with it.
pub(crate) fn compile(
    source: &dyn Source,
    inputs: Inputs,
    previous: Option<&Snapshot>,
) -> Result<Snapshot, Rejection> {
    let revision = inputs.revision.clone();
    let mut errors = Errors::new(&inputs.config_path, &inputs.config_text);

    let mut settings = settings::compile(&inputs, &mut errors);
    let bundle_settings = bundle::settings(&inputs, &mut errors);
    let (document, policy, bundle) = if inputs.is_bundle {
        let compiled = bundle_settings
            .as_ref()
            .and_then(|s| bundle::compile(source, &inputs, s, previous, &mut errors));
        if let Some(s) = settings.as_mut() {
            s.bundle = bundle_settings;
        }
        match compiled {
            Some(c) => (None, Some(c.policy), Some(Arc::new(c.state))),
            None => (None, None, None),
        }
    } else {
        if inputs.raw.bundle.is_some() && inputs.policy_text.is_ok() {
            errors.setting(
                ErrorKind::Invalid,
                "",
                "bundle",
                format!(
                    "`bundle` is set but policy `{}` is a policy document, not a bundle's manifest",
                    inputs.raw.policy
                ),
            );
        }
        let document = policy::parse(&inputs, &mut errors);
        let policy = document
            .as_ref()
            .and_then(|d| policy::compile(&inputs, d, &mut errors));
        (document, policy, None)
    };
    let kinds = match (&document, &policy) {
        (Some(d), _) => Some(policy::KnownKinds::Listed(policy::known_kinds(d))),
        (None, Some(p)) => Some(policy::KnownKinds::Compiled(p)),
        (None, None) => None,
    };
    let routes = routes::compile(&inputs, kinds.as_ref(), &mut errors);

    let errors = errors.into_errors();
    let mut files = vec![inputs.config_path.clone(), inputs.policy_path.clone()];
    files.extend(
        inputs
            .keys
            .iter()
            .chain(&inputs.assertion_key)
            .chain(&inputs.tls_files)
            .chain(&inputs.bundle_key)
            .map(|(p, _)| p.clone()),
    );
    match (settings, routes, policy) {
        (Some(settings), Some(routes), Some(policy)) if errors.is_empty() => Ok(Snapshot {
            revision: inputs.revision,
            config_revision: inputs.config_revision,
            policy_revision: inputs.policy_revision,
            policy: Arc::new(policy),
            document: document
                .filter(|_| settings.access_diff.is_some())
                .map(Arc::new),
            bundle,
            routes,
            settings,
            loaded_at: SystemTime::now(),
            config_path: inputs.config_path,
            inputs: files,
        }),
        _ => Err(Rejection {
            revision: Some(revision),
            errors: ConfigErrors(errors),
            files,
        }),
    }
}
