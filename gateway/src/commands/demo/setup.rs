//! The demo's working directory: the bundled example config and policy with
//! the upstreams pointed at the mock backends, the public keys, and the
//! policy variants the hot-reload step swaps in.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

/// The bundled examples, compiled in so the demo runs from anywhere.
pub const CONFIG: &str = include_str!("../../../../examples/gateway.yaml");
pub const POLICY: &str = include_str!("../../../../examples/policy.yaml");
const RSA_PUBLIC: &str = include_str!("../../../../examples/keys/rsa-public.pem");
const EC_PUBLIC: &str = include_str!("../../../../examples/keys/ec-public.pem");
/// The demo signing key (a throwaway key, published on purpose).
pub const RSA_PRIVATE: &str =
    include_str!("../../../../examples/keys/demo-private/rsa-private.pem");

/// The user the hot-reload step adds to a group, and the group.
pub const RELOAD_USER: &str = "mia";
pub const RELOAD_GROUP: &str = "support-t2";

/// Why the demo could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the bundled example `{0}` is not valid YAML: {1}")]
    Yaml(&'static str, serde_yaml_ng::Error),
    #[error("the bundled example config has no `{0}`")]
    Missing(&'static str),
    #[error("the bundled example config names key file `{0}`, which the demo does not bundle")]
    UnknownKey(String),
    #[error("the bundled policy has no group `{RELOAD_GROUP}` for the hot-reload step")]
    NoGroup,
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// JWT settings read from the example config, for minting demo tokens.
#[derive(Clone, Debug)]
pub struct Identity {
    pub issuer: String,
    pub audience: String,
    pub kid: String,
}

/// The files written into the demo directory.
#[derive(Clone, Debug)]
pub struct Files {
    pub config: PathBuf,
    pub policy: PathBuf,
    pub policy_original: PathBuf,
    pub policy_reload: PathBuf,
    pub identity: Identity,
}

/// The example config's upstream names, for starting one mock backend each.
pub fn upstream_names() -> Result<Vec<String>, SetupError> {
    let config: Value =
        serde_yaml_ng::from_str(CONFIG).map_err(|e| SetupError::Yaml("gateway.yaml", e))?;
    let upstreams = config
        .get("upstreams")
        .and_then(Value::as_mapping)
        .ok_or(SetupError::Missing("upstreams"))?;
    Ok(upstreams
        .keys()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect())
}

/// Writes everything into `dir`, with each upstream at its mock's address.
pub fn write(dir: &Path, mocks: &BTreeMap<String, SocketAddr>) -> Result<Files, SetupError> {
    let mut config: Value =
        serde_yaml_ng::from_str(CONFIG).map_err(|e| SetupError::Yaml("gateway.yaml", e))?;
    if let Some(upstreams) = config.get_mut("upstreams").and_then(Value::as_mapping_mut) {
        for (name, upstream) in upstreams.iter_mut() {
            if let (Some(name), Some(u)) = (name.as_str(), upstream.as_mapping_mut())
                && let Some(addr) = mocks.get(name)
            {
                u.insert(Value::from("address"), Value::from(addr.to_string()));
            }
        }
    }
    let jwt = config
        .get("identity")
        .and_then(|i| i.get("jwt"))
        .ok_or(SetupError::Missing("identity.jwt"))?;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let issuer = text(jwt.get("issuer")).ok_or(SetupError::Missing("identity.jwt.issuer"))?;
    let audience = text(jwt.get("audiences").and_then(|a| a.get(0)))
        .ok_or(SetupError::Missing("identity.jwt.audiences"))?;
    let keys = jwt
        .get("keys")
        .and_then(Value::as_sequence)
        .ok_or(SetupError::Missing("identity.jwt.keys"))?;
    let mut kid = None;
    for key in keys {
        let file = text(key.get("file")).ok_or(SetupError::Missing("identity.jwt.keys[].file"))?;
        let pem = match Path::new(&file).file_name().and_then(|f| f.to_str()) {
            Some("rsa-public.pem") => {
                kid = kid.or_else(|| text(key.get("kid")));
                RSA_PUBLIC
            }
            Some("ec-public.pem") => EC_PUBLIC,
            _ => return Err(SetupError::UnknownKey(file)),
        };
        save(&dir.join(&file), pem)?;
    }
    let kid = kid.ok_or(SetupError::Missing("an RS256 key (`rsa-public.pem`)"))?;

    let policy_name = text(config.get("policy")).ok_or(SetupError::Missing("policy"))?;
    let files = Files {
        config: dir.join("gateway.yaml"),
        policy: dir.join(&policy_name),
        policy_original: dir.join("policy-original.yaml"),
        policy_reload: dir.join(format!("policy-{RELOAD_USER}-joins-{RELOAD_GROUP}.yaml")),
        identity: Identity {
            issuer,
            audience,
            kid,
        },
    };
    let config_text =
        serde_yaml_ng::to_string(&config).map_err(|e| SetupError::Yaml("gateway.yaml", e))?;
    save(&files.config, &config_text)?;
    save(&files.policy, POLICY)?;
    save(&files.policy_original, POLICY)?;
    save(&files.policy_reload, &reload_variant()?)?;
    Ok(files)
}

/// The example policy with [`RELOAD_USER`] added to [`RELOAD_GROUP`].
fn reload_variant() -> Result<String, SetupError> {
    let mut policy: Value =
        serde_yaml_ng::from_str(POLICY).map_err(|e| SetupError::Yaml("policy.yaml", e))?;
    let groups = policy
        .get_mut("orgs")
        .and_then(|o| o.get_mut(0))
        .and_then(|o| o.get_mut("groups"))
        .and_then(Value::as_sequence_mut)
        .ok_or(SetupError::NoGroup)?;
    let group = groups
        .iter_mut()
        .find(|g| g.get("id").and_then(Value::as_str) == Some(RELOAD_GROUP))
        .ok_or(SetupError::NoGroup)?;
    let members = group
        .get_mut("members")
        .and_then(Value::as_sequence_mut)
        .ok_or(SetupError::NoGroup)?;
    members.push(Value::from(RELOAD_USER));
    let text = serde_yaml_ng::to_string(&policy).map_err(|e| SetupError::Yaml("policy.yaml", e))?;
    Ok(format!(
        "# examples/policy.yaml with `{RELOAD_USER}` added to the `{RELOAD_GROUP}` group.\n{text}"
    ))
}

fn save(path: &Path, text: &str) -> Result<(), SetupError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| SetupError::Write {
            path: parent.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| SetupError::Write {
        path: path.to_owned(),
        source,
    })
}
