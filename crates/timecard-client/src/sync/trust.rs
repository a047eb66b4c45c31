//! Which certificate a server may present (Y1, Y7): the public roots, a
//! CA file the user chose, or exactly one certificate trusted on first use
//! by its SHA-256 fingerprint. This module owns the TLS side of the last:
//! a rustls verifier that accepts the pinned end-entity certificate (still
//! checking that the server holds its key: the handshake signature is
//! verified) and refuses any other with both fingerprints, and the ureq
//! connector that uses it. It does not decide what is pinned; that is
//! [`crate::connect`]'s `known-servers.json`.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, StreamOwned};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

pub use timecard_core::tls::Fingerprint;

/// What a client trusts for its server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The usual public roots.
    Public,
    /// Certificates from a PEM file: the server's own CA or its
    /// self-signed certificate (Y1).
    CaPem(Vec<u8>),
    /// Exactly the certificate with this fingerprint (Y7).
    Pinned(Fingerprint),
}

/// Why a pinned server was refused: it presented another certificate.
#[derive(Debug)]
pub struct CertificateChanged {
    pub pinned: Fingerprint,
    pub presented: Fingerprint,
}

impl std::fmt::Display for CertificateChanged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the certificate is {}, not the trusted {}",
            self.presented, self.pinned
        )
    }
}

impl std::error::Error for CertificateChanged {}

/// What a [`PinnedVerifier`] does with the certificate it is shown.
#[derive(Debug)]
enum Mode {
    /// Accept exactly this one.
    Pinned(Fingerprint),
    /// Note it and refuse it: a look at what the server presents, before
    /// anything is sent.
    Look,
}

/// The verifier of [`Trust::Pinned`] (and of a look at the certificate).
#[derive(Debug)]
struct PinnedVerifier {
    mode: Mode,
    provider: Arc<CryptoProvider>,
    /// The fingerprint of the last certificate presented.
    seen: Arc<Mutex<Option<Fingerprint>>>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = Fingerprint::of(end_entity.as_ref());
        *self.seen.lock().expect("seen lock") = Some(presented);
        match self.mode {
            // The user compared this exact certificate: its names and dates
            // are what they trusted (like an SSH host key).
            Mode::Pinned(pinned) if pinned == presented => Ok(ServerCertVerified::assertion()),
            Mode::Pinned(pinned) => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Other(rustls::OtherError(Arc::new(CertificateChanged {
                    pinned,
                    presented,
                }))),
            )),
            Mode::Look => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The ureq connector chain for a pinned server: a `CONNECT` proxy when
/// the environment asks for one (Y3), TCP, then TLS with a
/// [`PinnedVerifier`].
pub(crate) fn pinned_connector(pinned: Fingerprint) -> impl Connector {
    chain(Mode::Pinned(pinned)).0
}

/// A connector that notes the certificate the server presents and refuses
/// it, and where the note is kept.
pub(crate) fn look_connector() -> (impl Connector, Arc<Mutex<Option<Fingerprint>>>) {
    chain(Mode::Look)
}

fn chain(mode: Mode) -> (impl Connector, Arc<Mutex<Option<Fingerprint>>>) {
    timecard_core::tls::install_crypto_provider();
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let seen = Arc::new(Mutex::new(None));
    let verifier = PinnedVerifier {
        mode,
        provider: provider.clone(),
        seen: seen.clone(),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let connector =
        ().chain(ureq::unversioned::transport::ConnectProxyConnector::default())
            .chain(ureq::unversioned::transport::TcpConnector::default())
            .chain(PinnedTls {
                config: Arc::new(config),
            });
    (connector, seen)
}

/// Wraps the connection in TLS with the pinned verifier.
struct PinnedTls {
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for PinnedTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinnedTls")
    }
}

impl<In: Transport> Connector<In> for PinnedTls {
    type Out = Either<In, PinnedTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Err(ureq::Error::ConnectionFailed);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .host()
            .ok_or(ureq::Error::Tls("the address has no host"))?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let name = ServerName::try_from(host)
            .map_err(|_| ureq::Error::Tls("the host is not a valid name for TLS"))?
            .to_owned();
        let mut conn = ClientConnection::new(self.config.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        Ok(Some(Either::B(PinnedTransport {
            buffers: LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
            stream: StreamOwned { conn, sock },
        })))
    }
}

/// A TLS connection made by [`PinnedTls`].
pub(crate) struct PinnedTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for PinnedTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinnedTransport")
    }
}

impl Transport for PinnedTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
