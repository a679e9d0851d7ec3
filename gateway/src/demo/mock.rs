//! A mock Reqflo backend: answers every request with 200 and a JSON echo of
//! what reached it (method, path, the verified user, the decision id, the
//! body size), and counts requests.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;

/// A running mock backend (a task on the caller's tokio runtime).
#[derive(Debug, Clone)]
pub struct MockBackend {
    pub name: Arc<str>,
    pub addr: SocketAddr,
    requests: Arc<AtomicU64>,
}

impl MockBackend {
    /// Binds `addr` (port 0 for any) and serves until the runtime stops.
    pub async fn start(name: &str, addr: SocketAddr) -> std::io::Result<MockBackend> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(AtomicU64::new(0));
        let counter = requests.clone();
        let name: Arc<str> = Arc::from(name);
        let task_name = name.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let counter = counter.clone();
                let name = task_name.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        counter.fetch_add(1, Ordering::Relaxed);
                        answer(name.clone(), req)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(MockBackend {
            name,
            addr,
            requests,
        })
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

async fn answer(
    name: Arc<str>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let user = header("x-reqflo-user");
    let decision_id = header("x-reqflo-decision-id");
    let method = req.method().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let echo = json!({
        "backend": &*name,
        "ok": true,
        "method": method,
        "path": target,
        "user": user,
        "decision_id": decision_id,
        "body_bytes": body.len(),
    });
    let bytes = serde_json::to_vec(&echo).unwrap_or_default();
    Ok(Response::builder()
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .unwrap_or_default())
}
