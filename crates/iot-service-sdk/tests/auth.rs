//! Authorization through the SDK against the embedded hub: what each default shared access
//! policy may do, and credentials the hub refuses (a wrong key, an unknown policy, a token for
//! another hub).
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod support;

use iot_hub::Hub;
use iot_methods::MethodInvocation;
use iot_protocol::{Device, DeviceId, ErrorCode, IfMatch, ServiceConnectionString};
use iot_service_sdk::{ServiceClient, ServiceError, TwinUpdate};
use serde_json::json;
use support::{builder_for, create, hub, owner};

fn as_policy(hub: &Hub, policy: &str) -> ServiceClient {
    builder_for(hub, policy).build().unwrap()
}

#[track_caller]
fn assert_unauthorized<T: std::fmt::Debug>(result: Result<T, ServiceError>) {
    match result {
        Err(ServiceError::Unauthorized { code, .. }) => {
            assert_eq!(code, Some(ErrorCode::IotHubUnauthorizedAccess));
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn registry_read_can_read_but_not_write() {
    let hub = hub().await;
    let id = create(&owner(&hub), "auth-read").await;
    let reader = as_policy(&hub, "registryRead");
    assert_eq!(reader.get_device(&id).await.unwrap().device_id, id);
    assert_eq!(reader.list_devices(None).await.unwrap().len(), 1);
    assert_eq!(
        reader
            .registry_statistics()
            .await
            .unwrap()
            .total_device_count,
        1
    );
    assert_unauthorized(
        reader
            .create_device(&Device::new("auth-new".parse().unwrap()))
            .await,
    );
    assert_unauthorized(reader.delete_device(&id, IfMatch::ANY).await);
    assert_unauthorized(reader.disable_device(&id).await);
    assert_unauthorized(reader.get_twin(&id).await);
    assert_unauthorized(
        reader
            .query("SELECT * FROM devices")
            .unwrap()
            .items()
            .collect_all()
            .await,
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn registry_read_write_manages_devices_only() {
    let hub = hub().await;
    let writer = as_policy(&hub, "registryReadWrite");
    let id = create(&writer, "auth-write").await;
    assert!(writer.disable_device(&id).await.is_ok());
    assert_unauthorized(writer.get_twin(&id).await);
    let call = MethodInvocation::new("ping".parse().unwrap(), json!(null)).unwrap();
    assert_unauthorized(writer.invoke_method(&id, &call).await);
    writer.delete_device(&id, IfMatch::ANY).await.unwrap();
    hub.shutdown().await;
}

#[tokio::test]
async fn service_connect_reaches_twins_methods_and_queries_not_the_registry() {
    let hub = hub().await;
    let id = create(&owner(&hub), "auth-service").await;
    let service = as_policy(&hub, "service");
    let update = TwinUpdate::new().desired(json!({"x": 1}));
    assert!(
        service
            .update_twin(&id, &update, IfMatch::ANY)
            .await
            .is_ok()
    );
    assert_eq!(
        service.get_twin(&id).await.unwrap().desired().content()["x"],
        1
    );
    let twins = service
        .query("SELECT * FROM devices")
        .unwrap()
        .twins()
        .collect_all()
        .await;
    assert_eq!(twins.unwrap().len(), 1);
    let call = MethodInvocation::new("ping".parse().unwrap(), json!(null)).unwrap();
    let offline = service.invoke_method(&id, &call).await.unwrap_err();
    assert!(
        matches!(offline, ServiceError::DeviceNotOnline { .. }),
        "{offline:?}"
    );
    assert_unauthorized(service.get_device(&id).await);
    assert_unauthorized(
        service
            .create_device(&Device::new("auth-other".parse().unwrap()))
            .await,
    );
    assert_unauthorized(service.registry_statistics().await);
    hub.shutdown().await;
}

#[tokio::test]
async fn the_device_policy_cannot_use_the_service_api() {
    let hub = hub().await;
    let id = create(&owner(&hub), "auth-device").await;
    let device = as_policy(&hub, "device");
    assert_unauthorized(device.get_device(&id).await);
    assert_unauthorized(device.get_twin(&id).await);
    assert_unauthorized(device.service_statistics().await);
    hub.shutdown().await;
}

/// A client of `hub` with `connection_string` (whatever its key, policy and host).
fn with_connection_string(hub: &Hub, connection_string: &str) -> ServiceClient {
    ServiceClient::builder(connection_string)
        .endpoint_addr(hub.rest_addr())
        .plain_http()
        .build()
        .unwrap()
}

#[tokio::test]
async fn credentials_the_hub_refuses() {
    let hub = hub().await;
    let owner_cs = hub.service_connection_string().unwrap();
    let id: DeviceId = "auth-nobody".parse().unwrap();
    let wrong_key = ServiceConnectionString::new(
        owner_cs.host_name().clone(),
        "iothubowner",
        hub.policy_connection_string("service")
            .unwrap()
            .key()
            .clone(),
    )
    .unwrap();
    let unknown_policy = ServiceConnectionString::new(
        owner_cs.host_name().clone(),
        "nosuchpolicy",
        owner_cs.key().clone(),
    )
    .unwrap();
    let other_hub = ServiceConnectionString::new(
        "otherhub.azure-devices.net".parse().unwrap(),
        "iothubowner",
        owner_cs.key().clone(),
    )
    .unwrap();
    for connection_string in [wrong_key, unknown_policy, other_hub] {
        let client = with_connection_string(&hub, &connection_string.to_secret_string());
        let error = client.get_device(&id).await.unwrap_err();
        assert!(!error.is_retryable());
        assert!(
            !error
                .to_string()
                .contains(&connection_string.key().to_secret_string())
        );
        assert_unauthorized(Err::<(), _>(error));
    }
    hub.shutdown().await;
}

/// A client of `hub` with a ready-made token of the policy `policy`, expiring at `expiry`.
fn with_token(hub: &Hub, policy: &str, expiry: u64) -> ServiceClient {
    let token = hub
        .policy_connection_string(policy)
        .unwrap()
        .sas_token(expiry);
    ServiceClient::builder_from_sas_token(&token.to_secret_string())
        .endpoint_addr(hub.rest_addr())
        .plain_http()
        .build()
        .unwrap()
}

#[tokio::test]
async fn ready_made_tokens_work_until_they_expire() {
    let hub = hub().await;
    let id = create(&owner(&hub), "auth-token").await;
    let fresh = with_token(&hub, "registryRead", support::unix_now() + 600);
    assert_eq!(fresh.policy_name(), Some("registryRead"));
    assert_eq!(fresh.get_device(&id).await.unwrap().device_id, id);
    assert_unauthorized(fresh.delete_device(&id, IfMatch::ANY).await);

    let expired = with_token(&hub, "iothubowner", support::unix_now() - 1);
    assert_unauthorized(expired.get_device(&id).await);
    hub.shutdown().await;
}
