//! TLS material, parsed and checked when a config loads: the proxy
//! listener's certificate and key (and the CA bundle client certificates are
//! verified against), and each upstream's CA bundle and client certificate.
//!
//! Nothing here is read again on a connection: a certificate rotation is a
//! reload, like a policy change, and a bad file is rejected with the old
//! snapshot (and its certificate) still serving.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::sign::CertifiedKey;

/// The one crypto provider every TLS object of the gateway is built with
/// (pingora's rustls build installs the same one as the process default).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The proxy listener's TLS.
pub struct ServerTls {
    pub certificate_file: PathBuf,
    pub key_file: PathBuf,
    /// The chain and key, checked to belong together.
    pub certified_key: Arc<CertifiedKey>,
    /// Client certificate verification; none when `client_ca` is not set.
    pub client_auth: Option<ClientAuth>,
    /// HTTP/2 offered over ALPN.
    pub http2: bool,
    /// The leaf's subject and the end of its validity (Unix seconds).
    pub subject: String,
    pub not_after: i64,
}

/// Verifying client certificates against a CA bundle.
pub struct ClientAuth {
    pub ca_file: PathBuf,
    /// A connection without a certificate is refused (`required`) or served
    /// as if the listener had no client verification (`optional`).
    pub required: bool,
    pub verifier: Arc<dyn ClientCertVerifier>,
}

/// TLS to one upstream: verification is always on.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UpstreamTls {
    /// Verify against this bundle; the system roots when `None`.
    pub ca: Option<CaBundle>,
    /// The certificate presented to the upstream.
    pub client: Option<ClientCertificate>,
}

/// A CA bundle: its file and its certificates (DER), at least one.
#[derive(Clone, PartialEq, Eq)]
pub struct CaBundle {
    pub file: PathBuf,
    pub certificates: Vec<Vec<u8>>,
}

/// A client certificate chain (DER, leaf first) and its key (DER).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    pub certificate_file: PathBuf,
    pub key_file: PathBuf,
    pub chain: Vec<Vec<u8>>,
    pub key: Vec<u8>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("certificate_file", &self.certificate_file)
            .field("key_file", &self.key_file)
            .field("client_auth", &self.client_auth)
            .field("http2", &self.http2)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAuth")
            .field("ca_file", &self.ca_file)
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for UpstreamTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamTls")
            .field("ca", &self.ca.as_ref().map(|c| &c.file))
            .field(
                "client_certificate",
                &self.client.as_ref().map(|c| &c.certificate_file),
            )
            .finish()
    }
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaBundle")
            .field("file", &self.file)
            .field("certificates", &self.certificates.len())
            .finish()
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("certificate_file", &self.certificate_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

/// The certificates of a PEM file, each checked to parse as X.509.
pub fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut out = Vec::new();
    for item in CertificateDer::pem_slice_iter(pem) {
        let der = item.map_err(|e| format!("is not PEM: {e}"))?;
        if x509_parser::parse_x509_certificate(der.as_ref()).is_err() {
            return Err(format!(
                "holds a CERTIFICATE block {} that is not X.509",
                out.len() + 1
            ));
        }
        out.push(der);
    }
    if out.is_empty() {
        return Err("holds no PEM CERTIFICATE block".to_owned());
    }
    Ok(out)
}

/// The subject and the end of validity (Unix seconds) of a DER certificate.
pub fn validity(der: &[u8]) -> Option<(String, i64)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some((
        cert.subject().to_string(),
        cert.validity().not_after.timestamp(),
    ))
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => "holds no PEM private key".to_owned(),
        other => format!("is not a PEM private key: {other}"),
    })
}

/// A chain and key that belong together, as the listener serves them.
pub fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<CertifiedKey, String> {
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => {
            "does not belong to the certificate (the public keys differ)".to_owned()
        }
        other => format!("cannot be used: {other}"),
    })
}

/// The roots a CA bundle holds.
pub fn root_store(certificates: &[CertificateDer<'static>]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for (i, c) in certificates.iter().enumerate() {
        roots
            .add(c.clone())
            .map_err(|e| format!("certificate {} is not a usable CA: {e}", i + 1))?;
    }
    Ok(roots)
}

/// The client-certificate verifier of a CA bundle.
pub fn client_verifier(
    certificates: &[CertificateDer<'static>],
    required: bool,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let roots = Arc::new(root_store(certificates)?);
    let builder = WebPkiClientVerifier::builder_with_provider(roots, provider());
    let builder = if required {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    builder
        .build()
        .map_err(|e| format!("cannot verify client certificates: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_says_so() {
        assert_eq!(
            certificates(b"hello").err().as_deref(),
            Some("holds no PEM CERTIFICATE block")
        );
        assert_eq!(
            private_key(b"hello").err().as_deref(),
            Some("holds no PEM private key")
        );
    }
}
