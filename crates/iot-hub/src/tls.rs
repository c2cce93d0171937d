//! [`TlsConfig`]: the server certificate the MQTT endpoint presents, and how it treats client
//! certificates.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};

use crate::HubError;

/// The server's certificate chain and private key, PEM-encoded.
///
/// The endpoint speaks TLS 1.2 (which the Python device SDK requires) and 1.3, with rustls and
/// the `ring` provider; it needs no SNI. It asks every client for a certificate but requires
/// none: the certificate is checked in MQTT CONNECT against the device's registered
/// thumbprints (self-signed X.509 devices), so any certificate is accepted during the
/// handshake, whose signature is still verified.
#[derive(Clone)]
pub struct TlsConfig {
    config: Arc<ServerConfig>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsConfig { .. }")
    }
}

impl TlsConfig {
    /// A configuration from a PEM certificate chain (leaf first) and a PEM private key
    /// (PKCS#8, PKCS#1 or SEC1).
    ///
    /// # Errors
    /// [`HubError::Tls`] when either does not parse or the key does not fit the certificate.
    pub fn from_pem(cert_chain: &[u8], private_key: &[u8]) -> Result<Self, HubError> {
        let certs = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| tls_error(format!("certificate PEM: {e}")))?;
        if certs.is_empty() {
            return Err(tls_error("the certificate PEM holds no certificate"));
        }
        let key = PrivateKeyDer::from_pem_slice(private_key)
            .map_err(|e| tls_error(format!("private key PEM: {e}")))?;
        Self::from_der(certs, key)
    }

    /// A configuration from PEM files: the certificate chain and the private key.
    ///
    /// # Errors
    /// [`HubError::Tls`] when a file cannot be read or does not parse.
    pub fn from_pem_files(cert_chain: &Path, private_key: &Path) -> Result<Self, HubError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| tls_error(format!("{}: {e}", path.display())))
        };
        Self::from_pem(&read(cert_chain)?, &read(private_key)?)
    }

    fn from_der(
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, HubError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = AnyClientCert {
            algorithms: provider.signature_verification_algorithms,
        };
        let config = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
            .map_err(|e| tls_error(e.to_string()))?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_single_cert(certs, key)
            .map_err(|e| tls_error(format!("certificate and key: {e}")))?;
        Ok(Self {
            config: Arc::new(config),
        })
    }

    pub(crate) fn server_config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.config)
    }
}

fn tls_error(reason: impl Into<String>) -> HubError {
    HubError::Tls {
        reason: reason.into(),
    }
}

/// Accepts any client certificate, verifying only the handshake signature made with it; the
/// hub decides in CONNECT whether the certificate identifies the device.
#[derive(Debug)]
struct AnyClientCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
