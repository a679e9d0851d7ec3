//! Real TLS for the end-to-end tests: a test CA made at test time (rcgen),
//! server and client certificates it signs, a TLS client (rustls, HTTP/1.1
//! or HTTP/2 over ALPN) and a TLS upstream that records the SNI it was
//! asked for.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::fail::OrPanic;

/// A certificate and its key, PEM.
#[derive(Clone, Debug)]
pub struct Pem {
    pub certificate: String,
    pub key: String,
}

impl Pem {
    /// Writes `NAME.crt` and `NAME.key` into `dir`.
    pub fn write(&self, dir: &Path, name: &str) {
        std::fs::write(dir.join(format!("{name}.crt")), &self.certificate)
            .or_panic("write the certificate");
        std::fs::write(dir.join(format!("{name}.key")), &self.key).or_panic("write the key");
    }

    fn chain(&self) -> Vec<CertificateDer<'static>> {
        use rustls::pki_types::pem::PemObject;
        CertificateDer::pem_slice_iter(self.certificate.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .or_panic("parse the test certificate")
    }

    fn private_key(&self) -> PrivateKeyDer<'static> {
        use rustls::pki_types::pem::PemObject;
        PrivateKeyDer::from_pem_slice(self.key.as_bytes()).or_panic("parse the test key")
    }
}

/// A test certificate authority.
#[derive(Debug)]
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pub certificate: String,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).or_panic("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().or_panic("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).or_panic("self-sign the CA");
        let certificate = issuer.pem();
        TestCa {
            issuer,
            certificate,
        }
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn server(&self, names: &[&str]) -> Pem {
        self.leaf(names, names.first().copied().unwrap_or("server"), false)
    }

    /// A client certificate whose subject common name is `cn`.
    pub fn client(&self, cn: &str) -> Pem {
        self.leaf(&[], cn, true)
    }

    fn leaf(&self, names: &[&str], cn: &str, client: bool) -> Pem {
        let sans: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(sans).or_panic("leaf params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key = KeyPair::generate().or_panic("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .or_panic("sign the leaf");
        Pem {
            certificate: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// The CA's roots, for a rustls client or server.
    pub fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.issuer.der().clone())
            .or_panic("add the test CA");
        roots
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What a TLS request saw.
#[derive(Debug)]
pub struct TlsAnswer {
    pub status: u16,
    pub body: String,
    /// The protocol ALPN chose (`h2`, `http/1.1`), if any.
    pub alpn: Option<String>,
    /// The server's leaf certificate.
    pub server_certificate: Vec<u8>,
}

/// A TLS client trusting `ca`, optionally presenting `client`.
#[derive(Clone, Debug)]
pub struct TlsClient {
    config: Arc<rustls::ClientConfig>,
}

impl TlsClient {
    pub fn new(ca: &TestCa, client: Option<&Pem>, alpn: &[&str]) -> TlsClient {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .or_panic("TLS versions")
            .with_root_certificates(ca.roots());
        let mut config = match client {
            Some(pem) => builder
                .with_client_auth_cert(pem.chain(), pem.private_key())
                .or_panic("client certificate"),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        TlsClient {
            config: Arc::new(config),
        }
    }

    /// Only TLS 1.2 (or only 1.3), to show both are served.
    pub fn with_version(
        ca: &TestCa,
        version: &'static rustls::SupportedProtocolVersion,
    ) -> TlsClient {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[version])
            .or_panic("TLS version")
            .with_root_certificates(ca.roots())
            .with_no_client_auth();
        TlsClient {
            config: Arc::new(config),
        }
    }

    /// Connects and completes the handshake.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        name: &str,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(addr).await?;
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        let name = ServerName::try_from(name.to_owned())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        connector.connect(name, tcp).await
    }

    /// One request on a new connection, HTTP/2 when ALPN chose it.
    pub async fn request(
        &self,
        addr: SocketAddr,
        name: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> std::io::Result<TlsAnswer> {
        let stream = self.connect(addr, name).await?;
        let (_, session) = stream.get_ref();
        let alpn = session
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let server_certificate = session
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec())
            .unwrap_or_default();
        let h2 = alpn.as_deref() == Some("h2");
        // HTTP/2 carries the authority in `:authority`; HTTP/1.1 sends the
        // path on the request line and the name in `Host`.
        let mut builder = Request::builder().method(method).uri(if h2 {
            format!("https://{name}{path}")
        } else {
            path.to_owned()
        });
        if !h2 {
            builder = builder.header("host", name);
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let io = TokioIo::new(stream);
        let request = builder
            .body(Full::new(Bytes::new()))
            .map_err(std::io::Error::other)?;
        let response = if h2 {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(std::io::Error::other)?;
            tokio::spawn(conn);
            sender
                .send_request(request)
                .await
                .map_err(std::io::Error::other)?
        } else {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(std::io::Error::other)?;
            tokio::spawn(conn);
            sender
                .send_request(request)
                .await
                .map_err(std::io::Error::other)?
        };
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes();
        Ok(TlsAnswer {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
            alpn,
            server_certificate,
        })
    }
}

/// A rustls server config serving `pem`, no client certificates.
pub fn server_config(pem: &Pem) -> Arc<rustls::ServerConfig> {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .or_panic("TLS versions")
        .with_no_client_auth()
        .with_single_cert(pem.chain(), pem.private_key())
        .or_panic("server certificate");
    Arc::new(config)
}

/// The DER of the first certificate of a PEM chain.
pub fn der_of(pem: &Pem) -> Vec<u8> {
    pem.chain()
        .first()
        .map(|c| c.to_vec())
        .or_panic("a certificate")
}

/// A TLS upstream: answers `200 tls-upstream` to every request and
/// records the SNI of every handshake and the path of every request.
#[derive(Debug)]
pub struct TlsUpstream {
    addr: SocketAddr,
    task: JoinHandle<()>,
    sni: Arc<Mutex<Vec<Option<String>>>>,
    requests: Arc<AtomicUsize>,
    client_names: Arc<Mutex<Vec<bool>>>,
}

impl TlsUpstream {
    /// Serves `pem`; when `client_ca` is given, a client certificate it signed is required.
    pub async fn start(pem: &Pem, client_ca: Option<&TestCa>) -> TlsUpstream {
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .or_panic("TLS versions");
        let builder = match client_ca {
            Some(ca) => builder.with_client_cert_verifier(
                rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(ca.roots()),
                    provider(),
                )
                .build()
                .or_panic("client verifier"),
            ),
            None => builder.with_no_client_auth(),
        };
        let config = builder
            .with_single_cert(pem.chain(), pem.private_key())
            .or_panic("upstream certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .or_panic("bind the TLS upstream");
        let addr = listener.local_addr().or_panic("TLS upstream address");
        let sni = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let client_names = Arc::new(Mutex::new(Vec::new()));
        let (sni2, requests2, client2) = (sni.clone(), requests.clone(), client_names.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let (sni, requests, client) = (sni2.clone(), requests2.clone(), client2.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let (_, session) = stream.get_ref();
                    if let Ok(mut s) = sni.lock() {
                        s.push(session.server_name().map(str::to_owned));
                    }
                    if let Ok(mut c) = client.lock() {
                        c.push(session.peer_certificates().is_some());
                    }
                    let service = service_fn(move |_req: Request<Incoming>| {
                        let requests = requests.clone();
                        async move {
                            requests.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                                Bytes::from_static(b"tls-upstream"),
                            )))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TlsUpstream {
            addr,
            task,
            sni,
            requests,
            client_names,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SNI of every completed handshake, in order.
    pub fn sni(&self) -> Vec<Option<String>> {
        self.sni.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Whether each completed handshake carried a client certificate.
    pub fn client_certificates(&self) -> Vec<bool> {
        self.client_names
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Requests answered.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for TlsUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}
