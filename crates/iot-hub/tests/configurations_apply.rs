//! Applying configurations (PROTOCOL 10.3): content reaches the twins the target condition
//! selects (and connected devices), the highest priority wins per path and the next one
//! applies when it goes away, a target condition change moves the content, a service write
//! to an owned path is overridden, and metrics count by their queries.
// The helpers fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod configurations_support;
mod jobs_support;
mod rest_support;
mod support;

use configurations_support::{
    config, create, delete, desired, hub, put, status, wait_for, wait_twin,
};
use jobs_support::online;
use reqwest::Method;
use rest_support::{Rest, create_device};
use serde_json::{Value, json};

async fn tag(rest: &Rest, id: &str, tags: Value) {
    let body = json!({ "tags": tags });
    rest.json(Method::PATCH, &format!("/twins/{id}"), &[], &body)
        .await
        .ok();
}

#[tokio::test]
async fn content_reaches_the_targeted_twins_and_metrics_count_them() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    for (id, kind) in [("c1", "chiller"), ("c2", "chiller"), ("p1", "pump")] {
        create_device(&rest, id).await;
        tag(&rest, id, json!({"devicetype": kind})).await;
    }
    let mut c1 = online(&hub, "c1").await;
    c1.subscribe(&["$iothub/twin/res/#"]).await;

    // The firmware tutorial's configuration, as the Node service SDK sends it.
    let mut body = config(
        "firmware285",
        20,
        "tags.devicetype = 'chiller'",
        json!({"properties.desired.firmware": {"fwVersion": "2.8.5", "fwPackageURI": "https://example.com/285"}}),
    );
    body["metrics"] = json!({"queries": {"current":
        "SELECT deviceId FROM devices WHERE configurations.[[firmware285]].status='Applied' AND properties.reported.firmware.fwUpdateStatus='current'"}});
    let created = create(&rest, &body).await;
    assert_eq!(created["etag"], "MQ==");
    assert_eq!(created["priority"], 20);
    assert_eq!(created["labels"], json!({"team": "test"}));
    assert_eq!(created["content"], body["content"]);
    assert!(created["createdTimeUtc"].is_string());
    assert_eq!(
        created["systemMetrics"]["queries"]["appliedCount"],
        "select deviceId from devices where configurations.[[firmware285]].status = 'Applied'"
    );
    assert_eq!(created["metrics"]["results"], json!({"current": 0}));

    let note = c1.recv_publish().await;
    assert!(
        note.topic
            .starts_with("$iothub/twin/PATCH/properties/desired/")
    );
    let note: Value = serde_json::from_slice(&note.payload).unwrap();
    assert_eq!(note["firmware"]["fwVersion"], "2.8.5");
    for id in ["c1", "c2"] {
        let twin = wait_twin(&rest, id, |t| status(t, "firmware285") == Some("Applied")).await;
        assert_eq!(desired(&twin, "firmware")["fwVersion"], "2.8.5");
    }
    let pump = rest.get("/twins/p1").await.ok();
    assert!(pump.get("configurations").is_none() && desired(&pump, "firmware").is_null());

    // c1 reports the firmware current: the custom metric counts it.
    let (topic, _) = c1
        .twin(
            "$iothub/twin/PATCH/properties/reported/?$rid=1",
            br#"{"firmware":{"fwUpdateStatus":"current"}}"#,
        )
        .await;
    assert!(topic.starts_with("$iothub/twin/res/204/"));
    let counted = wait_for(&rest, "/configurations/firmware285", |c| {
        c["metrics"]["results"]["current"] == 1
    })
    .await;
    assert_eq!(
        counted["systemMetrics"]["results"],
        json!({"appliedCount": 2, "targetedCount": 2})
    );
    assert_eq!(counted["etag"], "MQ==");

    // Configuration queries see the status.
    let query = json!({"query": "SELECT deviceId FROM devices WHERE configurations.[[firmware285]].status = 'Applied'"});
    let rows = rest
        .json(Method::POST, "/devices/query", &[], &query)
        .await
        .ok();
    assert_eq!(rows, json!([{"deviceId": "c1"}, {"deviceId": "c2"}]));
    hub.shutdown().await;
}

#[tokio::test]
async fn the_highest_priority_wins_and_the_next_applies_when_it_goes() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    let low = config(
        "low",
        10,
        "*",
        json!({"properties.desired.mode": "eco", "properties.desired.fan": 1}),
    );
    let high = config("high", 20, "*", json!({"properties.desired.mode": "turbo"}));
    create(&rest, &low).await;
    create(&rest, &high).await;
    let twin = wait_twin(&rest, "d1", |t| {
        desired(t, "mode") == "turbo" && status(t, "high") == Some("Applied")
    })
    .await;
    // `low` still sets `fan`, which nothing overrides: it is applied too.
    assert_eq!(desired(&twin, "fan"), 1);
    assert_eq!(status(&twin, "low"), Some("Applied"));

    // A configuration whose every path is overridden is only targeted.
    let shadow = config("shadow", 5, "*", json!({"properties.desired.mode": "off"}));
    create(&rest, &shadow).await;
    wait_twin(&rest, "d1", |t| status(t, "shadow") == Some("Targeted")).await;

    // Between equal priorities the most recently created wins.
    let tie = config("tie", 20, "*", json!({"properties.desired.mode": "quiet"}));
    create(&rest, &tie).await;
    wait_twin(&rest, "d1", |t| {
        desired(t, "mode") == "quiet" && status(t, "high") == Some("Targeted")
    })
    .await;

    assert_eq!(delete(&rest, "tie", None).await.status, 204);
    assert_eq!(delete(&rest, "high", Some("*")).await.status, 204);
    let twin = wait_twin(&rest, "d1", |t| desired(t, "mode") == "eco").await;
    assert!(status(&twin, "high").is_none() && status(&twin, "tie").is_none());
    assert_eq!(status(&twin, "low"), Some("Applied"));

    // Deleting the last configuration removes its properties.
    delete(&rest, "low", None).await;
    delete(&rest, "shadow", None).await;
    let twin = wait_twin(&rest, "d1", |t| t.get("configurations").is_none()).await;
    assert!(desired(&twin, "mode").is_null() && desired(&twin, "fan").is_null());
    hub.shutdown().await;
}

#[tokio::test]
async fn a_target_condition_change_moves_the_content() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    for (id, site) in [("a1", "a"), ("b1", "b")] {
        create_device(&rest, id).await;
        tag(&rest, id, json!({"site": site})).await;
    }
    let mut body = config(
        "site",
        1,
        "tags.site = 'a'",
        json!({"properties.desired.site": {"open": true}}),
    );
    let created = create(&rest, &body).await;
    wait_twin(&rest, "a1", |t| desired(t, "site")["open"] == true).await;

    body["targetCondition"] = json!("tags.site = 'b'");
    let updated = put(
        &rest,
        &body,
        Some(&format!("\"{}\"", created["etag"].as_str().unwrap())),
    )
    .await
    .ok();
    assert_eq!(updated["etag"], "Mg==");
    assert_eq!(updated["createdTimeUtc"], created["createdTimeUtc"]);
    assert_eq!(
        updated["systemMetrics"]["queries"]["targetedCount"],
        "select deviceId from devices where tags.site = 'b'"
    );
    let b1 = wait_twin(&rest, "b1", |t| status(t, "site") == Some("Applied")).await;
    assert_eq!(desired(&b1, "site"), &json!({"open": true}));
    let a1 = wait_twin(&rest, "a1", |t| t.get("configurations").is_none()).await;
    assert!(desired(&a1, "site").is_null());

    // A device that gets the tag later is targeted by the next evaluation.
    create_device(&rest, "b2").await;
    tag(&rest, "b2", json!({"site": "b"})).await;
    wait_twin(&rest, "b2", |t| status(t, "site") == Some("Applied")).await;
    wait_for(&rest, "/configurations/site", |c| {
        c["systemMetrics"]["results"] == json!({"appliedCount": 2, "targetedCount": 2})
    })
    .await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_service_write_to_an_owned_path_is_overridden() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    create(
        &rest,
        &config(
            "owner",
            1,
            "*",
            json!({"properties.desired.owned": {"v": 1}}),
        ),
    )
    .await;
    wait_twin(&rest, "d1", |t| desired(t, "owned")["v"] == 1).await;
    let write = json!({"properties": {"desired": {"owned": {"v": 2, "extra": true}, "free": 3}}});
    rest.json(Method::PATCH, "/twins/d1", &[], &write)
        .await
        .ok();
    let twin = wait_twin(&rest, "d1", |t| desired(t, "owned") == &json!({"v": 1})).await;
    assert_eq!(desired(&twin, "free"), 3);
    hub.shutdown().await;
}
