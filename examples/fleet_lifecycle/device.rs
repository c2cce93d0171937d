//! A simulated device of the fleet demo: the device SDK and its pattern helpers, with
//! callbacks that take a little time, as real work would.

use std::time::Duration;

use iot_device_sdk::patterns::{ConfigurationHandle, DesiredConfiguration, DeviceOperation};
use iot_device_sdk::{DeviceClient, DeviceOptions, WeakDeviceClient};
use iot_hub::Hub;
use iot_protocol::DeviceId;
use serde_json::{Value, json};

/// The firmware every device starts with.
pub(crate) const FACTORY_FIRMWARE: &str = "1.0";

/// What the device that cannot update says.
pub(crate) const LOW_BATTERY: &str = "battery too low for a firmware update";

/// A running simulated device.
pub(crate) struct SimDevice {
    pub(crate) client: DeviceClient,
    firmware: ConfigurationHandle,
}

impl SimDevice {
    /// Connects device `id` (the `index`-th of the fleet) to `hub` and installs the reboot,
    /// factory-reset and firmware-configuration helpers. A device with `low_battery` refuses
    /// firmware updates.
    pub(crate) async fn start(
        hub: &Hub,
        id: &DeviceId,
        index: usize,
        low_battery: bool,
    ) -> Result<Self, super::Failure> {
        let connection_string = hub.device_connection_string(id)?.to_secret_string();
        let options = DeviceOptions::from_connection_string(&connection_string)
            .endpoint("127.0.0.1", hub.mqtt_addr().port())
            .insecure_plain_tcp()
            .operation_timeout(Duration::from_secs(20))
            .build()?;
        let client = DeviceClient::connect(options).await?;
        client
            .report(&json!({"firmware": {"current": FACTORY_FIRMWARE}}))
            .await?;
        let work = work_time(index);
        DeviceOperation::reboot().install(&client, move |_payload| async move {
            tokio::time::sleep(work).await;
            Ok::<(), String>(())
        })?;
        DeviceOperation::factory_reset().install(&client, move |_payload| async move {
            tokio::time::sleep(work * 2).await;
            Ok::<(), String>(())
        })?;
        let weak = client.downgrade();
        let firmware = DesiredConfiguration::new("firmware").spawn(&client, move |wanted| {
            install(weak.clone(), wanted, work, low_battery)
        })?;
        Ok(Self { client, firmware })
    }

    /// Stops the helpers and closes the connection.
    pub(crate) async fn stop(self) {
        self.firmware.stop();
        self.client.close().await;
    }
}

/// "Installs" the wanted firmware: takes a while, then reports the version now running.
async fn install(
    client: WeakDeviceClient,
    wanted: Value,
    work: Duration,
    low_battery: bool,
) -> Result<(), String> {
    let version = wanted
        .get("version")
        .and_then(Value::as_str)
        .ok_or("the desired firmware names no version")?
        .to_owned();
    if low_battery {
        return Err(LOW_BATTERY.to_owned());
    }
    tokio::time::sleep(work).await;
    let client = client.upgrade().ok_or("the device is shutting down")?;
    client
        .report(&json!({"firmware": {"current": version}}))
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// How long the `index`-th device takes for a piece of work: 20 to 220 ms, spread over the
/// fleet.
fn work_time(index: usize) -> Duration {
    let spread = u64::try_from(index * 37 % 200).unwrap_or_default();
    Duration::from_millis(20 + spread)
}
