//! [`DevCerts`]: a private certificate authority and a `localhost` server certificate for
//! trying the hub with the official SDKs, which insist on TLS with a verified host name.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::{HubError, TlsConfig};

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca.key";
const SERVER_CERT: &str = "server.pem";
const SERVER_KEY: &str = "server.key";

/// Development certificates in a directory: `ca.pem` (give it to clients to trust),
/// `ca.key`, and `server.pem` / `server.key`, a server certificate signed by that CA for
/// `localhost`, `127.0.0.1` and `::1`.
///
/// [`DevCerts::load_or_create`] reuses the files when they are all there, so clients keep
/// trusting the same CA across restarts, and creates them otherwise.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let certs = iot_hub::DevCerts::load_or_create(dir.path())?;
/// assert!(certs.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// let again = iot_hub::DevCerts::load_or_create(dir.path())?;
/// assert_eq!(again.ca_pem(), certs.ca_pem());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DevCerts {
    dir: PathBuf,
    ca_pem: String,
    server_pem: String,
    server_key_pem: String,
}

impl DevCerts {
    /// Loads the certificates from `dir`, or creates them (and `dir`) when any file is missing.
    ///
    /// # Errors
    /// [`HubError::Tls`] when the directory or a file cannot be read or written, or a
    /// certificate cannot be generated.
    pub fn load_or_create(dir: &Path) -> Result<Self, HubError> {
        let all = [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY];
        if all.iter().all(|name| dir.join(name).is_file()) {
            let read = |name: &str| {
                std::fs::read_to_string(dir.join(name)).map_err(|e| io_error(dir, name, &e))
            };
            return Ok(Self {
                dir: dir.to_owned(),
                ca_pem: read(CA_CERT)?,
                server_pem: read(SERVER_CERT)?,
                server_key_pem: read(SERVER_KEY)?,
            });
        }
        Self::create(dir)
    }

    fn create(dir: &Path) -> Result<Self, HubError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "", &e))?;
        let ca_key = KeyPair::generate().map_err(generation)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(generation)?;
        ca.distinguished_name
            .push(DnType::CommonName, "iot-hub development CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).map_err(generation)?;
        let issuer = Issuer::new(ca, &ca_key);

        let names = ["localhost", "127.0.0.1", "::1"].map(str::to_owned);
        let mut server = CertificateParams::new(names.to_vec()).map_err(generation)?;
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate().map_err(generation)?;
        let server_cert = server.signed_by(&server_key, &issuer).map_err(generation)?;

        let certs = Self {
            dir: dir.to_owned(),
            ca_pem: ca_cert.pem(),
            server_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
        };
        let files = [
            (CA_CERT, certs.ca_pem.clone()),
            (CA_KEY, ca_key.serialize_pem()),
            (SERVER_CERT, certs.server_pem.clone()),
            (SERVER_KEY, certs.server_key_pem.clone()),
        ];
        for (name, content) in files {
            std::fs::write(dir.join(name), content).map_err(|e| io_error(dir, name, &e))?;
        }
        Ok(certs)
    }

    /// The CA certificate (PEM) clients must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Where the CA certificate is.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join(CA_CERT)
    }

    /// The hub's TLS configuration with the server certificate.
    ///
    /// # Errors
    /// [`HubError::Tls`] when the stored files do not form a usable certificate and key.
    pub fn tls_config(&self) -> Result<TlsConfig, HubError> {
        TlsConfig::from_pem(self.server_pem.as_bytes(), self.server_key_pem.as_bytes())
    }
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(generation)`
fn generation(error: rcgen::Error) -> HubError {
    HubError::Tls {
        reason: format!("generating a development certificate: {error}"),
    }
}

fn io_error(dir: &Path, name: &str, error: &std::io::Error) -> HubError {
    HubError::Tls {
        reason: format!("{}: {error}", dir.join(name).display()),
    }
}
