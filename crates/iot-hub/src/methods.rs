//! The direct-method driver: one task owns [`iot_methods::PendingCalls`] and feeds it the
//! hub's events (calls, devices coming online or going offline, responses), publishes the
//! requests it hands out, answers callers with the outcomes, and sleeps until the table's next
//! deadline.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Instant;

use bytes::Bytes;
use iot_methods::{CallId, CallOutcome, MethodInvocation, MethodResult, PendingCalls, RequestId};
use iot_protocol::DeviceId;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::MethodCallError;
use crate::core::Core;
use crate::session::Outbound;

type Reply = oneshot::Sender<Result<MethodResult, MethodCallError>>;

/// What the driver is told.
#[derive(Debug)]
enum Command {
    Invoke(DeviceId, MethodInvocation, Reply),
    Online(DeviceId),
    Offline(DeviceId),
    Response(DeviceId, RequestId, i32, Value),
}

/// The sending side of the driver's command channel. Sending never blocks; after shutdown it
/// does nothing and calls end in [`MethodCallError::Stopped`].
#[derive(Debug, Clone)]
pub(crate) struct MethodsHandle {
    commands: mpsc::UnboundedSender<Command>,
}

/// The driver's receiving side, until the task is spawned.
#[derive(Debug)]
pub(crate) struct MethodsDriver {
    commands: mpsc::UnboundedReceiver<Command>,
}

/// A handle and the driver it talks to.
pub(crate) fn channel() -> (MethodsHandle, MethodsDriver) {
    let (commands, receiver) = mpsc::unbounded_channel();
    (
        MethodsHandle { commands },
        MethodsDriver { commands: receiver },
    )
}

impl MethodsHandle {
    /// Calls a method and waits for the outcome.
    pub(crate) async fn invoke(
        &self,
        device: DeviceId,
        invocation: MethodInvocation,
    ) -> Result<MethodResult, MethodCallError> {
        let (reply, outcome) = oneshot::channel();
        self.commands
            .send(Command::Invoke(device, invocation, reply))
            .map_err(|_| MethodCallError::Stopped)?;
        outcome.await.unwrap_or(Err(MethodCallError::Stopped))
    }

    /// The device is connected and subscribed to method requests.
    pub(crate) fn online(&self, device: DeviceId) {
        // After shutdown there is nobody left to tell.
        let _ = self.commands.send(Command::Online(device));
    }

    /// The device disconnected or unsubscribed.
    pub(crate) fn offline(&self, device: DeviceId) {
        let _ = self.commands.send(Command::Offline(device));
    }

    /// A device answered request `rid`.
    pub(crate) fn response(&self, device: DeviceId, rid: RequestId, status: i32, payload: Value) {
        let _ = self
            .commands
            .send(Command::Response(device, rid, status, payload));
    }
}

impl Core {
    /// Calls a direct method on a registered device and waits for the outcome: what
    /// [`crate::Hub::invoke_method`] and `POST /twins/{id}/methods` both do.
    pub(crate) async fn invoke_method(
        &self,
        id: &DeviceId,
        invocation: MethodInvocation,
    ) -> Result<MethodResult, MethodCallError> {
        if self.find(id).is_none() {
            return Err(MethodCallError::DeviceNotFound {
                device_id: id.clone(),
            });
        }
        self.methods.invoke(id.clone(), invocation).await
    }
}

impl MethodsDriver {
    /// Runs until the hub shuts down (`stop` fires) or every handle is gone.
    pub(crate) async fn run(
        mut self,
        core: Weak<Core>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut table = PendingCalls::new();
        let mut replies: HashMap<CallId, Reply> = HashMap::new();
        loop {
            let deadline = table.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => handle(&mut table, &mut replies, command),
                    None => break,
                },
                () = sleep => table.handle_timeout(Instant::now()),
                _ = stop.changed() => break,
            }
            let Some(core) = core.upgrade() else { break };
            flush(&mut table, &mut replies, &core);
        }
        for (_, reply) in replies.drain() {
            let _ = reply.send(Err(MethodCallError::Stopped));
        }
    }
}

fn handle(
    table: &mut PendingCalls<DeviceId>,
    replies: &mut HashMap<CallId, Reply>,
    command: Command,
) {
    let now = Instant::now();
    match command {
        Command::Invoke(device, invocation, reply) => {
            let call = table.invoke(device, invocation, now);
            replies.insert(call, reply);
        }
        Command::Online(device) => table.device_online(&device, now),
        Command::Offline(device) => table.device_offline(&device, now),
        Command::Response(device, rid, status, payload) => {
            table.handle_response(&device, &rid, status, payload, now);
        }
    }
}

/// Publishes the requests the table hands out and answers the finished calls.
fn flush(
    table: &mut PendingCalls<DeviceId>,
    replies: &mut HashMap<CallId, Reply>,
    core: &Arc<Core>,
) {
    while let Some((device, request)) = table.poll_transmit() {
        let Ok((topic, body)) = request.to_publish() else {
            continue;
        };
        let Some(entry) = core.find(&device) else {
            continue;
        };
        let state = entry.read();
        if let Some(connection) = &state.session.connection {
            connection.send(Outbound {
                topic,
                payload: Bytes::from(body),
                message: None,
            });
        }
    }
    while let Some((call, outcome)) = table.poll_outcome() {
        let Some(reply) = replies.remove(&call) else {
            continue;
        };
        let result = match outcome {
            CallOutcome::Response(result) => Ok(result),
            CallOutcome::Failed(failure) => Err(MethodCallError::from(failure)),
        };
        let _ = reply.send(result);
    }
}
