//! MQTT over TLS with the generated development CA (TLS 1.2, as the Python SDK speaks, and
//! 1.3), and self-signed X.509 devices (PROTOCOL 1.7).
// The setup helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use iot_hub::{DevCerts, DeviceOptions, Hub};
use iot_protocol::{DeviceId, Identity, MqttUsername};
use ring::digest;
use rumqttc::mqttbytes::v4::{Connect, ConnectReturnCode, Login, Packet};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use support::{Client, connect_packet, device};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

async fn tls_hub(dir: &std::path::Path) -> (Hub, DevCerts) {
    let certs = DevCerts::load_or_create(dir).unwrap();
    let hub = Hub::builder()
        .mqtt_addr("127.0.0.1:0".parse().unwrap())
        .tls(certs.tls_config().unwrap())
        .start()
        .await
        .unwrap();
    (hub, certs)
}

/// A self-signed client certificate and key, with its SHA-1 and SHA-256 thumbprints.
struct ClientCert {
    der: CertificateDer<'static>,
    key_pem: String,
    sha1: String,
    sha256: String,
}

fn client_cert(name: &str) -> ClientCert {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    let hex = |algorithm| {
        digest::digest(algorithm, cert.der())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    ClientCert {
        sha1: hex(&digest::SHA1_FOR_LEGACY_USE_ONLY),
        sha256: hex(&digest::SHA256),
        der: cert.der().clone(),
        key_pem: key.serialize_pem(),
    }
}

async fn tls_client(
    hub: &Hub,
    certs: &DevCerts,
    versions: &[&'static SupportedProtocolVersion],
    identity: Option<&ClientCert>,
) -> Client {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(certs.ca_pem().as_bytes()).unwrap())
        .unwrap();
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots);
    let config = match identity {
        Some(cert) => builder
            .with_client_auth_cert(
                vec![cert.der.clone()],
                PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let tcp = TcpStream::connect(hub.mqtt_addr()).await.unwrap();
    let server = ServerName::try_from("localhost").unwrap();
    let stream = TlsConnector::from(Arc::new(config))
        .connect(server, tcp)
        .await
        .unwrap();
    Client::over(stream)
}

fn x509_connect(hub: &Hub, id: &DeviceId) -> Connect {
    let mut connect = Connect::new(id.as_str());
    connect.keep_alive = 60;
    let username = MqttUsername::new(hub.host_name().clone(), Identity::device(id.clone()));
    connect.login = Some(Login::new(username.to_string(), ""));
    connect
}

#[tokio::test]
async fn sas_devices_connect_over_tls_1_2_and_1_3_with_the_dev_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, certs) = tls_hub(dir.path()).await;
    let id = device(&hub, "d1").await;
    for versions in [
        &[&rustls::version::TLS12][..],
        &[&rustls::version::TLS13][..],
    ] {
        let mut client = tls_client(&hub, &certs, versions, None).await;
        let ack = client.connect(connect_packet(&hub, &id, true)).await;
        assert_eq!(ack.code, ConnectReturnCode::Success);
        client.send(&Packet::PingReq).await;
        assert_eq!(client.recv().await, Packet::PingResp);
    }
    hub.shutdown().await;
}

#[tokio::test]
async fn self_signed_devices_authenticate_with_their_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, certs) = tls_hub(dir.path()).await;
    let cert = client_cert("cam");
    let by_sha1: DeviceId = "cam".parse().unwrap();
    let options = DeviceOptions::self_signed(&cert.sha1.to_uppercase(), None).unwrap();
    hub.registry()
        .create_device(&by_sha1, options)
        .await
        .unwrap();
    let by_sha256: DeviceId = "cam2".parse().unwrap();
    let options = DeviceOptions::self_signed(&"0".repeat(40), Some(&cert.sha256)).unwrap();
    hub.registry()
        .create_device(&by_sha256, options)
        .await
        .unwrap();
    let cs = hub.device_connection_string(&by_sha1).unwrap();
    assert_eq!(
        cs.to_secret_string(),
        "HostName=localhost;DeviceId=cam;x509=true"
    );

    for id in [&by_sha1, &by_sha256] {
        let mut client = tls_client(&hub, &certs, &[&rustls::version::TLS13], Some(&cert)).await;
        let ack = client.connect(x509_connect(&hub, id)).await;
        assert_eq!(ack.code, ConnectReturnCode::Success, "{id}");
        client.send(&Packet::PingReq).await;
        assert_eq!(client.recv().await, Packet::PingResp);
    }

    let stranger = client_cert("stranger");
    let mut client = tls_client(&hub, &certs, &[&rustls::version::TLS12], Some(&stranger)).await;
    let ack = client.connect(x509_connect(&hub, &by_sha1)).await;
    assert_eq!(ack.code, ConnectReturnCode::NotAuthorized);
    let mut client = tls_client(&hub, &certs, &[&rustls::version::TLS13], None).await;
    let ack = client.connect(x509_connect(&hub, &by_sha1)).await;
    assert_eq!(ack.code, ConnectReturnCode::NotAuthorized);
    hub.shutdown().await;
}

#[tokio::test]
async fn a_transport_must_be_chosen() {
    let error = Hub::builder()
        .mqtt_addr("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("tls"), "{error}");
    let bad = iot_hub::TlsConfig::from_pem(b"not pem", b"not pem").unwrap_err();
    assert!(matches!(bad, iot_hub::HubError::Tls { .. }));
}
