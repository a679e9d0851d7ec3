//! A real HTTP server publishing a policy bundle directory, with ETags
//! (`If-None-Match` answered 304; a long poll, `Prefer: wait=N`, held
//! until the file changes) and faults a test switches on while the
//! gateway polls it: error statuses, org files with a changed byte, cut
//! short or far longer than declared, and stalls. Every request is counted
//! by path.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::fail::OrPanic;

/// What the server does wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Serves the directory as it is.
    None,
    /// Every request answers this status.
    Status(u16),
    /// Org files are served with one byte changed (same size).
    ChangedByte,
    /// Org files are served cut to half their size.
    Truncated,
    /// Org files are served with ten times their size of padding after them.
    Oversized,
    /// No answer for this long, then 500.
    Stall(Duration),
}

#[derive(Debug)]
struct State {
    root: PathBuf,
    fault: Mutex<Fault>,
    requests: Mutex<HashMap<String, usize>>,
    not_modified: Mutex<usize>,
    long_polls: Mutex<usize>,
}

/// The bundle server; stops when dropped.
#[derive(Debug)]
pub struct BundleServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl BundleServer {
    /// Serves `root` (a bundle directory) at `http://127.0.0.1:PORT/`.
    pub async fn start(root: PathBuf) -> BundleServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .or_panic("bind the bundle server");
        let addr = listener.local_addr().or_panic("bundle server address");
        let state = Arc::new(State {
            root,
            fault: Mutex::new(Fault::None),
            requests: Mutex::new(HashMap::new()),
            not_modified: Mutex::new(0),
            long_polls: Mutex::new(0),
        });
        let s = state.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let s = s.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| serve(s.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        BundleServer { addr, state, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, fault: Fault) {
        if let Ok(mut f) = self.state.fault.lock() {
            *f = fault;
        }
    }

    /// Requests for `path` (`/manifest.json`, `/orgs/…`) so far.
    pub fn requests(&self, path: &str) -> usize {
        self.state
            .requests
            .lock()
            .map(|r| r.get(path).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Requests for any path starting with `prefix`.
    pub fn requests_under(&self, prefix: &str) -> usize {
        self.state
            .requests
            .lock()
            .map(|r| {
                r.iter()
                    .filter(|(p, _)| p.starts_with(prefix))
                    .map(|(_, n)| n)
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Long polls held so far (`Prefer: wait=N`).
    pub fn long_polls(&self) -> usize {
        self.state.long_polls.lock().map(|n| *n).unwrap_or(0)
    }

    /// 304s answered so far.
    pub fn not_modified(&self) -> usize {
        self.state.not_modified.lock().map(|n| *n).unwrap_or(0)
    }
}

impl Drop for BundleServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn respond(status: u16, body: Vec<u8>, etag: Option<&str>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    if let Some(etag) = etag
        && let Ok(v) = http::HeaderValue::from_str(etag)
    {
        r.headers_mut().insert(http::header::ETAG, v);
    }
    r
}

async fn serve(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req.uri().path().to_owned();
    if let Ok(mut r) = state.requests.lock() {
        *r.entry(path.clone()).or_default() += 1;
    }
    let fault = state.fault.lock().map(|f| *f).unwrap_or(Fault::Status(500));
    match fault {
        Fault::Status(code) => return Ok(respond(code, Vec::new(), None)),
        Fault::Stall(d) => {
            tokio::time::sleep(d).await;
            return Ok(respond(500, Vec::new(), None));
        }
        _ => {}
    }
    let relative = path.trim_start_matches('/');
    if relative.split('/').any(|p| p == ".." || p.is_empty()) {
        return Ok(respond(404, Vec::new(), None));
    }
    let Ok(mut body) = std::fs::read(state.root.join(relative)) else {
        return Ok(respond(404, Vec::new(), None));
    };
    let mut etag = format!("\"{}\"", reqflo_config::bundle::sha256_hex(&body));
    // A long poll (`Prefer: wait=N`) on an unchanged file is held until the
    // file changes or N seconds pass.
    let wait = req
        .headers()
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("wait="))
        .and_then(|n| n.trim().parse::<u64>().ok());
    let asked = req
        .headers()
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let (Some(seconds), Some(asked)) = (wait, &asked) {
        let until = tokio::time::Instant::now() + Duration::from_secs(seconds);
        while *asked == etag && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Ok(now) = std::fs::read(state.root.join(relative)) {
                body = now;
                etag = format!("\"{}\"", reqflo_config::bundle::sha256_hex(&body));
            }
        }
        if let Ok(mut n) = state.long_polls.lock() {
            *n += 1;
        }
    }
    if req
        .headers()
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        if let Ok(mut n) = state.not_modified.lock() {
            *n += 1;
        }
        return Ok(respond(304, Vec::new(), Some(&etag)));
    }
    if relative.starts_with("orgs/") {
        match fault {
            Fault::ChangedByte => {
                if let Some(b) = body.iter_mut().rev().find(|b| **b == b'}') {
                    *b = b' ';
                }
            }
            Fault::Truncated => body.truncate(body.len() / 2),
            Fault::Oversized => body.extend(std::iter::repeat_n(b' ', body.len() * 10)),
            _ => {}
        }
    }
    Ok(respond(200, body, Some(&etag)))
}

/// Builds `policy` into the bundle directory `dir` (as `bundle build`
/// does), signed when a key is given; the manifest's revision.
pub fn publish(
    policy: &str,
    dir: &std::path::Path,
    key: Option<&reqflo_config::AssertionKey>,
) -> String {
    let document = reqflo_policy::Document::parse(policy).or_panic("the policy parses");
    reqflo_config::bundle::build(&document, dir, key, false)
        .or_panic("the bundle builds")
        .manifest
        .revision
}
