//! Policy bundles: a manifest and one policy document per org.
//!
//! A bundle is a directory (or, behind HTTP, a base URL) holding
//! `manifest.json` and the org documents it names:
//!
//! ```json
//! {"format": "reqflo-policy-bundle/1", "revision": "…", "all_or_nothing": false,
//!  "orgs": [{"org": "acme", "file": "orgs/acme.3f2a….json", "sha256": "…", "size": 1234}],
//!  "signature": "eyJhbGciOiJFZERTQSIs…..…"}
//! ```
//!
//! Org files are named by their content's hash, so a new bundle written
//! beside an old one never changes a file the old manifest names; the
//! manifest is written last, atomically, and is the bundle's one switch.
//! `signature` is a detached compact JWS (RFC 7515, appendix F: the payload
//! segment empty) over the manifest's canonical JSON without `signature`:
//! object keys sorted, no whitespace. EdDSA or ES256.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqflo_policy::Document;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::assertion::AssertionKey;

/// The manifest's file name in a bundle directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The manifest's `format`.
pub const FORMAT: &str = "reqflo-policy-bundle/1";

/// A bundle's manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The bundle's revision: a hash of every org entry.
    pub revision: String,
    /// Apply the bundle whole or not at all: one org that fails keeps the
    /// whole previous bundle serving.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_or_nothing: bool,
    pub orgs: Vec<OrgEntry>,
    /// A detached compact JWS over the rest (see the module's header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// One org's document in a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgEntry {
    pub org: String,
    /// Relative to the manifest.
    pub file: String,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// The file's size in bytes.
    pub size: u64,
}

impl Manifest {
    /// Parses a manifest, or says why it is not one.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| format!("not a bundle manifest: {e}"))?;
        if manifest.format != FORMAT {
            return Err(format!(
                "manifest format `{}` is not `{FORMAT}`",
                manifest.format
            ));
        }
        Ok(manifest)
    }

    /// Whether these bytes claim to be a bundle manifest (a JSON object
    /// whose `format` is [`FORMAT`]); what tells a manifest from a policy
    /// document at `policy:`.
    pub fn is_manifest(bytes: &[u8]) -> bool {
        #[derive(Deserialize)]
        struct Probe {
            format: Option<String>,
        }
        bytes.first() == Some(&b'{')
            && serde_json::from_slice::<Probe>(bytes)
                .ok()
                .and_then(|p| p.format)
                .is_some_and(|f| f.starts_with("reqflo-policy-bundle/"))
    }

    /// The bytes a signature covers: the manifest without `signature`, as
    /// canonical JSON (keys sorted, no whitespace).
    pub fn signing_input(&self) -> Vec<u8> {
        let unsigned = Manifest {
            signature: None,
            ..self.clone()
        };
        canonical_json(&serde_json::to_value(&unsigned).unwrap_or_default())
    }

    /// Signs the manifest with `key` (replacing any signature).
    pub fn sign(&mut self, key: &AssertionKey) -> Result<(), String> {
        let jws = key
            .sign(&self.signing_input())
            .ok_or("the signing library failed")?;
        let mut parts = jws.split('.');
        let (Some(header), Some(_), Some(signature)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err("the signature is not a compact JWS".to_owned());
        };
        self.signature = Some(format!("{header}..{signature}"));
        Ok(())
    }

    /// Verifies the signature with `key`: `Ok(kid)` when it is valid.
    pub fn verify(&self, key: &BundleKey) -> Result<Option<String>, String> {
        let Some(jws) = &self.signature else {
            return Err("the manifest is not signed and a bundle key is configured".to_owned());
        };
        let mut parts = jws.split('.');
        let (Some(header), Some(""), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(
                "the signature is not a detached compact JWS (`header..signature`)".to_owned(),
            );
        };
        let decoded: serde_json::Value = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or("the signature's header is not base64url JSON")?;
        let alg = decoded.get("alg").and_then(|a| a.as_str()).unwrap_or("");
        if alg != key.algorithm_name() {
            return Err(format!(
                "the signature's algorithm `{alg}` is not the configured key's `{}`",
                key.algorithm_name()
            ));
        }
        if decoded.get("crit").is_some() {
            return Err("the signature's header has `crit` extensions".to_owned());
        }
        let mut message = header.as_bytes().to_vec();
        message.push(b'.');
        message.extend(URL_SAFE_NO_PAD.encode(self.signing_input()).as_bytes());
        match jsonwebtoken::crypto::verify(signature, &message, &key.key, key.algorithm) {
            Ok(true) => Ok(decoded
                .get("kid")
                .and_then(|k| k.as_str())
                .map(str::to_owned)),
            Ok(false) | Err(_) => Err("the manifest's signature does not verify".to_owned()),
        }
    }
}

/// The public key bundles are verified with.
#[derive(Clone)]
pub struct BundleKey {
    key: jsonwebtoken::DecodingKey,
    algorithm: jsonwebtoken::Algorithm,
}

impl std::fmt::Debug for BundleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl BundleKey {
    /// A PEM public key (`PUBLIC KEY`, SPKI) for `EdDSA` or `ES256`.
    pub fn from_pem(algorithm: &str, pem: &[u8]) -> Result<BundleKey, String> {
        let (key, algorithm) = match algorithm {
            "EdDSA" => (
                jsonwebtoken::DecodingKey::from_ed_pem(pem),
                jsonwebtoken::Algorithm::EdDSA,
            ),
            "ES256" => (
                jsonwebtoken::DecodingKey::from_ec_pem(pem),
                jsonwebtoken::Algorithm::ES256,
            ),
            other => return Err(format!("algorithm `{other}` is not one of EdDSA, ES256")),
        };
        let key = key.map_err(|e| format!("is not a PEM {algorithm:?} public key: {e}"))?;
        Ok(BundleKey { key, algorithm })
    }

    fn algorithm_name(&self) -> &'static str {
        match self.algorithm {
            jsonwebtoken::Algorithm::ES256 => "ES256",
            _ => "EdDSA",
        }
    }
}

/// JSON with every object's keys sorted and no whitespace.
fn canonical_json(value: &serde_json::Value) -> Vec<u8> {
    // Keys sorted here, whichever map serde_json was built with.
    fn write(value: &serde_json::Value, out: &mut Vec<u8>) {
        match value {
            serde_json::Value::Object(map) => {
                let ordered: BTreeMap<&String, &serde_json::Value> = map.iter().collect();
                out.push(b'{');
                for (i, (k, v)) in ordered.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend(serde_json::to_vec(k).unwrap_or_default());
                    out.push(b':');
                    write(v, out);
                }
                out.push(b'}');
            }
            serde_json::Value::Array(items) => {
                out.push(b'[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write(v, out);
                }
                out.push(b']');
            }
            other => out.extend(serde_json::to_vec(other).unwrap_or_default()),
        }
    }
    let mut out = Vec::new();
    write(value, &mut out);
    out
}

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// An org id as a file-name part: letters, digits, `-`, `_` and `.` kept,
/// anything else `_` (the file's hash keeps names apart).
fn file_part(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect()
}

/// Writes `bytes` to `path` atomically (a temporary file in the same
/// directory, synced, then renamed over it).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// What [`build`] wrote.
#[derive(Debug)]
pub struct Built {
    pub manifest: Manifest,
    /// Org files written now (the others were already there).
    pub written: Vec<PathBuf>,
}

/// Splits a whole policy document into a bundle in `out`: one document per
/// org (the org and its members, with only that membership), written only
/// when not already there, then the manifest, signed when a key is given.
/// The document should be valid (`validate` it first): each org document
/// of a valid document validates alone.
pub fn build(
    document: &Document,
    out: &Path,
    key: Option<&AssertionKey>,
    all_or_nothing: bool,
) -> Result<Built, String> {
    let orgs_dir = out.join("orgs");
    std::fs::create_dir_all(&orgs_dir)
        .map_err(|e| format!("cannot create `{}`: {e}", orgs_dir.display()))?;
    let mut entries = Vec::with_capacity(document.orgs.len());
    let mut written = Vec::new();
    for org in &document.orgs {
        let part = document.org_document(org);
        let bytes = serde_json::to_vec(&part).map_err(|e| e.to_string())?;
        let sha256 = sha256_hex(&bytes);
        let file = format!(
            "orgs/{}.{}.json",
            file_part(&org.id),
            sha256.get(..16).unwrap_or_default()
        );
        let path = out.join(&file);
        let present = std::fs::read(&path).is_ok_and(|b| sha256_hex(&b) == sha256);
        if !present {
            write_atomically(&path, &bytes)
                .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
            written.push(path);
        }
        entries.push(OrgEntry {
            org: org.id.clone(),
            file,
            sha256,
            size: bytes.len() as u64,
        });
    }
    let mut all = Sha256::new();
    for e in &entries {
        all.update(e.org.as_bytes());
        all.update([0]);
        all.update(e.sha256.as_bytes());
        all.update([b'\n']);
    }
    all.update([u8::from(all_or_nothing)]);
    let mut manifest = Manifest {
        format: FORMAT.to_owned(),
        revision: hex::encode(all.finalize().get(..8).unwrap_or_default()),
        all_or_nothing,
        orgs: entries,
        signature: None,
    };
    if let Some(key) = key {
        manifest.sign(key)?;
    }
    let mut text = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    text.push(b'\n');
    let path = out.join(MANIFEST_FILE);
    write_atomically(&path, &text)
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    Ok(Built { manifest, written })
}

/// How a bundle is verified, which of its orgs are served, where it is
/// fetched from and how stale it may get (`bundle:` in the route config).
#[derive(Clone, Debug)]
pub struct BundleSettings {
    /// The public key the manifest's signature must verify with.
    pub key: Option<BundleKey>,
    pub max_org_bytes: u64,
    pub shard: Shard,
    /// The HTTP(S) source, when the bundle is fetched.
    pub fetch: Option<FetchSettings>,
    /// The directory of `policy` (the manifest): where a fetched bundle is
    /// cached.
    pub cache_dir: PathBuf,
    /// When a bundle no longer confirmed by its server stops allowing risky requests.
    pub staleness: Option<Staleness>,
}

/// Where and how often a bundle is fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchSettings {
    /// The base URL, without a trailing `/`.
    pub url: String,
    pub poll_interval: std::time::Duration,
    pub poll_jitter: std::time::Duration,
    /// 0: no long poll.
    pub long_poll: std::time::Duration,
    pub timeout: std::time::Duration,
}

impl FetchSettings {
    /// The URL of a file of the bundle (`manifest.json`, an org file).
    pub fn file_url(&self, file: &str) -> String {
        format!("{}/{file}", self.url)
    }
}

/// Fail closed by risk when stale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Staleness {
    /// The longest time since the server last confirmed the bundle.
    pub max: std::time::Duration,
    /// The risk levels a stale bundle no longer allows.
    pub protects: Vec<reqflo_policy::RiskLevel>,
    /// `/readyz` answers 503 while stale.
    pub not_ready: bool,
}

/// Which orgs of a bundle one gateway serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shard {
    /// Every org.
    All,
    /// These org ids.
    Orgs(std::collections::BTreeSet<String>),
    /// The orgs whose id hashes to `index` of `count`.
    Hash { index: u64, count: u64 },
}

impl Shard {
    /// Whether this gateway serves `org`. A pure function of the id (it
    /// says nothing about whether the org exists).
    pub fn serves(&self, org: &str) -> bool {
        match self {
            Shard::All => true,
            Shard::Orgs(orgs) => orgs.contains(org),
            Shard::Hash { index, count } => shard_hash(org) % (*count).max(1) == *index,
        }
    }

    /// `all`, `orgs:N` or `hash:I/N`, for `/policy` and logs.
    pub fn describe(&self) -> String {
        match self {
            Shard::All => "all".to_owned(),
            Shard::Orgs(orgs) => format!("orgs:{}", orgs.len()),
            Shard::Hash { index, count } => format!("hash:{index}/{count}"),
        }
    }
}

/// The first 8 bytes of the org id's SHA-256, big-endian: what a hash
/// shard and a load balancer routing by org agree on.
pub fn shard_hash(org: &str) -> u64 {
    let digest = Sha256::digest(org.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
    u64::from_be_bytes(first)
}

/// What a bundle's last build left serving, org by org.
#[derive(Clone, Debug)]
pub struct BundleState {
    /// The manifest's revision.
    pub revision: String,
    pub all_or_nothing: bool,
    /// The `kid` of the verified signature; `None` when unsigned (no key configured).
    pub signed_by: Option<String>,
    pub verified: bool,
    pub shard: Shard,
    /// Every org of the manifest this gateway serves, in manifest order.
    pub orgs: Vec<BundleOrg>,
    /// Orgs of the manifest outside the shard (not fetched or compiled).
    pub not_served: usize,
    /// Orgs compiled by this build (the others were shared with the previous one).
    pub compiled: usize,
    /// No manifest yet: a fetched bundle's cache is empty and the server
    /// has not answered yet. Nothing is served (every org is unknown).
    pub missing: bool,
    /// Why a fetched bundle's cached manifest was ignored at start (it does
    /// not parse or its signature does not verify): never half-loaded.
    pub cache_ignored: Option<String>,
}

/// One org of a bundle.
#[derive(Clone, Debug)]
pub struct BundleOrg {
    pub org: String,
    /// The SHA-256 the manifest names.
    pub sha256: String,
    /// What serves: compiled from `sha256`, or an older version kept when
    /// this one was rejected; `None` when no version of it compiled.
    pub serving: Option<std::sync::Arc<reqflo_policy::OrgPolicy>>,
    /// Why the manifest's version was rejected (empty when it serves).
    pub rejected: Vec<crate::ConfigError>,
    /// The org file, when it was rejected because it is not there (yet):
    /// a fetched bundle's cache may lack it until the fetcher has it.
    pub missing_file: Option<PathBuf>,
}

impl BundleOrg {
    /// The SHA-256 of the version serving, if any.
    pub fn serving_sha256(&self) -> Option<&str> {
        self.serving.as_ref().map(|o| o.revision())
    }
}

impl BundleState {
    /// Orgs whose manifest version was rejected.
    pub fn rejected(&self) -> impl Iterator<Item = &BundleOrg> {
        self.orgs.iter().filter(|o| !o.rejected.is_empty())
    }

    /// Whether an org file that was missing is there now: the same
    /// manifest is then worth compiling again (a shard that grew, a cache
    /// the fetcher has just completed).
    pub fn missing_file_arrived(&self) -> bool {
        self.orgs
            .iter()
            .filter_map(|o| o.missing_file.as_deref())
            .any(Path::exists)
    }
}
