//! The TLS files of the listener and the upstreams: read once with the other
//! inputs, checked here, every fault reported at the config line naming the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Errors, Inputs};
use crate::error::{ConfigError, ErrorKind};
use crate::raw::{RawListenTls, RawUpstreamTls};
use crate::tls::{self, CaBundle, ClientAuth, ClientCertificate, ServerTls, UpstreamTls};

/// The bytes of one TLS file, or an error at the `key: file` line that names it.
fn file<'i>(
    inputs: &'i Inputs,
    errors: &mut Errors<'_>,
    key: &str,
    name: &str,
) -> Option<(PathBuf, &'i [u8])> {
    let path = super::resolve(&inputs.config_path, name);
    let found = inputs.tls_files.iter().find(|(p, _)| *p == path);
    match found.map(|(_, bytes)| bytes) {
        Some(Ok(bytes)) => Some((path, bytes.as_slice())),
        Some(Err(e)) => {
            fault(
                inputs,
                errors,
                key,
                name,
                &path,
                format!("cannot be read: {e}"),
            );
            None
        }
        None => {
            fault(inputs, errors, key, name, &path, "was not read".to_owned());
            None
        }
    }
}

fn fault(
    inputs: &Inputs,
    errors: &mut Errors<'_>,
    key: &str,
    name: &str,
    path: &Path,
    what: String,
) {
    errors.push(ConfigError {
        kind: ErrorKind::TlsFile,
        file: inputs.config_path.clone(),
        line: crate::lines::value_line(errors.text(), key, name),
        column: None,
        route: None,
        message: format!("`{key}` file `{}` {what}", path.display()),
    });
}

/// The listener's certificate, key and client verification.
pub(super) fn listener(
    inputs: &Inputs,
    raw: &RawListenTls,
    errors: &mut Errors<'_>,
) -> Option<ServerTls> {
    let before = errors.len();
    let chain = file(inputs, errors, "certificate", &raw.certificate).and_then(|(path, pem)| {
        tls::certificates(pem)
            .map(|c| (path.clone(), c))
            .map_err(|e| fault(inputs, errors, "certificate", &raw.certificate, &path, e))
            .ok()
    });
    let key = file(inputs, errors, "key", &raw.key).and_then(|(path, pem)| {
        tls::private_key(pem)
            .map(|k| (path.clone(), k))
            .map_err(|e| fault(inputs, errors, "key", &raw.key, &path, e))
            .ok()
    });
    let required = match raw.client_certificates.as_deref() {
        None | Some("required") => true,
        Some("optional") => false,
        Some(other) => {
            errors.setting(
                ErrorKind::Invalid,
                "tls",
                "client_certificates",
                format!("`client_certificates` is `required` or `optional`, not `{other}`"),
            );
            true
        }
    };
    if raw.client_certificates.is_some() && raw.client_ca.is_none() {
        errors.setting(
            ErrorKind::Invalid,
            "tls",
            "client_certificates",
            "`client_certificates` needs `client_ca`, the bundle they are verified against"
                .to_owned(),
        );
    }
    let client_auth = raw.client_ca.as_ref().and_then(|name| {
        let (path, pem) = file(inputs, errors, "client_ca", name)?;
        let verifier = tls::certificates(pem)
            .and_then(|c| tls::client_verifier(&c, required))
            .map_err(|e| fault(inputs, errors, "client_ca", name, &path, e))
            .ok()?;
        Some(ClientAuth {
            ca_file: path,
            required,
            verifier,
        })
    });
    let ((certificate_file, chain), (key_file, key)) = (chain?, key?);
    let (subject, not_after) = chain
        .first()
        .and_then(|leaf| tls::validity(leaf.as_ref()))
        .unwrap_or_default();
    let certified_key = tls::certified_key(chain, key)
        .map_err(|e| fault(inputs, errors, "key", &raw.key, &key_file, e))
        .ok()?;
    (errors.len() == before).then(|| ServerTls {
        certificate_file,
        key_file,
        certified_key: Arc::new(certified_key),
        client_auth,
        http2: raw.http2,
        subject,
        not_after,
    })
}

/// One upstream's TLS (`None` inside: plain HTTP).
pub(super) fn upstream(
    inputs: &Inputs,
    raw: Option<&RawUpstreamTls>,
    errors: &mut Errors<'_>,
) -> Option<Option<UpstreamTls>> {
    let settings = match raw {
        None | Some(RawUpstreamTls::On(false)) => return Some(None),
        Some(RawUpstreamTls::On(true)) => return Some(Some(UpstreamTls::default())),
        Some(RawUpstreamTls::Settings(s)) => s,
    };
    let before = errors.len();
    let ca = settings
        .ca
        .as_ref()
        .and_then(|name| ca_bundle(inputs, errors, "ca", name));
    let client = match (&settings.client_certificate, &settings.client_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => client_certificate(inputs, cert, key, errors),
        (Some(_), None) | (None, Some(_)) => {
            errors.setting(
                ErrorKind::Invalid,
                "tls",
                if settings.client_key.is_none() {
                    "client_certificate"
                } else {
                    "client_key"
                },
                "`client_certificate` and `client_key` go together".to_owned(),
            );
            None
        }
    };
    (errors.len() == before).then_some(Some(UpstreamTls { ca, client }))
}

/// A CA bundle named at `key: name`, checked to hold usable CAs.
pub(super) fn ca_bundle(
    inputs: &Inputs,
    errors: &mut Errors<'_>,
    key: &str,
    name: &str,
) -> Option<CaBundle> {
    let (path, pem) = file(inputs, errors, key, name)?;
    let certificates = tls::certificates(pem)
        .and_then(|c| tls::root_store(&c).map(|_| c))
        .map_err(|e| fault(inputs, errors, key, name, &path, e))
        .ok()?;
    Some(CaBundle {
        file: path,
        certificates: certificates.iter().map(|c| c.to_vec()).collect(),
    })
}

fn client_certificate(
    inputs: &Inputs,
    cert: &str,
    key: &str,
    errors: &mut Errors<'_>,
) -> Option<ClientCertificate> {
    let chain = file(inputs, errors, "client_certificate", cert).and_then(|(path, pem)| {
        tls::certificates(pem)
            .map(|c| (path.clone(), c))
            .map_err(|e| fault(inputs, errors, "client_certificate", cert, &path, e))
            .ok()
    });
    let private = file(inputs, errors, "client_key", key).and_then(|(path, pem)| {
        tls::private_key(pem)
            .map(|k| (path.clone(), k))
            .map_err(|e| fault(inputs, errors, "client_key", key, &path, e))
            .ok()
    });
    let ((certificate_file, chain), (key_file, private)) = (chain?, private?);
    let key_der = private.secret_der().to_vec();
    let chain_der: Vec<Vec<u8>> = chain.iter().map(|c| c.to_vec()).collect();
    tls::certified_key(chain, private)
        .map_err(|e| fault(inputs, errors, "client_key", key, &key_file, e))
        .ok()?;
    Some(ClientCertificate {
        certificate_file,
        key_file,
        chain: chain_der,
        key: key_der,
    })
}
