//! [`DeviceClient`]: the application's handle on a device's connection to the hub.

use std::sync::{Arc, Weak};
use std::time::Duration;

use iot_methods::{MethodHandler, Router};
use iot_protocol::Identity;
use iot_twin::{Patch, TwinState, TwinVersion};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::runtime::Handle;
use tokio::sync::{Mutex, broadcast, mpsc, oneshot, watch};
use tokio::time::{Instant, timeout, timeout_at};
use tracing::Instrument;

use crate::command::{Command, Reply};
use crate::driver::{Driver, Outputs};
use crate::methods::{MethodTable, parse_name};
use crate::state::StateFeed;
use crate::{
    CloudToDeviceMessages, ConnectionState, DesiredChanges, DesiredWatch, DeviceOptions,
    DisconnectReason, Error, Message, Operation, StateChanges,
};

/// A device's connection to the hub: twin, direct methods, telemetry and cloud-to-device
/// messages.
///
/// A cheap handle: clones share one connection, driven by a task the client spawns on the
/// Tokio runtime. The driver connects, subscribes and reads the twin; reconnects with backoff
/// when the connection drops, and subscribes and reads the twin again; renews SAS tokens before
/// they expire; and shows the application what happens through [`DeviceClient::state`].
/// Operations wait for the connection (within their timeout) rather than fail while it is
/// down.
///
/// The client stops when [`DeviceClient::close`] is called or when its last handle is dropped:
/// it sends DISCONNECT, and operations still pending end with [`Error::Closed`]. A method
/// handler that holds a `DeviceClient` keeps the client alive; give handlers a
/// [`WeakDeviceClient`] instead, or close the client explicitly.
///
/// ```no_run
/// use iot_device_sdk::{DeviceClient, DeviceOptions, Message, MethodResponse};
/// use serde_json::json;
///
/// # async fn run(connection_string: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let options = DeviceOptions::from_connection_string(connection_string)
///     .method("reboot", |_request| async { Ok(MethodResponse::ok(json!("Reboot started"))) })
///     .build()?;
/// let client = DeviceClient::connect(options).await?;
///
/// let version = client.update_reported(json!({"firmware": {"version": "1.2.0"}}).try_into()?).await?;
/// client.send_telemetry(Message::json(&json!({"temperature": 21.5}))?).await?;
/// println!("reported properties at version {version}");
/// client.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DeviceClient {
    shared: Arc<Shared>,
}

/// What the handles share; dropping the last one stops the driver.
#[derive(Debug)]
struct Shared {
    identity: Identity,
    operation_timeout: Duration,
    commands: mpsc::Sender<Command>,
    close: watch::Sender<bool>,
    state: watch::Receiver<ConnectionState>,
    state_changes: broadcast::Sender<ConnectionState>,
    desired: watch::Receiver<Option<crate::DesiredProperties>>,
    messages: Arc<Mutex<mpsc::Receiver<crate::CloudToDeviceMessage>>>,
    methods: Arc<MethodTable>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.close.send_replace(true);
    }
}

impl DeviceClient {
    /// Starts a client and returns at once; it connects in the background. Watch
    /// [`DeviceClient::state_changes`] to see how that goes, or use
    /// [`DeviceClient::connect`] to wait for it.
    ///
    /// # Errors
    /// [`Error::NoRuntime`] outside a Tokio runtime.
    pub fn start(options: DeviceOptions) -> Result<Self, Error> {
        Self::spawn(options, None)
    }

    /// Starts a client and waits until it is [`ConnectionState::Ready`]: connected,
    /// subscribed, and desired properties read.
    ///
    /// # Errors
    /// If the first attempt fails, its reason: [`Error::ConnectionRefused`] (a wrong key, a
    /// disabled device), [`Error::Transport`] (network or TLS), [`Error::TokenExpired`],
    /// [`Error::Protocol`]; [`Error::Timeout`] if it takes longer than the connect timeout and
    /// the operation timeout together; [`Error::NoRuntime`] outside a Tokio runtime. The
    /// client is closed in each case.
    pub async fn connect(options: DeviceOptions) -> Result<Self, Error> {
        let limit = options
            .connect_timeout
            .saturating_add(options.operation_timeout);
        let (first, outcome) = oneshot::channel();
        let client = Self::spawn(options, Some(first))?;
        let error = match timeout(limit, outcome).await {
            Ok(Ok(Ok(()))) => return Ok(client),
            Ok(Ok(Err(reason))) => Error::from_disconnect(reason),
            Ok(Err(_)) => Error::Closed,
            Err(_) => Error::Timeout {
                operation: Operation::Connect,
                after: limit,
            },
        };
        client.close().await;
        Err(error)
    }

    fn spawn(
        options: DeviceOptions,
        first: Option<oneshot::Sender<Result<(), DisconnectReason>>>,
    ) -> Result<Self, Error> {
        let runtime = Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let methods = Arc::new(MethodTable::new(options.handlers.clone()));
        let (commands, command_receiver) = mpsc::channel(options.request_queue);
        let (close, close_receiver) = watch::channel(false);
        let state = StateFeed::new(ConnectionState::Connecting { attempt: 0 });
        let (desired_sender, desired) = watch::channel(None);
        let (message_sender, messages) = mpsc::channel(options.message_queue);
        let span = tracing::info_span!("device", id = %options.identity());
        let shared = Shared {
            identity: options.identity().clone(),
            operation_timeout: options.operation_timeout(),
            commands,
            close,
            state: state.watch(),
            state_changes: state.changes(),
            desired,
            messages: Arc::new(Mutex::new(messages)),
            methods: Arc::clone(&methods),
        };
        let outputs = Outputs {
            state,
            desired: desired_sender,
            messages: message_sender,
            first,
        };
        let driver = Driver::new(
            Arc::new(options),
            command_receiver,
            close_receiver,
            outputs,
            methods,
        );
        runtime.spawn(driver.run().instrument(span));
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// The device or module this client is.
    pub fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    /// The connection's state now.
    pub fn state(&self) -> ConnectionState {
        self.shared.state.borrow().clone()
    }

    /// The state now, then every change.
    pub fn state_changes(&self) -> StateChanges {
        StateChanges::new(self.shared.state.clone(), &self.shared.state_changes)
    }

    /// Waits until the client is [`ConnectionState::Ready`] (at once if it is).
    ///
    /// # Errors
    /// [`Error::TokenExpired`] when the client stopped because its token expired,
    /// [`Error::Closed`] when it was closed. There is no timeout: wrap the call in one.
    pub async fn ready(&self) -> Result<(), Error> {
        let mut state = self.shared.state.clone();
        let done = |state: &ConnectionState| {
            matches!(
                state,
                ConnectionState::Ready
                    | ConnectionState::Closed
                    | ConnectionState::Disconnected { retry_at: None, .. }
            )
        };
        let result = state.wait_for(done).await.map(|state| state.clone());
        match result {
            Ok(ConnectionState::Ready) => Ok(()),
            Ok(ConnectionState::Disconnected { retry_at: None, .. }) => Err(Error::TokenExpired),
            _ => Err(Error::Closed),
        }
    }

    /// Reads the twin: desired and reported properties with their versions.
    ///
    /// # Errors
    /// [`Error::Timeout`], [`Error::Rejected`] (the hub's status, error code and message;
    /// throttling and server errors are retried within the timeout first),
    /// [`Error::Protocol`] for an unreadable answer, [`Error::TokenExpired`],
    /// [`Error::Closed`].
    pub async fn get_twin(&self) -> Result<TwinState, Error> {
        self.request(Operation::GetTwin, |reply, deadline| Command::GetTwin {
            reply,
            deadline,
        })
        .await
    }

    /// Merges `patch` into reported properties and returns the reported `$version` after it.
    ///
    /// Updates go through an outbox: while the device is offline, or while an earlier patch
    /// awaits its answer, updates are combined into one patch with the effect of all of them in
    /// order, and sent when possible. Throttled patches are retried with backoff. An update
    /// that times out stays queued.
    ///
    /// # Errors
    /// [`Error::InvalidPatch`] or [`Error::ReportedBacklogFull`] at once (nothing is queued),
    /// [`Error::Timeout`], [`Error::Rejected`], [`Error::TokenExpired`], [`Error::Closed`].
    pub async fn update_reported(&self, patch: Patch) -> Result<TwinVersion, Error> {
        self.request(Operation::UpdateReported, |reply, deadline| {
            Command::UpdateReported {
                patch,
                reply,
                deadline,
            }
        })
        .await
    }

    /// Merges `value`, serialized with serde into a JSON object, into reported properties (see
    /// [`DeviceClient::update_reported`]).
    ///
    /// # Errors
    /// [`Error::Serde`] when `value` cannot be serialized, [`Error::InvalidPatch`] when it is
    /// not a valid patch (not an object, a forbidden key), and the errors of
    /// [`DeviceClient::update_reported`].
    pub async fn report<T: Serialize + ?Sized>(&self, value: &T) -> Result<TwinVersion, Error> {
        let json =
            serde_json::to_value(value).map_err(|e| Error::serde("reported properties", &e))?;
        let patch = Patch::from_value(json).map_err(Error::InvalidPatch)?;
        self.update_reported(patch).await
    }

    /// A stream of changes of desired properties (see [`DesiredChanges`]).
    pub fn desired_changes(&self) -> DesiredChanges {
        DesiredChanges::new(self.shared.desired.clone())
    }

    /// A watch of the converged desired properties (see [`DesiredWatch`]).
    pub fn desired_watch(&self) -> DesiredWatch {
        DesiredWatch::new(self.shared.desired.clone())
    }

    /// The desired properties converted to `T`, once the twin has been read.
    ///
    /// # Errors
    /// [`Error::Serde`] when they do not fit `T`, [`Error::Timeout`] when the twin is not read
    /// within the operation timeout, [`Error::Closed`].
    pub async fn desired<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let mut watch = self.desired_watch();
        let after = self.shared.operation_timeout;
        let desired = timeout(after, watch.changed())
            .await
            .map_err(|_| Error::Timeout {
                operation: Operation::ReadDesired,
                after,
            })??;
        desired.deserialize()
    }

    /// Answers direct method `name` with `handler` from now on, replacing an earlier handler.
    ///
    /// # Errors
    /// [`Error::InvalidMethodName`].
    pub fn set_method_handler(
        &self,
        name: &str,
        handler: impl MethodHandler + 'static,
    ) -> Result<(), Error> {
        let name = parse_name(name)?;
        self.shared
            .methods
            .update(|router| router.insert(name, handler));
        Ok(())
    }

    /// Stops answering method `name` with its own handler; returns whether it had one.
    pub fn remove_method_handler(&self, name: &str) -> bool {
        parse_name(name).is_ok_and(|name| self.shared.methods.update(|router| router.remove(&name)))
    }

    /// Answers methods without a handler of their own with `handler`, instead of a 404.
    pub fn set_method_fallback(&self, handler: impl MethodHandler + 'static) {
        self.shared
            .methods
            .update(|router| router.set_fallback(handler));
    }

    /// Goes back to answering methods without a handler with a 404.
    pub fn clear_method_fallback(&self) {
        self.shared.methods.update(Router::clear_fallback);
    }

    /// Sends a telemetry message; resolves when the hub acknowledges it (PUBACK). A message
    /// whose connection drops before the acknowledgement is sent again on the next one, so
    /// the hub may receive it twice; give messages an id to tell.
    ///
    /// # Errors
    /// [`Error::InvalidMessage`] when the device id holds an MQTT wildcard, [`Error::Timeout`],
    /// [`Error::TokenExpired`], [`Error::Closed`].
    pub async fn send_telemetry(&self, message: Message) -> Result<(), Error> {
        self.request(Operation::SendTelemetry, |reply, deadline| {
            Command::SendTelemetry {
                message: Box::new(message),
                reply,
                deadline,
            }
        })
        .await
    }

    /// The cloud-to-device messages for this device (see [`CloudToDeviceMessages`]).
    pub fn cloud_to_device_messages(&self) -> CloudToDeviceMessages {
        CloudToDeviceMessages::new(Arc::clone(&self.shared.messages))
    }

    /// Stops the client: sends DISCONNECT, ends pending operations with [`Error::Closed`], and
    /// waits until the driver has stopped. Every handle is closed; closing again does nothing.
    pub async fn close(&self) {
        self.shared.close.send_replace(true);
        let mut state = self.shared.state.clone();
        // The driver reports `Closed` last; a dropped sender means it is gone too.
        let _ = state
            .wait_for(|state| matches!(state, ConnectionState::Closed))
            .await;
    }

    /// A handle that does not keep the client running, for method handlers and other long-lived
    /// holders.
    pub fn downgrade(&self) -> WeakDeviceClient {
        WeakDeviceClient {
            shared: Arc::downgrade(&self.shared),
        }
    }

    /// Sends a request with a deadline of one operation timeout from now and waits for the
    /// answer.
    async fn request<T>(
        &self,
        operation: Operation,
        make: impl FnOnce(Reply<T>, Instant) -> Command,
    ) -> Result<T, Error> {
        let after = self.shared.operation_timeout;
        let deadline = Instant::now() + after;
        let (reply, answer) = oneshot::channel();
        let command = make(reply, deadline);
        let exchange = async {
            self.shared
                .commands
                .send(command)
                .await
                .map_err(|_| Error::Closed)?;
            answer.await.unwrap_or(Err(Error::Closed))
        };
        match timeout_at(deadline, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout { operation, after }),
        }
    }
}

/// A handle on a [`DeviceClient`] that does not keep it running.
#[derive(Debug, Clone)]
pub struct WeakDeviceClient {
    shared: Weak<Shared>,
}

impl WeakDeviceClient {
    /// The client, if it still runs (some handle is alive).
    pub fn upgrade(&self) -> Option<DeviceClient> {
        self.shared.upgrade().map(|shared| DeviceClient { shared })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_and_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}

    #[test]
    fn handles_and_streams_move_between_tasks() {
        send_and_sync::<DeviceClient>();
        send_and_sync::<WeakDeviceClient>();
        send_and_sync::<DeviceOptions>();
        send_and_sync::<Error>();
        send::<StateChanges>();
        send::<DesiredChanges>();
        send::<DesiredWatch>();
        send::<CloudToDeviceMessages>();
    }
}
