//! Collecting errors about the route config, located by a text scan.

use std::path::{Path, PathBuf};

use crate::error::{ConfigError, ErrorKind};
use crate::lines;

/// The errors found so far, and the config text to find their lines in.
pub(crate) struct Errors<'a> {
    file: PathBuf,
    text: &'a str,
    list: Vec<ConfigError>,
}

impl<'a> Errors<'a> {
    pub fn new(file: &Path, text: &'a str) -> Errors<'a> {
        Errors {
            file: file.to_owned(),
            text,
            list: Vec::new(),
        }
    }

    pub fn text(&self) -> &'a str {
        self.text
    }

    /// An error about one route (or public prefix), located at its `id:` line.
    pub fn route(&mut self, kind: ErrorKind, section: &str, id: &str, message: String) {
        self.route_nth(kind, section, id, 0, message);
    }

    /// [`Errors::route`] at the `nth` (0-based) route with this id.
    pub fn route_nth(
        &mut self,
        kind: ErrorKind,
        section: &str,
        id: &str,
        nth: usize,
        message: String,
    ) {
        let line = lines::id_line_in(self.text, section, id, nth);
        self.list.push(ConfigError {
            kind,
            file: self.file.clone(),
            line,
            column: None,
            route: Some(id.to_owned()),
            message,
        });
    }

    /// An error about a setting, located at the first `key:` after `section:`.
    pub fn setting(&mut self, kind: ErrorKind, section: &str, key: &str, message: String) {
        let line = if section.is_empty() {
            lines::key_line(self.text, key)
        } else {
            lines::key_line_in(self.text, section, key)
        };
        self.list.push(ConfigError {
            kind,
            file: self.file.clone(),
            line,
            column: None,
            route: None,
            message,
        });
    }

    /// An error in another file (policy, key file).
    pub fn push(&mut self, error: ConfigError) {
        self.list.push(error);
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Errors sorted by file order: config first (by line), then other files.
    pub fn into_errors(mut self) -> Vec<ConfigError> {
        let config = self.file.clone();
        self.list
            .sort_by_key(|e| (e.file != config, e.file.clone(), e.line.unwrap_or(u32::MAX)));
        self.list
    }
}
