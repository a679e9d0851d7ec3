//! The combined, immutable value the gateway reads: policy + routes + settings.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;

use crate::error::ConfigErrors;
use crate::routes::RouteTable;
use crate::settings::Settings;
use crate::source::{Fs, Layered, Memory, Source};

/// One consistent build of the route config and the policy document.
///
/// Held in an `ArcSwap`; a request does one `load()` and decides entirely
/// with what it got, so it never mixes two revisions.
#[derive(Debug)]
pub struct Snapshot {
    /// Content hash of every input (config, policy, key files): 16 hex digits.
    pub revision: String,
    /// Content hash of the route config file alone.
    pub config_revision: String,
    /// Content hash of the policy document file alone.
    pub policy_revision: String,
    pub policy: Arc<reqflo_policy::Snapshot>,
    /// The parsed policy document, kept when the settings ask for an
    /// access diff on reload (`reload.access_diff`).
    pub document: Option<Arc<reqflo_policy::Document>>,
    /// When `policy` names a bundle: its manifest's revision, signature,
    /// shard and what serves org by org.
    pub bundle: Option<Arc<crate::bundle::BundleState>>,
    pub routes: RouteTable,
    pub settings: Settings,
    /// When this snapshot was built.
    pub loaded_at: SystemTime,
    /// The route config file it was built from.
    pub config_path: PathBuf,
    /// Every file read to build it (config, policy, key files): what reload watches.
    pub inputs: Vec<PathBuf>,
}

impl Snapshot {
    /// Builds a snapshot from the two texts; key files are read from the
    /// filesystem, relative to `config_path`'s directory. For tests and tools.
    pub fn from_texts(
        config_path: &Path,
        config: &str,
        policy: &str,
    ) -> Result<Snapshot, ConfigErrors> {
        let policy_path = crate::compile::policy_path_of(config_path, config);
        let mut memory = Memory::new().with(config_path, config.as_bytes().to_vec());
        if let Some(policy_path) = policy_path {
            memory = memory.with(policy_path, policy.as_bytes().to_vec());
        }
        load_from(&Layered(memory, Fs), config_path)
    }

    /// Wraps the snapshot in the swap handle the gateway and [`crate::watch`] share.
    pub fn into_handle(self) -> Arc<ArcSwap<Snapshot>> {
        Arc::new(ArcSwap::from_pointee(self))
    }

    /// Number of `(method, route)` pairs and public prefixes, for `validate` and the admin page.
    pub fn route_count(&self) -> usize {
        self.routes.len()
    }
}

/// Reads the route config at `config_path` and the policy document it names,
/// validates both together and compiles them. Every fault is reported.
pub fn load(config_path: &Path) -> Result<Snapshot, ConfigErrors> {
    load_from(&Fs, config_path)
}

/// [`load`] through any [`Source`].
pub fn load_from(source: &dyn Source, config_path: &Path) -> Result<Snapshot, ConfigErrors> {
    crate::compile::read_inputs(source, config_path)
        .and_then(|inputs| crate::compile::compile(source, inputs, None))
        .map_err(|rejection| rejection.errors)
}
