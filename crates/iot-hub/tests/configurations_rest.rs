//! The configuration endpoints (PROTOCOL 10.1, 10.2): create, etags and 412, immutable
//! content, validation with IoT Hub's codes, listing, deleting, the 100-configuration limit
//! and `testQueries`.
// The helpers fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod configurations_support;
mod rest_support;
mod support;

use configurations_support::{config, create, delete, hub, put};
use iot_protocol::ErrorCode;
use reqwest::Method;
use rest_support::Rest;
use serde_json::json;

#[tokio::test]
async fn etags_guard_updates_and_deletes_and_content_cannot_change() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    let mut body = config("c1", 5, "*", json!({"properties.desired.a": 1}));
    let created = create(&rest, &body).await;
    assert_eq!(created["etag"], "MQ==");
    put(&rest, &body, None)
        .await
        .expect_error(ErrorCode::ConfigurationAlreadyExists);

    body["priority"] = json!(7);
    body["labels"] = json!({"new": "label"});
    put(&rest, &body, Some("\"Mg==\""))
        .await
        .expect_error(ErrorCode::PreconditionFailed);
    // Python sends the etag raw, Node quoted; both match.
    let updated = put(&rest, &body, Some("MQ==")).await.ok();
    assert_eq!(
        (updated["etag"].clone(), updated["priority"].clone()),
        (json!("Mg=="), json!(7))
    );
    assert_eq!(updated["labels"], json!({"new": "label"}));
    let forced = put(&rest, &body, Some("*")).await.ok();
    assert_eq!(forced["etag"], "Mw==");
    assert_eq!(rest.get("/configurations/c1").await.ok(), forced);

    let mut changed = body.clone();
    changed["content"]["deviceContent"]["properties.desired.a"] = json!(2);
    let message = put(&rest, &changed, Some("*"))
        .await
        .expect_error(ErrorCode::CannotModifyImmutableConfigurationContent);
    assert!(message.contains("c1"), "{message}");
    // A body without content keeps it.
    let mut bare = body.clone();
    bare.as_object_mut().unwrap().remove("content");
    let kept = put(&rest, &bare, Some("*")).await.ok();
    assert_eq!(kept["content"], body["content"]);

    delete(&rest, "c1", Some("\"MQ==\""))
        .await
        .expect_error(ErrorCode::PreconditionFailed);
    assert_eq!(delete(&rest, "c1", Some("\"NA==\"")).await.status, 204);
    rest.get("/configurations/c1")
        .await
        .expect_error(ErrorCode::ConfigurationNotFound);
    delete(&rest, "c1", None)
        .await
        .expect_error(ErrorCode::ConfigurationNotFound);
    put(&rest, &body, Some("*"))
        .await
        .expect_error(ErrorCode::ConfigurationNotFound);
    // The id is free again.
    assert_eq!(create(&rest, &body).await["etag"], "MQ==");
    hub.shutdown().await;
}

#[tokio::test]
async fn invalid_configurations_are_refused_with_iot_hubs_codes() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    let content = json!({"properties.desired.a": 1});
    let metrics = |n: usize| {
        let queries: serde_json::Map<String, serde_json::Value> = (0..n)
            .map(|i| (format!("m{i}"), json!("SELECT deviceId FROM devices")))
            .collect();
        json!({ "queries": queries })
    };
    let mut too_many = config("many", 1, "*", content.clone());
    too_many["metrics"] = metrics(6);
    let mut bad_metric = config("badmetric", 1, "*", content.clone());
    bad_metric["metrics"] = json!({"queries": {"broken": "SELECT deviceId FROM"}});
    let cases = [
        (
            config("c", 1, "tags.a = ", content.clone()),
            ErrorCode::InvalidConfigurationTargetCondition,
            "targetCondition",
        ),
        (
            config("c", 1, "", content.clone()),
            ErrorCode::InvalidConfigurationTargetCondition,
            "required",
        ),
        (
            config("c", 1, "*", json!({"tags.a": 1})),
            ErrorCode::InvalidConfigurationContent,
            "tags.a",
        ),
        (
            config("c", 1, "*", json!({"properties.desired.a": [1, null]})),
            ErrorCode::InvalidConfigurationContent,
            "properties.desired.a[1]",
        ),
        (
            config("c", -1, "*", content.clone()),
            ErrorCode::ArgumentInvalid,
            "priority",
        ),
        (
            too_many,
            ErrorCode::InvalidConfigurationCustomMetricsQuery,
            "at most 5",
        ),
        (
            bad_metric,
            ErrorCode::InvalidConfigurationCustomMetricsQuery,
            "broken",
        ),
    ];
    for (body, code, needle) in cases {
        let message = put(&rest, &body, None).await.expect_error(code);
        assert!(message.contains(needle), "{body}: {message}");
    }
    let upper = rest
        .json(
            Method::PUT,
            "/configurations/Upper",
            &[],
            &json!({"targetCondition": "*"}),
        )
        .await;
    upper.expect_error(ErrorCode::ArgumentInvalid);
    let other = rest
        .json(
            Method::PUT,
            "/configurations/one",
            &[],
            &config("two", 1, "*", content.clone()),
        )
        .await;
    other.expect_error(ErrorCode::ArgumentInvalid);
    rest.raw(Method::PUT, "/configurations/one", b"[")
        .await
        .expect_error(ErrorCode::IotHubFormatError);
    // Five metrics are fine, and the registry policies are what it takes.
    let mut five = config("five", 1, "*", content);
    five["metrics"] = metrics(5);
    create(&Rest::policy(&hub, "registryReadWrite"), &five).await;
    Rest::service(&hub)
        .get("/configurations/five")
        .await
        .expect_error(ErrorCode::IotHubUnauthorizedAccess);
    hub.shutdown().await;
}

#[tokio::test]
async fn configurations_are_listed_and_limited_to_a_hundred() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    for n in 0..100 {
        create(&rest, &config(&format!("c{n:03}"), 1, "*", json!({}))).await;
    }
    let refused = put(&rest, &config("c100", 1, "*", json!({})), None).await;
    refused.expect_error(ErrorCode::ConfigurationCountLimitExceeded);
    let all = rest.get("/configurations").await.ok();
    assert_eq!(all.as_array().unwrap().len(), 100);
    let three = rest.get("/configurations?top=3").await.ok();
    let ids: Vec<&str> = three
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c000", "c001", "c002"]);
    rest.get("/configurations?top=x")
        .await
        .expect_error(ErrorCode::ArgumentInvalid);
    assert_eq!(delete(&rest, "c050", None).await.status, 204);
    create(&rest, &config("c100", 1, "*", json!({}))).await;
    hub.shutdown().await;
}

#[tokio::test]
async fn test_queries_reports_each_error() {
    let hub = hub().await;
    let rest = Rest::policy(&hub, "registryRead");
    let check = |body: serde_json::Value| {
        let rest = rest.clone();
        async move {
            rest.json(Method::POST, "/configurations/testQueries", &[], &body)
                .await
                .ok()
        }
    };
    let fine = check(json!({"targetCondition": "tags.a = 'b'",
        "customMetricQueries": {"m": "SELECT deviceId FROM devices WHERE properties.reported.x = 1"}}))
    .await;
    assert_eq!(fine, json!({"customMetricQueryErrors": {}}));
    let errors = check(json!({"targetCondition": "tags.a = ",
        "customMetricQueries": {"good": "SELECT * FROM devices", "bad": "SELECT FROM devices"}}))
    .await;
    assert!(
        errors["targetConditionError"]
            .as_str()
            .unwrap()
            .contains("expected a value"),
        "{errors}"
    );
    let metric_errors = errors["customMetricQueryErrors"].as_object().unwrap();
    assert_eq!(metric_errors.keys().collect::<Vec<_>>(), ["bad"]);
    let empty = check(json!({})).await;
    assert_eq!(empty, json!({"customMetricQueryErrors": {}}));
    rest.raw(Method::POST, "/configurations/testQueries", b"{")
        .await
        .expect_error(ErrorCode::IotHubFormatError);
    hub.shutdown().await;
}
