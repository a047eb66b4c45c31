//! TLS set-up shared by the client and the server: the ring crypto provider,
//! PEM parsing, and the self-signed certificate of a self-hosted or built-in
//! server (SANs `localhost` and `127.0.0.1`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Installs ring as the process's rustls provider. Safe to call many times.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A certificate and its private key, PEM-encoded.
#[derive(Clone)]
pub struct CertificatePair {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// Where a server keeps its generated certificate.
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let tls = data_dir.join("tls");
    (tls.join("cert.pem"), tls.join("key.pem"))
}

/// Reads `DATA/tls/cert.pem` and `key.pem`, generating them on first use
/// (the key with owner-only permissions).
pub fn ensure_self_signed(data_dir: &Path) -> io::Result<CertificatePair> {
    let (cert_path, key_path) = self_signed_paths(data_dir);
    if cert_path.exists() && key_path.exists() {
        return Ok(CertificatePair {
            cert_pem: fs::read(&cert_path)?,
            key_pem: fs::read(&key_path)?,
        });
    }
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let generated = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
    let pair = CertificatePair {
        cert_pem: generated.cert.pem().into_bytes(),
        key_pem: generated.signing_key.serialize_pem().into_bytes(),
    };
    let dir = cert_path.parent().expect("tls folder");
    fs::create_dir_all(dir)?;
    crate::connect::write_private(&key_path, &pair.key_pem)?;
    fs::write(&cert_path, &pair.cert_pem)?;
    Ok(pair)
}

/// A rustls server configuration (ring provider) from PEM data.
pub fn server_config(pair: &CertificatePair) -> io::Result<Arc<rustls::ServerConfig>> {
    let certs = CertificateDer::pem_slice_iter(&pair.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no certificate in the PEM file",
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&pair.key_pem)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("private key PEM: {e}")))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("certificate and key do not fit: {e}"),
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
