//! Configurations are durable: after a restart on the same data directory they are there with
//! their etags and metrics, evaluation goes on from the twins, and deleting one then removes
//! its content.
// The helpers fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod configurations_support;
mod rest_support;
mod support;

use configurations_support::{
    config, create, delete, desired, hub_in, status, wait_for, wait_twin,
};
use rest_support::{Rest, create_device};
use serde_json::json;

#[tokio::test]
async fn configurations_survive_a_restart_and_evaluation_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_in(dir.path()).await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    create(
        &rest,
        &config("low", 1, "*", json!({"properties.desired.level": "low"})),
    )
    .await;
    create(
        &rest,
        &config("high", 2, "*", json!({"properties.desired.level": "high"})),
    )
    .await;
    wait_twin(&rest, "d1", |t| desired(t, "level") == "high").await;
    let high = wait_for(&rest, "/configurations/high", |c| {
        c["systemMetrics"]["results"]["appliedCount"] == 1
    })
    .await;
    hub.shutdown().await;

    let hub = hub_in(dir.path()).await;
    let rest = Rest::owner(&hub);
    assert_eq!(rest.get("/configurations/high").await.ok(), high);
    let twin = rest.get("/twins/d1").await.ok();
    assert_eq!(desired(&twin, "level"), "high");
    assert_eq!(status(&twin, "low"), Some("Targeted"));

    // Devices created after the restart are evaluated, and a deletion falls back to `low`.
    create_device(&rest, "d2").await;
    wait_twin(&rest, "d2", |t| desired(t, "level") == "high").await;
    assert_eq!(delete(&rest, "high", None).await.status, 204);
    for id in ["d1", "d2"] {
        let twin = wait_twin(&rest, id, |t| desired(t, "level") == "low").await;
        assert_eq!(status(&twin, "low"), Some("Applied"));
        assert!(status(&twin, "high").is_none());
    }
    hub.shutdown().await;

    let hub = hub_in(dir.path()).await;
    let rest = Rest::owner(&hub);
    rest.get("/configurations/high")
        .await
        .expect_error(iot_protocol::ErrorCode::ConfigurationNotFound);
    let list = rest.get("/configurations").await.ok();
    assert_eq!(list.as_array().unwrap().len(), 1);
    hub.shutdown().await;
}
