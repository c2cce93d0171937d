//! The twin session against a stand-in connection: the requests it publishes and what it
//! makes of the hub's answers, throttling and timeouts included.

use std::time::Duration;

use iot_twin::{Patch, TwinState, TwinVersion};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::*;
use crate::RetryPolicy;
use crate::driver::timers::Timers;

/// A connection that records what is published.
#[derive(Default)]
struct Recorder {
    published: Vec<(String, Vec<u8>)>,
    full: bool,
}

impl Publisher for Recorder {
    fn can_publish(&self) -> bool {
        !self.full
    }

    fn publish(
        &mut self,
        topic: String,
        payload: Vec<u8>,
        tag: PublishTag,
    ) -> Result<(), LinkDown> {
        assert_eq!(tag, PublishTag::Twin);
        self.published.push((topic, payload));
        Ok(())
    }
}

impl Recorder {
    /// The request id and body of the only publish since the last call.
    fn take_one(&mut self) -> (RequestId, Vec<u8>) {
        assert_eq!(self.published.len(), 1, "{:?}", self.published);
        let (topic, body) = self.published.remove(0);
        let topic: DeviceTopic = topic.parse().unwrap();
        (topic.request_id().clone(), body)
    }
}

/// A session, a stand-in connection and the timers, at a controllable time.
struct Bench {
    twin: TwinSession,
    link: Recorder,
    timers: Timers,
    policy: RetryPolicy,
    now: Instant,
}

impl Bench {
    fn new() -> Self {
        let policy = RetryPolicy::builder()
            .initial_delay(Duration::from_secs(1))
            .max_delay(Duration::from_secs(1))
            .jitter(0.0)
            .build()
            .unwrap();
        Self {
            twin: TwinSession::new(7),
            link: Recorder::default(),
            timers: Timers::default(),
            policy,
            now: Instant::now(),
        }
    }

    fn pump(&mut self) {
        let mut clock = at(self.now, &self.policy, &mut self.timers);
        self.twin.pump(&mut self.link, &mut clock).unwrap();
    }

    fn answer(&mut self, status: u16, request: &RequestId, version: Option<u64>, body: &[u8]) {
        let version = version.and_then(TwinVersion::new);
        let mut clock = at(self.now, &self.policy, &mut self.timers);
        self.twin
            .on_response(status, request, version, body, &mut clock);
    }

    /// Fires every timer due at `self.now`.
    fn fire(&mut self) {
        while let Some(timer) = self.timers.pop_due(self.now) {
            let mut clock = at(self.now, &self.policy, &mut self.timers);
            self.twin.on_timer(&timer, &mut clock);
        }
    }

    fn get(&mut self, reply: Reply<TwinState>, deadline: Instant) {
        let mut clock = at(self.now, &self.policy, &mut self.timers);
        self.twin.get(reply, deadline, &mut clock);
    }

    /// Connects and answers the first desired GET with `state`.
    fn sync(&mut self, state: &[u8]) {
        self.twin.connected();
        self.pump();
        let (request, body) = self.link.take_one();
        assert!(body.is_empty());
        self.answer(200, &request, None, state);
    }

    fn update(
        &mut self,
        value: serde_json::Value,
    ) -> oneshot::Receiver<Result<TwinVersion, Error>> {
        let (reply, outcome) = oneshot::channel();
        let deadline = self.now + Duration::from_secs(10);
        let patch = Patch::from_value(value).unwrap();
        let mut clock = at(self.now, &self.policy, &mut self.timers);
        self.twin
            .update_reported(patch, reply, deadline, &mut clock);
        outcome
    }
}

/// The time context at `now`, with a 10 s operation timeout.
fn at<'a>(now: Instant, policy: &'a RetryPolicy, timers: &'a mut Timers) -> Clock<'a> {
    Clock {
        now,
        timeout: Duration::from_secs(10),
        policy,
        timers,
    }
}

const NEW_TWIN: &[u8] = br#"{"desired":{"$version":1},"reported":{"$version":1}}"#;

#[test]
fn the_first_get_makes_it_live_and_shows_desired_properties() {
    let mut bench = Bench::new();
    assert!(!bench.twin.is_live());
    bench.sync(br#"{"desired":{"fan":1,"$version":4},"reported":{"$version":2}}"#);
    assert!(bench.twin.is_live());
    let shown = bench.twin.desired_update().unwrap();
    assert_eq!(
        (shown.version().get(), shown.get("fan")),
        (4, Some(&json!(1)))
    );
    assert_eq!(bench.twin.desired_update(), None);
    bench
        .twin
        .on_desired(TwinVersion::new(5).unwrap(), br#"{"fan":2,"$version":5}"#);
    assert_eq!(
        bench.twin.desired_update().unwrap().get("fan"),
        Some(&json!(2))
    );
    bench
        .twin
        .on_desired(TwinVersion::new(5).unwrap(), br#"{"fan":3,"$version":5}"#);
    assert_eq!(bench.twin.desired_update(), None);
}

#[test]
fn a_throttled_get_is_retried_after_the_backoff() {
    let mut bench = Bench::new();
    bench.twin.connected();
    bench.pump();
    let (request, _) = bench.link.take_one();
    bench.answer(
        429,
        &request,
        None,
        br#"{"errorCode":429001,"message":"throttled"}"#,
    );
    assert!(!bench.twin.is_live());
    bench.pump();
    assert!(
        bench.link.published.is_empty(),
        "held back during the backoff"
    );
    bench.now += Duration::from_secs(1);
    bench.pump();
    let (again, _) = bench.link.take_one();
    assert_ne!(again, request);
    bench.answer(200, &again, None, NEW_TWIN);
    assert!(bench.twin.is_live());
}

#[test]
fn updates_made_offline_go_as_one_patch() {
    let mut bench = Bench::new();
    let first = bench.update(json!({"fw": {"state": "downloading"}}));
    let second = bench.update(json!({"fw": {"state": "applying"}, "rpm": 0}));
    assert_eq!(bench.twin.pending(), 2);
    bench.twin.connected();
    bench.pump();
    // The GET of the connection, then the two updates as one patch.
    assert_eq!(bench.link.published.len(), 2);
    let (topic, body) = bench.link.published.remove(1);
    let (get, _) = bench.link.take_one();
    bench.answer(200, &get, None, NEW_TWIN);
    let request = topic.parse::<DeviceTopic>().unwrap().request_id().clone();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        json!({"fw": {"state": "applying"}, "rpm": 0})
    );
    assert!(bench.twin.awaiting_answers());
    bench.answer(204, &request, Some(2), b"");
    let version = TwinVersion::new(2).unwrap();
    for mut outcome in [first, second] {
        assert_eq!(outcome.try_recv().unwrap(), Ok(version));
    }
    assert!(!bench.twin.awaiting_answers());
}

#[test]
fn throttled_patches_are_retried_and_rejected_ones_fail_with_the_hubs_words() {
    let mut bench = Bench::new();
    bench.sync(NEW_TWIN);
    let mut throttled = bench.update(json!({"a": 1}));
    bench.pump();
    let (request, _) = bench.link.take_one();
    bench.answer(503, &request, None, b"");
    bench.pump();
    assert!(bench.link.published.is_empty());
    bench.now += Duration::from_secs(1);
    bench.pump();
    let (again, body) = bench.link.take_one();
    assert_eq!(body, br#"{"a":1}"#);
    bench.answer(204, &again, Some(2), b"");
    assert_eq!(
        throttled.try_recv().unwrap(),
        Ok(TwinVersion::new(2).unwrap())
    );

    let mut rejected = bench.update(json!({"b": 1}));
    bench.pump();
    let (request, _) = bench.link.take_one();
    bench.answer(
        400,
        &request,
        None,
        br#"{"errorCode":400004,"trackingId":"x","message":"bad key"}"#,
    );
    assert_eq!(
        rejected.try_recv().unwrap(),
        Err(Error::Rejected {
            operation: Operation::UpdateReported,
            status: 400,
            error_code: Some(400_004),
            message: "bad key".into()
        })
    );
    let mut odd = bench.update(json!({"c": 1}));
    bench.pump();
    let (request, _) = bench.link.take_one();
    bench.answer(204, &request, None, b"");
    assert!(matches!(
        odd.try_recv().unwrap(),
        Err(Error::Protocol { .. })
    ));
}

#[test]
fn reads_retry_throttling_and_report_other_failures() {
    let mut bench = Bench::new();
    bench.sync(NEW_TWIN);
    let (reply, mut outcome) = oneshot::channel();
    let deadline = bench.now + Duration::from_secs(10);
    bench.get(reply, deadline);
    bench.pump();
    let (request, _) = bench.link.take_one();
    bench.answer(429, &request, None, b"");
    bench.now += Duration::from_secs(1);
    bench.pump();
    let (again, _) = bench.link.take_one();
    bench.answer(
        200,
        &again,
        None,
        br#"{"desired":{"x":1,"$version":3},"reported":{"$version":9}}"#,
    );
    let state: TwinState = outcome.try_recv().unwrap().unwrap();
    assert_eq!(state.reported().version().get(), 9);

    let (reply, mut outcome) = oneshot::channel();
    bench.get(reply, deadline);
    bench.pump();
    let (request, _) = bench.link.take_one();
    bench.answer(404, &request, None, b"not json");
    assert_eq!(
        outcome.try_recv().unwrap().unwrap_err(),
        Error::Rejected {
            operation: Operation::GetTwin,
            status: 404,
            error_code: None,
            message: "not json".into()
        }
    );
}

#[test]
fn deadlines_end_operations_and_resend_unanswered_requests() {
    let mut bench = Bench::new();
    bench.sync(NEW_TWIN);
    let mut update = bench.update(json!({"a": 1}));
    let (reply, mut read) = oneshot::channel();
    let deadline = bench.now + Duration::from_secs(10);
    bench.get(reply, deadline);
    bench.pump();
    assert_eq!(bench.link.published.len(), 2);
    bench.link.published.clear();

    bench.now += Duration::from_secs(10);
    bench.fire();
    assert!(matches!(
        update.try_recv().unwrap(),
        Err(Error::Timeout {
            operation: Operation::UpdateReported,
            ..
        })
    ));
    assert!(matches!(
        read.try_recv().unwrap(),
        Err(Error::Timeout {
            operation: Operation::GetTwin,
            ..
        })
    ));
    // The unanswered patch goes again: a timed-out update stays queued.
    bench.pump();
    let (_, body) = bench.link.take_one();
    assert_eq!(body, br#"{"a":1}"#);
    assert_eq!(bench.twin.pending(), 0);
}

#[test]
fn a_lost_connection_resends_what_was_in_flight() {
    let mut bench = Bench::new();
    bench.sync(NEW_TWIN);
    let mut update = bench.update(json!({"a": 1}));
    bench.pump();
    bench.link.published.clear();
    bench.twin.connection_lost();
    assert!(!bench.twin.awaiting_answers());
    let mut later = bench.update(json!({"b": 2}));
    bench.twin.connected();
    bench.link.full = true;
    bench.pump();
    assert!(
        bench.link.published.is_empty(),
        "nothing goes while the connection is busy"
    );
    bench.link.full = false;
    bench.pump();
    // The desired GET of the new connection, and the resent patch composed with the new one.
    assert_eq!(bench.link.published.len(), 2);
    let (topic, body) = bench.link.published.remove(1);
    assert_eq!(body, br#"{"a":1,"b":2}"#);
    let request = topic.parse::<DeviceTopic>().unwrap().request_id().clone();
    bench.answer(204, &request, Some(2), b"");
    let version = TwinVersion::new(2).unwrap();
    assert_eq!(update.try_recv().unwrap(), Ok(version));
    assert_eq!(later.try_recv().unwrap(), Ok(version));
    bench.twin.fail_all(&Error::Closed);
}
