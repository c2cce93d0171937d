//! A device agent: the device side of the reboot, factory-reset and configuration patterns of
//! IoT Hub device management, with the method and property names of the official samples.
//!
//! - Direct method `reboot`: answers 200 `"Reboot started"`, then reports
//!   `iothubDM.reboot.lastReboot`.
//! - Direct method `factoryReset`: answers 200, then reports its progress under
//!   `iothubDM.factoryReset` (`status`, `startedFactoryResetTime`, `lastFactoryReset`).
//! - Desired `firmware` (`fwVersion`, `fwPackageURI`, `fwPackageCheckValue`): applied step by
//!   step, reported under `firmware` (`currentFwVersion`, `pendingFwVersion`,
//!   `fwUpdateStatus`: `downloading`, `verifying`, `applying`, `rebooting`, `current`, or
//!   `error`; `lastFwUpdateStartTime`, `lastFwUpdateEndTime`).
//! - Desired `telemetryInterval` (seconds): applied to the telemetry loop and reported back.
//!
//! Run it against an embedded hub it starts on loopback, with a short back-end script that
//! drives each pattern and prints what happens:
//!
//! ```text
//! cargo run --example device_agent
//! ```
//!
//! or against a hub of your own for a minute (the CA file is for a hub whose certificate is
//! not signed by a root the system trusts, such as `iot-hub serve`'s development CA):
//!
//! ```text
//! cargo run --example device_agent -- "HostName=...;DeviceId=...;SharedAccessKey=..." [ca.pem]
//! ```
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use iot_device_sdk::{
    ConnectionState, DesiredUpdate, DeviceClient, DeviceOptions, DeviceOptionsBuilder,
    HandlerError, Message, MethodRequest, MethodResponse, Patch, Timestamp,
};
use iot_hub::{DeviceOptions as HubDevice, Hub};
use iot_methods::MethodInvocation;
use iot_protocol::DeviceId;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, timeout};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// How long the agent runs against a hub given on the command line.
const RUN_FOR: Duration = Duration::from_secs(60);
/// How long the script waits for the agent to do each thing.
const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next() {
        Some(connection_string) => {
            let mut options = DeviceOptions::from_connection_string(&connection_string);
            if let Some(ca) = args.next() {
                options = options.trust_ca_pem(std::fs::read(ca)?);
            }
            let agent = Agent::start(options)?;
            sleep(RUN_FOR).await;
            agent.stop().await
        }
        None => demo().await,
    }
}

/// Starts a hub on loopback, runs the agent against it, and drives each pattern from the
/// back end.
async fn demo() -> Result<()> {
    let hub = Hub::builder()
        .mqtt_addr("127.0.0.1:0".parse()?)
        .plain_tcp()
        .in_memory()
        .start()
        .await?;
    let id: DeviceId = "agent-demo".parse()?;
    hub.registry()
        .create_device(&id, HubDevice::default())
        .await?;
    println!("hub on {}; device {id} registered", hub.mqtt_addr());
    let connection_string = hub.device_connection_string(&id)?.to_secret_string();
    let options = DeviceOptions::from_connection_string(&connection_string)
        .endpoint("127.0.0.1", hub.mqtt_addr().port())
        .insecure_plain_tcp();
    let agent = Agent::start(options)?;
    let script = Script { hub: &hub, id: &id };
    let outcome = async {
        script.reboot().await?;
        script.firmware_update().await?;
        script.telemetry_interval().await?;
        script.factory_reset().await
    }
    .await;
    agent.stop().await?;
    hub.shutdown().await;
    outcome?;
    println!("done");
    Ok(())
}

/// The back end's side of the demo, through the hub's in-process API.
struct Script<'a> {
    hub: &'a Hub,
    id: &'a DeviceId,
}

impl Script<'_> {
    async fn reboot(&self) -> Result<()> {
        let result = self.call("reboot").await?;
        println!(
            "[service] reboot -> {} {}",
            result.status(),
            result.payload()
        );
        let last = self
            .reported_at("/iothubDM/reboot/lastReboot", |_| true)
            .await?;
        println!("[service] the device rebooted at {}", text(&last));
        Ok(())
    }

    async fn firmware_update(&self) -> Result<()> {
        let firmware = json!({"firmware": {
            "fwVersion": "2.0.0",
            "fwPackageURI": "https://example.com/firmware/2.0.0.bin",
            "fwPackageCheckValue": "sha256:5d41402abc4b2a76b9719d911017c592",
        }});
        self.hub
            .twins()
            .update_desired(self.id, Patch::from_value(firmware)?)
            .await?;
        println!("[service] desired firmware 2.0.0");
        let mut seen = Vec::new();
        let done = |status: &Value| status == "current" || status == "error";
        timeout(PATIENCE, async {
            loop {
                let status = self.reported("/firmware/fwUpdateStatus");
                if let Some(status) = status.filter(|s| seen.last() != Some(s)) {
                    println!("[service] firmware update: {}", text(&status));
                    seen.push(status);
                }
                if seen.last().is_some_and(done) {
                    return;
                }
                sleep(Duration::from_millis(20)).await;
            }
        })
        .await?;
        let version = self
            .reported("/firmware/currentFwVersion")
            .unwrap_or_default();
        println!("[service] the device runs firmware {}", text(&version));
        Ok(())
    }

    async fn telemetry_interval(&self) -> Result<()> {
        let mut telemetry = self.hub.telemetry();
        let patch = Patch::from_value(json!({"telemetryInterval": 1}))?;
        self.hub.twins().update_desired(self.id, patch).await?;
        self.reported_at("/telemetryInterval", |v| v == &json!(1))
            .await?;
        println!("[service] the device reports telemetryInterval 1");
        for _ in 0..3 {
            let message = timeout(PATIENCE, telemetry.next())
                .await?
                .ok_or("no telemetry")??;
            println!(
                "[service] telemetry: {}",
                String::from_utf8_lossy(message.body())
            );
        }
        Ok(())
    }

    async fn factory_reset(&self) -> Result<()> {
        let result = self.call("factoryReset").await?;
        println!(
            "[service] factoryReset -> {} {}",
            result.status(),
            result.payload()
        );
        let last = self
            .reported_at("/iothubDM/factoryReset/lastFactoryReset", |_| true)
            .await?;
        println!("[service] factory reset completed at {}", text(&last));
        Ok(())
    }

    async fn call(&self, method: &str) -> Result<iot_methods::MethodResult> {
        let invocation = MethodInvocation::new(method.parse()?, Value::Null)?
            .with_connect_timeout(Duration::from_secs(10))?;
        Ok(self.hub.invoke_method(self.id, invocation).await?)
    }

    /// The reported value at `pointer` (a JSON pointer into reported properties).
    fn reported(&self, pointer: &str) -> Option<Value> {
        let twin = self.hub.twins().get(self.id).ok()?;
        let reported = Value::Object(twin.reported().content().clone());
        reported.pointer(pointer).cloned()
    }

    /// Waits until the reported value at `pointer` satisfies `accept`.
    async fn reported_at(&self, pointer: &str, accept: impl Fn(&Value) -> bool) -> Result<Value> {
        let waiting = async {
            loop {
                if let Some(value) = self.reported(pointer).filter(|v| accept(v)) {
                    return value;
                }
                sleep(Duration::from_millis(20)).await;
            }
        };
        Ok(timeout(PATIENCE, waiting).await?)
    }
}

/// What the method handlers ask the agent to do.
#[derive(Debug)]
enum Request {
    Reboot,
    FactoryReset,
}

/// The running agent: a task around a device client.
struct Agent {
    client: DeviceClient,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Agent {
    /// Connects in the background and starts serving the patterns.
    fn start(options: DeviceOptionsBuilder) -> Result<Self> {
        // The handlers answer at once and leave the work to the agent's loop, which reports
        // progress; so they need no handle on the client.
        let (requests, inbox) = mpsc::channel(8);
        let reboots = requests.clone();
        let options =
            options
                .product_info("device-agent-example")
                .method("reboot", move |_request: MethodRequest| {
                    let requests = reboots.clone();
                    async move { answer(&requests, Request::Reboot, "Reboot started").await }
                })
                .method("factoryReset", move |_request: MethodRequest| {
                    let requests = requests.clone();
                    async move {
                        answer(&requests, Request::FactoryReset, "Factory reset started").await
                    }
                })
                .build()?;
        let client = DeviceClient::start(options)?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(serve(client.clone(), inbox, stopped));
        Ok(Self { client, stop, task })
    }

    async fn stop(self) -> Result<()> {
        self.stop.send_replace(true);
        self.task.await?;
        self.client.close().await;
        Ok(())
    }
}

async fn answer(
    requests: &mpsc::Sender<Request>,
    request: Request,
    message: &str,
) -> std::result::Result<MethodResponse, HandlerError> {
    requests
        .send(request)
        .await
        .map_err(|_| HandlerError::new("the agent is stopping"))?;
    Ok(MethodResponse::ok(json!(message)))
}

/// The agent's loop: connection states, desired changes, method requests and telemetry.
async fn serve(
    client: DeviceClient,
    mut inbox: mpsc::Receiver<Request>,
    mut stop: watch::Receiver<bool>,
) {
    let mut states = client.state_changes();
    let mut desired = client.desired_changes();
    let mut interval = Duration::from_secs(5);
    let mut tick = tokio::time::interval(interval);
    let mut firmware = String::from("1.0.0");
    loop {
        let result = tokio::select! {
            _ = stop.changed() => return,
            Some(state) = states.next() => {
                print_state(&state);
                Ok(())
            }
            Some(update) = desired.next() => configure(&client, &update, &mut interval, &mut tick, &mut firmware).await,
            Some(request) = inbox.recv() => handle(&client, request).await,
            _ = tick.tick() => {
                let reading = json!({"temperature": 20.0 + f64::from(rand_percent()) / 10.0});
                match Message::json(&reading) {
                    Ok(message) => client.send_telemetry(message).await,
                    Err(error) => Err(error),
                }
            }
        };
        if let Err(error) = result {
            println!("[device] {error}");
        }
    }
}

fn print_state(state: &ConnectionState) {
    println!("[device] connection: {state}");
}

/// Applies a change of desired properties and reports the outcome.
async fn configure(
    client: &DeviceClient,
    update: &DesiredUpdate,
    interval: &mut Duration,
    tick: &mut tokio::time::Interval,
    firmware: &mut String,
) -> std::result::Result<(), iot_device_sdk::Error> {
    println!("[device] desired properties version {}", update.version());
    if let Some(seconds) = update
        .patch()
        .as_map()
        .get("telemetryInterval")
        .and_then(Value::as_u64)
    {
        *interval = Duration::from_secs(seconds.max(1));
        *tick = tokio::time::interval(*interval);
        client
            .report(&json!({"telemetryInterval": seconds}))
            .await?;
    }
    let wanted = update
        .properties()
        .get("firmware")
        .and_then(|fw| fw.get("fwVersion"))
        .and_then(Value::as_str);
    if let Some(wanted) = wanted.filter(|wanted| *wanted != firmware.as_str()) {
        update_firmware(client, firmware, wanted).await?;
    }
    Ok(())
}

/// Goes through the firmware update states, reporting each.
async fn update_firmware(
    client: &DeviceClient,
    current: &mut String,
    wanted: &str,
) -> std::result::Result<(), iot_device_sdk::Error> {
    client
        .report(&json!({"firmware": {
            "currentFwVersion": current,
            "pendingFwVersion": wanted,
            "fwUpdateStatus": "downloading",
            "lastFwUpdateStartTime": now(),
        }}))
        .await?;
    for status in ["verifying", "applying", "rebooting"] {
        sleep(Duration::from_millis(150)).await;
        client
            .report(&json!({"firmware": {"fwUpdateStatus": status}}))
            .await?;
    }
    sleep(Duration::from_millis(150)).await;
    *current = wanted.to_owned();
    client
        .report(&json!({"firmware": {
            "currentFwVersion": wanted,
            "pendingFwVersion": "",
            "fwUpdateStatus": "current",
            "lastFwUpdateEndTime": now(),
        }}))
        .await?;
    Ok(())
}

/// Carries out a method request, reporting its progress.
async fn handle(
    client: &DeviceClient,
    request: Request,
) -> std::result::Result<(), iot_device_sdk::Error> {
    match request {
        Request::Reboot => {
            println!("[device] rebooting");
            sleep(Duration::from_millis(200)).await;
            client
                .report(&json!({"iothubDM": {"reboot": {"lastReboot": now()}}}))
                .await?;
        }
        Request::FactoryReset => {
            println!("[device] resetting to factory settings");
            client
                .report(&json!({"iothubDM": {"factoryReset": {
                    "status": "resetting",
                    "startedFactoryResetTime": now(),
                }}}))
                .await?;
            sleep(Duration::from_millis(200)).await;
            client
                .report(&json!({"iothubDM": {"factoryReset": {
                    "status": "complete",
                    "lastFactoryReset": now(),
                }}}))
                .await?;
        }
    }
    Ok(())
}

/// A JSON value for people: strings without their quotes.
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The time now, as IoT Hub writes times.
fn now() -> String {
    Timestamp::from_system_time(SystemTime::now())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A pseudo-random number from 0 to 99, for readings.
fn rand_percent() -> u8 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    u8::try_from(nanos % 100).unwrap_or_default()
}
