//! The certificate the TLS contenders serve: a throwaway CA and a P-256
//! server certificate for `localhost`, made when the comparison starts, and
//! the client config the load trusts it with. nginx and the gateway serve
//! the same files, so the rows compare the proxies, not the certificates.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

pub const CERT_FILE: &str = "server.crt";
pub const KEY_FILE: &str = "server.key";

/// The PEMs and the client config.
#[derive(Debug)]
pub struct Material {
    certificate: String,
    key: String,
    pub client: Arc<rustls::ClientConfig>,
}

/// Where a contender's copy of the PEMs is.
#[derive(Debug)]
pub struct Files {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// Why the certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MaterialError {
    #[error("cannot make the load-test certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot build the TLS client config: {0}")]
    Client(#[from] rustls::Error),
}

impl Material {
    pub fn new() -> Result<Material, MaterialError> {
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
        let key = KeyPair::generate()?;
        let cert =
            CertificateParams::new(vec!["localhost".to_owned()])?.signed_by(&key, &issuer)?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(issuer.der().clone())?;
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Material {
            certificate: cert.pem(),
            key: key.serialize_pem(),
            client: Arc::new(client),
        })
    }

    /// Writes `server.crt` and `server.key` into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<Files> {
        let files = Files {
            certificate: dir.join(CERT_FILE),
            key: dir.join(KEY_FILE),
        };
        std::fs::write(&files.certificate, &self.certificate)?;
        std::fs::write(&files.key, &self.key)?;
        Ok(files)
    }
}
