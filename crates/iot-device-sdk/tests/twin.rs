//! Twin operations against the embedded hub: reading, reporting, desired properties.

mod support;

use iot_device_sdk::{ConnectionState, DeviceClient};
use iot_twin::Patch;
use serde_json::json;
use support::{device, hub, options, stop, within};

#[tokio::test]
async fn connects_reads_and_reports() {
    let hub = hub().await;
    let id = device(&hub, "twin-basic").await;
    let client = within(
        "connect",
        DeviceClient::connect(options(&hub, &id).build().unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(client.state(), ConnectionState::Ready);
    let twin = client.get_twin().await.unwrap();
    assert_eq!(twin.reported().version().get(), 1);
    let patch = Patch::from_value(json!({"firmware": {"version": "1.0"}})).unwrap();
    let version = client.update_reported(patch).await.unwrap();
    assert_eq!(version.get(), 2);
    let stored = hub.twins().get(&id).unwrap();
    assert_eq!(stored.reported().content()["firmware"]["version"], "1.0");
    client.close().await;
    assert_eq!(client.state(), ConnectionState::Closed);
    stop(hub).await;
}
