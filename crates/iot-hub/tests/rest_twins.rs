//! Device twins over REST (PROTOCOL 6): read, merge, replace, If-Match in every client form,
//! the errors of each, and desired changes reaching a device connected over MQTT.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod rest_support;
mod support;

use iot_protocol::ErrorCode;
use reqwest::Method;
use rest_support::{Rest, create_device, hub};
use serde_json::{Value, json};
use support::Client;

async fn patch(
    rest: &Rest,
    id: &str,
    if_match: Option<&str>,
    body: &Value,
) -> rest_support::Answer {
    let headers: Vec<(&str, &str)> = if_match.map(|v| ("If-Match", v)).into_iter().collect();
    rest.json(Method::PATCH, &format!("/twins/{id}"), &headers, body)
        .await
}

#[tokio::test]
async fn a_new_twin_reads_like_iot_hubs() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    let device = create_device(&rest, "d1").await;
    let twin = rest.get("/twins/d1").await.ok();
    assert_eq!(twin["deviceId"], "d1");
    assert_eq!(twin["etag"], "AAAAAAAAAAE=");
    assert_eq!(twin["deviceEtag"], device["etag"]);
    assert_eq!(twin["version"], 2);
    assert_eq!(twin["status"], "enabled");
    assert_eq!(twin["connectionState"], "Disconnected");
    assert_eq!(twin["authenticationType"], "sas");
    assert!(twin.get("tags").is_none(), "{twin}");
    for section in ["desired", "reported"] {
        assert_eq!(twin["properties"][section]["$version"], 1);
    }
    rest.get("/twins/ghost")
        .await
        .expect_error(ErrorCode::DeviceNotFound);
}

#[tokio::test]
async fn patch_merges_and_put_replaces() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    let body = json!({"deviceId": "ignored", "etag": "ignored",
        "tags": {"location": {"plant": "Redmond43"}},
        "properties": {"desired": {"fan": {"speed": 3, "mode": "auto"}}, "reported": {}}});
    let twin = patch(&rest, "d1", None, &body).await.ok();
    assert_eq!(twin["deviceId"], "d1");
    assert_eq!(twin["tags"], json!({"location": {"plant": "Redmond43"}}));
    assert_eq!(twin["properties"]["desired"]["fan"]["speed"], 3);
    assert_eq!(twin["properties"]["desired"]["$version"], 2);

    let merge = json!({"properties": {"desired": {"fan": {"mode": null}, "led": true}}});
    let twin = patch(&rest, "d1", None, &merge).await.ok();
    assert_eq!(twin["properties"]["desired"]["fan"], json!({"speed": 3}));
    assert_eq!(twin["properties"]["desired"]["led"], true);
    assert_eq!(twin["tags"]["location"]["plant"], "Redmond43");

    let replace = json!({"properties": {"desired": {"interval": 30}}});
    let twin = rest
        .json(Method::PUT, "/twins/d1", &[], &replace)
        .await
        .ok();
    let desired = &twin["properties"]["desired"];
    assert_eq!(desired["interval"], 30);
    assert!(desired.get("fan").is_none() && desired.get("led").is_none());
    assert!(
        twin.get("tags").is_none(),
        "PUT without tags empties them: {twin}"
    );
    assert_eq!(rest.get("/twins/d1").await.ok(), twin);
}

#[tokio::test]
async fn if_match_in_every_form_and_412_on_mismatch() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    let mut etag = rest.get("/twins/d1").await.ok()["etag"]
        .as_str()
        .unwrap()
        .to_owned();
    let forms: [fn(&str) -> String; 4] = [
        |e| format!("\"{e}\""),
        |e| e.to_owned(),
        |e| format!("W/\"{e}\""),
        |_| "\"*\"".to_owned(),
    ];
    for (n, form) in forms.iter().enumerate() {
        let body = json!({"tags": {"n": n}});
        let header = form(&etag);
        let twin = patch(&rest, "d1", Some(&header), &body).await.ok();
        assert_eq!(twin["tags"]["n"], n, "{header}");
        assert_ne!(twin["etag"], etag.as_str());
        etag = twin["etag"].as_str().unwrap().to_owned();
    }
    let stale = patch(&rest, "d1", Some("\"abc\""), &json!({"tags": {"n": 9}})).await;
    stale.expect_error(ErrorCode::PreconditionFailed);
    assert!(stale.is_legacy_error());
    let replaced = rest
        .json(
            Method::PUT,
            "/twins/d1",
            &[("If-Match", "\"abc\"")],
            &json!({}),
        )
        .await;
    replaced.expect_error(ErrorCode::PreconditionFailed);
    let twin = rest.get("/twins/d1").await.ok();
    assert_eq!(
        (twin["etag"].as_str(), &twin["tags"]["n"]),
        (Some(etag.as_str()), &json!(3))
    );
    rest.json(Method::PUT, "/twins/d1", &[("If-Match", "*")], &json!({}))
        .await
        .ok();
}

#[tokio::test]
async fn bad_bodies_are_refused_and_change_nothing() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    let before = rest.get("/twins/d1").await.ok();
    let cases: [(&[u8], ErrorCode); 5] = [
        (b"{\"tags\":", ErrorCode::IotHubFormatError),
        (b"not json", ErrorCode::IotHubFormatError),
        (br#"{"tags":{"a.b":1}}"#, ErrorCode::ArgumentInvalid),
        (br#"{"tags":{"$a":1}}"#, ErrorCode::ArgumentInvalid),
        (
            br#"{"properties":{"reported":{"fw":"1"}}}"#,
            ErrorCode::ArgumentInvalid,
        ),
    ];
    for (body, code) in cases {
        for method in [Method::PATCH, Method::PUT] {
            let answer = rest.raw(method.clone(), "/twins/d1", body).await;
            let message = answer.expect_error(code);
            assert!(
                !message.is_empty(),
                "{method} {}",
                String::from_utf8_lossy(body)
            );
        }
    }
    let big = json!({"properties": {"desired": {"blob": "x".repeat(300 * 1024)}}});
    patch(&rest, "d1", None, &big)
        .await
        .expect_error(ErrorCode::MessageTooLarge);
    let over_quota = json!({"properties": {"desired": {
        "a": "x".repeat(4000), "b": "x".repeat(4000), "c": "x".repeat(4000), "d": "x".repeat(4000),
        "e": "x".repeat(4000), "f": "x".repeat(4000), "g": "x".repeat(4000), "h": "x".repeat(4000),
        "i": "x".repeat(4000)}}});
    patch(&rest, "d1", None, &over_quota)
        .await
        .expect_error(ErrorCode::DeviceModelMaxPropertiesExceeded);
    patch(&rest, "ghost", None, &json!({"tags": {"a": 1}}))
        .await
        .expect_error(ErrorCode::DeviceNotFound);
    assert_eq!(rest.get("/twins/d1").await.ok(), before);
}

#[tokio::test]
async fn a_desired_patch_over_rest_reaches_the_mqtt_device() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    let id = "d1".parse().unwrap();
    let (mut client, _) = Client::device(&hub, &id, true).await;
    client
        .subscribe(&["$iothub/twin/PATCH/properties/desired/#"])
        .await;

    let body =
        json!({"tags": {"city": "Oslo"}, "properties": {"desired": {"telemetryInterval": 10}}});
    let twin = patch(&rest, "d1", None, &body).await.ok();
    assert_eq!(twin["connectionState"], "Connected");
    let note = client.recv_publish().await;
    assert_eq!(
        note.topic,
        "$iothub/twin/PATCH/properties/desired/?$version=2"
    );
    let sent: Value = serde_json::from_slice(&note.payload).unwrap();
    assert_eq!(sent, json!({"telemetryInterval": 10, "$version": 2}));

    let tags_only = json!({"tags": {"city": "Bergen"}});
    patch(&rest, "d1", None, &tags_only).await.ok();
    let replace = json!({"properties": {"desired": {"fan": true}}});
    rest.json(Method::PUT, "/twins/d1", &[], &replace)
        .await
        .ok();
    let note = client.recv_publish().await;
    assert_eq!(
        note.topic, "$iothub/twin/PATCH/properties/desired/?$version=3",
        "tags never reach the device; the replace is the next notification"
    );
    let sent: Value = serde_json::from_slice(&note.payload).unwrap();
    assert_eq!(sent["fan"], true);
    assert_eq!(sent["$version"], 3);
}

#[tokio::test]
async fn reported_properties_from_mqtt_show_over_rest() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    let id = "d1".parse().unwrap();
    let (mut client, _) = Client::device(&hub, &id, true).await;
    client.subscribe(&["$iothub/twin/res/#"]).await;
    let (topic, _) = client
        .twin(
            "$iothub/twin/PATCH/properties/reported/?$rid=1",
            br#"{"firmware":{"version":"2.1"}}"#,
        )
        .await;
    assert_eq!(topic, "$iothub/twin/res/204/?$rid=1&$version=2");
    let twin = rest.get("/twins/d1").await.ok();
    let reported = &twin["properties"]["reported"];
    assert_eq!(reported["firmware"]["version"], "2.1");
    assert_eq!(reported["$version"], 2);
    assert!(reported["$metadata"]["firmware"]["$lastUpdated"].is_string());
}
