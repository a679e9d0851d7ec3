//! Child processes that `compare` starts: ephemeral ports, bounded readiness
//! polling, and a guard that stops the child however the run ends.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why a contender could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("`{name}` did not accept connections on {addr} within {secs} s{detail}")]
    NotReady {
        name: String,
        addr: SocketAddr,
        secs: u64,
        detail: String,
    },
    #[error("`{name}` exited during start-up ({status}){detail}")]
    Exited {
        name: String,
        status: String,
        detail: String,
    },
    #[error("cannot prepare `{name}`: {message}")]
    Prepare { name: String, message: String },
}

/// A free loopback port: bound, read, released. Another process could take
/// it before the child binds; the readiness check then fails clearly.
pub fn free_port() -> std::io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// How to stop a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGKILL (single-process servers).
    Kill,
    /// SIGTERM, then SIGKILL if it has not exited within 5 s (nginx, whose
    /// workers exit only when told by their master).
    Term,
}

/// A started contender process; stopped when dropped.
#[derive(Debug)]
pub struct Running {
    pub name: String,
    pub child: Child,
    stop: Stop,
    /// Where its stderr goes, shown when it fails to start.
    pub log: Option<PathBuf>,
}

impl Running {
    /// Spawns `command` (stdin piped so children that watch it exit with us).
    pub fn spawn(
        name: &str,
        mut command: Command,
        stop: Stop,
        log: Option<&Path>,
    ) -> Result<Self, StartError> {
        command.stdin(Stdio::piped()).stdout(Stdio::null());
        match log.map(std::fs::File::create) {
            Some(Ok(file)) => {
                command.stderr(file);
            }
            _ => {
                command.stderr(Stdio::null());
            }
        }
        let program = command.get_program().to_string_lossy().into_owned();
        let child = command
            .spawn()
            .map_err(|source| StartError::Spawn { program, source })?;
        Ok(Running {
            name: name.to_owned(),
            child,
            stop,
            log: log.map(Path::to_path_buf),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let Some(text) = self
            .log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
        else {
            return String::new();
        };
        let lines: Vec<&str> = text.lines().rev().take(8).collect();
        if lines.is_empty() {
            return String::new();
        }
        let tail: Vec<&str> = lines.into_iter().rev().collect();
        format!(": {}", tail.join(" | "))
    }

    /// Polls until `addr` accepts a TCP connection, for at most `timeout`.
    pub fn wait_ready(&mut self, addr: SocketAddr, timeout: Duration) -> Result<(), StartError> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(StartError::Exited {
                    name: self.name.clone(),
                    status: status.to_string(),
                    detail: self.log_tail(),
                });
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(StartError::NotReady {
            name: self.name.clone(),
            addr,
            secs: timeout.as_secs(),
            detail: self.log_tail(),
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.stop == Stop::Term {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
