//! The progress stream against a scripted stand-in for the hub: the queries of a round as
//! sent, snapshots only when the counts change, errors that may pass skipped over, errors
//! that will not pass ending the stream, and the deadline ending it with the last counts.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use iot_service_sdk::patterns::{ProgressOutcome, ProgressQuery};
use iot_service_sdk::{RetryPolicy, ServiceClient, ServiceError, field};
use serde_json::Value;
use support::fake::{Answer, FakeHub};
use support::within;

const CONNECTION_STRING: &str = "HostName=myhub.azure-devices.net;SharedAccessKeyName=iothubowner;\
     SharedAccessKey=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn client(fake: &FakeHub) -> ServiceClient {
    ServiceClient::builder(CONNECTION_STRING)
        .endpoint_addr(fake.addr)
        .plain_http()
        .request_timeout(Duration::from_secs(5))
        .retry_policy(
            RetryPolicy::new(0, Duration::from_millis(5), Duration::from_millis(5)).unwrap(),
        )
        .build()
        .unwrap()
}

/// The two answers of a round without failures: the count, then the count per status.
fn round(targeted: u64, applied: u64) -> [Answer; 2] {
    [
        Answer::json(200, &format!(r#"[{{"devices":{targeted}}}]"#)),
        Answer::json(
            200,
            &format!(
                r#"[{{"status":"applied","devices":{applied}}},{{"devices":{}}}]"#,
                targeted - applied
            ),
        ),
    ]
}

fn firmware() -> ProgressQuery {
    ProgressQuery::new("firmware")
        .scope(field("tags.ring").eq("canary"))
        .succeeded(["applied"])
}

#[tokio::test]
async fn rounds_send_their_queries_and_yield_only_changes() {
    let mut script = Vec::new();
    for applied in [0, 0, 1, 2] {
        script.extend(round(2, applied));
    }
    let fake = FakeHub::start(script).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut progress = firmware()
        .follow(&client(&fake), Duration::from_millis(10), deadline)
        .unwrap();
    let mut seen = Vec::new();
    while let Some(snapshot) = within(progress.next()).await {
        let snapshot = snapshot.unwrap();
        seen.push((snapshot.succeeded, snapshot.pending, snapshot.outcome));
    }
    assert_eq!(
        seen,
        [
            (0, 2, None),
            (1, 1, None),
            (2, 0, Some(ProgressOutcome::Finished))
        ]
    );
    let received = fake.received();
    assert_eq!(received.len(), 8);
    let first: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(
        first["query"],
        "SELECT COUNT() AS devices FROM devices WHERE tags.ring = 'canary'"
    );
    let second: Value = serde_json::from_slice(&received[1].body).unwrap();
    assert_eq!(
        second["query"],
        "SELECT properties.reported.firmware.status AS status, COUNT() AS devices FROM devices \
         WHERE tags.ring = 'canary' GROUP BY properties.reported.firmware.status"
    );
}

#[tokio::test]
async fn errors_that_may_pass_are_yielded_and_skipped_over() {
    let mut script = vec![Answer::json(503, "{}")];
    script.extend(round(1, 1));
    let fake = FakeHub::start(script).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut progress = firmware()
        .follow(&client(&fake), Duration::from_millis(10), deadline)
        .unwrap();
    let error = within(progress.next()).await.unwrap().unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    let snapshot = within(progress.next()).await.unwrap().unwrap();
    assert_eq!(snapshot.outcome, Some(ProgressOutcome::Finished));
    assert!(within(progress.next()).await.is_none());
}

#[tokio::test]
async fn other_errors_end_the_stream() {
    let fake = FakeHub::start(vec![Answer::json(
        400,
        r#"{"Message":"ErrorCode:ArgumentInvalid;bad query"}"#,
    )])
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let progress = firmware()
        .follow(&client(&fake), Duration::from_millis(10), deadline)
        .unwrap();
    let error = within(progress.last()).await.unwrap_err();
    assert!(
        matches!(error, ServiceError::BadRequest { status: 400, .. }),
        "{error:?}"
    );
    assert_eq!(fake.received().len(), 1);
}

#[tokio::test]
async fn the_deadline_ends_the_stream_with_the_last_counts() {
    let mut script = Vec::new();
    for _ in 0..200 {
        script.extend(round(3, 1));
    }
    let fake = FakeHub::start(script).await;
    let deadline = Instant::now() + Duration::from_millis(200);
    let progress = firmware()
        .follow(&client(&fake), Duration::from_millis(20), deadline)
        .unwrap();
    let last = within(progress.last()).await.unwrap();
    assert_eq!(last.outcome, Some(ProgressOutcome::DeadlinePassed));
    assert_eq!((last.targeted, last.succeeded, last.pending), (3, 1, 2));
    assert!(!last.is_done());
    assert!(matches!(
        firmware().follow(&client(&fake), Duration::ZERO, deadline),
        Err(ServiceError::OutOfRange { .. })
    ));
}
