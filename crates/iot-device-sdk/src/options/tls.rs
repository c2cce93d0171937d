//! The TLS client configuration: trusted roots, and the client certificate of X.509 devices.
//!
//! We trust the operating system's roots by default (read with `rustls-native-certs`, which the
//! MQTT transport already depends on) rather than a bundle compiled into the binary: a device
//! fleet keeps its roots current through OS updates, enterprises add their own roots there, and
//! IoT Hub's certificate chains have changed roots before (Baltimore to DigiCert Global Root
//! G2). The Python SDK makes the same choice. A custom CA (a local hub, a gateway) can be
//! trusted in addition to the system roots or instead of them.

use std::sync::Arc;

use rustls::crypto::ring;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::ConfigError;

/// The PEM inputs of a TLS configuration.
#[derive(Clone, Default)]
pub(crate) struct TlsInputs {
    /// Whether to trust the operating system's roots.
    pub(crate) system_roots: bool,
    /// CA certificates (PEM) trusted in addition.
    pub(crate) ca_pems: Vec<Vec<u8>>,
    /// A client certificate chain and its private key (PEM), for X.509 authentication.
    pub(crate) client: Option<(Vec<u8>, Vec<u8>)>,
}

/// Builds the client configuration: TLS 1.2 or 1.3 (IoT Hub requires at least 1.2), `ring`.
pub(crate) fn client_config(inputs: &TlsInputs) -> Result<Arc<ClientConfig>, ConfigError> {
    let roots = roots(inputs)?;
    let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::new("tls", e.to_string()))?
        .with_root_certificates(roots);
    let config = match &inputs.client {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => {
            let chain = certificates(chain, "x509")?;
            let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| {
                ConfigError::new("x509", format!("the private key cannot be read: {e}"))
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                ConfigError::new("x509", format!("the certificate and key do not fit: {e}"))
            })?
        }
    };
    Ok(Arc::new(config))
}

/// The trusted roots: the system's if asked, plus every custom CA.
fn roots(inputs: &TlsInputs) -> Result<RootCertStore, ConfigError> {
    let mut roots = RootCertStore::empty();
    if inputs.system_roots {
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            tracing::warn!(%error, "a system root certificate could not be loaded");
        }
        roots.add_parsable_certificates(native.certs);
    }
    for pem in &inputs.ca_pems {
        for certificate in certificates(pem, "trust_ca_pem")? {
            roots.add(certificate).map_err(|e| {
                ConfigError::new("trust_ca_pem", format!("a CA certificate is unusable: {e}"))
            })?;
        }
    }
    if roots.is_empty() {
        let reason = if inputs.system_roots {
            "no root certificate is trusted: the system has none; trust a CA with trust_ca_pem"
        } else {
            "no root certificate is trusted: give a CA with trust_ca_pem or keep the system roots"
        };
        return Err(ConfigError::new("trust_ca_pem", reason));
    }
    Ok(roots)
}

/// Every certificate in `pem`; at least one.
fn certificates(
    pem: &[u8],
    option: &'static str,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError::new(option, format!("the PEM cannot be read: {e}")))?;
    if certificates.is_empty() {
        return Err(ConfigError::new(option, "the PEM holds no certificate"));
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn custom_roots_and_client_certificates() {
        let (cert, key) = self_signed();
        let inputs = TlsInputs {
            system_roots: false,
            ca_pems: vec![cert.clone().into_bytes()],
            client: Some((cert.into_bytes(), key.into_bytes())),
        };
        let config = client_config(&inputs).unwrap();
        assert!(config.client_auth_cert_resolver.has_certs());
    }

    #[test]
    fn unusable_inputs_name_their_option() {
        let (cert, key) = self_signed();
        let none = TlsInputs::default();
        assert_eq!(client_config(&none).unwrap_err().option(), "trust_ca_pem");
        let garbage = TlsInputs {
            ca_pems: vec![b"not a certificate".to_vec()],
            ..TlsInputs::default()
        };
        let error = client_config(&garbage).unwrap_err();
        assert_eq!(error.reason(), "the PEM holds no certificate");
        let (other, other_key) = self_signed();
        let mismatched = TlsInputs {
            ca_pems: vec![cert.clone().into_bytes()],
            client: Some((cert.into_bytes(), other_key.into_bytes())),
            ..TlsInputs::default()
        };
        assert_eq!(client_config(&mismatched).unwrap_err().option(), "x509");
        let no_key = TlsInputs {
            ca_pems: vec![other.clone().into_bytes()],
            client: Some((
                other.into_bytes(),
                key.replace("PRIVATE KEY", "NOTHING").into_bytes(),
            )),
            ..TlsInputs::default()
        };
        assert!(
            client_config(&no_key)
                .unwrap_err()
                .reason()
                .starts_with("the private key")
        );
    }
}
