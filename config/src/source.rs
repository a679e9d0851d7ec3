//! Where files come from: the filesystem, or text held in memory (tests).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

/// Reads the files a config names. Loading goes only through this seam.
pub trait Source: Sync {
    /// The whole file as bytes.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    /// The file's first `limit + 1` bytes at most: a caller that expects
    /// `limit` bytes learns that there are more without reading them all.
    fn read_at_most(&self, path: &Path, limit: u64) -> io::Result<Vec<u8>> {
        let mut bytes = self.read(path)?;
        bytes.truncate(usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX));
        Ok(bytes)
    }
}

/// The real filesystem (follows symlinks, so a ConfigMap `..data` swap reads
/// the new content).
#[derive(Clone, Copy, Debug, Default)]
pub struct Fs;

impl Source for Fs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn read_at_most(&self, path: &Path, limit: u64) -> io::Result<Vec<u8>> {
        use std::io::Read as _;
        let mut bytes = Vec::new();
        std::fs::File::open(path)?
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// Files held in memory, by path; anything else is `NotFound`.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    files: HashMap<PathBuf, Vec<u8>>,
}

impl Memory {
    pub fn new() -> Memory {
        Memory::default()
    }

    /// Adds (or replaces) a file.
    pub fn with(mut self, path: impl Into<PathBuf>, content: impl Into<Vec<u8>>) -> Memory {
        self.files.insert(path.into(), content.into());
        self
    }
}

impl Source for Memory {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file in memory source"))
    }
}

/// Reads from the first source, and from the second for what the first lacks.
#[derive(Clone, Debug, Default)]
pub struct Layered<A, B>(pub A, pub B);

impl<A: Source, B: Source> Source for Layered<A, B> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        match self.0.read(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.1.read(path),
            other => other,
        }
    }

    fn read_at_most(&self, path: &Path, limit: u64) -> io::Result<Vec<u8>> {
        match self.0.read_at_most(path, limit) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.1.read_at_most(path, limit),
            other => other,
        }
    }
}
