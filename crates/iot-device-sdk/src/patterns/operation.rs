//! [`DeviceOperation`]: the reboot and factory-reset patterns. A direct method starts the
//! operation and is answered at once; the device reports its progress under `iothubDM`.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use iot_methods::{HandlerError, MethodRequest, MethodResponse};
use serde_json::{Map, Value, json};

use super::path::now;
use crate::{DeviceClient, Error, WeakDeviceClient};

/// The reported status of an operation that failed, with the reason in `message`.
pub const OPERATION_ERROR: &str = "error";

/// The names one operation uses on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Names {
    /// The default method name.
    method: &'static str,
    /// The key under `iothubDM`.
    key: &'static str,
    /// The method's answer.
    started: &'static str,
    /// The 409 answer while one runs.
    busy: &'static str,
    /// The status while it runs.
    running: &'static str,
    /// The status once it is done.
    done: &'static str,
    /// The time it started.
    started_time: &'static str,
    /// The time it last completed.
    done_time: &'static str,
}

/// The names of the Node reboot samples (PROTOCOL 15): method `reboot`, answer
/// `"Reboot started"`, `startedRebootTime` and `lastReboot`.
const REBOOT: Names = Names {
    method: "reboot",
    key: "reboot",
    started: "Reboot started",
    busy: "A reboot is already in progress",
    running: "rebooting",
    done: "rebooted",
    started_time: "startedRebootTime",
    done_time: "lastReboot",
};

/// IoT Hub's samples name no factory-reset properties; these follow the reboot ones.
const FACTORY_RESET: Names = Names {
    method: "factoryReset",
    key: "factoryReset",
    started: "Factory reset started",
    busy: "A factory reset is already in progress",
    running: "resetting",
    done: "reset",
    started_time: "startedFactoryResetTime",
    done_time: "lastFactoryReset",
};

/// A device-management operation started by a direct method: **reboot** or **factory reset**
/// (PROTOCOL 15).
///
/// [`DeviceOperation::install`] answers the method at once (`200 "Reboot started"`; `409`
/// while one is already running), then reports the operation's progress in reported
/// properties under `iothubDM.reboot` (or `iothubDM.factoryReset`) while the application's
/// callback does the actual work:
///
/// | when | reported |
/// |---|---|
/// | the method arrives | `status: "rebooting"`, `startedRebootTime` (`"resetting"`, `startedFactoryResetTime`) |
/// | the callback succeeds | `status: "rebooted"`, `lastReboot` (`"reset"`, `lastFactoryReset`) |
/// | the callback fails | `status: "error"`, `message` (the error) |
///
/// Times are written as IoT Hub writes them (`2026-11-26T10:04:26.7760180Z`), from the device's
/// clock. A device whose reboot really restarts the process calls [`DeviceOperation::resume`]
/// once connected again, which completes the report the previous run could not.
///
/// ```no_run
/// use iot_device_sdk::DeviceClient;
/// use iot_device_sdk::patterns::DeviceOperation;
///
/// # async fn run(client: DeviceClient) -> Result<(), iot_device_sdk::Error> {
/// DeviceOperation::reboot().resume(&client).await?;
/// DeviceOperation::reboot().install(&client, |_payload| async {
///     // Stop the services, flush the disks, restart them.
///     Ok::<(), std::io::Error>(())
/// })?;
/// DeviceOperation::factory_reset().install(&client, |_payload| async {
///     Err::<(), _>("the configuration partition is read-only")
/// })?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceOperation {
    names: Names,
    method: String,
}

impl DeviceOperation {
    /// Reboot: method `reboot`, reported under `iothubDM.reboot`.
    pub fn reboot() -> Self {
        Self::new(REBOOT)
    }

    /// Factory reset: method `factoryReset`, reported under `iothubDM.factoryReset`.
    pub fn factory_reset() -> Self {
        Self::new(FACTORY_RESET)
    }

    fn new(names: Names) -> Self {
        Self {
            names,
            method: names.method.to_owned(),
        }
    }

    /// Answers method `name` instead of the default (`rebootDevice`, say); checked by
    /// [`Self::install`].
    pub fn method_name(mut self, name: &str) -> Self {
        self.method = name.to_owned();
        self
    }

    /// The method answered.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Where progress is reported: `iothubDM.reboot` or `iothubDM.factoryReset`.
    pub fn reported_path(&self) -> String {
        format!("iothubDM.{}", self.names.key)
    }

    /// The status while the operation runs: `rebooting` or `resetting`.
    pub fn running_status(&self) -> &'static str {
        self.names.running
    }

    /// The status once it succeeded: `rebooted` or `reset`.
    pub fn done_status(&self) -> &'static str {
        self.names.done
    }

    /// The reported property holding when it last succeeded: `lastReboot` or
    /// `lastFactoryReset`.
    pub fn done_time_property(&self) -> &'static str {
        self.names.done_time
    }

    /// Answers the method on `client` from now on: at once, then `work(payload)` runs in a task
    /// of its own and its progress is reported (see [`DeviceOperation`]). The handler holds no
    /// strong reference to the client.
    ///
    /// # Errors
    /// [`Error::InvalidMethodName`] for a method name that breaks the rules.
    pub fn install<F, Fut, E>(&self, client: &DeviceClient, work: F) -> Result<(), Error>
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + 'static,
    {
        let shared = Arc::new(Shared {
            names: self.names,
            client: client.downgrade(),
            busy: AtomicBool::new(false),
            work,
        });
        client.set_method_handler(&self.method, move |request: MethodRequest| {
            let shared = Arc::clone(&shared);
            async move { shared.start(request) }
        })
    }

    /// After a restart: if the reported status still says the operation is running (the
    /// previous run restarted the device before it could report), reports it done now.
    /// Returns whether it did.
    ///
    /// # Errors
    /// The errors of [`DeviceClient::get_twin`] and [`DeviceClient::report`].
    pub async fn resume(&self, client: &DeviceClient) -> Result<bool, Error> {
        let twin = client.get_twin().await?;
        let status = twin
            .reported()
            .content()
            .get("iothubDM")
            .and_then(|dm| dm.get(self.names.key))
            .and_then(|section| section.get("status"));
        if status.and_then(Value::as_str) != Some(self.names.running) {
            return Ok(false);
        }
        client.report(&done(self.names)).await?;
        Ok(true)
    }
}

/// What the method handler and the task it starts share.
struct Shared<F> {
    names: Names,
    client: WeakDeviceClient,
    busy: AtomicBool,
    work: F,
}

impl<F, Fut, E> Shared<F>
where
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display + 'static,
{
    /// Answers a call: 409 while a run is under way, else 200 and a new run.
    fn start(self: Arc<Self>, request: MethodRequest) -> Result<MethodResponse, HandlerError> {
        if self.busy.swap(true, Ordering::SeqCst) {
            return Ok(MethodResponse::new(409, json!(self.names.busy)));
        }
        let answer = MethodResponse::ok(json!(self.names.started));
        let (_, _, payload) = request.into_parts();
        let work = (self.work)(payload);
        tokio::spawn(self.run(work));
        Ok(answer)
    }

    /// Reports the start, awaits the work, reports the outcome.
    async fn run(self: Arc<Self>, work: Fut) {
        let _idle = Idle(&self.busy);
        self.report(started(self.names)).await;
        let outcome = match work.await {
            Ok(()) => done(self.names),
            Err(error) => failed(self.names, &error.to_string()),
        };
        self.report(outcome).await;
    }

    /// Reports `patch`; a failure is logged (a patch that timed out stays queued in the
    /// client and is sent once it can be).
    async fn report(&self, patch: Value) {
        let Some(client) = self.client.upgrade() else {
            return;
        };
        if let Err(error) = client.report(&patch).await {
            tracing::warn!(%error, operation = self.names.key, "cannot report progress");
        }
    }
}

/// Marks the operation idle when the run ends, even if the work panicked.
struct Idle<'a>(&'a AtomicBool);

impl Drop for Idle<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

fn section(names: Names, content: Value) -> Value {
    let mut operation = Map::new();
    operation.insert(names.key.to_owned(), content);
    let mut dm = Map::new();
    dm.insert("iothubDM".to_owned(), Value::Object(operation));
    Value::Object(dm)
}

fn started(names: Names) -> Value {
    section(
        names,
        json!({"status": names.running, names.started_time: now(), "message": null}),
    )
}

fn done(names: Names) -> Value {
    section(names, json!({"status": names.done, names.done_time: now()}))
}

fn failed(names: Names, message: &str) -> Value {
    section(
        names,
        json!({"status": OPERATION_ERROR, "message": message}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_follow_the_sample_names() {
        let start = started(REBOOT);
        let reboot = &start["iothubDM"]["reboot"];
        assert_eq!(reboot["status"], "rebooting");
        assert!(reboot["startedRebootTime"].is_string());
        assert_eq!(reboot["message"], Value::Null);
        let end = done(FACTORY_RESET);
        assert_eq!(end["iothubDM"]["factoryReset"]["status"], "reset");
        assert!(end["iothubDM"]["factoryReset"]["lastFactoryReset"].is_string());
        let error = failed(REBOOT, "disk busy");
        assert_eq!(
            error,
            json!({"iothubDM": {"reboot": {"status": "error", "message": "disk busy"}}})
        );
    }

    #[test]
    fn names_and_overrides() {
        let reboot = DeviceOperation::reboot().method_name("rebootDevice");
        assert_eq!(reboot.method(), "rebootDevice");
        assert_eq!(reboot.reported_path(), "iothubDM.reboot");
        assert_eq!(
            (reboot.running_status(), reboot.done_status()),
            ("rebooting", "rebooted")
        );
        let reset = DeviceOperation::factory_reset();
        assert_eq!(reset.method(), "factoryReset");
        assert_eq!(reset.done_time_property(), "lastFactoryReset");
    }
}
