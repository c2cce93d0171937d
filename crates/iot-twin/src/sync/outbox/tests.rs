use serde_json::{Value, json};

use super::*;
use crate::TwinError;

fn v(n: u64) -> TwinVersion {
    TwinVersion::new(n).unwrap()
}

fn patch(value: Value) -> Patch {
    Patch::from_value(value).unwrap()
}

fn connected() -> ReportedOutbox {
    let mut outbox = ReportedOutbox::new(Limits::default());
    outbox.handle_connected().unwrap();
    outbox
}

/// Takes the patch to send, as JSON, with its request id.
fn send(outbox: &mut ReportedOutbox) -> (RequestId, Value) {
    let (rid, patch) = outbox.poll_send().expect("a patch to send");
    (rid.clone(), patch.clone().into_value())
}

fn results(outbox: &mut ReportedOutbox) -> Vec<(Ticket, ReportOutcome)> {
    std::iter::from_fn(|| outbox.poll_ticket_result()).collect()
}

fn applied(n: u64) -> ReportOutcome {
    ReportOutcome::Applied { version: v(n) }
}

fn rejected(status: u16, resent: bool) -> ReportOutcome {
    ReportOutcome::Rejected {
        status,
        body: br#"{"errorCode":400004}"#.to_vec(),
        resent,
    }
}

#[test]
fn updates_coalesce_while_disconnected() {
    let mut outbox = ReportedOutbox::new(Limits::default());
    let a = outbox
        .enqueue(patch(json!({"fw": {"state": "downloading", "pct": 10}})))
        .unwrap();
    let b = outbox
        .enqueue(patch(json!({"fw": {"pct": 90}, "old": null})))
        .unwrap();
    let c = outbox
        .enqueue(patch(json!({"fw": {"state": "applying"}})))
        .unwrap();
    assert_eq!(outbox.poll_send(), None);
    assert!(!outbox.is_idle());
    outbox.handle_connected().unwrap();
    let (rid, sent) = send(&mut outbox);
    assert_eq!(rid.as_str(), "r1");
    assert_eq!(
        sent,
        json!({"fw": {"state": "applying", "pct": 90}, "old": null})
    );
    assert_eq!(outbox.poll_send(), None);
    assert!(outbox.handle_ack(&rid, v(3)));
    assert_eq!(
        results(&mut outbox),
        [(a, applied(3)), (b, applied(3)), (c, applied(3))]
    );
    assert!(outbox.is_idle());
    assert_eq!(outbox.queued_size(), 0);
}

#[test]
fn patches_that_do_not_compose_go_one_after_the_other() {
    let mut outbox = connected();
    outbox.enqueue(patch(json!({"a": null}))).unwrap();
    outbox.enqueue(patch(json!({"a": {"b": 1}}))).unwrap();
    let (first, sent) = send(&mut outbox);
    assert_eq!(sent, json!({"a": null}));
    assert!(outbox.handle_ack(&first, v(2)));
    let (second, sent) = send(&mut outbox);
    assert_eq!(sent, json!({"a": {"b": 1}}));
    assert!(outbox.handle_ack(&second, v(3)));
    let versions: Vec<_> = results(&mut outbox).into_iter().map(|(_, o)| o).collect();
    assert_eq!(versions, [applied(2), applied(3)]);
}

#[test]
fn updates_wait_while_one_patch_is_in_flight() {
    let mut outbox = connected();
    outbox.enqueue(patch(json!({"a": 1}))).unwrap();
    let (rid, _) = send(&mut outbox);
    outbox.enqueue(patch(json!({"a": 2}))).unwrap();
    outbox.enqueue(patch(json!({"b": 2}))).unwrap();
    assert_eq!(outbox.poll_send(), None);
    assert!(outbox.awaits(&rid));
    assert!(outbox.handle_ack(&rid, v(2)));
    let (_, sent) = send(&mut outbox);
    assert_eq!(sent, json!({"a": 2, "b": 2}));
}

#[test]
fn answers_to_other_requests_are_ignored() {
    let mut outbox = connected();
    let ticket = outbox.enqueue(patch(json!({"a": 1}))).unwrap();
    let (rid, _) = send(&mut outbox);
    let other: RequestId = "g1".parse().unwrap();
    assert!(!outbox.handle_ack(&other, v(2)));
    assert!(!outbox.handle_rejected(&other, 400, b""));
    assert!(!outbox.handle_retry(&other));
    assert_eq!(outbox.poll_ticket_result(), None);
    assert!(outbox.handle_ack(&rid, v(2)));
    assert!(!outbox.handle_ack(&rid, v(3)));
    assert_eq!(results(&mut outbox), [(ticket, applied(2))]);
}

#[test]
fn a_rejection_fails_exactly_the_tickets_it_carried() {
    let mut outbox = connected();
    let a = outbox.enqueue(patch(json!({"a": 1}))).unwrap();
    let b = outbox.enqueue(patch(json!({"b": 1}))).unwrap();
    let (rid, _) = send(&mut outbox);
    let c = outbox.enqueue(patch(json!({"c": 1}))).unwrap();
    assert!(outbox.handle_rejected(&rid, 400, br#"{"errorCode":400004}"#));
    assert_eq!(
        results(&mut outbox),
        [(a, rejected(400, false)), (b, rejected(400, false))]
    );
    let (rid, sent) = send(&mut outbox);
    assert_eq!(sent, json!({"c": 1}));
    assert!(outbox.handle_ack(&rid, v(2)));
    assert_eq!(results(&mut outbox), [(c, applied(2))]);
}

#[test]
fn a_patch_in_flight_is_resent_composed_with_what_waits() {
    let mut outbox = connected();
    let a = outbox.enqueue(patch(json!({"a": 1, "n": 1}))).unwrap();
    let (first, _) = send(&mut outbox);
    let b = outbox.enqueue(patch(json!({"b": 1, "n": 2}))).unwrap();
    outbox.handle_connection_lost().unwrap();
    assert_eq!(outbox.poll_send(), None);
    assert!(!outbox.awaits(&first));
    outbox.handle_connected().unwrap();
    let (second, sent) = send(&mut outbox);
    assert_ne!(first, second);
    assert_eq!(sent, json!({"a": 1, "b": 1, "n": 2}));
    // A late answer to the first copy is not taken for the second.
    assert!(!outbox.handle_ack(&first, v(2)));
    assert!(outbox.handle_ack(&second, v(3)));
    assert_eq!(results(&mut outbox), [(a, applied(3)), (b, applied(3))]);
}

#[test]
fn a_rejected_composed_resend_is_split_so_only_the_bad_part_fails() {
    let mut outbox = connected();
    let a = outbox.enqueue(patch(json!({"a": 1}))).unwrap();
    let (first, _) = send(&mut outbox);
    let b = outbox.enqueue(patch(json!({"b": 1}))).unwrap();
    assert!(outbox.handle_retry(&first));
    let (combined, sent) = send(&mut outbox);
    assert_eq!(sent, json!({"a": 1, "b": 1}));
    let c = outbox.enqueue(patch(json!({"c": 1}))).unwrap();
    assert!(outbox.handle_rejected(&combined, 400, br#"{"errorCode":400004}"#));
    assert_eq!(outbox.poll_ticket_result(), None);
    // The resent patch goes alone; its own answer settles it.
    let (alone, sent) = send(&mut outbox);
    assert_eq!(sent, json!({"a": 1}));
    assert!(outbox.handle_ack(&alone, v(2)));
    // Then the part that waited, not composed with later updates.
    let (fresh, sent) = send(&mut outbox);
    assert_eq!(sent, json!({"b": 1}));
    assert!(outbox.handle_rejected(&fresh, 400, br#"{"errorCode":400004}"#));
    let (last, sent) = send(&mut outbox);
    assert_eq!(sent, json!({"c": 1}));
    assert!(outbox.handle_ack(&last, v(3)));
    assert_eq!(
        results(&mut outbox),
        [(a, applied(2)), (b, rejected(400, false)), (c, applied(3))]
    );
}

#[test]
fn a_resent_patch_rejected_alone_says_so() {
    let mut outbox = connected();
    let a = outbox.enqueue(patch(json!({"a": 1}))).unwrap();
    let (first, _) = send(&mut outbox);
    outbox.handle_connection_lost().unwrap();
    outbox.handle_connected().unwrap();
    let (second, sent) = send(&mut outbox);
    assert_eq!(sent, json!({"a": 1}));
    assert_ne!(first, second);
    assert!(outbox.handle_rejected(&second, 400, br#"{"errorCode":400004}"#));
    assert_eq!(results(&mut outbox), [(a, rejected(400, true))]);
}

#[test]
fn a_composed_resend_lost_again_is_resent_unchanged() {
    let mut outbox = connected();
    let a = outbox.enqueue(patch(json!({"a": 1}))).unwrap();
    let (first, _) = send(&mut outbox);
    outbox.enqueue(patch(json!({"b": 1}))).unwrap();
    assert!(outbox.handle_retry(&first));
    let (second, _) = send(&mut outbox);
    outbox.enqueue(patch(json!({"c": 1}))).unwrap();
    outbox.handle_connection_lost().unwrap();
    outbox.handle_connected().unwrap();
    let (third, sent) = send(&mut outbox);
    assert_ne!(second, third);
    assert_eq!(sent, json!({"a": 1, "b": 1}));
    assert!(outbox.handle_ack(&third, v(4)));
    let (_, sent) = send(&mut outbox);
    assert_eq!(sent, json!({"c": 1}));
    assert_eq!(results(&mut outbox)[0], (a, applied(4)));
}

#[test]
fn enqueue_checks_the_hubs_limits() {
    let limits = Limits::default().with_max_string_bytes(4);
    let mut outbox = ReportedOutbox::new(limits);
    assert!(matches!(
        outbox.enqueue(patch(json!({"a": {"b": "too long"}}))),
        Err(OutboxError::Invalid(TwinError::StringTooLong { path, .. })) if path == "a.b"
    ));
    assert!(outbox.is_idle());
    let deep = patch(
        json!({"1": {"2": {"3": {"4": {"5": {"6": {"7": {"8": {"9": {"10": {"11": {"12": 1}}}}}}}}}}}}),
    );
    assert!(matches!(
        ReportedOutbox::new(Limits::default()).enqueue(deep),
        Err(OutboxError::Invalid(TwinError::TooDeep { .. }))
    ));
}

#[test]
fn a_full_outbox_refuses_the_update_and_keeps_the_rest() {
    let limits = Limits::default().with_max_section_bytes(SectionKind::Reported, 20);
    let mut outbox = ReportedOutbox::new(limits);
    let a = outbox.enqueue(patch(json!({"a": "0123456789"}))).unwrap();
    assert_eq!(outbox.queued_size(), 11);
    // Overwriting composes into the same size.
    let b = outbox.enqueue(patch(json!({"a": "9876543210"}))).unwrap();
    assert_eq!(outbox.queued_size(), 11);
    assert_eq!(
        outbox.enqueue(patch(json!({"b": "0123456789"}))),
        Err(OutboxError::Full {
            size: 22,
            limit: 20
        })
    );
    // Deletions count their key.
    assert_eq!(
        outbox.enqueue(patch(json!({"abcdefghij": null}))),
        Err(OutboxError::Full {
            size: 21,
            limit: 20
        })
    );
    outbox.enqueue(patch(json!({"x": null}))).unwrap();
    outbox.handle_connected().unwrap();
    let (rid, sent) = send(&mut outbox);
    assert_eq!(sent, json!({"a": "9876543210", "x": null}));
    assert!(outbox.handle_ack(&rid, v(2)));
    assert_eq!(
        results(&mut outbox)[..2],
        [(a, applied(2)), (b, applied(2))]
    );
}

#[test]
fn a_resend_is_not_composed_past_the_size_limit() {
    let limits = Limits::default().with_max_section_bytes(SectionKind::Reported, 12);
    let mut outbox = ReportedOutbox::new(limits);
    outbox.handle_connected().unwrap();
    outbox.enqueue(patch(json!({"a": "0123456789"}))).unwrap();
    let (rid, _) = send(&mut outbox);
    outbox.enqueue(patch(json!({"b": "0123456789"}))).unwrap();
    assert!(outbox.handle_retry(&rid));
    let (rid, sent) = send(&mut outbox);
    assert_eq!(sent, json!({"a": "0123456789"}));
    assert!(outbox.handle_ack(&rid, v(2)));
    let (_, sent) = send(&mut outbox);
    assert_eq!(sent, json!({"b": "0123456789"}));
}

#[test]
fn connection_inputs_are_checked() {
    let mut outbox = ReportedOutbox::new(Limits::default());
    assert!(!outbox.is_connected());
    assert_eq!(
        outbox.handle_connection_lost(),
        Err(OutboxError::NotConnected)
    );
    outbox.handle_connected().unwrap();
    assert!(outbox.is_connected());
    assert_eq!(
        outbox.handle_connected(),
        Err(OutboxError::AlreadyConnected)
    );
}

#[test]
fn request_ids_come_from_the_given_sequence() {
    let ids = RequestIds::new("twin-patch-").unwrap();
    let mut outbox = ReportedOutbox::new(Limits::default()).with_request_ids(ids);
    outbox.handle_connected().unwrap();
    outbox.enqueue(Patch::new()).unwrap();
    assert_eq!(send(&mut outbox).0.as_str(), "twin-patch-1");
}
