use serde_json::{Value, json};

use super::*;

fn v(n: u64) -> TwinVersion {
    TwinVersion::new(n).unwrap()
}

fn patch(value: Value) -> Patch {
    Patch::from_value(value).unwrap()
}

fn twin(desired: Value, version: u64) -> TwinState {
    let mut desired = desired;
    desired["$version"] = json!(version);
    TwinState::from_value(json!({"desired": desired, "reported": {"$version": 1}})).unwrap()
}

fn content(sync: &DesiredSync) -> Value {
    Value::Object(sync.desired().0.clone())
}

/// Connects and returns the request id of the `GET` the machine asks for.
fn connect(sync: &mut DesiredSync) -> RequestId {
    sync.handle_connected().unwrap();
    get_request(sync)
}

fn get_request(sync: &mut DesiredSync) -> RequestId {
    match sync.poll_command() {
        Some(SyncCommand::GetTwin { request_id }) => request_id,
        other => panic!("expected a GET, got {other:?}"),
    }
}

/// A machine live at `version` with `desired`, its first event taken.
fn live(desired: Value, version: u64) -> DesiredSync {
    let mut sync = DesiredSync::new();
    let rid = connect(&mut sync);
    assert!(
        sync.handle_get_response(&rid, twin(desired, version))
            .unwrap()
    );
    assert!(sync.poll_event().is_some());
    assert_eq!(sync.state(), SyncState::Live);
    sync
}

fn event(sync: &mut DesiredSync) -> (u64, Value) {
    let change = sync.poll_event().expect("an event");
    (change.version().get(), change.into_parts().1.into_value())
}

#[test]
fn refuses_everything_but_connecting_while_disconnected() {
    let mut sync = DesiredSync::new();
    assert_eq!(sync.state(), SyncState::Disconnected);
    let refused = |input| SyncError::InvalidTransition {
        state: SyncState::Disconnected,
        input,
    };
    assert_eq!(
        sync.handle_desired(Patch::new(), v(2)),
        Err(refused(SyncInput::Desired))
    );
    let rid: RequestId = "g1".parse().unwrap();
    assert_eq!(
        sync.handle_get_response(&rid, twin(json!({}), 1)),
        Err(refused(SyncInput::GetResponse))
    );
    assert_eq!(
        sync.handle_get_failed(&rid),
        Err(refused(SyncInput::GetFailed))
    );
    assert_eq!(
        sync.handle_connection_lost(),
        Err(refused(SyncInput::ConnectionLost))
    );
    assert_eq!(sync.poll_command(), None);
    assert_eq!(sync.buffered(), 0);
}

#[test]
fn connecting_queues_exactly_one_get() {
    let mut sync = DesiredSync::new();
    sync.handle_connected().unwrap();
    assert_eq!(sync.state(), SyncState::GetQueued);
    assert_eq!(
        sync.handle_connected(),
        Err(SyncError::InvalidTransition {
            state: SyncState::GetQueued,
            input: SyncInput::Connected
        })
    );
    let command = sync.poll_command().unwrap();
    assert_eq!(command.topic().to_string(), "$iothub/twin/GET/?$rid=g1");
    assert_eq!(sync.state(), SyncState::AwaitingGet);
    assert_eq!(sync.poll_command(), None);
    let SyncCommand::GetTwin { request_id } = command;
    assert!(sync.awaits(&request_id));
}

#[test]
fn the_first_answer_is_the_whole_section_as_one_change() {
    let mut sync = DesiredSync::new();
    assert_eq!(sync.desired().1, None);
    let rid = connect(&mut sync);
    let state = twin(json!({"fan": {"rpm": 900}, "mode": "eco"}), 4);
    assert_eq!(sync.handle_get_response(&rid, state), Ok(true));
    assert_eq!(sync.state(), SyncState::Live);
    assert_eq!(sync.desired().1, Some(v(4)));
    assert_eq!(
        event(&mut sync),
        (4, json!({"fan": {"rpm": 900}, "mode": "eco"}))
    );
    assert_eq!(sync.poll_event(), None);
}

#[test]
fn an_empty_twin_still_reports_its_version() {
    let mut sync = DesiredSync::new();
    let rid = connect(&mut sync);
    sync.handle_get_response(&rid, twin(json!({}), 1)).unwrap();
    assert_eq!(event(&mut sync), (1, json!({})));
}

#[test]
fn answers_to_other_requests_are_ignored() {
    let mut sync = DesiredSync::new();
    let rid = connect(&mut sync);
    let other: RequestId = "g99".parse().unwrap();
    assert_eq!(
        sync.handle_get_response(&other, twin(json!({"a": 1}), 3)),
        Ok(false)
    );
    assert_eq!(sync.handle_get_failed(&other), Ok(false));
    assert_eq!(sync.state(), SyncState::AwaitingGet);
    assert_eq!(sync.desired().1, None);
    assert!(sync.handle_get_response(&rid, twin(json!({}), 2)).unwrap());
    // The same answer twice: the second is no longer awaited.
    assert_eq!(
        sync.handle_get_response(&rid, twin(json!({"a": 1}), 3)),
        Ok(false)
    );
    assert_eq!(sync.desired().1, Some(v(2)));
}

#[test]
fn the_next_version_applies_and_reports_the_exact_change() {
    let mut sync = live(json!({"a": 1, "b": {"c": 2, "d": 3}}), 5);
    let note = patch(json!({"a": null, "b": {"c": 20, "x": null}, "e": {"f": null}}));
    sync.handle_desired(note, v(6)).unwrap();
    assert_eq!(sync.desired().1, Some(v(6)));
    assert_eq!(content(&sync), json!({"b": {"c": 20, "d": 3}, "e": {}}));
    // `x` did not exist, so deleting it is no change.
    assert_eq!(
        event(&mut sync),
        (6, json!({"a": null, "b": {"c": 20}, "e": {}}))
    );
}

#[test]
fn a_change_that_changes_nothing_still_moves_the_version() {
    let mut sync = live(json!({"a": 1}), 5);
    sync.handle_desired(patch(json!({"a": 1})), v(6)).unwrap();
    assert_eq!(event(&mut sync), (6, json!({})));
}

#[test]
fn stale_and_duplicate_notifications_are_dropped() {
    let mut sync = live(json!({"a": 1}), 5);
    sync.handle_desired(patch(json!({"a": 2})), v(5)).unwrap();
    sync.handle_desired(patch(json!({"a": 3})), v(4)).unwrap();
    assert_eq!(sync.poll_event(), None);
    assert_eq!(content(&sync), json!({"a": 1}));
    sync.handle_desired(patch(json!({"a": 6})), v(6)).unwrap();
    sync.handle_desired(patch(json!({"a": 7})), v(6)).unwrap();
    assert_eq!(event(&mut sync), (6, json!({"a": 6})));
    assert_eq!(sync.poll_event(), None);
    assert_eq!(sync.buffered(), 0);
}

#[test]
fn a_gap_fetches_the_twin_and_replays_what_came_after() {
    let mut sync = live(json!({"a": 1}), 5);
    sync.handle_desired(patch(json!({"c": 8})), v(8)).unwrap();
    assert_eq!(sync.state(), SyncState::GetQueued);
    assert_eq!(sync.buffered(), 1);
    assert_eq!(sync.poll_event(), None);
    let rid = get_request(&mut sync);
    sync.handle_desired(patch(json!({"d": 9})), v(9)).unwrap();
    // The hub answered at version 7, before 8 and 9 were made.
    let state = twin(json!({"a": 1, "b": 7}), 7);
    assert!(sync.handle_get_response(&rid, state).unwrap());
    assert_eq!(sync.state(), SyncState::Live);
    assert_eq!(sync.desired().1, Some(v(9)));
    assert_eq!(content(&sync), json!({"a": 1, "b": 7, "c": 8, "d": 9}));
    assert_eq!(event(&mut sync), (9, json!({"b": 7, "c": 8, "d": 9})));
    assert_eq!(sync.buffered(), 0);
}

#[test]
fn a_missing_version_arriving_late_fills_the_gap() {
    let mut sync = live(json!({}), 5);
    sync.handle_desired(patch(json!({"b": 7})), v(7)).unwrap();
    let rid = get_request(&mut sync);
    sync.handle_desired(patch(json!({"a": 6})), v(6)).unwrap();
    assert_eq!(sync.desired().1, Some(v(7)));
    assert_eq!(event(&mut sync), (7, json!({"a": 6, "b": 7})));
    // The answer shows an older version: nothing changes, no event.
    assert!(sync.handle_get_response(&rid, twin(json!({}), 5)).unwrap());
    assert_eq!(sync.state(), SyncState::Live);
    assert_eq!(sync.desired().1, Some(v(7)));
    assert_eq!(sync.poll_event(), None);
}

#[test]
fn a_newer_answer_is_one_synthetic_change_from_the_applications_view() {
    let mut sync = live(json!({"a": 1, "b": {"c": 2}, "gone": true}), 5);
    sync.handle_connection_lost().unwrap();
    let rid = connect(&mut sync);
    let state = twin(json!({"a": 1, "b": {"c": 3, "d": 4}, "new": [1, 2]}), 9);
    assert!(sync.handle_get_response(&rid, state).unwrap());
    assert_eq!(
        event(&mut sync),
        (
            9,
            json!({"gone": null, "b": {"c": 3, "d": 4}, "new": [1, 2]})
        )
    );
    assert_eq!(sync.poll_event(), None);
}

#[test]
fn notifications_before_the_first_answer_are_replayed_on_it() {
    let mut sync = DesiredSync::new();
    let rid = connect(&mut sync);
    sync.handle_desired(patch(json!({"a": 2})), v(2)).unwrap();
    sync.handle_desired(patch(json!({"b": 4})), v(4)).unwrap();
    sync.handle_desired(patch(json!({"c": 3})), v(3)).unwrap();
    assert_eq!(sync.buffered(), 3);
    assert_eq!(sync.poll_event(), None);
    // Answered at version 2: the copy already holds the change of version 2.
    assert!(
        sync.handle_get_response(&rid, twin(json!({"a": 2}), 2))
            .unwrap()
    );
    assert_eq!(sync.state(), SyncState::Live);
    assert_eq!(event(&mut sync), (4, json!({"a": 2, "b": 4, "c": 3})));
}

#[test]
fn every_reconnect_fetches_and_applies_the_next_version_meanwhile() {
    let mut sync = live(json!({"a": 1}), 5);
    sync.handle_connection_lost().unwrap();
    assert_eq!(sync.state(), SyncState::Disconnected);
    let rid = connect(&mut sync);
    sync.handle_desired(patch(json!({"a": 6})), v(6)).unwrap();
    sync.handle_desired(patch(json!({"a": 8})), v(8)).unwrap();
    assert_eq!(event(&mut sync), (6, json!({"a": 6})));
    assert_eq!(sync.state(), SyncState::AwaitingGet);
    assert!(
        sync.handle_get_response(&rid, twin(json!({"a": 7}), 7))
            .unwrap()
    );
    assert_eq!(event(&mut sync), (8, json!({"a": 8})));
    assert_eq!(sync.state(), SyncState::Live);
}

#[test]
fn a_get_in_flight_is_forgotten_with_its_connection() {
    let mut sync = live(json!({"a": 1}), 5);
    sync.handle_connection_lost().unwrap();
    let old = connect(&mut sync);
    sync.handle_connection_lost().unwrap();
    let new = connect(&mut sync);
    assert_ne!(old, new);
    assert_eq!(
        sync.handle_get_response(&old, twin(json!({"a": 2}), 6)),
        Ok(false)
    );
    assert!(
        sync.handle_get_response(&new, twin(json!({"a": 3}), 7))
            .unwrap()
    );
    assert_eq!(event(&mut sync), (7, json!({"a": 3})));
}

#[test]
fn a_failed_get_is_sent_again_with_a_new_request_id() {
    let mut sync = DesiredSync::new();
    let first = connect(&mut sync);
    assert_eq!(sync.handle_get_failed(&first), Ok(true));
    assert_eq!(sync.state(), SyncState::GetQueued);
    let second = get_request(&mut sync);
    assert_ne!(first, second);
    assert_eq!(
        sync.handle_get_response(&first, twin(json!({}), 2)),
        Ok(false)
    );
    assert!(
        sync.handle_get_response(&second, twin(json!({}), 2))
            .unwrap()
    );
}

#[test]
fn an_overflowing_buffer_leaves_the_rest_to_another_get() {
    let mut sync = live(json!({}), 1).with_buffer_limit(2);
    for n in [3, 4, 5, 6] {
        sync.handle_desired(patch(json!({ format!("k{n}"): n })), v(n))
            .unwrap();
    }
    assert_eq!(sync.buffered(), 2);
    let rid = get_request(&mut sync);
    // Answered at version 2: 3 and 4 replay, 5 and 6 were dropped, so ask again.
    assert!(
        sync.handle_get_response(&rid, twin(json!({"k2": 2}), 2))
            .unwrap()
    );
    assert_eq!(sync.desired().1, Some(v(4)));
    assert_eq!(sync.state(), SyncState::GetQueued);
    assert_eq!(event(&mut sync), (4, json!({"k2": 2, "k3": 3, "k4": 4})));
    let rid = get_request(&mut sync);
    let full = json!({"k2": 2, "k3": 3, "k4": 4, "k5": 5, "k6": 6});
    assert!(sync.handle_get_response(&rid, twin(full, 6)).unwrap());
    assert_eq!(sync.state(), SyncState::Live);
    assert_eq!(event(&mut sync), (6, json!({"k5": 5, "k6": 6})));
}

#[test]
fn without_a_buffer_every_gap_is_left_to_the_get() {
    let mut sync = live(json!({}), 1).with_buffer_limit(0);
    sync.handle_desired(patch(json!({"a": 3})), v(3)).unwrap();
    assert_eq!(sync.buffered(), 0);
    let rid = get_request(&mut sync);
    assert!(
        sync.handle_get_response(&rid, twin(json!({"a": 2}), 2))
            .unwrap()
    );
    assert_eq!(sync.state(), SyncState::GetQueued);
    let rid = get_request(&mut sync);
    assert!(
        sync.handle_get_response(&rid, twin(json!({"a": 3}), 3))
            .unwrap()
    );
    assert_eq!(sync.state(), SyncState::Live);
}

#[test]
fn a_slow_application_sees_one_net_change_and_no_version_twice() {
    let mut sync = live(json!({"a": 1, "b": 1}), 5);
    sync.handle_desired(patch(json!({"a": 2, "c": {"d": 1}})), v(6))
        .unwrap();
    sync.handle_desired(patch(json!({"a": 1, "c": null})), v(7))
        .unwrap();
    sync.handle_desired(patch(json!({"b": null})), v(8))
        .unwrap();
    assert_eq!(event(&mut sync), (8, json!({"b": null})));
    assert_eq!(sync.poll_event(), None);
    // A reconnect whose answer shows the same version adds nothing.
    sync.handle_connection_lost().unwrap();
    let rid = connect(&mut sync);
    assert!(
        sync.handle_get_response(&rid, twin(json!({"a": 1}), 8))
            .unwrap()
    );
    assert_eq!(sync.poll_event(), None);
}

#[test]
fn request_ids_come_from_the_given_sequence() {
    let mut sync = DesiredSync::default().with_request_ids(RequestIds::new("twin-get-").unwrap());
    assert_eq!(connect(&mut sync).as_str(), "twin-get-1");
}
