//! The smallest useful device, for measuring the device SDK's memory: it connects over TLS,
//! reads its twin, answers the direct method `ping`, and then waits, connected, until it is
//! killed. `scripts/footprint.sh` runs it next to the same device written with the official
//! Python SDK and compares their resident memory.
//!
//! ```sh
//! cargo build --release --example footprint_device
//! target/release/examples/footprint_device "HostName=localhost;DeviceId=d1;SharedAccessKey=..." ca.pem
//! ```
//!
//! It prints `ready` once the twin is read and the method handler is subscribed.

use std::io::Write as _;
use std::process::ExitCode;

use iot_device_sdk::{DeviceClient, DeviceOptions, MethodResponse};
use serde_json::json;

/// A single-threaded runtime: a device this small needs no more.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(connection_string), Some(ca_path)) = (args.next(), args.next()) else {
        say("usage: footprint_device <device connection string> <CA certificate PEM>");
        return ExitCode::FAILURE;
    };
    match run(&connection_string, &ca_path).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            say(&format!("footprint_device: {error}"));
            ExitCode::FAILURE
        }
    }
}

async fn run(connection_string: &str, ca_path: &str) -> Result<(), String> {
    let ca = std::fs::read(ca_path).map_err(|e| format!("reading {ca_path}: {e}"))?;
    let options = DeviceOptions::from_connection_string(connection_string)
        .trust_ca_pem(ca)
        .method("ping", |_request| async {
            Ok(MethodResponse::ok(json!({ "pong": true })))
        })
        .build()
        .map_err(|e| format!("options: {e}"))?;
    let client = DeviceClient::connect(options)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let twin = client.get_twin().await.map_err(|e| format!("twin: {e}"))?;
    say(&format!(
        "ready (desired version {})",
        twin.desired().version()
    ));
    std::future::pending::<()>().await;
    Ok(())
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // The process is measured from outside; a lost line changes nothing.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
