//! A real HTTP server publishing a JWKS (and, when asked, an OpenID
//! discovery document), whose answer a test changes while the gateway runs:
//! keys that rotate, errors, garbage, stalls. Every fetch is counted.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::fail::OrPanic;

/// What the key-set path answers.
#[derive(Clone, Debug)]
pub enum Answer {
    /// `200` with this JWKS and `Cache-Control: max-age=N` when given.
    Keys(String, Option<u64>),
    /// This status, an empty body.
    Status(u16),
    /// `200` with a body that is not JSON.
    Garbage,
    /// No answer for this long, then `500`.
    Stall(Duration),
}

#[derive(Debug)]
struct State {
    answer: Mutex<Answer>,
    discovery: Mutex<Option<String>>,
    key_fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
}

/// The JWKS server; stops when dropped.
#[derive(Debug)]
pub struct JwksServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
    https: bool,
}

/// The path the key set is served at.
pub const KEYS_PATH: &str = "/keys.json";
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

impl JwksServer {
    pub async fn start(answer: Answer) -> JwksServer {
        JwksServer::start_with(answer, None).await
    }

    /// The same over TLS with `pem` (a certificate for `localhost`): `base`
    /// is then `https://localhost:PORT`.
    pub async fn start_tls(answer: Answer, pem: &crate::tls::Pem) -> JwksServer {
        JwksServer::start_with(answer, Some(crate::tls::server_config(pem))).await
    }

    async fn start_with(answer: Answer, tls: Option<Arc<rustls::ServerConfig>>) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .or_panic("bind the JWKS server");
        let addr = listener.local_addr().or_panic("JWKS server address");
        let state = Arc::new(State {
            answer: Mutex::new(answer),
            discovery: Mutex::new(None),
            key_fetches: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
        });
        let s = state.clone();
        let https = tls.is_some();
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let s = s.clone();
                let acceptor = acceptor.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| serve(s.clone(), req));
                    match acceptor {
                        None => {
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(tcp), service)
                                .await;
                        }
                        Some(a) => {
                            let Ok(stream) = a.accept(tcp).await else {
                                return;
                            };
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        });
        JwksServer {
            addr,
            state,
            task,
            https,
        }
    }

    /// `http://127.0.0.1:PORT`, or `https://localhost:PORT` over TLS.
    pub fn base(&self) -> String {
        if self.https {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    pub fn keys_url(&self) -> String {
        format!("{}{KEYS_PATH}", self.base())
    }

    pub fn set(&self, answer: Answer) {
        if let Ok(mut a) = self.state.answer.lock() {
            *a = answer;
        }
    }

    /// Serves a discovery document naming `issuer` and this server's key set.
    pub fn set_discovery(&self, issuer: &str) {
        let doc = json!({ "issuer": issuer, "jwks_uri": self.keys_url() }).to_string();
        if let Ok(mut d) = self.state.discovery.lock() {
            *d = Some(doc);
        }
    }

    /// Requests for the key set so far.
    pub fn key_fetches(&self) -> usize {
        self.state.key_fetches.load(Ordering::SeqCst)
    }

    pub fn discovery_fetches(&self) -> usize {
        self.state.discovery_fetches.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let respond = |status: u16, body: String, cache: Option<u64>| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
        if let Some(n) = cache
            && let Ok(v) = http::HeaderValue::from_str(&format!("max-age={n}"))
        {
            r.headers_mut().insert(http::header::CACHE_CONTROL, v);
        }
        r
    };
    if req.uri().path() == DISCOVERY_PATH {
        state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
        let doc = state.discovery.lock().ok().and_then(|d| d.clone());
        return Ok(match doc {
            Some(doc) => respond(200, doc, None),
            None => respond(404, String::new(), None),
        });
    }
    if req.uri().path() != KEYS_PATH {
        return Ok(respond(404, String::new(), None));
    }
    state.key_fetches.fetch_add(1, Ordering::SeqCst);
    let answer = state
        .answer
        .lock()
        .map(|a| a.clone())
        .unwrap_or(Answer::Status(500));
    Ok(match answer {
        Answer::Keys(body, cache) => respond(200, body, cache),
        Answer::Status(code) => respond(code, String::new(), None),
        Answer::Garbage => respond(200, "<html>not a key set</html>".to_owned(), None),
        Answer::Stall(d) => {
            tokio::time::sleep(d).await;
            respond(500, String::new(), None)
        }
    })
}

/// A signing key of the tests and the public JWK the server publishes for it.
#[derive(Clone, Debug)]
pub struct SigningKey {
    pub kid: String,
    pub private_pem: Vec<u8>,
    pub algorithm: Algorithm,
    pub jwk: Jwk,
}

impl SigningKey {
    /// An RSA key from a PEM private key (RS256).
    pub fn rsa(kid: &str, private_pem: &[u8]) -> SigningKey {
        let key = EncodingKey::from_rsa_pem(private_pem).or_panic("RSA key");
        SigningKey::with(kid, private_pem, Algorithm::RS256, &key)
    }

    /// A fresh P-256 key made now (ES256).
    pub fn fresh_ec(kid: &str) -> SigningKey {
        let pair = rcgen::KeyPair::generate().or_panic("P-256 key");
        let pem = pair.serialize_pem().into_bytes();
        let key = EncodingKey::from_ec_pem(&pem).or_panic("EC key");
        SigningKey::with(kid, &pem, Algorithm::ES256, &key)
    }

    fn with(kid: &str, pem: &[u8], algorithm: Algorithm, key: &EncodingKey) -> SigningKey {
        let mut jwk = Jwk::from_encoding_key(key, algorithm).or_panic("public JWK");
        jwk.common.key_id = Some(kid.to_owned());
        SigningKey {
            kid: kid.to_owned(),
            private_pem: pem.to_vec(),
            algorithm,
            jwk,
        }
    }

    /// A token for `claims` signed with this key.
    pub fn sign(&self, claims: &crate::jwt::Claims) -> String {
        match self.algorithm {
            Algorithm::ES256 => claims.es256_with(&self.kid, &self.private_pem),
            _ => claims.rs256_with(&self.kid, &self.private_pem),
        }
    }
}

/// The JWKS body publishing `keys`.
pub fn key_set(keys: &[&SigningKey]) -> String {
    let set = JwkSet {
        keys: keys.iter().map(|k| k.jwk.clone()).collect(),
    };
    serde_json::to_string(&set).unwrap_or_default()
}
