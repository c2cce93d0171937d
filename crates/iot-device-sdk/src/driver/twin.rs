//! [`TwinSession`]: the device's twin across connections. It drives the sans-IO machines of
//! `iot_twin` ([`DesiredSync`] for desired properties, [`ReportedOutbox`] for reported ones),
//! serves the application's twin reads, and retries what the hub throttles.

use std::collections::{BTreeMap, HashMap};

use iot_protocol::ErrorDetail;
use iot_twin::{
    DesiredNotification, DesiredSync, DeviceTopic, Limits, OutboxError, Patch, ReportOutcome,
    ReportedOutbox, RequestId, RequestIds, SyncState, Ticket, TwinState, TwinVersion,
};
use tokio::time::Instant;

use super::correlate::PublishTag;
use super::link::{LinkDown, Publisher};
use super::timers::{Clock, Timer};
use crate::command::Reply;
use crate::{DesiredProperties, Error, Operation};

/// A twin read by the application.
#[derive(Debug)]
struct PendingGet {
    reply: Reply<TwinState>,
    /// The request id of the `GET` in flight, if one is.
    request: Option<RequestId>,
    /// Held back until then after the hub throttled it.
    not_before: Option<Instant>,
    attempts: u32,
}

/// A request kind the hub throttled or failed: retried after a backoff.
#[derive(Debug, Default)]
struct Hold {
    until: Option<Instant>,
    attempts: u32,
}

impl Hold {
    fn is_over(&self, now: Instant) -> bool {
        self.until.is_none_or(|until| until <= now)
    }

    /// Holds back the next request for a backoff, and wakes the driver when it is over.
    fn extend(&mut self, clock: &mut Clock<'_>) {
        let until = clock.backoff(self.attempts);
        self.attempts = self.attempts.saturating_add(1);
        self.until = Some(until);
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

/// The twin side of the session: it survives connections.
#[derive(Debug)]
pub(super) struct TwinSession {
    desired: DesiredSync,
    outbox: ReportedOutbox,
    tickets: HashMap<Ticket, Reply<TwinVersion>>,
    get_ids: RequestIds,
    next_get: u64,
    gets: BTreeMap<u64, PendingGet>,
    /// The desired `GET` and the reported patch in flight.
    desired_request: Option<RequestId>,
    reported_request: Option<RequestId>,
    desired_hold: Hold,
    reported_hold: Hold,
    /// The version last shown to the application.
    shown: Option<TwinVersion>,
    connected: bool,
}

impl TwinSession {
    /// A session whose request ids count from `run`, random for each client, so that an
    /// answer meant for an earlier run of the device (whose MQTT session the hub kept) is not
    /// taken for one of ours unless the two runs counted through the same numbers out of 2^64.
    pub(super) fn new(run: u64) -> Self {
        const DESIRED: RequestIds = RequestIds::with_static_prefix("g");
        const REPORTED: RequestIds = RequestIds::with_static_prefix("r");
        const GET: RequestIds = RequestIds::with_static_prefix("u");
        Self {
            desired: DesiredSync::new().with_request_ids(DESIRED.starting_at(run)),
            outbox: ReportedOutbox::new(Limits::default())
                .with_request_ids(REPORTED.starting_at(run)),
            tickets: HashMap::new(),
            get_ids: GET.starting_at(run),
            next_get: 0,
            gets: BTreeMap::new(),
            desired_request: None,
            reported_request: None,
            desired_hold: Hold::default(),
            reported_hold: Hold::default(),
            shown: None,
            connected: false,
        }
    }

    /// Operations waiting for an answer.
    pub(super) fn pending(&self) -> usize {
        self.tickets.len() + self.gets.len()
    }

    /// Whether desired properties are in step with the hub.
    pub(super) fn is_live(&self) -> bool {
        self.desired.state() == SyncState::Live
    }

    /// Whether a request is in flight whose answer is awaited.
    pub(super) fn awaiting_answers(&self) -> bool {
        self.desired_request.is_some()
            || self.reported_request.is_some()
            || self.gets.values().any(|get| get.request.is_some())
    }

    /// The device connected and subscribed.
    pub(super) fn connected(&mut self) {
        self.connected = true;
        self.desired_hold.clear();
        self.reported_hold.clear();
        if let Err(error) = self.desired.handle_connected() {
            tracing::error!(%error, "desired-properties sync refused the connection");
        }
        if let Err(error) = self.outbox.handle_connected() {
            tracing::error!(%error, "reported outbox refused the connection");
        }
    }

    /// The connection dropped: requests in flight are sent again on the next one.
    pub(super) fn connection_lost(&mut self) {
        if !self.connected {
            return;
        }
        self.connected = false;
        if let Err(error) = self.desired.handle_connection_lost() {
            tracing::error!(%error, "desired-properties sync refused the connection loss");
        }
        if let Err(error) = self.outbox.handle_connection_lost() {
            tracing::error!(%error, "reported outbox refused the connection loss");
        }
        self.desired_request = None;
        self.reported_request = None;
        for get in self.gets.values_mut() {
            get.request = None;
        }
    }

    /// The application asks for the twin.
    pub(super) fn get(
        &mut self,
        reply: Reply<TwinState>,
        deadline: Instant,
        clock: &mut Clock<'_>,
    ) {
        self.next_get += 1;
        let get = PendingGet {
            reply,
            request: None,
            not_before: None,
            attempts: 0,
        };
        self.gets.insert(self.next_get, get);
        clock.timers.push(deadline, Timer::Get(self.next_get));
    }

    /// The application updates reported properties.
    pub(super) fn update_reported(
        &mut self,
        patch: Patch,
        reply: Reply<TwinVersion>,
        deadline: Instant,
        clock: &mut Clock<'_>,
    ) {
        match self.outbox.enqueue(patch) {
            Ok(ticket) => {
                self.tickets.insert(ticket, reply);
                clock.timers.push(deadline, Timer::Ticket(ticket));
            }
            Err(error) => drop(reply.send(Err(enqueue_error(error)))),
        }
    }

    /// Hands the connection what the twin has to send.
    pub(super) fn pump(
        &mut self,
        link: &mut impl Publisher,
        clock: &mut Clock<'_>,
    ) -> Result<(), LinkDown> {
        let (now, answer_by) = (clock.now, clock.now + clock.timeout);
        if self.desired_hold.is_over(now) && link.can_publish() {
            if let Some(command) = self.desired.poll_command() {
                let topic = command.topic();
                let request = topic.request_id().clone();
                link.publish(topic.to_string(), Vec::new(), PublishTag::Twin)?;
                clock
                    .timers
                    .push(answer_by, Timer::DesiredGet(request.clone()));
                self.desired_request = Some(request);
            }
        }
        if self.reported_hold.is_over(now) && link.can_publish() {
            if let Some((request, patch)) = self.outbox.poll_send() {
                let request = request.clone();
                // serde_json fails only on non-string map keys or a failing writer: neither
                // can happen when writing a JSON map to a vector.
                let body = serde_json::to_vec(patch.as_map()).unwrap_or_default();
                let topic = DeviceTopic::ReportedPatch {
                    request_id: request.clone(),
                };
                link.publish(topic.to_string(), body, PublishTag::Twin)?;
                clock
                    .timers
                    .push(answer_by, Timer::ReportedPatch(request.clone()));
                self.reported_request = Some(request);
            }
        }
        self.pump_gets(link, now)
    }

    fn pump_gets(&mut self, link: &mut impl Publisher, now: Instant) -> Result<(), LinkDown> {
        for get in self.gets.values_mut() {
            if !link.can_publish() {
                break;
            }
            let held = get.not_before.is_some_and(|at| at > now);
            if get.request.is_some() || held {
                continue;
            }
            let request_id = self.get_ids.next_id();
            let topic = DeviceTopic::Get {
                request_id: request_id.clone(),
            };
            link.publish(topic.to_string(), Vec::new(), PublishTag::Twin)?;
            get.request = Some(request_id);
        }
        Ok(())
    }

    /// A desired-properties notification.
    pub(super) fn on_desired(&mut self, version: TwinVersion, body: &[u8]) {
        let patch = match DesiredNotification::from_slice(body) {
            Ok(note) => {
                if note.version() != version {
                    tracing::warn!(topic = %version, body = %note.version(), "a desired notification disagrees about its version; using the topic's");
                }
                note.into_parts().0
            }
            Err(error) => {
                tracing::warn!(%error, %version, "dropping an unreadable desired-properties notification");
                return;
            }
        };
        if let Err(error) = self.desired.handle_desired(patch, version) {
            tracing::warn!(%error, "desired-properties sync refused a notification");
        }
    }

    /// An answer on the twin response topic.
    pub(super) fn on_response(
        &mut self,
        status: u16,
        request: &RequestId,
        version: Option<TwinVersion>,
        body: &[u8],
        clock: &mut Clock<'_>,
    ) {
        if self.desired.awaits(request) {
            self.desired_request = None;
            self.on_desired_get(status, request, body, clock);
        } else if self.outbox.awaits(request) {
            self.reported_request = None;
            self.on_reported(status, request, version, body, clock);
        } else if let Some(id) = self.get_for(request) {
            self.on_get(id, status, body, clock);
        } else {
            tracing::debug!(%request, status, "ignoring a twin answer nobody awaits");
        }
    }

    fn on_desired_get(
        &mut self,
        status: u16,
        request: &RequestId,
        body: &[u8],
        clock: &mut Clock<'_>,
    ) {
        let state = match status {
            200 => TwinState::from_slice(body).map_err(|e| e.to_string()),
            _ => Err(format!("status {status}")),
        };
        let result = match state {
            Ok(state) => {
                self.desired_hold.clear();
                self.desired.handle_get_response(request, state)
            }
            Err(error) => {
                tracing::warn!(%error, "the twin GET for desired properties failed; retrying");
                self.desired_hold.extend(clock);
                self.desired.handle_get_failed(request)
            }
        };
        if let Err(error) = result {
            tracing::error!(%error, "desired-properties sync refused a GET answer");
        }
    }

    fn on_reported(
        &mut self,
        status: u16,
        request: &RequestId,
        version: Option<TwinVersion>,
        body: &[u8],
        clock: &mut Clock<'_>,
    ) {
        match (status, version) {
            (200..=299, Some(version)) => {
                self.reported_hold.clear();
                self.outbox.handle_ack(request, version);
            }
            (429 | 500.., _) => {
                self.reported_hold.extend(clock);
                self.outbox.handle_retry(request);
            }
            _ => {
                self.outbox.handle_rejected(request, status, body);
            }
        }
        self.resolve_tickets();
    }

    fn resolve_tickets(&mut self) {
        while let Some((ticket, outcome)) = self.outbox.poll_ticket_result() {
            let Some(reply) = self.tickets.remove(&ticket) else {
                continue;
            };
            let result = match outcome {
                ReportOutcome::Applied { version } => Ok(version),
                ReportOutcome::Rejected { status, .. } if (200..300).contains(&status) => {
                    Err(Error::Protocol {
                        reason: format!(
                            "the hub accepted a reported patch with status {status} but sent no $version"
                        ),
                    })
                }
                ReportOutcome::Rejected { status, body, .. } => {
                    Err(rejected(Operation::UpdateReported, status, &body))
                }
                other => Err(Error::Protocol {
                    reason: format!("unexpected outcome of a reported patch: {other:?}"),
                }),
            };
            let _ = reply.send(result);
        }
    }

    fn get_for(&self, request: &RequestId) -> Option<u64> {
        self.gets
            .iter()
            .find(|(_, get)| get.request.as_ref() == Some(request))
            .map(|(id, _)| *id)
    }

    fn on_get(&mut self, id: u64, status: u16, body: &[u8], clock: &mut Clock<'_>) {
        if status == 429 || status >= 500 {
            if let Some(get) = self.gets.get_mut(&id) {
                get.not_before = Some(clock.backoff(get.attempts));
                get.attempts = get.attempts.saturating_add(1);
                get.request = None;
            }
            return;
        }
        let Some(get) = self.gets.remove(&id) else {
            return;
        };
        let result = match status {
            200 => TwinState::from_slice(body).map_err(|e| Error::Protocol {
                reason: format!("unreadable twin: {e}"),
            }),
            _ => Err(rejected(Operation::GetTwin, status, body)),
        };
        let _ = get.reply.send(result);
    }

    /// A deadline passed.
    pub(super) fn on_timer(&mut self, timer: &Timer, clock: &mut Clock<'_>) {
        let timeout = clock.timeout;
        match timer {
            Timer::Ticket(ticket) => {
                if let Some(reply) = self.tickets.remove(ticket) {
                    let _ = reply.send(Err(Error::Timeout {
                        operation: Operation::UpdateReported,
                        after: timeout,
                    }));
                }
            }
            Timer::Get(id) => {
                if let Some(get) = self.gets.remove(id) {
                    let _ = get.reply.send(Err(Error::Timeout {
                        operation: Operation::GetTwin,
                        after: timeout,
                    }));
                }
            }
            Timer::DesiredGet(request) if self.desired_request.as_ref() == Some(request) => {
                tracing::warn!(%request, "no answer to the twin GET; retrying");
                self.desired_request = None;
                self.desired_hold.extend(clock);
                if let Err(error) = self.desired.handle_get_failed(request) {
                    tracing::error!(%error, "desired-properties sync refused a GET failure");
                }
            }
            Timer::ReportedPatch(request) if self.reported_request.as_ref() == Some(request) => {
                tracing::warn!(%request, "no answer to a reported patch; sending it again");
                self.reported_request = None;
                self.outbox.handle_retry(request);
            }
            _ => {}
        }
    }

    /// The copy of desired properties to show the application, when it moved to a new
    /// version since the last call.
    pub(super) fn desired_update(&mut self) -> Option<DesiredProperties> {
        // The application's view is built from the copy; the machine's own events are only
        // drained so that it does not keep computing them.
        while self.desired.poll_event().is_some() {}
        let (content, version) = self.desired.desired();
        let version = version?;
        if self.shown == Some(version) {
            return None;
        }
        self.shown = Some(version);
        Some(DesiredProperties::new(version, content.clone()))
    }

    /// Answers every waiting operation with `error`.
    pub(super) fn fail_all(&mut self, error: &Error) {
        for (_, reply) in self.tickets.drain() {
            let _ = reply.send(Err(error.clone()));
        }
        for (_, get) in std::mem::take(&mut self.gets) {
            let _ = get.reply.send(Err(error.clone()));
        }
    }
}

/// Why an update could not be queued.
fn enqueue_error(error: OutboxError) -> Error {
    match error {
        OutboxError::Invalid(error) => Error::InvalidPatch(error),
        OutboxError::Full { size, limit } => Error::ReportedBacklogFull { size, limit },
        other => Error::Protocol {
            reason: format!("the reported outbox refused an update: {other}"),
        },
    }
}

/// The error for a twin answer with an error `status` and `body`.
fn rejected(operation: Operation, status: u16, body: &[u8]) -> Error {
    let text = String::from_utf8_lossy(body);
    let (error_code, message) = match ErrorDetail::parse(&text) {
        Ok(detail) => (Some(detail.error_code), detail.message),
        Err(_) => (None, text.chars().take(200).collect()),
    };
    Error::Rejected {
        operation,
        status,
        error_code,
        message,
    }
}

#[cfg(test)]
mod tests;
