//! The identity registry over REST (PROTOCOL 11.1): create, read, update, delete, list,
//! statistics, If-Match, and the errors of each.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod rest_support;
mod support;

use iot_protocol::{DeviceConnectionString, ErrorCode, MAX_STATUS_REASON_LEN};
use reqwest::Method;
use rest_support::{Rest, create_device, hub};
use serde_json::{Value, json};
use support::Client;

fn keys(device: &Value) -> (String, String) {
    let keys = &device["authentication"]["symmetricKey"];
    let key = |name: &str| keys[name].as_str().unwrap().to_owned();
    (key("primaryKey"), key("secondaryKey"))
}

#[tokio::test]
async fn create_generates_keys_when_absent_null_or_empty() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    let bodies = [
        json!({"deviceId": "absent"}),
        json!({"deviceId": "null", "authentication": {"symmetricKey": null}}),
        json!({"deviceId": "empty", "status": "enabled",
               "authentication": {"symmetricKey": {"primaryKey": "", "secondaryKey": ""},
                                  "x509Thumbprint": {"primaryThumbprint": null}, "type": "sas"},
               "capabilities": {"iotEdge": false}, "unknownField": [1, 2]}),
    ];
    for body in bodies {
        let id = body["deviceId"].as_str().unwrap();
        let created = rest
            .json(Method::PUT, &format!("/devices/{id}"), &[], &body)
            .await
            .ok();
        assert_eq!(created["deviceId"], id);
        assert_eq!(created["status"], "enabled");
        assert_eq!(created["connectionState"], "Disconnected");
        assert_eq!(created["etag"], "MQ==");
        let (primary, secondary) = keys(&created);
        assert_eq!(base64_len(&primary), 32, "{id}");
        assert_ne!(primary, secondary);
        let cs = hub.device_connection_string(&id.parse().unwrap()).unwrap();
        let cs: DeviceConnectionString = cs.to_secret_string().parse().unwrap();
        assert!(cs.to_secret_string().ends_with(&primary));
    }
}

/// The number of bytes a padded base64 text decodes to.
fn base64_len(text: &str) -> usize {
    text.len() / 4 * 3 - text.bytes().rev().take_while(|b| *b == b'=').count()
}

#[tokio::test]
async fn given_keys_are_kept_and_a_duplicate_is_a_conflict() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    let primary = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let body = json!({"deviceId": "d1",
        "authentication": {"symmetricKey": {"primaryKey": primary, "secondaryKey": null}}});
    let created = rest.json(Method::PUT, "/devices/d1", &[], &body).await.ok();
    assert_eq!(keys(&created).0, primary);
    let again = rest.json(Method::PUT, "/devices/d1", &[], &body).await;
    let message = again.expect_error(ErrorCode::DeviceAlreadyExists);
    assert!(message.contains("d1"), "{message}");
    assert!(again.is_legacy_error());
    let fetched = rest.get("/devices/d1").await.ok();
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn a_status_reason_over_128_characters_is_a_bad_request() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    let longest = "r".repeat(MAX_STATUS_REASON_LEN);
    let body = json!({"deviceId": "d1", "status": "disabled", "statusReason": longest});
    let created = rest.json(Method::PUT, "/devices/d1", &[], &body).await.ok();
    assert_eq!(created["statusReason"], longest.as_str());

    let too_long = "r".repeat(MAX_STATUS_REASON_LEN + 1);
    let body = json!({"deviceId": "d2", "statusReason": too_long});
    let refused = rest.json(Method::PUT, "/devices/d2", &[], &body).await;
    let message = refused.expect_error(ErrorCode::ArgumentInvalid);
    assert!(
        message.contains("statusReason") && message.contains("128"),
        "{message}"
    );
    rest.get("/devices/d2")
        .await
        .expect_error(ErrorCode::DeviceNotFound);

    let mut update = created.clone();
    update["statusReason"] = json!(too_long);
    let refused = rest
        .json(Method::PUT, "/devices/d1", &[("If-Match", "*")], &update)
        .await;
    let message = refused.expect_error(ErrorCode::ArgumentInvalid);
    assert!(message.contains("statusReason"), "{message}");
    assert_eq!(rest.get("/devices/d1").await.ok(), created);
}

#[tokio::test]
async fn update_with_if_match_in_every_form() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    let created = create_device(&rest, "d1").await;
    let etag = created["etag"].as_str().unwrap().to_owned();
    let mut body = created.clone();
    body["status"] = json!("disabled");
    body["statusReason"] = json!("maintenance");

    let stale = rest
        .json(
            Method::PUT,
            "/devices/d1",
            &[("If-Match", "\"OTk=\"")],
            &body,
        )
        .await;
    stale.expect_error(ErrorCode::PreconditionFailed);

    let quoted = format!("\"{etag}\"");
    let updated = rest
        .json(Method::PUT, "/devices/d1", &[("If-Match", &quoted)], &body)
        .await
        .ok();
    assert_eq!(updated["status"], "disabled");
    assert_eq!(updated["statusReason"], "maintenance");
    assert_ne!(updated["etag"], created["etag"]);
    assert_eq!(keys(&updated), keys(&created));

    let unquoted = updated["etag"].as_str().unwrap().to_owned();
    body["status"] = json!("enabled");
    let again = rest
        .json(
            Method::PUT,
            "/devices/d1",
            &[("If-Match", &unquoted)],
            &body,
        )
        .await
        .ok();
    assert_eq!(again["status"], "enabled");
    for any in ["*", "\"*\""] {
        rest.json(Method::PUT, "/devices/d1", &[("If-Match", any)], &body)
            .await
            .ok();
    }

    let missing = rest
        .json(
            Method::PUT,
            "/devices/ghost",
            &[("If-Match", "*")],
            &json!({}),
        )
        .await;
    missing.expect_error(ErrorCode::DeviceNotFound);
}

#[tokio::test]
async fn delete_with_and_without_if_match() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    for (id, if_match) in [
        ("plain", None),
        ("star", Some("*".to_owned())),
        ("quoted-star", Some("\"*\"".to_owned())),
        ("quoted", Some("\"MQ==\"".to_owned())),
        ("unquoted", Some("MQ==".to_owned())),
    ] {
        create_device(&rest, id).await;
        let headers: Vec<(&str, &str)> = if_match
            .as_deref()
            .map(|value| ("If-Match", value))
            .into_iter()
            .collect();
        let deleted = rest.delete(&format!("/devices/{id}"), &headers).await;
        assert_eq!(deleted.status, 204, "{id}");
        assert!(deleted.body.is_empty());
        assert!(deleted.header("content-type").is_none());
        rest.get(&format!("/devices/{id}"))
            .await
            .expect_error(ErrorCode::DeviceNotFound);
        rest.get(&format!("/twins/{id}"))
            .await
            .expect_error(ErrorCode::DeviceNotFound);
    }
    create_device(&rest, "kept").await;
    rest.delete("/devices/kept", &[("If-Match", "\"OTk=\"")])
        .await
        .expect_error(ErrorCode::PreconditionFailed);
    rest.get("/devices/kept").await.ok();
    rest.delete("/devices/ghost", &[])
        .await
        .expect_error(ErrorCode::DeviceNotFound);
}

#[tokio::test]
async fn list_honours_top_and_statistics_count() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    for id in ["c", "a", "b"] {
        create_device(&rest, id).await;
    }
    let mut disabled = rest.get("/devices/b").await.ok();
    disabled["status"] = json!("disabled");
    rest.json(Method::PUT, "/devices/b", &[("If-Match", "*")], &disabled)
        .await
        .ok();

    let all = rest.get("/devices").await.ok();
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["deviceId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b", "c"]);
    let node_path = rest.get("/devices/").await.ok();
    assert_eq!(node_path, all, "the Node service SDK lists at /devices/");
    let two = rest.get("/devices?top=2").await.ok();
    assert_eq!(two.as_array().unwrap().len(), 2);
    rest.get("/devices?top=many")
        .await
        .expect_error(ErrorCode::ArgumentInvalid);

    let stats = rest.get("/statistics/devices").await.ok();
    assert_eq!(
        stats,
        json!({"totalDeviceCount": 3, "enabledDeviceCount": 2, "disabledDeviceCount": 1})
    );
    let service = rest.get("/statistics/service").await.ok();
    assert_eq!(service, json!({"connectedDeviceCount": 0}));

    let a = "a".parse().unwrap();
    let (_client, _) = Client::device(&hub, &a, true).await;
    let service = rest.get("/statistics/service").await.ok();
    assert_eq!(service, json!({"connectedDeviceCount": 1}));
    assert_eq!(
        rest.get("/devices/a").await.ok()["connectionState"],
        "Connected"
    );
}

#[tokio::test]
async fn disabling_or_deleting_over_rest_disconnects_the_device() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    for id in ["off", "gone"] {
        create_device(&rest, id).await;
    }
    let off = "off".parse().unwrap();
    let (mut off_client, _) = Client::device(&hub, &off, true).await;
    let mut body = rest.get("/devices/off").await.ok();
    body["status"] = json!("disabled");
    rest.json(Method::PUT, "/devices/off", &[("If-Match", "*")], &body)
        .await
        .ok();
    off_client.expect_closed().await;

    let gone = "gone".parse().unwrap();
    let (mut gone_client, _) = Client::device(&hub, &gone, true).await;
    assert_eq!(rest.delete("/devices/gone", &[]).await.status, 204);
    gone_client.expect_closed().await;
}

#[tokio::test]
async fn bad_ids_and_bodies_are_argument_errors() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    let long = "x".repeat(129);
    for path in [format!("/devices/{long}"), "/devices/a%20b".to_owned()] {
        rest.get(&path)
            .await
            .expect_error(ErrorCode::ArgumentInvalid);
    }
    rest.json(Method::PUT, "/devices/d1", &[], &json!({"deviceId": "d2"}))
        .await
        .expect_error(ErrorCode::ArgumentInvalid);
    rest.raw(Method::PUT, "/devices/d1", b"{\"deviceId\":")
        .await
        .expect_error(ErrorCode::IotHubFormatError);
    rest.json(
        Method::PUT,
        "/devices/d1",
        &[],
        &json!({"status": "sleeping"}),
    )
    .await
    .expect_error(ErrorCode::ArgumentInvalid);
    rest.json(
        Method::PUT,
        "/devices/d1",
        &[("If-Match", "\"a,b\"")],
        &json!({}),
    )
    .await
    .expect_error(ErrorCode::ArgumentInvalid);
    let body = vec![b' '; 300 * 1024];
    rest.raw(Method::PUT, "/devices/d1", &body)
        .await
        .expect_error(ErrorCode::MessageTooLarge);
    rest.get("/devices/d1")
        .await
        .expect_error(ErrorCode::DeviceNotFound);
}

#[tokio::test]
async fn ids_with_reserved_characters_travel_percent_encoded() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    let id = "dev$1.(a)=b@c'd";
    let encoded = "dev%241.(a)%3Db%40c'd";
    let created = create_device_at(&rest, encoded, id).await;
    assert_eq!(created["deviceId"], id);
    assert_eq!(
        rest.get(&format!("/twins/{encoded}")).await.ok()["deviceId"],
        id
    );
}

async fn create_device_at(rest: &Rest, path_id: &str, id: &str) -> Value {
    rest.json(
        Method::PUT,
        &format!("/devices/{path_id}"),
        &[],
        &json!({ "deviceId": id }),
    )
    .await
    .ok()
}

#[tokio::test]
async fn modules_are_not_registered_here() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    assert_eq!(rest.get("/devices/d1/modules").await.ok(), json!([]));
    rest.get("/devices/ghost/modules")
        .await
        .expect_error(ErrorCode::DeviceNotFound);
    let message = rest
        .json(Method::PUT, "/devices/d1/modules/m1", &[], &json!({}))
        .await
        .expect_error(ErrorCode::ModuleNotFound);
    assert!(message.contains("device identities only"), "{message}");
    for path in ["/twins/d1/modules/m1", "/twins/d1/modules/m1/methods"] {
        let answer = rest.get(path).await;
        answer.expect_error(ErrorCode::ModuleNotFound);
    }
    rest.get("/twins/ghost/modules/m1")
        .await
        .expect_error(ErrorCode::DeviceNotFound);
}
