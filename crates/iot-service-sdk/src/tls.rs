//! The client's TLS settings: which certificate authorities to trust, as a rustls
//! `ClientConfig` with the ring provider.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::ServiceError;

const SETTING: &str = "TLS trust";

/// Which certificate authorities the client trusts.
///
/// By default the platform's: on Linux the system's CA bundle (through
/// `rustls-platform-verifier`, which the HTTP stack already depends on), on macOS and Windows
/// the operating system's verifier. Extra CAs given as PEM are trusted in addition, or
/// instead when the platform's roots are turned off (a local hub with its own development CA).
#[derive(Debug, Clone, Default)]
pub(crate) struct Trust {
    /// Leave out the platform's roots.
    pub(crate) without_platform_roots: bool,
    /// PEM texts, each holding one or more CA certificates.
    pub(crate) ca_pems: Vec<Vec<u8>>,
}

impl Trust {
    /// The rustls configuration for this trust: TLS 1.2 and 1.3, HTTP/1.1 by ALPN.
    ///
    /// # Errors
    /// [`ServiceError::Configuration`] when a PEM holds no certificate or an unreadable one,
    /// when nothing would be trusted, or when the platform's roots cannot be loaded.
    pub(crate) fn client_config(&self) -> Result<ClientConfig, ServiceError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cas = self.certificates()?;
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ServiceError::config(SETTING, e.to_string()))?;
        let mut config = if self.without_platform_roots {
            if cas.is_empty() {
                return Err(ServiceError::config(
                    SETTING,
                    "the platform's roots are turned off and no CA certificate is given",
                ));
            }
            builder
                .with_webpki_verifier(webpki_verifier(cas, provider)?)
                .with_no_client_auth()
        } else {
            let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(cas, provider)
                .map_err(|e| {
                    ServiceError::config(SETTING, format!("cannot load the platform's roots: {e}"))
                })?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// A configuration that trusts nothing, for a client that only speaks plain HTTP: any
    /// `https` connection it attempted would fail verification.
    pub(crate) fn none() -> Result<ClientConfig, ServiceError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ServiceError::config(SETTING, e.to_string()))?
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth())
    }

    /// Every certificate of every PEM, in order.
    fn certificates(&self) -> Result<Vec<CertificateDer<'static>>, ServiceError> {
        let mut all = Vec::new();
        for (index, pem) in self.ca_pems.iter().enumerate() {
            let certs = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    ServiceError::config(SETTING, format!("CA PEM #{}: {e}", index + 1))
                })?;
            if certs.is_empty() {
                return Err(ServiceError::config(
                    SETTING,
                    format!("CA PEM #{} holds no certificate", index + 1),
                ));
            }
            all.extend(certs);
        }
        Ok(all)
    }
}

fn webpki_verifier(
    cas: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, ServiceError> {
    let mut roots = RootCertStore::empty();
    for (index, ca) in cas.into_iter().enumerate() {
        roots.add(ca).map_err(|e| {
            ServiceError::config(SETTING, format!("CA certificate #{}: {e}", index + 1))
        })?;
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| ServiceError::config(SETTING, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The local hub's development CA, as PEM.
    fn ca_pem() -> String {
        let dir = tempfile::tempdir().unwrap();
        iot_hub::DevCerts::load_or_create(dir.path())
            .unwrap()
            .ca_pem()
            .to_owned()
    }

    #[test]
    fn pem_without_certificates_is_refused() {
        let trust = Trust {
            without_platform_roots: true,
            ca_pems: vec![b"no pem here".to_vec()],
        };
        let error = trust.client_config().unwrap_err();
        assert!(
            error.to_string().contains("CA PEM #1 holds no certificate"),
            "{error}"
        );
    }

    #[test]
    fn nothing_to_trust_is_refused() {
        let trust = Trust {
            without_platform_roots: true,
            ca_pems: Vec::new(),
        };
        let error = trust.client_config().unwrap_err();
        assert!(error.to_string().contains("no CA certificate"), "{error}");
    }

    #[test]
    fn certificates_are_read_in_order() {
        let pem = ca_pem();
        let trust = Trust {
            without_platform_roots: true,
            ca_pems: vec![pem.clone().into_bytes(), format!("{pem}{pem}").into_bytes()],
        };
        assert_eq!(trust.certificates().unwrap().len(), 3);
        let config = trust.client_config().unwrap();
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
        assert!(Trust::none().is_ok());
    }
}
