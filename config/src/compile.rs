//! Validating the route config and the policy together, and compiling them.

use std::path::{Path, PathBuf};

use crate::error::ConfigErrors;
use crate::snapshot::Snapshot;
use crate::source::Source;

/// Everything read for one build attempt.
#[derive(Debug)]
pub(crate) struct Inputs {
    pub config_path: PathBuf,
}

/// The policy path a config text names, resolved against its directory.
pub(crate) fn policy_path_of(config_path: &Path, config: &str) -> Option<PathBuf> {
    let _ = (config_path, config);
    None
}

pub(crate) fn read_inputs(source: &dyn Source, config_path: &Path) -> Result<Inputs, ConfigErrors> {
    let _ = source;
    Ok(Inputs {
        config_path: config_path.to_owned(),
    })
}

pub(crate) fn compile(source: &dyn Source, inputs: Inputs) -> Result<Snapshot, ConfigErrors> {
    let _ = (source, inputs);
    Err(ConfigErrors(Vec::new()))
}
