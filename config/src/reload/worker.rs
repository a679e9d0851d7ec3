//! The reload thread: debounce file events, re-read, compile, swap, report.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use arc_swap::ArcSwap;
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::{Message, ReloadEvent, WatchError, WatchOptions};
use crate::compile::{Rejection, compile, read_inputs};
use crate::snapshot::Snapshot;
use crate::source::Fs;

/// The directory a file is watched through.
pub(super) fn base_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The directories being watched and the file names that matter in them.
#[derive(Debug, Default)]
pub(super) struct Watched {
    dirs: BTreeSet<PathBuf>,
    names: BTreeSet<OsString>,
}

impl Watched {
    /// Watches the directories of `inputs` (non-recursively), and stops
    /// watching directories no input lives in any more.
    pub fn update(
        &mut self,
        watcher: &mut RecommendedWatcher,
        inputs: &[PathBuf],
    ) -> Result<(), WatchError> {
        let wanted: BTreeSet<PathBuf> = inputs.iter().map(|p| base_dir(p)).collect();
        for dir in self.dirs.difference(&wanted) {
            let _ = watcher.unwatch(dir);
        }
        self.dirs.retain(|dir| wanted.contains(dir));
        let mut failure = None;
        for dir in &wanted {
            if self.dirs.contains(dir) {
                continue;
            }
            // A directory that cannot be watched (e.g. does not exist yet) is
            // retried on the next update; the others are watched regardless.
            match watcher.watch(dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.dirs.insert(dir.clone());
                }
                Err(source) => {
                    failure.get_or_insert(WatchError::Watch {
                        dir: dir.clone(),
                        source,
                    });
                }
            }
        }
        self.names = inputs
            .iter()
            .filter_map(|p| p.file_name().map(OsString::from))
            .collect();
        failure.map_or(Ok(()), Err)
    }

    /// Whether an event may change what the inputs read as: a write, create,
    /// remove or rename of one of the files, or of a Kubernetes `..data`-style
    /// entry (`..data`, `..2024_…`, `..data_tmp`). Opens and reads are not
    /// (the reloader's own reads would otherwise trigger reloads).
    fn is_relevant(&self, event: &notify::Event) -> bool {
        let kind_matters = match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
            EventKind::Access(_) => false,
            _ => true,
        };
        kind_matters
            && (event.paths.is_empty()
                || event.paths.iter().any(|p| {
                    p.file_name().is_some_and(|name| {
                        self.names.contains(name) || name.to_string_lossy().starts_with("..")
                    })
                }))
    }
}

pub(super) struct Reloader {
    pub config_path: PathBuf,
    pub handle: Arc<ArcSwap<Snapshot>>,
    pub options: WatchOptions,
    pub on_event: Box<dyn FnMut(ReloadEvent) + Send>,
    pub watcher: RecommendedWatcher,
    pub watched: Watched,
}

impl Reloader {
    pub fn run(mut self, rx: &Receiver<Message>) {
        // Catch a change made between the caller's `load()` and the watch,
        // debounced like any other: a write may be in progress right now.
        // Report `Unchanged` only if a file event asked for this reload.
        match self.debounce(rx, false) {
            Settled::Reload { saw_event } => self.reload(saw_event),
            Settled::Stop => return,
        }
        while let Ok(message) = rx.recv() {
            match message {
                Message::Stop => return,
                Message::ReloadNow => self.reload(true),
                Message::Fs(Ok(event)) if !self.watched.is_relevant(&event) => {}
                // An error (e.g. a lost-event overflow) may hide a change: reload.
                Message::Fs(_) => match self.debounce(rx, true) {
                    Settled::Reload { .. } => self.reload(true),
                    Settled::Stop => return,
                },
            }
        }
    }

    /// Waits until no relevant event arrived for `quiet`, or `max_delay` after
    /// the first one: a burst of writes becomes one reload.
    fn debounce(&self, rx: &Receiver<Message>, mut saw_event: bool) -> Settled {
        let first = Instant::now();
        let mut last = first;
        loop {
            let deadline = (last + self.options.quiet).min(first + self.options.max_delay);
            let wait = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(Message::Fs(Ok(event))) if !self.watched.is_relevant(&event) => {}
                Ok(Message::Fs(_)) => {
                    last = Instant::now();
                    saw_event = true;
                }
                Ok(Message::ReloadNow) => return Settled::Reload { saw_event: true },
                Err(RecvTimeoutError::Timeout) => return Settled::Reload { saw_event },
                Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return Settled::Stop,
            }
        }
    }

    /// One attempt: re-read, skip if the content hash is unchanged, compile,
    /// swap only on success, report the outcome.
    fn reload(&mut self, report_unchanged: bool) {
        let started = Instant::now();
        let current = self.handle.load_full();
        let event = match read_inputs(&Fs, &self.config_path) {
            Err(rejection) => self.rejected(&current, rejection),
            // The same files, unless an org file that was missing has
            // arrived since (then the same manifest is compiled again).
            Ok(inputs)
                if inputs.revision == current.revision
                    && !current
                        .bundle
                        .as_ref()
                        .is_some_and(|b| b.missing_file_arrived()) =>
            {
                if !report_unchanged {
                    return;
                }
                ReloadEvent::Unchanged {
                    revision: inputs.revision,
                }
            }
            Ok(inputs) => match compile(&Fs, inputs, Some(&current)) {
                Ok(snapshot) => {
                    let revision = snapshot.revision.clone();
                    let inputs = snapshot.inputs.clone();
                    let snapshot = Arc::new(snapshot);
                    self.handle.store(snapshot.clone());
                    let took = started.elapsed();
                    // A failure to watch a new directory is reported, but the
                    // snapshot compiled and serves.
                    if let Err(e) = self.watched.update(&mut self.watcher, &inputs) {
                        (self.on_event)(ReloadEvent::WatchFailed {
                            message: e.to_string(),
                        });
                    }
                    ReloadEvent::Applied {
                        revision,
                        previous: current.revision.clone(),
                        took,
                        replaced: current.clone(),
                        serving: snapshot,
                    }
                }
                Err(rejection) => self.rejected(&current, rejection),
            },
        };
        (self.on_event)(event);
    }
}

impl Reloader {
    /// A failed attempt: keep watching what serves, and also what the attempt
    /// named (a policy moved to a new directory that does not exist yet is
    /// seen when it appears).
    fn rejected(&mut self, current: &Snapshot, rejection: Rejection) -> ReloadEvent {
        let mut files = current.inputs.clone();
        files.extend(rejection.files);
        if let Err(e) = self.watched.update(&mut self.watcher, &files) {
            (self.on_event)(ReloadEvent::WatchFailed {
                message: e.to_string(),
            });
        }
        ReloadEvent::Rejected {
            revision_tried: rejection.revision,
            current: current.revision.clone(),
            errors: rejection.errors,
        }
    }
}

enum Settled {
    /// Time to reload; `saw_event` when a file event or a manual request asked for it.
    Reload {
        saw_event: bool,
    },
    Stop,
}
