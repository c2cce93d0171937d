//! A device twin through a configuration round: the back end sets desired properties, the
//! device reports progress, a malformed report is refused, and the twin is shown the way the
//! REST API and an MQTT twin `GET` show it.
//!
//! Run with `cargo run --example twin_demo`.
#![allow(clippy::print_stdout)]

use std::time::{Duration, SystemTime};

use iot_twin::{Limits, Patch, ServiceWrite, Timestamp, Twin};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let limits = Limits::default();
    let start = Timestamp::from_system_time(SystemTime::now())?;
    let at = |seconds: u64| {
        start
            .checked_add(Duration::from_secs(seconds))
            .unwrap_or(start)
    };

    let mut twin = Twin::new("thermostat-42", None, start);

    // The back end tags the device and asks for a new set point (a REST `PATCH /twins/{id}`).
    let write = ServiceWrite::from_slice(
        br#"{"tags":{"building":"B1","floor":3},
             "properties":{"desired":{"setPoint":21.5,"schedule":{"night":17}}}}"#,
    )?;
    let outcome = twin.apply_service_patch(&write, &limits, at(1))?;
    println!("etag after the service write: {}", outcome.etag);
    if let Some(note) = &outcome.desired {
        println!(
            "send the device $iothub/twin/PATCH/properties/desired/?$version={} with {}",
            note.version(),
            serde_json::to_string(note)?
        );
    }

    // The device applies it and reports (MQTT `$iothub/twin/PATCH/properties/reported/?$rid=1`).
    let report = Patch::from_slice(br#"{"setPoint":21.5,"firmware":{"version":"2.4.1"}}"#)?;
    let version = twin.apply_reported_patch(&report, &limits, at(2))?;
    println!("reported accepted: $iothub/twin/res/204/?$rid=1&$version={version}");

    // Reports IoT Hub would refuse: a key with '.', and a string over 4 KB. Neither changes
    // the twin.
    if let Err(error) = Patch::from_slice(br#"{"sensor.temperature":20.9}"#) {
        println!("rejected ({:?}): {error}", error.class());
    }
    let oversized = Patch::from_value(serde_json::json!({ "log": "x".repeat(5000) }))?;
    if let Err(error) = twin.apply_reported_patch(&oversized, &limits, at(3)) {
        let version = twin.reported().version().map_or(0, |v| v.get());
        println!(
            "rejected ({:?}): {error}; reported $version is still {version}",
            error.class()
        );
    }

    // The back end removes the schedule; the device is told with an explicit null.
    let removal = ServiceWrite::from_slice(br#"{"properties":{"desired":{"schedule":null}}}"#)?;
    if let Some(note) = twin.apply_service_patch(&removal, &limits, at(4))?.desired {
        println!("desired notification: {}", serde_json::to_string(&note)?);
    }

    println!(
        "\nREST GET /twins/thermostat-42:\n{}",
        serde_json::to_string_pretty(&twin)?
    );
    println!(
        "\nMQTT twin GET response body:\n{}",
        serde_json::to_string(&twin.state())?
    );
    Ok(())
}
