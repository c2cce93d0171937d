//! The driver: one task per client that owns the MQTT connection and the session state, and
//! that the client's handles talk to through channels.
//!
//! Each turn of [`Driver::run`] fires the deadlines that passed, hands the connection whatever
//! may go now, then waits for the first of: a close request, an event of the connection, a
//! finished method handler, a request from the application (only while there is room for more
//! work, which is how callers feel backpressure), or the next deadline. Nothing in a turn
//! waits: the driver answers the application through oneshots and watches, and hands the
//! connection requests without blocking, so a slow application or a stalled network never
//! stalls it.
//!
//! Layout: `connection.rs` (connecting, subscribing, renewing, losing the connection),
//! `link.rs` and `correlate.rs` (the rumqttc connection), `twin.rs` (the twin session),
//! `outgoing.rs` (telemetry and method responses), `inbound.rs` (what the hub sends),
//! `timers.rs` (deadlines).

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

use crate::command::Command;
use crate::methods::MethodTable;
use crate::state::StateFeed;
use crate::{
    CloudToDeviceMessage, ConnectionState, DesiredProperties, DeviceOptions, DisconnectReason,
    Error,
};

mod connection;
mod correlate;
mod inbound;
mod link;
mod outgoing;
mod timers;
mod twin;

use connection::Phase;
use link::{Link, LinkEvent, Publisher};
use outgoing::OutgoingQueue;
use timers::{Clock, Timer, Timers};
use twin::TwinSession;

/// How the first connection attempt ended, for [`crate::DeviceClient::connect`].
pub(crate) type FirstOutcome = oneshot::Sender<Result<(), DisconnectReason>>;

/// The channels through which the driver shows the application what happens.
#[derive(Debug)]
pub(crate) struct Outputs {
    pub(crate) state: StateFeed,
    pub(crate) desired: watch::Sender<Option<DesiredProperties>>,
    pub(crate) messages: mpsc::Sender<CloudToDeviceMessage>,
    pub(crate) first: Option<FirstOutcome>,
}

/// What a finished method handler produced: the request id and the response.
type HandlerResult = (iot_methods::RequestId, iot_methods::MethodResponse);

/// The driver task's state.
#[derive(Debug)]
pub(crate) struct Driver {
    options: Arc<DeviceOptions>,
    commands: mpsc::Receiver<Command>,
    close: watch::Receiver<bool>,
    outputs: Outputs,
    methods: Arc<MethodTable>,
    twin: TwinSession,
    outgoing: OutgoingQueue,
    handlers: JoinSet<HandlerResult>,
    /// The request id of each running handler, to answer 500 if its task fails.
    handler_requests: std::collections::HashMap<tokio::task::Id, iot_methods::RequestId>,
    timers: Timers,
    link: Option<Link>,
    phase: Phase,
    /// Connection attempts that failed in a row.
    attempt: u32,
    /// When the current token must be renewed, or expires for good.
    renew_at: Option<Instant>,
    expires_at: Option<Instant>,
    /// Whether the C2D filter is subscribed (not for modules, nor for ids MQTT cannot carry).
    c2d_filter: Option<String>,
}

impl Driver {
    /// A driver for `options`, not started.
    pub(crate) fn new(
        options: Arc<DeviceOptions>,
        commands: mpsc::Receiver<Command>,
        close: watch::Receiver<bool>,
        outputs: Outputs,
        methods: Arc<MethodTable>,
    ) -> Self {
        let run = rand::random::<u64>();
        let c2d_filter = inbound::cloud_to_device_filter(&options);
        Self {
            twin: TwinSession::new(run),
            options,
            commands,
            close,
            outputs,
            methods,
            outgoing: OutgoingQueue::default(),
            handlers: JoinSet::new(),
            handler_requests: std::collections::HashMap::new(),
            timers: Timers::default(),
            link: None,
            phase: Phase::Waiting { at: Instant::now() },
            attempt: 0,
            renew_at: None,
            expires_at: None,
            c2d_filter,
        }
    }

    /// Runs until the client is closed or every handle is dropped.
    pub(crate) async fn run(mut self) {
        loop {
            let now = Instant::now();
            self.on_deadlines(now);
            self.pump(now);
            self.check_ready();
            self.show_desired();
            let wake = self.next_wake();
            let accepting = self.accepts_work();
            tokio::select! {
                closed = self.close.changed() => {
                    if closed.is_err() || *self.close.borrow() {
                        break;
                    }
                }
                event = next_event(&mut self.link) => self.on_link(event, Instant::now()),
                Some(done) = self.handlers.join_next_with_id(), if !self.handlers.is_empty() => {
                    self.on_handler_done(done);
                }
                command = self.commands.recv(), if accepting => match command {
                    Some(command) => self.on_command(command, Instant::now()),
                    None => break,
                },
                () = sleep_until_or_forever(wake) => {}
            }
        }
        self.shutdown().await;
    }

    /// Whether the driver takes more requests: not once the pending operations fill the request
    /// queue, so that callers wait in the channel instead of the driver's memory growing.
    fn accepts_work(&self) -> bool {
        self.outgoing.pending_telemetry() + self.twin.pending() < self.options.request_queue
    }

    fn on_command(&mut self, command: Command, now: Instant) {
        if self.phase.is_expired() {
            command.fail(Error::TokenExpired);
            return;
        }
        match command {
            Command::GetTwin { reply, deadline } => {
                let mut clock = clock(&self.options, &mut self.timers, now);
                self.twin.get(reply, deadline, &mut clock);
            }
            Command::UpdateReported {
                patch,
                reply,
                deadline,
            } => {
                let mut clock = clock(&self.options, &mut self.timers, now);
                self.twin
                    .update_reported(patch, reply, deadline, &mut clock);
            }
            Command::SendTelemetry {
                message,
                reply,
                deadline,
            } => match inbound::telemetry_topic(&self.options, &message) {
                Ok(topic) => {
                    let (body, _) = message.into_parts();
                    let id = self.outgoing.telemetry(topic, body, reply);
                    self.timers.push(deadline, Timer::Telemetry(id));
                }
                Err(error) => drop(reply.send(Err(error))),
            },
        }
    }

    /// Fires every deadline that has passed.
    fn on_deadlines(&mut self, now: Instant) {
        self.on_phase_deadline(now);
        while let Some(timer) = self.timers.pop_due(now) {
            match &timer {
                Timer::Telemetry(id) => self.outgoing.expire(*id, self.options.operation_timeout),
                Timer::Wake => {}
                _ => {
                    let mut clock = clock(&self.options, &mut self.timers, now);
                    self.twin.on_timer(&timer, &mut clock);
                }
            }
        }
        self.show_desired();
    }

    /// Hands the connection what may go now.
    fn pump(&mut self, now: Instant) {
        let Some(link) = self.link.as_mut() else {
            return;
        };
        let result = link.flush_acks().and_then(|()| {
            let responses_only = match self.phase {
                Phase::Online { .. } => false,
                Phase::Draining { .. } => true,
                _ => return Ok(()),
            };
            while link.can_publish() {
                let Some((tag, item)) = self.outgoing.next(responses_only) else {
                    break;
                };
                if link
                    .publish(item.topic.clone(), item.payload.to_vec(), tag)
                    .is_err()
                {
                    self.outgoing.unsend(tag);
                    return Err(link::LinkDown);
                }
            }
            if responses_only {
                return Ok(());
            }
            let mut clock = clock(&self.options, &mut self.timers, now);
            self.twin.pump(link, &mut clock)
        });
        if result.is_err() {
            self.connection_lost(link_stopped(), now);
        }
        self.drain_if_done(now);
    }

    /// The soonest moment something must happen without an event.
    fn next_wake(&self) -> Option<Instant> {
        [
            self.timers.next_at(),
            self.phase.deadline(),
            self.renewal_at(),
            self.expires_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Shows the application a new copy of desired properties, if there is one.
    fn show_desired(&mut self) {
        if let Some(desired) = self.twin.desired_update() {
            self.outputs.desired.send_replace(Some(desired));
        }
    }

    fn set_state(&self, state: ConnectionState) {
        self.outputs.state.set(state);
    }

    /// Sends DISCONNECT when connected, answers every pending operation with
    /// [`Error::Closed`], and reports [`ConnectionState::Closed`].
    async fn shutdown(mut self) {
        if let Some(mut link) = self.link.take() {
            connection::say_goodbye(&mut link).await;
        }
        self.handlers.abort_all();
        self.twin.fail_all(&Error::Closed);
        self.outgoing.fail_all(&Error::Closed);
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            command.fail(Error::Closed);
        }
        self.set_state(ConnectionState::Closed);
        tracing::debug!("device client closed");
    }
}

/// The next event of the connection, or never without one.
async fn next_event(link: &mut Option<Link>) -> LinkEvent {
    match link {
        Some(link) => link.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_or_forever(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The time context of a step, from the options and the driver's timers.
fn clock<'a>(options: &'a DeviceOptions, timers: &'a mut Timers, now: Instant) -> Clock<'a> {
    Clock {
        now,
        timeout: options.operation_timeout,
        policy: &options.retry,
        timers,
    }
}

/// The reason given when the connection task stopped taking requests.
fn link_stopped() -> DisconnectReason {
    DisconnectReason::Network {
        message: "the connection stopped taking requests".into(),
    }
}
