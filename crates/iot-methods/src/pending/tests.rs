use super::*;
use proptest::prelude::*;
use serde_json::json;

const DEV: &str = "dev1";
const OTHER: &str = "dev2";

fn invocation(response_secs: u64, connect_secs: u64) -> MethodInvocation {
    MethodInvocation::new("reboot".parse().unwrap(), json!({"delay": 1}))
        .unwrap()
        .with_response_timeout(Duration::from_secs(response_secs))
        .unwrap()
        .with_connect_timeout(Duration::from_secs(connect_secs))
        .unwrap()
}

/// A table and a simulated clock.
struct Sim {
    calls: PendingCalls<&'static str>,
    start: Instant,
}

impl Sim {
    fn new() -> Self {
        Self {
            calls: PendingCalls::new(),
            start: Instant::now(),
        }
    }

    fn at(&self, secs: u64) -> Instant {
        self.start + Duration::from_secs(secs)
    }

    fn at_millis(&self, millis: u64) -> Instant {
        self.start + Duration::from_millis(millis)
    }

    fn online(&mut self, device: &'static str, secs: u64) {
        let now = self.at(secs);
        self.calls.device_online(&device, now);
    }

    fn invoke(&mut self, device: &'static str, response: u64, connect: u64, secs: u64) -> CallId {
        let now = self.at(secs);
        self.calls
            .invoke(device, invocation(response, connect), now)
    }

    fn respond(
        &mut self,
        device: &'static str,
        rid: &str,
        status: i32,
        secs: u64,
    ) -> ResponseDisposition {
        let now = self.at(secs);
        self.calls.handle_response(
            &device,
            &rid.parse().unwrap(),
            status,
            json!({"ok": status}),
            now,
        )
    }

    fn drain_outcomes(&mut self) -> Vec<(CallId, CallOutcome)> {
        std::iter::from_fn(|| self.calls.poll_outcome()).collect()
    }
}

fn response(status: i32) -> CallOutcome {
    CallOutcome::Response(MethodResult::new(status, json!({"ok": status})))
}

fn failed(failure: CallFailure) -> CallOutcome {
    CallOutcome::Failed(failure)
}

#[test]
fn online_device_round_trip() {
    let mut sim = Sim::new();
    sim.online(DEV, 0);
    let id = sim.invoke(DEV, 30, 0, 0);
    assert_eq!(sim.calls.state(id), Some(CallState::AwaitingTransmit));
    assert_eq!(sim.calls.poll_timeout(), Some(sim.at(30)));
    assert_eq!(sim.calls.active_calls(), 1);

    let (device, request) = sim.calls.poll_transmit().unwrap();
    assert_eq!(device, DEV);
    assert_eq!(request.name().as_str(), "reboot");
    assert_eq!(request.request_id().as_str(), "1");
    assert_eq!(request.payload(), &json!({"delay": 1}));
    assert_eq!(sim.calls.state(id), Some(CallState::InFlight));
    assert!(sim.calls.poll_transmit().is_none());

    assert_eq!(
        sim.respond(DEV, "1", 200, 3),
        ResponseDisposition::Accepted(id)
    );
    assert_eq!(sim.drain_outcomes(), vec![(id, response(200))]);
    assert_eq!(
        sim.calls.state(id),
        Some(CallState::Completed(CallEnd::Responded))
    );
    assert_eq!(sim.calls.active_calls(), 0);
    assert_eq!(sim.calls.stats(), PendingStats::default());
}

#[test]
fn offline_device_with_zero_connect_timeout_fails_at_once() {
    let mut sim = Sim::new();
    let id = sim.invoke(DEV, 30, 0, 0);
    assert_eq!(
        sim.drain_outcomes(),
        vec![(id, failed(CallFailure::DeviceNotOnline))]
    );
    assert!(sim.calls.poll_transmit().is_none());
    assert_eq!(
        sim.calls.state(id),
        Some(CallState::Completed(CallEnd::DeviceNotOnline))
    );
}

#[test]
fn offline_device_that_never_connects_fails_at_the_connect_timeout() {
    let mut sim = Sim::new();
    let id = sim.invoke(DEV, 30, 10, 0);
    assert_eq!(sim.calls.state(id), Some(CallState::WaitingForDevice));
    assert_eq!(sim.calls.poll_timeout(), Some(sim.at(10)));
    sim.calls.handle_timeout(sim.at_millis(9_999));
    assert!(sim.drain_outcomes().is_empty());
    sim.calls.handle_timeout(sim.at(10));
    assert_eq!(
        sim.drain_outcomes(),
        vec![(id, failed(CallFailure::DeviceNotOnline))]
    );
    sim.online(DEV, 11);
    assert!(sim.calls.poll_transmit().is_none());
}

#[test]
fn device_connecting_in_time_gets_the_call_and_a_full_response_timeout() {
    let mut sim = Sim::new();
    let first = sim.invoke(DEV, 30, 10, 0);
    let second = sim.invoke(DEV, 5, 300, 1);
    sim.online(DEV, 4);
    assert_eq!(sim.calls.state(first), Some(CallState::AwaitingTransmit));
    let sent: Vec<_> = std::iter::from_fn(|| sim.calls.poll_transmit()).collect();
    let rids: Vec<_> = sent.iter().map(|(_, r)| r.request_id().as_str()).collect();
    assert_eq!(rids, ["1", "2"], "dispatched in invocation order");
    assert_eq!(sim.calls.poll_timeout(), Some(sim.at(9)));
    sim.calls.handle_timeout(sim.at(33));
    assert_eq!(
        sim.drain_outcomes(),
        vec![(second, failed(CallFailure::ResponseTimeout))]
    );
    assert_eq!(
        sim.respond(DEV, "1", 200, 33),
        ResponseDisposition::Accepted(first)
    );
}

#[test]
fn no_response_times_out_and_a_late_response_is_dropped() {
    let mut sim = Sim::new();
    sim.online(DEV, 0);
    let id = sim.invoke(DEV, 5, 0, 0);
    sim.calls.poll_transmit().unwrap();
    sim.calls.handle_timeout(sim.at_millis(4_999));
    assert!(sim.drain_outcomes().is_empty());
    sim.calls.handle_timeout(sim.at(5));
    assert_eq!(
        sim.drain_outcomes(),
        vec![(id, failed(CallFailure::ResponseTimeout))]
    );
    assert_eq!(sim.respond(DEV, "1", 200, 6), ResponseDisposition::Late);
    assert!(sim.drain_outcomes().is_empty());
    assert_eq!(sim.calls.stats().late_responses, 1);
}

#[test]
fn a_response_at_the_deadline_is_late() {
    let mut sim = Sim::new();
    sim.online(DEV, 0);
    let id = sim.invoke(DEV, 5, 0, 0);
    sim.calls.poll_transmit().unwrap();
    assert_eq!(sim.respond(DEV, "1", 200, 5), ResponseDisposition::Late);
    assert_eq!(
        sim.drain_outcomes(),
        vec![(id, failed(CallFailure::ResponseTimeout))]
    );
}

#[test]
fn duplicate_responses_are_dropped_and_counted() {
    let mut sim = Sim::new();
    sim.online(DEV, 0);
    let id = sim.invoke(DEV, 30, 0, 0);
    sim.calls.poll_transmit().unwrap();
    assert_eq!(
        sim.respond(DEV, "1", 200, 1),
        ResponseDisposition::Accepted(id)
    );
    assert_eq!(
        sim.respond(DEV, "1", 500, 2),
        ResponseDisposition::Duplicate
    );
    assert_eq!(sim.drain_outcomes(), vec![(id, response(200))]);
    assert_eq!(sim.calls.stats().duplicate_responses, 1);
}

#[test]
fn unknown_request_ids_are_dropped_and_counted() {
    let mut sim = Sim::new();
    sim.online(DEV, 0);
    sim.invoke(DEV, 30, 0, 0);
    sim.calls.poll_transmit().unwrap();
    for rid in ["2", "01", "0", "abc", "1 "] {
        assert_eq!(
            sim.respond(DEV, rid, 200, 1),
            ResponseDisposition::Unknown,
            "{rid}"
        );
    }
    assert_eq!(sim.calls.stats().unknown_responses, 5);
    assert!(sim.drain_outcomes().is_empty());
}

#[test]
fn responses_to_calls_never_sent_are_unknown() {
    let mut sim = Sim::new();
    let waiting = sim.invoke(DEV, 30, 60, 0);
    assert_eq!(sim.respond(DEV, "1", 200, 1), ResponseDisposition::Unknown);
    sim.online(DEV, 2);
    assert_eq!(sim.respond(DEV, "1", 200, 3), ResponseDisposition::Unknown);
    assert_eq!(sim.calls.state(waiting), Some(CallState::AwaitingTransmit));
    sim.calls.device_offline(&DEV, sim.at(3));
    let not_online = sim.invoke(DEV, 30, 0, 3);
    assert_eq!(
        sim.calls.state(not_online),
        Some(CallState::Completed(CallEnd::DeviceNotOnline))
    );
    assert_eq!(sim.respond(DEV, "2", 200, 4), ResponseDisposition::Unknown);
    assert_eq!(sim.calls.stats().unknown_responses, 3);
}

#[test]
fn a_response_from_another_device_never_completes_the_call() {
    let mut sim = Sim::new();
    sim.online(DEV, 0);
    sim.online(OTHER, 0);
    let id = sim.invoke(DEV, 30, 0, 0);
    sim.calls.poll_transmit().unwrap();
    assert_eq!(
        sim.respond(OTHER, "1", 200, 1),
        ResponseDisposition::WrongDevice
    );
    assert_eq!(sim.calls.state(id), Some(CallState::InFlight));
    assert_eq!(
        sim.respond(DEV, "1", 201, 2),
        ResponseDisposition::Accepted(id)
    );
    assert_eq!(sim.drain_outcomes(), vec![(id, response(201))]);
    assert_eq!(sim.calls.stats().wrong_device_responses, 1);
}

#[test]
fn going_offline_does_not_end_dispatched_calls() {
    let mut sim = Sim::new();
    sim.online(DEV, 0);
    let answered = sim.invoke(DEV, 30, 0, 0);
    let unanswered = sim.invoke(DEV, 30, 0, 0);
    sim.calls.poll_transmit().unwrap();
    sim.calls.poll_transmit().unwrap();
    sim.calls.device_offline(&DEV, sim.at(1));
    sim.calls.handle_timeout(sim.at(29));
    assert_eq!(sim.calls.state(unanswered), Some(CallState::InFlight));
    assert_eq!(
        sim.respond(DEV, "1", 200, 29),
        ResponseDisposition::Accepted(answered)
    );
    sim.calls.handle_timeout(sim.at(30));
    assert_eq!(
        sim.drain_outcomes(),
        vec![
            (answered, response(200)),
            (unanswered, failed(CallFailure::ResponseTimeout))
        ]
    );
    let later = sim.invoke(DEV, 30, 10, 31);
    assert_eq!(sim.calls.state(later), Some(CallState::WaitingForDevice));
}

#[test]
fn cancelled_calls_produce_no_outcome_in_any_live_state() {
    let mut sim = Sim::new();
    sim.online(DEV, 0);
    let in_flight = sim.invoke(DEV, 30, 0, 0);
    sim.calls.poll_transmit().unwrap();
    let awaiting = sim.invoke(DEV, 30, 0, 0);
    let waiting = sim.invoke(OTHER, 30, 60, 0);
    assert_eq!(sim.calls.state(waiting), Some(CallState::WaitingForDevice));

    for id in [in_flight, awaiting, waiting] {
        sim.calls.cancel(id, sim.at(1)).unwrap();
        assert_eq!(
            sim.calls.state(id),
            Some(CallState::Completed(CallEnd::Cancelled))
        );
    }
    assert!(
        sim.calls.poll_transmit().is_none(),
        "a cancelled call is not sent"
    );
    sim.online(OTHER, 2);
    assert!(
        sim.calls.poll_transmit().is_none(),
        "a cancelled call is not dispatched"
    );
    sim.calls.handle_timeout(sim.at(100));
    assert!(sim.drain_outcomes().is_empty());
    assert_eq!(sim.calls.active_calls(), 0);
    assert_eq!(sim.respond(DEV, "1", 200, 100), ResponseDisposition::Late);
}

#[test]
fn cancelling_an_ended_or_forgotten_call_is_an_error() {
    let mut sim = Sim::new();
    let id = sim.invoke(DEV, 30, 0, 0);
    assert_eq!(
        sim.calls.cancel(id, sim.at(1)),
        Err(Error::InvalidTransition {
            state: CallState::Completed(CallEnd::DeviceNotOnline),
            event: CallEvent::Cancel
        })
    );
    assert_eq!(sim.drain_outcomes().len(), 1);
    let forgotten = sim.at(1) + PendingCalls::<&str>::RETENTION;
    assert_eq!(
        sim.calls.cancel(id, forgotten),
        Err(Error::UnknownCall { call: id })
    );
}

#[test]
fn ended_calls_are_forgotten_after_retention() {
    let mut sim = Sim::new();
    sim.online(DEV, 0);
    let id = sim.invoke(DEV, 30, 0, 0);
    sim.calls.poll_transmit().unwrap();
    sim.respond(DEV, "1", 200, 10);
    let retention = PendingCalls::<&str>::RETENTION.as_secs();
    assert_eq!(sim.calls.poll_timeout(), Some(sim.at(10 + retention)));
    sim.calls.handle_timeout(sim.at(10 + retention));
    assert_eq!(sim.calls.state(id), None);
    assert_eq!(sim.calls.poll_timeout(), None);
    assert_eq!(sim.respond(DEV, "1", 200, 200), ResponseDisposition::Late);
    assert_eq!(
        sim.respond(DEV, "2", 200, 200),
        ResponseDisposition::Unknown
    );
}

#[test]
fn request_ids_are_unique_per_table() {
    let mut sim = Sim::new();
    sim.online(DEV, 0);
    let ids: Vec<_> = (0..5).map(|_| sim.invoke(DEV, 30, 0, 0)).collect();
    let rids: Vec<_> = std::iter::from_fn(|| sim.calls.poll_transmit())
        .map(|(_, r)| r.request_id().to_counter().unwrap())
        .collect();
    assert_eq!(rids, [1, 2, 3, 4, 5]);
    assert_eq!(ids.iter().map(|id| id.0).collect::<Vec<_>>(), rids);
}

/// One step of a random scenario.
#[derive(Debug, Clone)]
enum Op {
    Invoke {
        device: u8,
        response: u64,
        connect: u64,
    },
    Online(u8),
    Offline(u8),
    Transmit,
    /// Answers one of the requests sent so far, from its device or (`wrong_device`) another.
    Respond {
        sent: usize,
        wrong_device: bool,
        status: i32,
    },
    RespondUnknown(u64),
    Cancel(usize),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..3, 5u64..=40, prop_oneof![Just(0u64), 1u64..=40])
            .prop_map(|(device, response, connect)| Op::Invoke { device, response, connect }),
        2 => (0u8..3).prop_map(Op::Online),
        1 => (0u8..3).prop_map(Op::Offline),
        3 => Just(Op::Transmit),
        3 => (any::<usize>(), prop::bool::weighted(0.2), any::<i32>())
            .prop_map(|(sent, wrong_device, status)| Op::Respond { sent, wrong_device, status }),
        1 => (1u64..100).prop_map(Op::RespondUnknown),
        1 => any::<usize>().prop_map(Op::Cancel),
        3 => (0u64..=15_000).prop_map(Op::Advance),
    ]
}

/// What the property test observed for each call.
#[derive(Default)]
struct Record {
    invoked: Vec<CallId>,
    sent: Vec<(u8, RequestId)>,
    outcomes: HashMap<CallId, Vec<CallOutcome>>,
    cancelled: HashSet<CallId>,
    accepted: HashMap<CallId, i32>,
}

impl Record {
    fn collect(&mut self, calls: &mut PendingCalls<u8>) {
        while let Some((id, outcome)) = calls.poll_outcome() {
            self.outcomes.entry(id).or_default().push(outcome);
        }
    }
}

fn run(ops: &[Op], calls: &mut PendingCalls<u8>, clock: &mut Instant, record: &mut Record) {
    for op in ops {
        let now = *clock;
        match *op {
            Op::Invoke {
                device,
                response,
                connect,
            } => {
                record
                    .invoked
                    .push(calls.invoke(device, invocation(response, connect), now));
            }
            Op::Online(device) => calls.device_online(&device, now),
            Op::Offline(device) => calls.device_offline(&device, now),
            Op::Transmit => {
                if let Some((device, request)) = calls.poll_transmit() {
                    record.sent.push((device, request.request_id().clone()));
                }
            }
            Op::Respond {
                sent,
                wrong_device,
                status,
            } if !record.sent.is_empty() => {
                let (device, rid) = record.sent[sent % record.sent.len()].clone();
                let device = if wrong_device {
                    (device + 1) % 3
                } else {
                    device
                };
                if let ResponseDisposition::Accepted(id) =
                    calls.handle_response(&device, &rid, status, json!({"ok": status}), now)
                {
                    assert!(
                        record.accepted.insert(id, status).is_none(),
                        "accepted twice"
                    );
                }
            }
            Op::Respond { .. } => {}
            Op::RespondUnknown(n) => {
                let rid = RequestId::from_counter(n);
                calls.handle_response(&0, &rid, 200, Value::Null, now);
            }
            Op::Cancel(pick) if !record.invoked.is_empty() => {
                let id = record.invoked[pick % record.invoked.len()];
                if calls.cancel(id, now).is_ok() {
                    assert!(record.cancelled.insert(id), "cancelled twice");
                }
            }
            Op::Cancel(_) => {}
            Op::Advance(millis) => {
                *clock += Duration::from_millis(millis);
                calls.handle_timeout(*clock);
            }
        }
        record.collect(calls);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_call_ends_exactly_once(ops in prop::collection::vec(op(), 0..80)) {
        let mut calls = PendingCalls::<u8>::new();
        let mut clock = Instant::now();
        let mut record = Record::default();
        run(&ops, &mut calls, &mut clock, &mut record);

        // Past every connect, response and retention deadline.
        clock += Duration::from_secs(1_000);
        calls.handle_timeout(clock);
        record.collect(&mut calls);

        prop_assert_eq!(calls.active_calls(), 0);
        // Past the retention of the calls that just ended.
        clock += PendingCalls::<u8>::RETENTION;
        calls.handle_timeout(clock);
        prop_assert_eq!(calls.poll_timeout(), None);
        prop_assert!(calls.poll_outcome().is_none());
        for id in &record.invoked {
            let outcomes = record.outcomes.get(id).map_or(0, Vec::len);
            let cancelled = usize::from(record.cancelled.contains(id));
            prop_assert_eq!(outcomes + cancelled, 1, "{} ended {} times", id, outcomes + cancelled);
            if let Some(status) = record.accepted.get(id) {
                prop_assert_eq!(&record.outcomes[id][0], &response(*status));
            }
        }
        let sent_ids: HashSet<_> = record.sent.iter().map(|(_, rid)| rid).collect();
        prop_assert_eq!(sent_ids.len(), record.sent.len(), "request ids repeat");
    }

    #[test]
    fn no_outcome_before_its_deadline(
        response in 5u64..=300,
        connect in 0u64..=300,
        online_after in 0u64..=400,
    ) {
        let mut sim = Sim::new();
        let id = sim.invoke(DEV, response, connect, 0);
        let mut ended_at = None;
        for second in 0..=700 {
            if second == online_after {
                sim.online(DEV, second);
                sim.calls.poll_transmit();
            }
            sim.calls.handle_timeout(sim.at(second));
            if let Some((done, outcome)) = sim.calls.poll_outcome() {
                prop_assert_eq!(done, id);
                ended_at = Some((second, outcome));
            }
        }
        let expected = if online_after < connect {
            (online_after + response, failed(CallFailure::ResponseTimeout))
        } else {
            (connect, failed(CallFailure::DeviceNotOnline))
        };
        prop_assert_eq!(ended_at, Some(expected));
    }
}
