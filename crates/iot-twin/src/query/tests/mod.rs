//! Tests of the query language as a whole: the example queries of PROTOCOL 8, 9, 10 and 15
//! over a small fleet of twins built with [`Twin`], and property tests (`laws.rs`) against a
//! naive reference evaluator (`reference.rs`).

mod examples;
mod laws;
mod reference;

use serde_json::{Value, json};

use crate::{
    ConfigurationInfo, ConfigurationStatus, ConnectionState, DeviceStatus, Limits, Patch,
    ServiceWrite, Timestamp, Twin,
};

/// One device of the test fleet.
struct Device {
    id: &'static str,
    tags: Value,
    desired: Value,
    reported: Value,
    connected: bool,
    enabled: bool,
    firmware285: Option<ConfigurationStatus>,
}

/// A twin as the hub would store it, in its REST JSON shape.
fn twin(device: Device, module: Option<&str>) -> Value {
    let now = Timestamp::from_unix_seconds(1_700_000_000).unwrap();
    let limits = Limits::default();
    let mut twin = Twin::new(device.id, module.map(String::from), now);
    let write = json!({"tags": device.tags, "properties": {"desired": device.desired}});
    let write = ServiceWrite::from_slice(write.to_string().as_bytes()).unwrap();
    twin.apply_service_patch(&write, &limits, now).unwrap();
    let reported = Patch::from_value(device.reported).unwrap();
    twin.apply_reported_patch(&reported, &limits, now).unwrap();
    let registry = twin.registry_mut();
    registry.connection_state = Some(if device.connected {
        ConnectionState::Connected
    } else {
        ConnectionState::Disconnected
    });
    registry.status = Some(if device.enabled {
        DeviceStatus::Enabled
    } else {
        DeviceStatus::Disabled
    });
    registry.last_activity_time = Some(now);
    if let Some(status) = device.firmware285 {
        twin.configurations_mut()
            .insert("firmware285".into(), ConfigurationInfo::new(status));
    }
    serde_json::to_value(&twin).unwrap()
}

/// Five device twins after the docs' examples: regions, plants, connectivity, telemetry
/// configuration status, firmware update status and a configuration.
fn fleet() -> Vec<Value> {
    let applied = Some(ConfigurationStatus::Applied);
    let devices = [
        Device {
            id: "d1",
            tags: json!({"location": {"region": "US", "plant": "Redmond43"}, "devicetype": "chiller"}),
            desired: json!({"telemetryConfig": {"sendFrequencyInSecs": 300}}),
            reported: json!({
                "connectivity": {"type": "cellular"},
                "telemetryConfig": {"sendFrequencyInSecs": 300, "status": "Success"},
                "firmware": {"fwUpdateStatus": "current", "currentFwVersion": "2.8.5"},
                "temperature": 21.5,
            }),
            connected: false,
            enabled: true,
            firmware285: applied,
        },
        Device {
            id: "d2",
            tags: json!({"location": {"region": "US", "plant": "Redmond43"}, "devicetype": "chiller"}),
            desired: json!({}),
            reported: json!({
                "connectivity": {"type": "wifi"},
                "telemetryConfig": {"sendFrequencyInSecs": 30, "status": "Pending"},
                "firmware": {"fwUpdateStatus": "applying"},
                "temperature": 25,
            }),
            connected: true,
            enabled: true,
            firmware285: Some(ConfigurationStatus::Targeted),
        },
        Device {
            id: "d3",
            tags: json!({"location": {"region": "EU", "plant": "Dublin1"}}),
            desired: json!({}),
            reported: json!({
                "connectivity": {"type": "cellular"},
                "telemetryConfig": {"sendFrequencyInSecs": 60, "status": "Success"},
                "firmware": {"fwUpdateStatus": "current"},
                "temperature": 18,
            }),
            connected: false,
            enabled: true,
            firmware285: applied,
        },
        Device {
            id: "d4",
            tags: json!({}),
            desired: json!({}),
            reported: json!({
                "connectivity": "wired",
                "telemetryConfig": {"status": "Error"},
                "chillerProperties": {"model": "4000x"},
            }),
            connected: true,
            enabled: true,
            firmware285: None,
        },
        Device {
            id: "d5",
            tags: json!({"location": {"region": "US"}}),
            desired: json!({"telemetryConfig": {"sendFrequencyInSecs": 60}}),
            reported: json!({"telemetryConfig": {"status": "Success"}, "version": "1"}),
            connected: false,
            enabled: false,
            firmware285: None,
        },
    ];
    devices.into_iter().map(|d| twin(d, None)).collect()
}

/// Module twins: two scanning modules on `device1` and `device2`, one on `device3`, one idle.
fn modules() -> Vec<Value> {
    let module = |device: &'static str, module: &str, status: &str| {
        let spec = Device {
            id: device,
            tags: json!({}),
            desired: json!({}),
            reported: json!({"status": status}),
            connected: true,
            enabled: true,
            firmware285: None,
        };
        twin(spec, Some(module))
    };
    vec![
        module("device1", "scanner", "scanning"),
        module("device2", "scanner", "scanning"),
        module("device3", "scanner", "scanning"),
        module("device1", "logger", "idle"),
    ]
}

/// `devices.jobs` rows in the PROTOCOL 8.3 shape.
fn device_jobs() -> Vec<Value> {
    let row = |device: &str, job: &str, kind: &str, status: &str, created: &str| {
        json!({
            "deviceId": device, "jobId": job, "jobType": kind, "status": status,
            "startTimeUtc": "2016-09-29T18:18:52.7418462Z",
            "endTimeUtc": "2016-09-29T18:20:52.7418462Z",
            "createdDateTimeUtc": created,
            "lastUpdatedDateTimeUtc": "2016-09-29T18:18:56.8894408Z",
            "outcome": {"deviceMethodResponse": null},
        })
    };
    vec![
        row(
            "myDeviceId",
            "myJobId",
            "scheduleUpdateTwin",
            "completed",
            "2016-09-29T18:18:56Z",
        ),
        row(
            "myDeviceId",
            "oldJob",
            "scheduleUpdateTwin",
            "completed",
            "2016-08-01T00:00:00Z",
        ),
        row(
            "myDeviceId",
            "reboot",
            "scheduleDeviceMethod",
            "failed",
            "2016-10-01T00:00:00Z",
        ),
        row(
            "other",
            "myJobId",
            "scheduleUpdateTwin",
            "completed",
            "2016-09-29T18:18:56Z",
        ),
    ]
}

/// The `deviceId`s of rows (twins or projections).
fn ids(rows: &[Value]) -> Vec<&str> {
    rows.iter()
        .map(|r| r.get("deviceId").and_then(Value::as_str).unwrap_or("?"))
        .collect()
}
