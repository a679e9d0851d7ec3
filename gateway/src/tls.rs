//! TLS on the proxy listener: the certificate and the client-certificate
//! verifier are read from the serving snapshot at every handshake, so a
//! reload that rotates them takes effect on the next connection, and a
//! rejected reload leaves the old ones serving. Connections already open
//! keep the certificate they were accepted with.
//!
//! Whether the listener speaks TLS, and whether it asks for client
//! certificates, is fixed when the gateway starts (pingora builds its
//! listeners once); a reload that changes either keeps the start's choice
//! and says so in the log.

use std::sync::Arc;

use arc_swap::ArcSwap;
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::{TlsAccept, TlsAcceptCallbacks};
use pingora::protocols::tls::TlsRef;
use reqflo_config::Snapshot;
use reqflo_config::tls::{ClientAuth, ServerTls};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// The listener's TLS settings for pingora, reading from `snapshot`.
pub fn settings(
    snapshot: Arc<ArcSwap<Snapshot>>,
    start: &Arc<ServerTls>,
) -> pingora::Result<TlsSettings> {
    let callbacks: TlsAcceptCallbacks = Box::new(ClientCertificates);
    let mut settings = TlsSettings::with_callbacks(callbacks)?;
    settings.set_cert_resolver(Arc::new(Certificates {
        snapshot: snapshot.clone(),
        start: start.clone(),
    }));
    if let Some(auth) = &start.client_auth {
        settings.set_client_cert_verifier(Arc::new(Verifier {
            snapshot,
            start: auth.verifier.clone(),
            required: auth.required,
        }));
    }
    if start.http2 {
        settings.enable_h2();
    }
    Ok(settings)
}

/// The serving snapshot's certificate (the start's when a reload removed TLS).
struct Certificates {
    snapshot: Arc<ArcSwap<Snapshot>>,
    start: Arc<ServerTls>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates").finish_non_exhaustive()
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let snapshot = self.snapshot.load();
        match &snapshot.settings.listener_tls {
            Some(tls) => Some(tls.certified_key.clone()),
            None => Some(self.start.certified_key.clone()),
        }
    }
}

/// The serving snapshot's client verifier (the start's when a reload
/// removed it or changed whether certificates are required).
struct Verifier {
    snapshot: Arc<ArcSwap<Snapshot>>,
    start: Arc<dyn ClientCertVerifier>,
    required: bool,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    fn current(&self) -> Arc<dyn ClientCertVerifier> {
        let snapshot = self.snapshot.load();
        match snapshot
            .settings
            .listener_tls
            .as_ref()
            .and_then(|t| t.client_auth.as_ref())
        {
            Some(ClientAuth {
                verifier, required, ..
            }) if *required == self.required => verifier.clone(),
            _ => self.start.clone(),
        }
    }
}

impl ClientCertVerifier for Verifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.required
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: the hints would have to outlive a reload.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.current()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.current().supported_verify_schemes()
    }
}

/// The verified client certificate of a connection: what identity may read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The subject's common name, when it has one.
    pub common_name: Option<String>,
    /// The `DNS` and `URI` subject alternative names.
    pub dns_names: Vec<String>,
    pub uris: Vec<String>,
}

impl ClientCertificate {
    /// Reads the names of a DER certificate (already verified by the handshake).
    pub fn from_der(der: &[u8]) -> Option<ClientCertificate> {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        let mut dns_names = Vec::new();
        let mut uris = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(d) => dns_names.push((*d).to_owned()),
                    GeneralName::URI(u) => uris.push((*u).to_owned()),
                    _ => {}
                }
            }
        }
        Some(ClientCertificate {
            common_name,
            dns_names,
            uris,
        })
    }
}

/// After a handshake: the client certificate's names, kept with the connection.
struct ClientCertificates;

#[async_trait::async_trait]
impl TlsAccept for ClientCertificates {
    async fn handshake_complete_callback(
        &self,
        tls: &TlsRef,
    ) -> Option<Arc<dyn std::any::Any + Send + Sync>> {
        let der = tls.peer_certificate_der()?;
        let names = ClientCertificate::from_der(der)?;
        Some(Arc::new(names))
    }
}
