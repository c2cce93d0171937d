//! `iot-hub serve` and the REST listener: the connection string it prints works against the
//! address it prints, and a REST port that cannot be bound is explained with the flag to use.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod rest_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use iot_protocol::ServiceConnectionString;
use rest_support::{WAIT, http_client, unix_now};

fn iot_hub() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iot-hub"))
}

/// Kills the child when the test ends, passing or failing.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The REST address and the service connection string `serve` prints at start.
fn startup_lines(child: &mut Child) -> (SocketAddr, ServiceConnectionString) {
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let (mut addr, mut cs) = (None, None);
    while addr.is_none() || cs.is_none() {
        let line = received
            .recv_timeout(WAIT)
            .expect("serve printed its addresses");
        if let Some(rest) = line.split(", REST on ").nth(1) {
            addr = rest.split(' ').next().map(|a| a.parse().unwrap());
        }
        if let Some(text) = line.strip_prefix("service connection string: ") {
            cs = Some(text.parse().unwrap());
        }
    }
    (addr.unwrap(), cs.unwrap())
}

#[tokio::test]
async fn serve_prints_a_service_connection_string_that_works() {
    let child = iot_hub()
        .args([
            "serve",
            "--plain-tcp",
            "--mqtt-addr",
            "127.0.0.1:0",
            "--rest-addr",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let (addr, cs) = startup_lines(&mut running.0);
    assert_eq!(cs.policy_name(), "iothubowner");
    assert_eq!(cs.host_name().as_str(), "localhost");
    let token = cs.sas_token(unix_now() + 60).to_secret_string();
    let response = http_client(None)
        .get(format!(
            "http://{addr}/statistics/devices?api-version=2021-04-12"
        ))
        .header("Authorization", token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let stats: serde_json::Value = response.json().await.unwrap();
    assert_eq!(stats["totalDeviceCount"], 0);
}

#[test]
fn serve_explains_a_rest_port_in_use() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = iot_hub()
        .args([
            "serve",
            "--plain-tcp",
            "--mqtt-addr",
            "127.0.0.1:0",
            "--rest-addr",
            &addr,
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--rest-addr"), "{stderr}");
    assert!(stderr.contains(&addr), "{stderr}");
}
