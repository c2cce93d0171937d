//! [`ReportedOutbox`]: reported-property updates on their way to the hub, coalesced and never
//! lost.

use std::collections::VecDeque;
use std::ops::Range;

use super::load::{Batch, Load};
use crate::path::Path;
use crate::rules::{check_object, members_size};
use crate::{Limits, OutboxError, Patch, RequestId, RequestIds, SectionKind, TwinVersion, compose};

/// Reported-property updates on their way to the hub, without IO.
///
/// The application [enqueues](ReportedOutbox::enqueue) merge patches and gets a [`Ticket`] for
/// each; the driver publishes what [`ReportedOutbox::poll_send`] hands out, one patch at a time,
/// reports the hub's answers, and resolves the application's tickets from
/// [`ReportedOutbox::poll_ticket_result`].
///
/// While the device is disconnected, or while a patch is in flight, new updates are coalesced
/// with [`compose`] into the patch waiting to go: what reaches the hub has the effect of every
/// update applied in order, in fewer messages. Where two patches cannot be composed (an object
/// written where the earlier one deleted the member), they wait as separate patches. All updates
/// coalesced into one patch share its outcome.
///
/// ```text
///  enqueue --> waiting --poll_send--> in flight --handle_ack------> Applied { version }
///                 ^                    |   |   \--handle_rejected--> Rejected { .. }
///                 |                    |   |
///                 |  handle_connection_lost, handle_retry: outcome unknown
///                 |                    v
///                 |              to resend --poll_send--> in flight again, alone or
///                 |                                       composed with the next waiting patch
///                 +-- a composed resend rejected: the waiting part goes back, the resent part
///                     goes again alone
/// ```
///
/// # Connection loss and retries
///
/// When the connection drops with a patch in flight, nobody knows whether the hub applied it. It
/// is kept and sent again, composed with the next waiting patch when possible. That is safe
/// because a merge patch is idempotent: applying it a second time changes nothing the first
/// did not, so `P` then `P` then `Q` leaves the same reported properties as `P` then `Q`.
///
/// A rejection of such a composed resend tells only that the composition was refused; the
/// earlier copy of the resent patch may still have been applied. So the outbox does not fail
/// those tickets: it puts the waiting part back and sends the resent patch again alone, whose
/// own answer settles its tickets, then the waiting part. A resent patch rejected on its own is
/// reported with `resent: true` in [`ReportOutcome::Rejected`]: IoT Hub refuses a copy of a
/// patch it applied only for transient reasons (throttling, server errors), so for the
/// rejections it gives for content (400, and 403 for size) the earlier copy was not applied
/// either.
///
/// # Bounds
///
/// [`ReportedOutbox::enqueue`] refuses a patch that breaks the hub's limits on values
/// ([`OutboxError::Invalid`]) and one after which the waiting patches would exceed the size of a
/// reported section ([`OutboxError::Full`]); nothing queued is lost either way. Each waiting
/// patch is counted as [`Limits`] sizes content, with a deleted member counting its key.
///
/// ```
/// use iot_twin::{Limits, Patch, ReportOutcome, ReportedOutbox, TwinVersion};
///
/// let mut outbox = ReportedOutbox::new(Limits::default());
/// let first = outbox.enqueue(Patch::from_slice(br#"{"fw":{"state":"downloading"}}"#)?)?;
/// let second = outbox.enqueue(Patch::from_slice(br#"{"fw":{"state":"applying"},"rpm":0}"#)?)?;
///
/// outbox.handle_connected()?;
/// let (rid, patch) = outbox.poll_send().unwrap();
/// let rid = rid.clone();
/// assert_eq!(serde_json::to_string(patch)?, r#"{"fw":{"state":"applying"},"rpm":0}"#);
///
/// outbox.handle_ack(&rid, TwinVersion::new(7).unwrap());
/// let applied = ReportOutcome::Applied { version: TwinVersion::new(7).unwrap() };
/// assert_eq!(outbox.poll_ticket_result(), Some((first, applied.clone())));
/// assert_eq!(outbox.poll_ticket_result(), Some((second, applied)));
/// assert!(outbox.is_idle());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReportedOutbox {
    limits: Limits,
    ids: RequestIds,
    connected: bool,
    /// Batches never sent, oldest first; the last one takes new updates.
    queue: VecDeque<Batch>,
    /// The summed size of `queue`.
    queued_size: usize,
    /// A load whose outcome was lost, to publish before anything in `queue`.
    retry: Option<Load>,
    in_flight: Option<InFlight>,
    /// Outcomes not yet handed out, per run of tickets.
    results: VecDeque<(Range<u64>, ReportOutcome)>,
    next_ticket: u64,
}

#[derive(Debug, Clone)]
struct InFlight {
    request_id: RequestId,
    load: Load,
}

/// The claim to the outcome of one enqueued update.
///
/// Tickets order as their updates were enqueued, and their outcomes come out of
/// [`ReportedOutbox::poll_ticket_result`] in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(u64);

/// How an enqueued update ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportOutcome {
    /// The hub applied the patch carrying the update; reported properties are now at
    /// `version`.
    Applied {
        /// The reported `$version` after the patch.
        version: TwinVersion,
    },
    /// The hub refused the patch carrying the update; nothing of it was applied.
    Rejected {
        /// The status of the answer.
        status: u16,
        /// The body of the answer (IoT Hub sends a JSON object with `errorCode` and `message`).
        body: Vec<u8>,
        /// Whether the patch had been sent before without a known outcome, in which case an
        /// earlier copy may have been applied if the rejection was transient (see the
        /// [`ReportedOutbox`] docs).
        resent: bool,
    },
}

impl ReportedOutbox {
    /// An empty, disconnected outbox checking updates against `limits` (IoT Hub's are
    /// [`Limits::default`]) and drawing request ids `r1`, `r2`, ... (see [`RequestIds`]).
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ids: const { RequestIds::with_static_prefix("r") },
            connected: false,
            queue: VecDeque::new(),
            queued_size: 0,
            retry: None,
            in_flight: None,
            results: VecDeque::new(),
            next_ticket: 0,
        }
    }

    /// Draws request ids from `ids`.
    pub fn with_request_ids(mut self, ids: RequestIds) -> Self {
        self.ids = ids;
        self
    }

    /// Queues a reported-properties update. The ticket resolves when the patch carrying the
    /// update is answered (see [`ReportedOutbox::poll_ticket_result`]).
    pub fn enqueue(&mut self, patch: Patch) -> Result<Ticket, OutboxError> {
        check_object(patch.as_map(), 0, &Path::Root, &self.limits).map_err(OutboxError::Invalid)?;
        let ticket = self.next_ticket;
        let (batch, replaced) = self.coalesced(patch, ticket);
        let others = self.queued_size.saturating_sub(replaced.unwrap_or(0));
        let total = others.saturating_add(batch.size);
        let limit = self.limits.max_section_bytes(SectionKind::Reported);
        if total > limit {
            return Err(OutboxError::Full { size: total, limit });
        }
        if replaced.is_some() {
            self.queue.pop_back();
        }
        self.queue.push_back(batch);
        self.queued_size = total;
        self.next_ticket += 1;
        Ok(Ticket(ticket))
    }

    /// The patch to publish now, with its request id, when connected and nothing is in
    /// flight. Publish it on [`crate::DeviceTopic::ReportedPatch`] and report the answer.
    pub fn poll_send(&mut self) -> Option<(&RequestId, &Patch)> {
        if !self.connected || self.in_flight.is_some() {
            return None;
        }
        let load = match self.retry.take() {
            Some(Load::Resent(batch)) => self.combine(batch),
            Some(load) => load,
            None => {
                let batch = self.queue.pop_front()?;
                self.queued_size = self.queued_size.saturating_sub(batch.size);
                Load::Fresh(batch)
            }
        };
        let request_id = self.ids.next_id();
        let flight = self.in_flight.insert(InFlight { request_id, load });
        Some((&flight.request_id, flight.load.patch()))
    }

    /// The hub applied the patch sent as `request_id`, bringing reported properties to
    /// `version`. Returns whether `request_id` was in flight; any other answer is ignored.
    pub fn handle_ack(&mut self, request_id: &RequestId, version: TwinVersion) -> bool {
        let Some(load) = self.take_in_flight(request_id) else {
            return false;
        };
        self.results
            .push_back((load.tickets(), ReportOutcome::Applied { version }));
        true
    }

    /// The hub refused the patch sent as `request_id` with `status` and `body`. The tickets it
    /// carried fail, except when it was a resent patch composed with newer updates: then both
    /// parts are sent again separately (see the type's docs). Returns whether `request_id` was
    /// in flight; any other answer is ignored.
    pub fn handle_rejected(&mut self, request_id: &RequestId, status: u16, body: &[u8]) -> bool {
        let Some(load) = self.take_in_flight(request_id) else {
            return false;
        };
        if let Load::Combined { resent, fresh, .. } = load {
            self.queued_size = self.queued_size.saturating_add(fresh.size);
            self.queue.push_front(fresh);
            self.retry = Some(Load::Alone(resent));
            return true;
        }
        let outcome = ReportOutcome::Rejected {
            status,
            body: body.to_vec(),
            resent: load.was_sent_before(),
        };
        self.results.push_back((load.tickets(), outcome));
        true
    }

    /// The patch sent as `request_id` must go again: its answer did not come in time, or the
    /// hub answered with a transient error (429, 5xx). It is kept and re-sent like after a
    /// connection loss. Returns whether `request_id` was in flight.
    pub fn handle_retry(&mut self, request_id: &RequestId) -> bool {
        let Some(load) = self.take_in_flight(request_id) else {
            return false;
        };
        self.retry = Some(load.into_retry());
        true
    }

    /// The device connected and subscribed to twin responses: sending may start.
    pub fn handle_connected(&mut self) -> Result<(), OutboxError> {
        if self.connected {
            return Err(OutboxError::AlreadyConnected);
        }
        self.connected = true;
        Ok(())
    }

    /// The connection dropped. The patch in flight is not known to have been applied: it is
    /// kept and sent first on the next connection.
    pub fn handle_connection_lost(&mut self) -> Result<(), OutboxError> {
        if !self.connected {
            return Err(OutboxError::NotConnected);
        }
        self.connected = false;
        if let Some(flight) = self.in_flight.take() {
            self.retry = Some(flight.load.into_retry());
        }
        Ok(())
    }

    /// The next resolved ticket and its outcome, oldest ticket first.
    pub fn poll_ticket_result(&mut self) -> Option<(Ticket, ReportOutcome)> {
        let (tickets, outcome) = self.results.front_mut()?;
        let ticket = Ticket(tickets.start);
        tickets.start += 1;
        if !tickets.is_empty() {
            return Some((ticket, outcome.clone()));
        }
        let (_, outcome) = self.results.pop_front()?;
        Some((ticket, outcome))
    }

    /// Whether `request_id` is the patch in flight, for a driver routing answers.
    pub fn awaits(&self, request_id: &RequestId) -> bool {
        self.in_flight
            .as_ref()
            .is_some_and(|flight| &flight.request_id == request_id)
    }

    /// Whether the device is connected.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Whether nothing waits, is in flight or is to be resent (outcomes may still be pending
    /// in [`ReportedOutbox::poll_ticket_result`]).
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.retry.is_none() && self.in_flight.is_none()
    }

    /// The summed size of the patches waiting to be sent for the first time, as counted
    /// against the reported section's limit.
    pub fn queued_size(&self) -> usize {
        self.queued_size
    }

    /// The batch that would carry `patch` as `ticket`: the last waiting batch composed with
    /// it (with the size of the batch it replaces), or a batch of its own.
    fn coalesced(&self, patch: Patch, ticket: u64) -> (Batch, Option<usize>) {
        if let Some(last) = self.queue.back() {
            if let Some(composed) = compose(&last.patch, &patch) {
                let batch = Batch::new(composed, last.tickets.start..ticket + 1);
                return (batch, Some(last.size));
            }
        }
        (Batch::new(patch, ticket..ticket + 1), None)
    }

    /// A resent batch, composed with the next waiting batch when that gives a patch within
    /// the size limit.
    fn combine(&mut self, resent: Batch) -> Load {
        let limit = self.limits.max_section_bytes(SectionKind::Reported);
        let composed = self
            .queue
            .front()
            .and_then(|fresh| compose(&resent.patch, &fresh.patch))
            .filter(|patch| members_size(patch.as_map()) <= limit);
        let Some(patch) = composed else {
            return Load::Resent(resent);
        };
        let Some(fresh) = self.queue.pop_front() else {
            return Load::Resent(resent);
        };
        self.queued_size = self.queued_size.saturating_sub(fresh.size);
        Load::Combined {
            patch,
            resent,
            fresh,
        }
    }

    fn take_in_flight(&mut self, request_id: &RequestId) -> Option<Load> {
        if !self.awaits(request_id) {
            return None;
        }
        self.in_flight.take().map(|flight| flight.load)
    }
}

#[cfg(test)]
mod tests;
