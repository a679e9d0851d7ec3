//! Hot reload: watch the files' directories, debounce, re-read, compare the
//! content hash, compile off the request path, swap only what compiled.

mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::error::ConfigErrors;
use crate::snapshot::Snapshot;
use worker::{Reloader, Watched, base_dir};

/// The outcome of one reload attempt, reported as a value: the gateway turns
/// it into a log line, a metric and an admin-endpoint entry.
#[derive(Clone)]
pub enum ReloadEvent {
    /// A new snapshot compiled and is now serving.
    Applied {
        revision: String,
        previous: String,
        /// From the start of the re-read to the swap.
        took: Duration,
        /// The snapshot swapped out, and the one now serving: what an
        /// access diff compares.
        replaced: Arc<Snapshot>,
        serving: Arc<Snapshot>,
    },
    /// The files changed on disk but their content hash did not.
    Unchanged { revision: String },
    /// The new content failed; `current` keeps serving.
    Rejected {
        /// The content hash of what was tried, when the files could be read.
        revision_tried: Option<String>,
        /// The revision still serving.
        current: String,
        errors: ConfigErrors,
    },
    /// A snapshot was applied but a directory it names could not be watched;
    /// changes there are seen only on `reload_now`.
    WatchFailed { message: String },
}

/// Snapshots are shown by revision (a whole snapshot is megabytes).
impl std::fmt::Debug for ReloadEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadEvent::Applied {
                revision,
                previous,
                took,
                replaced,
                serving,
            } => f
                .debug_struct("Applied")
                .field("revision", revision)
                .field("previous", previous)
                .field("took", took)
                .field("replaced", &replaced.revision)
                .field("serving", &serving.revision)
                .finish(),
            ReloadEvent::Unchanged { revision } => f
                .debug_struct("Unchanged")
                .field("revision", revision)
                .finish(),
            ReloadEvent::Rejected {
                revision_tried,
                current,
                errors,
            } => f
                .debug_struct("Rejected")
                .field("revision_tried", revision_tried)
                .field("current", current)
                .field("errors", errors)
                .finish(),
            ReloadEvent::WatchFailed { message } => f
                .debug_struct("WatchFailed")
                .field("message", message)
                .finish(),
        }
    }
}

impl ReloadEvent {
    /// `applied`, `unchanged` or `rejected`: a bounded metric label.
    pub fn outcome(&self) -> &'static str {
        match self {
            ReloadEvent::Applied { .. } => "applied",
            ReloadEvent::Unchanged { .. } => "unchanged",
            ReloadEvent::Rejected { .. } => "rejected",
            ReloadEvent::WatchFailed { .. } => "watch_failed",
        }
    }
}

/// The watcher could not be started.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch directory `{dir}`: {source}")]
    Watch { dir: PathBuf, source: notify::Error },
    #[error("cannot start the reload thread: {0}")]
    Thread(std::io::Error),
}

/// Tuning for [`watch_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchOptions {
    /// Reload once no relevant event arrived for this long (default 200 ms).
    pub quiet: Duration,
    /// Reload at the latest this long after the first event of a burst,
    /// even if events keep coming (default 2 s).
    pub max_delay: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            quiet: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

pub(crate) enum Message {
    Fs(notify::Result<notify::Event>),
    ReloadNow,
    Stop,
}

/// Stops the watcher when dropped.
#[derive(Debug)]
pub struct WatchHandle {
    tx: mpsc::Sender<Message>,
    thread: Option<JoinHandle<()>>,
}

impl WatchHandle {
    /// Re-read and reload now, without waiting for a file event (SIGHUP).
    pub fn reload_now(&self) {
        let _ = self.tx.send(Message::ReloadNow);
    }

    /// Stops watching and waits for the reload thread to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.tx.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Watches the config (and every file it names) and keeps `handle` current.
///
/// `handle` must already hold a snapshot of `config_path` (from [`crate::load`]).
/// Every reload attempt is reported to `on_event`, on the reload thread.
pub fn watch(
    config_path: &Path,
    handle: Arc<ArcSwap<Snapshot>>,
    on_event: impl FnMut(ReloadEvent) + Send + 'static,
) -> Result<WatchHandle, WatchError> {
    watch_with(config_path, handle, WatchOptions::default(), on_event)
}

/// [`watch`] with explicit debounce settings.
pub fn watch_with(
    config_path: &Path,
    handle: Arc<ArcSwap<Snapshot>>,
    options: WatchOptions,
    on_event: impl FnMut(ReloadEvent) + Send + 'static,
) -> Result<WatchHandle, WatchError> {
    let (tx, rx) = mpsc::channel();
    let fs_tx = tx.clone();
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = fs_tx.send(Message::Fs(event));
    })
    .map_err(|source| WatchError::Watch {
        dir: base_dir(config_path),
        source,
    })?;
    let mut watched = Watched::default();
    let inputs = handle.load().inputs.clone();
    watched.update(&mut watcher, &inputs)?;
    let reloader = Reloader {
        config_path: config_path.to_owned(),
        handle,
        options,
        on_event: Box::new(on_event),
        watcher,
        watched,
    };
    let thread = std::thread::Builder::new()
        .name("reqflo-config-reload".to_owned())
        .spawn(move || reloader.run(&rx))
        .map_err(WatchError::Thread)?;
    Ok(WatchHandle {
        tx,
        thread: Some(thread),
    })
}
