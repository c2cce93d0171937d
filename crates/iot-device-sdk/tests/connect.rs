//! Connecting: success, refusals the client keeps retrying, TLS with a generated CA, X.509,
//! ready-made tokens, and closing.

mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use iot_device_sdk::{ConnectionState, DeviceClient, DeviceOptions, DisconnectReason, Error};
use iot_hub::{DevCerts, DeviceOptions as HubDevice};
use iot_protocol::{DeviceStatus, ResourceUri, SasToken};
use ring::digest;
use support::{
    WAIT, connect, device, hub, options, quick_retry, state_where, stop, tls_hub, within,
};

#[tokio::test]
async fn connects_and_reports_each_state() {
    let hub = hub().await;
    let id = device(&hub, "connect-ok").await;
    let client = DeviceClient::start(options(&hub, &id).build().unwrap()).unwrap();
    let mut states = client.state_changes();
    assert!(matches!(
        states.next().await,
        Some(ConnectionState::Connecting { attempt: 0 })
    ));
    state_where(&mut states, "ready", ConnectionState::is_ready).await;
    within("ready", client.ready()).await.unwrap();
    let device = hub.registry().get_device(&id).unwrap();
    assert_eq!(
        device.connection_state,
        Some(iot_protocol::ConnectionState::Connected)
    );
    client.close().await;
    assert_eq!(
        state_where(&mut states, "closed", |s| *s == ConnectionState::Closed).await,
        ConnectionState::Closed
    );
    assert_eq!(client.get_twin().await.unwrap_err(), Error::Closed);
    stop(hub).await;
}

#[tokio::test]
async fn a_wrong_key_is_reported_and_retried_with_backoff() {
    let hub = hub().await;
    let id = device(&hub, "connect-bad-key").await;
    let wrong = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let builder = || options(&hub, &id).shared_access_key(wrong);
    let error = within("connect", DeviceClient::connect(builder().build().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::ConnectionRefused {
            reason: DisconnectReason::NotAuthorized
        }
    );

    let client = DeviceClient::start(builder().build().unwrap()).unwrap();
    let mut states = client.state_changes();
    let mut refusals = Vec::new();
    while refusals.len() < 3 {
        let state = state_where(&mut states, "a refusal", |s| {
            matches!(s, ConnectionState::Disconnected { .. })
        })
        .await;
        let ConnectionState::Disconnected {
            reason,
            retry_at: Some(retry_at),
        } = state
        else {
            panic!("no retry scheduled: {state:?}");
        };
        assert_eq!(reason, DisconnectReason::NotAuthorized);
        refusals.push((Instant::now(), retry_at));
    }
    for (seen, retry_at) in &refusals {
        assert!(*retry_at > *seen - Duration::from_millis(5));
        assert!(*retry_at <= *seen + quick_retry().max_delay());
    }
    client.close().await;
    stop(hub).await;
}

#[tokio::test]
async fn a_disabled_device_is_reported_then_connects_once_enabled() {
    let hub = hub().await;
    let id: iot_protocol::DeviceId = "connect-disabled".parse().unwrap();
    hub.registry()
        .create_device(&id, HubDevice::default().disabled())
        .await
        .unwrap();
    let client = DeviceClient::start(options(&hub, &id).build().unwrap()).unwrap();
    let mut states = client.state_changes();
    let state = state_where(&mut states, "a refusal", |s| {
        matches!(s, ConnectionState::Disconnected { .. })
    })
    .await;
    assert!(matches!(
        state,
        ConnectionState::Disconnected {
            reason: DisconnectReason::DeviceDisabled,
            retry_at: Some(_)
        }
    ));
    hub.registry()
        .set_status(&id, DeviceStatus::Enabled)
        .await
        .unwrap();
    within("ready after enabling", client.ready())
        .await
        .unwrap();
    client.close().await;
    stop(hub).await;
}

#[tokio::test]
async fn dropping_the_last_handle_disconnects() {
    let hub = hub().await;
    let id = device(&hub, "connect-drop").await;
    let client = connect(&hub, &id).await;
    let weak = client.downgrade();
    let clone = client.clone();
    drop(client);
    assert!(weak.upgrade().is_some());
    drop(clone);
    assert!(weak.upgrade().is_none());
    support::eventually("the hub to see the device leave", || async {
        let device = hub.registry().get_device(&id).unwrap();
        (device.connection_state == Some(iot_protocol::ConnectionState::Disconnected)).then_some(())
    })
    .await;
    stop(hub).await;
}

#[tokio::test]
async fn tls_with_the_hubs_generated_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (certs, hub) = tls_hub(dir.path()).await;
    let id = device(&hub, "connect-tls").await;
    let cs = hub
        .device_connection_string(&id)
        .unwrap()
        .to_secret_string();
    let port = hub.mqtt_addr().port();
    let tls = |host: &str| {
        DeviceOptions::from_connection_string(&cs)
            .endpoint(host, port)
            .trust_ca_pem(certs.ca_pem())
            .use_system_roots(false)
            .retry_policy(quick_retry())
            .operation_timeout(WAIT)
    };
    for host in ["localhost", "127.0.0.1"] {
        let client = within(
            "connect over TLS",
            DeviceClient::connect(tls(host).build().unwrap()),
        )
        .await
        .unwrap();
        assert_eq!(
            client.get_twin().await.unwrap().desired().version().get(),
            1
        );
        client.close().await;
    }

    // Without the CA, the handshake fails and says so.
    let other = DevCerts::load_or_create(&dir.path().join("other")).unwrap();
    let untrusted = DeviceOptions::from_connection_string(&cs)
        .endpoint("localhost", port)
        .trust_ca_pem(other.ca_pem())
        .use_system_roots(false)
        .build()
        .unwrap();
    let error = within("refused TLS", DeviceClient::connect(untrusted))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Transport {
                reason: DisconnectReason::Tls { .. }
            }
        ),
        "{error:?}"
    );
    stop(hub).await;
}

#[tokio::test]
async fn x509_devices_connect_with_their_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (certs, hub) = tls_hub(dir.path()).await;
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "connect-x509");
    let cert = params.self_signed(&key).unwrap();
    let thumbprint: String = digest::digest(&digest::SHA256, cert.der())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let id: iot_protocol::DeviceId = "connect-x509".parse().unwrap();
    hub.registry()
        .create_device(&id, HubDevice::self_signed(&thumbprint, None).unwrap())
        .await
        .unwrap();
    let cs = hub
        .device_connection_string(&id)
        .unwrap()
        .to_secret_string();
    assert!(cs.ends_with("x509=true"), "{cs}");
    let options = DeviceOptions::from_connection_string(&cs)
        .x509(cert.pem(), key.serialize_pem())
        .endpoint("localhost", hub.mqtt_addr().port())
        .trust_ca_pem(certs.ca_pem())
        .use_system_roots(false)
        .build()
        .unwrap();
    let client = within("connect with X.509", DeviceClient::connect(options))
        .await
        .unwrap();
    assert_eq!(
        client
            .report(&serde_json::json!({"auth": "x509"}))
            .await
            .unwrap()
            .get(),
        2
    );
    client.close().await;
    stop(hub).await;
}

#[tokio::test]
async fn a_ready_token_stops_the_client_when_it_expires() {
    let hub = hub().await;
    let id = device(&hub, "connect-token").await;
    let cs = hub.device_connection_string(&id).unwrap();
    let iot_protocol::DeviceCredential::SharedAccessKey { key, .. } = cs.credential() else {
        panic!("not a key device");
    };
    let expiry = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3;
    let resource = ResourceUri::for_identity(cs.host_name(), cs.identity());
    let token = SasToken::create(&resource, key, None, expiry).to_secret_string();
    let options = DeviceOptions::builder(cs.host_name().as_str(), id.as_str())
        .sas_token(&token)
        .endpoint("127.0.0.1", hub.mqtt_addr().port())
        .insecure_plain_tcp()
        .retry_policy(quick_retry())
        .build()
        .unwrap();
    let client = within("connect with a token", DeviceClient::connect(options))
        .await
        .unwrap();
    let mut states = client.state_changes();
    let state = state_where(&mut states, "expiry", |s| {
        matches!(s, ConnectionState::Disconnected { .. })
    })
    .await;
    assert_eq!(
        state,
        ConnectionState::Disconnected {
            reason: DisconnectReason::TokenExpired,
            retry_at: None
        }
    );
    assert_eq!(client.get_twin().await.unwrap_err(), Error::TokenExpired);
    assert_eq!(client.ready().await.unwrap_err(), Error::TokenExpired);
    client.close().await;
    stop(hub).await;
}

#[tokio::test]
async fn starting_outside_a_runtime_is_an_error() {
    let options = DeviceOptions::builder("hub", "device")
        .shared_access_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        .insecure_plain_tcp()
        .build()
        .unwrap();
    let error = std::thread::spawn(move || DeviceClient::start(options).unwrap_err())
        .join()
        .unwrap();
    assert_eq!(error, Error::NoRuntime);
}

#[tokio::test]
async fn operations_wait_for_a_connection_within_their_timeout() {
    let hub = hub().await;
    let id = device(&hub, "connect-unreachable").await;
    // A port nobody listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let after = Duration::from_millis(300);
    let builder = || {
        support::options_via(&hub, &id, port)
            .operation_timeout(after)
            .connect_timeout(Duration::from_secs(1))
    };
    let error = within("connect", DeviceClient::connect(builder().build().unwrap()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Transport {
                reason: DisconnectReason::Network { .. }
            }
        ),
        "{error:?}"
    );
    let client = DeviceClient::start(builder().build().unwrap()).unwrap();
    let timeout = |operation| Error::Timeout { operation, after };
    assert_eq!(
        client.get_twin().await.unwrap_err(),
        timeout(iot_device_sdk::Operation::GetTwin)
    );
    assert_eq!(
        client
            .report(&serde_json::json!({"a": 1}))
            .await
            .unwrap_err(),
        timeout(iot_device_sdk::Operation::UpdateReported)
    );
    let message = iot_device_sdk::Message::builder(&b"x"[..]).build().unwrap();
    assert_eq!(
        client.send_telemetry(message).await.unwrap_err(),
        timeout(iot_device_sdk::Operation::SendTelemetry)
    );
    assert_eq!(
        client.desired::<serde_json::Value>().await.unwrap_err(),
        timeout(iot_device_sdk::Operation::ReadDesired)
    );
    assert!(matches!(
        client.state(),
        ConnectionState::Disconnected { .. } | ConnectionState::Connecting { .. }
    ));
    client.close().await;
    stop(hub).await;
}
