//! A real HTTP/1.1 upstream (hyper 1) on an ephemeral port that records every
//! request it receives and answers `200` with a small JSON body.
//!
//! Every request is recorded (method, path and query exactly as received, the
//! headers in order, the body bytes) *before* it is answered, so once a client
//! has the gateway's response the record is already there. Connections are
//! counted too: a denied request must not even open one.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::fail::OrPanic;

/// One request as the upstream saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, exactly as on the request line.
    pub target: String,
    /// Header names (lowercase, as hyper gives them) and raw values, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Bytes,
}

impl Recorded {
    /// Every value of header `name` (case-insensitive), as lossy strings.
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    /// The one value of header `name`; panics when it is absent or repeated.
    #[track_caller]
    pub fn header(&self, name: &str) -> String {
        let all = self.header_all(name);
        assert_eq!(
            all.len(),
            1,
            "upstream expected exactly one `{name}` header, got {all:?}"
        );
        all.into_iter().next().or_panic("header value")
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct State {
    requests: Mutex<Vec<Recorded>>,
    connections: AtomicUsize,
    /// When set, requests are recorded but never answered (for timeouts).
    hold: AtomicBool,
}

impl State {
    fn requests(&self) -> MutexGuard<'_, Vec<Recorded>> {
        // A poisoned lock only means another test thread panicked; the data is fine.
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The recording upstream; stops when dropped.
#[derive(Debug)]
pub struct Upstream {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

impl Upstream {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    pub async fn start() -> Upstream {
        Upstream::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Binds `addr` (a member that comes back on the port it had).
    pub async fn start_on(addr: SocketAddr) -> Upstream {
        let listener = TcpListener::bind(addr).await.or_panic("bind the upstream");
        let addr = listener.local_addr().or_panic("upstream address");
        let state = Arc::new(State::default());
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Upstream {
            addr,
            state,
            accept,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order.
    pub fn received(&self) -> Vec<Recorded> {
        self.state.requests().clone()
    }

    pub fn count(&self) -> usize {
        self.state.requests().len()
    }

    /// Takes (and forgets) every request received so far.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.state.requests())
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// When `true`, requests are recorded but not answered until it is `false` again.
    pub fn set_hold(&self, hold: bool) {
        self.state.hold.store(hold, Ordering::SeqCst);
    }

    /// Panics (naming `context`) unless no request reached the upstream.
    #[track_caller]
    pub fn assert_nothing(&self, context: &str) {
        let got = self.received();
        assert!(
            got.is_empty(),
            "{context}: the upstream received {} request(s): {got:#?}",
            got.len()
        );
    }

    /// Takes the single request received since the last `take`; panics otherwise.
    #[track_caller]
    pub fn take_one(&self, context: &str) -> Recorded {
        let mut got = self.take();
        assert_eq!(
            got.len(),
            1,
            "{context}: expected exactly one upstream request, got {got:#?}"
        );
        got.remove(0)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        state.connections.fetch_add(1, Ordering::SeqCst);
        let state = Arc::clone(&state);
        // The JoinSet aborts every connection task when the accept task is aborted.
        connections.spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&state), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.to_string(), ToString::to_string);
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    let seq = {
        let mut requests = state.requests();
        requests.push(Recorded {
            method: parts.method.to_string(),
            target,
            headers,
            body,
        });
        requests.len()
    };
    // Held requests wait until the hold is released (or forever).
    while state.hold.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let json = format!("{{\"upstream\":\"ok\",\"seq\":{seq}}}");
    let mut response = Response::new(Full::new(Bytes::from(json)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
