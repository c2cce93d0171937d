//! The hub's table of method calls in progress: dispatch, correlation and timeouts. Sans-IO.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::call_id::{CallId, CallMap};
use crate::lifecycle::{CallEnd, CallEvent, CallState};
use crate::outcome::{CallFailure, CallOutcome};
use crate::{Error, MethodInvocation, MethodName, MethodRequest, MethodResult, RequestId};

/// Counts of device responses the table dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingStats {
    /// Responses to calls that had already timed out or been cancelled, or that ended more
    /// than [`PendingCalls::RETENTION`] ago.
    pub late_responses: u64,
    /// Second and later responses to a call the device had already answered.
    pub duplicate_responses: u64,
    /// Responses whose request id this table never handed to that call's device.
    pub unknown_responses: u64,
    /// Responses from a device other than the one called.
    pub wrong_device_responses: u64,
}

/// What [`PendingCalls::handle_response`] did with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseDisposition {
    /// The response completed this call; its outcome is ready in `poll_outcome`.
    Accepted(CallId),
    /// Dropped: the call had already ended by timeout or cancellation.
    Late,
    /// Dropped: the device had already answered this call.
    Duplicate,
    /// Dropped: no call with this request id was sent to this device.
    Unknown,
    /// Dropped: the request id belongs to a call to another device.
    WrongDevice,
}

/// The hub's pending method calls, generic over the key `K` that names a device.
///
/// Sans-IO in the style of `quinn-proto`: the hub feeds in events (`invoke`, `device_online`,
/// `device_offline`, `handle_response`, `handle_timeout`, `cancel`), each with the current time,
/// and drains outputs: requests to publish ([`poll_transmit`](Self::poll_transmit)), finished
/// calls ([`poll_outcome`](Self::poll_outcome)) and the next time to wake up
/// ([`poll_timeout`](Self::poll_timeout)). Nothing here reads a clock; every input first applies
/// the deadlines that `now` has passed.
///
/// Rules (see [`CallState`] for the lifecycle):
/// - A call to an online device (connected and subscribed) is dispatched at once. A call to an
///   offline device waits up to its connect timeout for [`device_online`](Self::device_online),
///   else ends in [`CallFailure::DeviceNotOnline`]; with a connect timeout of 0 it ends at once.
/// - The response timeout starts when the call is dispatched; no response by then ends it in
///   [`CallFailure::ResponseTimeout`].
/// - Every call ends in exactly one outcome, unless the caller cancels it first, in which case it
///   produces none.
/// - Request ids are the decimal form of the call's [`CallId`], so correlating a response is
///   one hash lookup. A response from another device never completes a call; late, duplicate,
///   unknown and wrong-device responses are dropped and counted in [`stats`](Self::stats).
/// - A device going offline does not end calls already dispatched to it: like IoT Hub, the
///   table keeps waiting until their response timeout.
///
/// Ended calls are remembered for [`RETENTION`](Self::RETENTION) so that a response arriving
/// after the end is classified as late or duplicate; after that, responses with ids this table
/// issued count as late.
///
/// ```
/// use std::time::{Duration, Instant};
/// use iot_methods::{CallOutcome, MethodInvocation, MethodResult, PendingCalls};
/// use serde_json::json;
///
/// let start = Instant::now();
/// let mut calls = PendingCalls::new();
/// calls.device_online(&"dev1", start);
///
/// let invocation = MethodInvocation::new("reboot".parse().unwrap(), json!(null)).unwrap();
/// let id = calls.invoke("dev1", invocation, start);
/// let (device, request) = calls.poll_transmit().unwrap();
/// assert_eq!((device, request.topic().as_str()), ("dev1", "$iothub/methods/POST/reboot/?$rid=1"));
///
/// let now = start + Duration::from_secs(1);
/// calls.handle_response(&"dev1", request.request_id(), 200, json!("Reboot started"), now);
/// assert_eq!(
///     calls.poll_outcome(),
///     Some((id, CallOutcome::Response(MethodResult::new(200, json!("Reboot started")))))
/// );
/// ```
#[derive(Debug)]
pub struct PendingCalls<K> {
    /// Every call not yet forgotten, by id.
    calls: CallMap<Call<K>>,
    /// Deadlines, earliest first. An entry is live when it matches its call's `deadline`;
    /// entries left behind by a transition are dropped when they reach the top.
    deadlines: BinaryHeap<Reverse<(Instant, CallId)>>,
    /// Calls waiting for each offline device, in invocation order.
    waiting: HashMap<K, BTreeSet<CallId>>,
    /// Devices connected and subscribed to method requests.
    online: HashSet<K>,
    /// Calls dispatched but not yet handed out; may hold ids that since ended (skipped).
    transmit: VecDeque<CallId>,
    /// Outcomes not yet handed out.
    outcomes: VecDeque<(CallId, CallOutcome)>,
    /// The counter behind the next call id.
    next_id: u64,
    /// Calls not yet completed.
    active: usize,
    stats: PendingStats,
}

/// One call's record.
#[derive(Debug)]
struct Call<K> {
    device: K,
    state: CallState,
    /// The call's live deadline: connect timeout, response timeout or end of retention.
    deadline: Instant,
    response_timeout: Duration,
    /// The method and payload, until handed out by `poll_transmit`.
    request: Option<(MethodName, Value)>,
}

impl<K: Eq + Hash + Clone> PendingCalls<K> {
    /// How long an ended call is remembered to classify responses that arrive after its end.
    pub const RETENTION: Duration = Duration::from_secs(60);

    /// An empty table; call ids (and request ids) start at 1.
    pub fn new() -> Self {
        Self {
            calls: CallMap::default(),
            deadlines: BinaryHeap::new(),
            waiting: HashMap::new(),
            online: HashSet::new(),
            transmit: VecDeque::new(),
            outcomes: VecDeque::new(),
            next_id: 1,
            active: 0,
            stats: PendingStats::default(),
        }
    }

    /// Starts a call of `invocation` on `device`.
    pub fn invoke(&mut self, device: K, invocation: MethodInvocation, now: Instant) -> CallId {
        self.handle_timeout(now);
        let id = CallId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let response_timeout = invocation.response_timeout();
        let deadline = after(now, invocation.connect_timeout());
        let online = self.online.contains(&device);
        if !online {
            self.waiting.entry(device.clone()).or_default().insert(id);
            self.deadlines.push(Reverse((deadline, id)));
        }
        let call = Call {
            device,
            state: CallState::WaitingForDevice,
            deadline,
            response_timeout,
            request: Some(invocation.into_parts()),
        };
        self.calls.insert(id, call);
        self.active += 1;
        if online {
            // A fresh call waits for its device, so this transition is always allowed.
            let _ = self.apply(id, CallEvent::DeviceOnline, now);
        } else {
            // Fires at once for a connect timeout of 0.
            self.handle_timeout(now);
        }
        id
    }

    /// Records that `device` is connected and subscribed to method requests, and dispatches
    /// the calls waiting for it.
    pub fn device_online(&mut self, device: &K, now: Instant) {
        self.handle_timeout(now);
        if !self.online.contains(device) {
            self.online.insert(device.clone());
        }
        for id in self.waiting.remove(device).unwrap_or_default() {
            // Calls leave `waiting` when they leave `WaitingForDevice`, so this is allowed.
            let _ = self.apply(id, CallEvent::DeviceOnline, now);
        }
    }

    /// Records that `device` disconnected (or unsubscribed). New calls to it wait for it;
    /// calls already dispatched keep waiting for their response timeout.
    pub fn device_offline(&mut self, device: &K, now: Instant) {
        self.handle_timeout(now);
        self.online.remove(device);
    }

    /// The next request the hub must publish, with the device to publish it to.
    pub fn poll_transmit(&mut self) -> Option<(K, MethodRequest)> {
        while let Some(id) = self.transmit.pop_front() {
            let Some(call) = self.calls.get_mut(&id) else {
                continue;
            };
            let Ok(state) = call.state.on(CallEvent::Transmitted) else {
                continue;
            };
            let Some((name, payload)) = call.request.take() else {
                continue;
            };
            call.state = state;
            let request = MethodRequest::new(name, RequestId::from_counter(id.0), payload);
            return Some((call.device.clone(), request));
        }
        None
    }

    /// The next finished call and how it ended.
    pub fn poll_outcome(&mut self) -> Option<(CallId, CallOutcome)> {
        self.outcomes.pop_front()
    }

    /// The earliest deadline: call [`handle_timeout`](Self::handle_timeout) once it passes.
    /// (It takes `&mut self` to drop deadlines that transitions left behind.)
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, id))) = self.deadlines.peek() {
            if self.is_live(at, id) {
                return Some(at);
            }
            self.deadlines.pop();
        }
        None
    }

    /// Applies every deadline at or before `now`: connect and response timeouts end calls,
    /// and ended calls past their retention are forgotten.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, id))) = self.deadlines.peek() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            match self.calls.get(&id) {
                Some(call) if call.deadline == at && call.state.is_completed() => {
                    self.calls.remove(&id);
                }
                Some(call) if call.deadline == at => {
                    // Every live call takes a deadline in every state but `Completed`.
                    let _ = self.apply(id, CallEvent::Deadline, now);
                }
                _ => {}
            }
        }
    }

    /// Handles a device's response: `device` answered `request_id` with `status` and
    /// `payload`. Returns what became of it; dropped responses are also counted in
    /// [`stats`](Self::stats).
    pub fn handle_response(
        &mut self,
        device: &K,
        request_id: &RequestId,
        status: i32,
        payload: Value,
        now: Instant,
    ) -> ResponseDisposition {
        self.handle_timeout(now);
        let disposition = self.correlate(device, request_id, now);
        match disposition {
            ResponseDisposition::Accepted(id) => {
                let result = MethodResult::new(status, payload);
                self.outcomes.push_back((id, CallOutcome::Response(result)));
            }
            ResponseDisposition::Late => self.stats.late_responses += 1,
            ResponseDisposition::Duplicate => self.stats.duplicate_responses += 1,
            ResponseDisposition::Unknown => self.stats.unknown_responses += 1,
            ResponseDisposition::WrongDevice => self.stats.wrong_device_responses += 1,
        }
        disposition
    }

    /// Cancels a call (for instance because the back end went away); it will produce no
    /// outcome.
    ///
    /// # Errors
    /// [`Error::UnknownCall`] when the table no longer knows the call;
    /// [`Error::InvalidTransition`] when the call has already ended (its outcome, if any, was
    /// already produced).
    pub fn cancel(&mut self, call: CallId, now: Instant) -> Result<(), Error> {
        self.handle_timeout(now);
        if !self.calls.contains_key(&call) {
            return Err(Error::UnknownCall { call });
        }
        self.apply(call, CallEvent::Cancel, now).map(drop)
    }

    /// Where `call` stands, or `None` once the table has forgotten it.
    pub fn state(&self, call: CallId) -> Option<CallState> {
        self.calls.get(&call).map(|c| c.state)
    }

    /// How many calls have not ended yet.
    pub fn active_calls(&self) -> usize {
        self.active
    }

    /// Counts of dropped responses.
    pub fn stats(&self) -> PendingStats {
        self.stats
    }

    /// Whether `at` is the live deadline of call `id`.
    fn is_live(&self, at: Instant, id: CallId) -> bool {
        self.calls.get(&id).is_some_and(|call| call.deadline == at)
    }

    /// Finds the call `request_id` answers and completes it if the answer is acceptable.
    fn correlate(
        &mut self,
        device: &K,
        request_id: &RequestId,
        now: Instant,
    ) -> ResponseDisposition {
        let Some(id) = request_id.to_counter().map(CallId) else {
            return ResponseDisposition::Unknown;
        };
        let Some(call) = self.calls.get(&id) else {
            return if id.0 < self.next_id {
                ResponseDisposition::Late
            } else {
                ResponseDisposition::Unknown
            };
        };
        if call.device != *device {
            return ResponseDisposition::WrongDevice;
        }
        let before = call.state;
        match self.apply(id, CallEvent::Response, now) {
            Ok(_) => ResponseDisposition::Accepted(id),
            Err(_) => match before {
                CallState::Completed(CallEnd::Responded) => ResponseDisposition::Duplicate,
                CallState::Completed(CallEnd::TimedOut | CallEnd::Cancelled) => {
                    ResponseDisposition::Late
                }
                _ => ResponseDisposition::Unknown,
            },
        }
    }

    /// Moves call `id` through `event`, keeping deadlines, queues and counts in step.
    fn apply(&mut self, id: CallId, event: CallEvent, now: Instant) -> Result<CallState, Error> {
        let call = self
            .calls
            .get_mut(&id)
            .ok_or(Error::UnknownCall { call: id })?;
        let from = call.state;
        let to = from.on(event)?;
        call.state = to;
        let deadline = match to {
            CallState::AwaitingTransmit => Some(after(now, call.response_timeout)),
            CallState::Completed(_) => Some(after(now, Self::RETENTION)),
            CallState::WaitingForDevice | CallState::InFlight => None,
        };
        if let Some(deadline) = deadline {
            self.deadlines.push(Reverse((deadline, id)));
            call.deadline = deadline;
        }
        if from == CallState::WaitingForDevice {
            stop_waiting(&mut self.waiting, &call.device, id);
        }
        match to {
            CallState::AwaitingTransmit => self.transmit.push_back(id),
            CallState::Completed(end) => self.complete(id, end),
            CallState::WaitingForDevice | CallState::InFlight => {}
        }
        Ok(to)
    }

    /// Bookkeeping for a call that just ended.
    fn complete(&mut self, id: CallId, end: CallEnd) {
        self.active = self.active.saturating_sub(1);
        if let Some(call) = self.calls.get_mut(&id) {
            call.request = None;
        }
        let failure = match end {
            CallEnd::DeviceNotOnline => CallFailure::DeviceNotOnline,
            CallEnd::TimedOut => CallFailure::ResponseTimeout,
            CallEnd::Responded | CallEnd::Cancelled => return,
        };
        self.outcomes.push_back((id, CallOutcome::Failed(failure)));
    }
}

impl<K: Eq + Hash + Clone> Default for PendingCalls<K> {
    fn default() -> Self {
        Self::new()
    }
}

/// Removes call `id` from the calls in `waiting` for `device`.
fn stop_waiting<K: Eq + Hash>(waiting: &mut HashMap<K, BTreeSet<CallId>>, device: &K, id: CallId) {
    if let Some(calls) = waiting.get_mut(device) {
        calls.remove(&id);
        if calls.is_empty() {
            waiting.remove(device);
        }
    }
}

/// `now + duration`. An `Instant` that far ahead cannot come from a real clock (durations here
/// are at most minutes); rather than panic on overflow, the deadline is `now`.
fn after(now: Instant, duration: Duration) -> Instant {
    now.checked_add(duration).unwrap_or(now)
}

#[cfg(test)]
mod tests;
