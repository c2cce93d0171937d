//! [`DeviceOperation`]: the reboot and factory-reset patterns. A direct method starts the
//! operation and is answered at once; the device reports its progress under `iothubDM`.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use iot_methods::{HandlerError, MethodRequest, MethodResponse};
use iot_protocol::patterns::{OperationNames, OperationReport};
use serde_json::{Value, json};

use super::path::now;
use crate::{DeviceClient, Error, WeakDeviceClient};

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
/// The names are [`OperationNames::REBOOT`] and [`OperationNames::FACTORY_RESET`], which the
/// back end's helpers read too.
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
    names: OperationNames,
    method: String,
}

impl DeviceOperation {
    /// Reboot: method `reboot`, reported under `iothubDM.reboot`.
    pub fn reboot() -> Self {
        Self::new(OperationNames::REBOOT)
    }

    /// Factory reset: method `factoryReset`, reported under `iothubDM.factoryReset`.
    pub fn factory_reset() -> Self {
        Self::new(OperationNames::FACTORY_RESET)
    }

    fn new(names: OperationNames) -> Self {
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

    /// The names reported on the wire: where (`iothubDM.reboot`), the statuses and the times.
    pub fn names(&self) -> &OperationNames {
        &self.names
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
        if self.names.status(twin.reported().content()) != Some(self.names.running) {
            return Ok(false);
        }
        client.report(&done(&self.names)).await?;
        Ok(true)
    }
}

/// What the method handler and the task it starts share.
struct Shared<F> {
    names: OperationNames,
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
            return Ok(MethodResponse::new(409, json!(self.names.busy_answer)));
        }
        let answer = MethodResponse::ok(json!(self.names.started_answer));
        let (_, _, payload) = request.into_parts();
        let work = (self.work)(payload);
        tokio::spawn(self.run(work));
        Ok(answer)
    }

    /// Reports the start, awaits the work, reports the outcome.
    async fn run(self: Arc<Self>, work: Fut) {
        let _idle = Idle(&self.busy);
        let started = OperationReport::Started { at: now() };
        self.report(self.names.patch(&started)).await;
        let outcome = match work.await {
            Ok(()) => done(&self.names),
            Err(error) => self.names.patch(&OperationReport::Failed {
                message: error.to_string(),
            }),
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

/// The report that `names`' operation is done, now.
fn done(names: &OperationNames) -> Value {
    names.patch(&OperationReport::Done { at: now() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_twin::Timestamp;

    #[test]
    fn done_reports_carry_the_time() {
        let report = done(&OperationNames::REBOOT);
        let time = &report["iothubDM"]["reboot"]["lastReboot"];
        assert!(
            time.as_str()
                .is_some_and(|t| t.parse::<Timestamp>().is_ok()),
            "{time}"
        );
    }

    #[test]
    fn names_and_overrides() {
        let reboot = DeviceOperation::reboot().method_name("rebootDevice");
        assert_eq!(reboot.method(), "rebootDevice");
        assert_eq!(reboot.names(), &OperationNames::REBOOT);
        let reset = DeviceOperation::factory_reset();
        assert_eq!(reset.method(), "factoryReset");
        assert_eq!(reset.names(), &OperationNames::FACTORY_RESET);
    }
}
