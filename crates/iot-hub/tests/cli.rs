//! The `iot-hub` binary: registering a device from the command line, and a clear error when
//! the MQTT port is taken.

use std::process::Command;

use iot_protocol::DeviceConnectionString;

fn iot_hub() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iot-hub"))
}

#[test]
fn device_add_prints_a_connection_string_that_the_hub_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let output = iot_hub()
        .args([
            "device",
            "add",
            "lamp-1",
            "--data-dir",
            data,
            "--host-name",
            "hub.local",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let cs: DeviceConnectionString = text.trim().parse().unwrap();
    assert_eq!(cs.identity().to_string(), "lamp-1");
    assert_eq!(cs.host_name().as_str(), "hub.local");

    let again = iot_hub()
        .args(["device", "add", "lamp-1", "--data-dir", data])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already registered"));
}

#[test]
fn serve_explains_a_port_in_use() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = iot_hub()
        .args(["serve", "--plain-tcp", "--mqtt-addr", &addr])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--mqtt-addr"), "{stderr}");
}

#[test]
fn serve_requires_a_transport() {
    let output = iot_hub().args(["serve"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--dev-certs"));
}
