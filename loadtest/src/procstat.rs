//! CPU time and peak memory of a target process (and its children, so an
//! nginx master with its workers counts as one target), read from `/proc`.

use std::fs;
use std::process::Command;

#[cfg(test)]
mod tests;

/// Why `/proc` could not be read for a process.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("unexpected format in `{0}`")]
    Format(String),
}

/// The fields of `/proc/<pid>/stat` used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub ppid: u32,
    /// `utime + stime`, in clock ticks.
    pub cpu_ticks: u64,
}

/// Parses `/proc/<pid>/stat`. The command name may hold spaces and
/// parentheses, so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) … utime(14) stime(15), 1-based in proc(5).
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Stat {
        ppid,
        cpu_ticks: utime + stime,
    })
}

/// Peak resident set (`VmHWM`) from `/proc/<pid>/status`, in KiB.
pub fn parse_vm_hwm(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux in use).
pub fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// One reading of a process tree.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    pub cpu_seconds: f64,
    pub peak_rss_kib: u64,
}

/// Reads a process and its descendants.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    pub pid: u32,
    ticks_per_second: u64,
}

impl Probe {
    pub fn new(pid: u32) -> Self {
        Probe {
            pid,
            ticks_per_second: clock_ticks_per_second(),
        }
    }

    /// CPU time and summed peak RSS of the tree rooted at `pid`.
    pub fn sample(&self) -> Result<Sample, ProcError> {
        let root = read_stat(self.pid)?;
        let mut ticks = root.cpu_ticks;
        let mut hwm = read_hwm(self.pid)?;
        for child in descendants(self.pid) {
            // A child may exit between listing and reading; skip it then.
            if let Ok(stat) = read_stat(child) {
                ticks += stat.cpu_ticks;
                hwm += read_hwm(child).unwrap_or(0);
            }
        }
        Ok(Sample {
            cpu_seconds: ticks as f64 / self.ticks_per_second as f64,
            peak_rss_kib: hwm,
        })
    }
}

fn read(path: String) -> Result<String, ProcError> {
    fs::read_to_string(&path).map_err(|source| ProcError::Read { path, source })
}

fn read_stat(pid: u32) -> Result<Stat, ProcError> {
    let path = format!("/proc/{pid}/stat");
    parse_stat(&read(path.clone())?).ok_or(ProcError::Format(path))
}

fn read_hwm(pid: u32) -> Result<u64, ProcError> {
    let path = format!("/proc/{pid}/status");
    parse_vm_hwm(&read(path.clone())?).ok_or(ProcError::Format(path))
}

/// Every process whose parent chain leads to `root`.
fn descendants(root: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, read_stat(pid).ok()?.ppid)))
        .collect();
    tree_below(root, &parents)
}

/// Descendants of `root` given `(pid, ppid)` pairs.
pub fn tree_below(root: u32, parents: &[(u32, u32)]) -> Vec<u32> {
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(pid, ppid) in parents {
            if ppid == p && pid != root && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}
