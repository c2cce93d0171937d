//! Pairs what the driver hands the MQTT event loop with the packet ids the event loop assigns,
//! so that every PUBACK and SUBACK reaches the operation it answers.
//!
//! The event loop takes requests from its channel one at a time, in order, and reports each
//! with an `Outgoing` event once written: `Publish(pkid)`, `Subscribe(pkid)`, `PubAck(pkid)`,
//! `Disconnect`. Only this driver writes to the channel, so the n-th such event belongs to the
//! n-th request submitted. Two events do not come from the channel: `PingReq` (keep-alive) and
//! the delayed `Publish(pkid)` of a publish whose packet id collided with one still in flight,
//! which the event loop first reports as `AwaitAck(pkid)` and sends once that id is
//! acknowledged.

use std::collections::{HashMap, VecDeque};

/// What a publish carries, for the driver to act on its PUBACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum PublishTag {
    /// Telemetry operation `id`: its PUBACK completes it.
    Telemetry(u64),
    /// Method response `id`: its PUBACK means the hub has it.
    MethodResponse(u64),
    /// A twin request, answered on the twin response topic instead.
    Twin,
}

/// A request handed to the event loop and not reported yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Submitted {
    Publish(PublishTag),
    Subscribe,
    Ack,
    Disconnect,
}

/// What an outgoing event told the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Written {
    /// Nothing the driver waits for.
    Nothing,
    /// The SUBSCRIBE went out with this packet id.
    Subscribe(u16),
    /// The DISCONNECT went out.
    Disconnect,
}

/// An outgoing event of the event loop, without the dependency's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OutgoingEvent {
    Publish(u16),
    Subscribe(u16),
    PubAck(u16),
    Disconnect,
    AwaitAck(u16),
    /// Anything not from the channel (pings) or not used by the driver.
    Other,
}

/// The correlation state of one connection.
#[derive(Debug, Default)]
pub(super) struct Correlator {
    submitted: VecDeque<Submitted>,
    in_flight: HashMap<u16, PublishTag>,
    /// A publish whose packet id collided; it goes out once that id is acknowledged.
    collided: Option<PublishTag>,
}

impl Correlator {
    /// Records a request handed to the event loop.
    pub(super) fn submit(&mut self, request: Submitted) {
        self.submitted.push_back(request);
    }

    /// Pairs an outgoing event with the request it reports.
    pub(super) fn outgoing(&mut self, event: OutgoingEvent) -> Written {
        match event {
            OutgoingEvent::Publish(pkid) => {
                let tag = match self.collided.take() {
                    Some(tag) => Some(tag),
                    None => self.pop_publish(),
                };
                if let Some(tag) = tag {
                    self.in_flight.insert(pkid, tag);
                }
                Written::Nothing
            }
            OutgoingEvent::AwaitAck(_) => {
                self.collided = self.pop_publish();
                Written::Nothing
            }
            OutgoingEvent::Subscribe(pkid) => {
                self.pop();
                Written::Subscribe(pkid)
            }
            OutgoingEvent::PubAck(_) => {
                self.pop();
                Written::Nothing
            }
            OutgoingEvent::Disconnect => {
                self.pop();
                Written::Disconnect
            }
            OutgoingEvent::Other => Written::Nothing,
        }
    }

    /// The publish a PUBACK acknowledges, if it is one of ours.
    pub(super) fn puback(&mut self, pkid: u16) -> Option<PublishTag> {
        self.in_flight.remove(&pkid)
    }

    /// Publishes handed over and not acknowledged yet.
    pub(super) fn unacknowledged(&self) -> usize {
        let waiting = self
            .submitted
            .iter()
            .filter(|s| matches!(s, Submitted::Publish(_)))
            .count();
        waiting + self.in_flight.len() + usize::from(self.collided.is_some())
    }

    /// Requests handed over and not taken by the event loop yet.
    pub(super) fn queued(&self) -> usize {
        self.submitted.len()
    }

    /// Every publish not acknowledged, in no particular order: their outcome is unknown once
    /// the connection is gone.
    pub(super) fn into_unacknowledged(self) -> Vec<PublishTag> {
        let mut tags: Vec<PublishTag> = self.in_flight.into_values().collect();
        tags.extend(self.collided);
        tags.extend(self.submitted.into_iter().filter_map(|s| match s {
            Submitted::Publish(tag) => Some(tag),
            _ => None,
        }));
        tags
    }

    fn pop(&mut self) -> Option<Submitted> {
        self.submitted.pop_front()
    }

    fn pop_publish(&mut self) -> Option<PublishTag> {
        match self.pop()? {
            Submitted::Publish(tag) => Some(tag),
            other => {
                tracing::warn!(
                    ?other,
                    "the event loop reported a publish for another request"
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_events_with_requests_in_order() {
        let mut c = Correlator::default();
        c.submit(Submitted::Subscribe);
        c.submit(Submitted::Publish(PublishTag::Telemetry(1)));
        c.submit(Submitted::Ack);
        c.submit(Submitted::Publish(PublishTag::Twin));
        assert_eq!((c.queued(), c.unacknowledged()), (4, 2));
        assert_eq!(
            c.outgoing(OutgoingEvent::Subscribe(1)),
            Written::Subscribe(1)
        );
        assert_eq!(c.outgoing(OutgoingEvent::Other), Written::Nothing);
        c.outgoing(OutgoingEvent::Publish(2));
        c.outgoing(OutgoingEvent::PubAck(17));
        c.outgoing(OutgoingEvent::Publish(3));
        assert_eq!((c.queued(), c.unacknowledged()), (0, 2));
        assert_eq!(c.puback(3), Some(PublishTag::Twin));
        assert_eq!(c.puback(3), None);
        assert_eq!(c.puback(2), Some(PublishTag::Telemetry(1)));
        c.submit(Submitted::Disconnect);
        assert_eq!(c.outgoing(OutgoingEvent::Disconnect), Written::Disconnect);
    }

    #[test]
    fn a_collided_publish_takes_the_id_once_it_is_free() {
        let mut c = Correlator::default();
        c.submit(Submitted::Publish(PublishTag::Telemetry(1)));
        c.outgoing(OutgoingEvent::Publish(5));
        c.submit(Submitted::Publish(PublishTag::Telemetry(2)));
        c.submit(Submitted::Publish(PublishTag::Telemetry(3)));
        c.outgoing(OutgoingEvent::AwaitAck(5));
        assert_eq!(c.unacknowledged(), 3);
        assert_eq!(c.puback(5), Some(PublishTag::Telemetry(1)));
        c.outgoing(OutgoingEvent::Publish(5));
        c.outgoing(OutgoingEvent::Publish(6));
        assert_eq!(c.puback(5), Some(PublishTag::Telemetry(2)));
        assert_eq!(c.puback(6), Some(PublishTag::Telemetry(3)));
    }

    #[test]
    fn what_was_not_acknowledged_is_returned() {
        let mut c = Correlator::default();
        for id in 1..=4 {
            c.submit(Submitted::Publish(PublishTag::Telemetry(id)));
        }
        c.outgoing(OutgoingEvent::Publish(9));
        c.outgoing(OutgoingEvent::Publish(10));
        c.puback(9);
        c.submit(Submitted::Ack);
        let mut left = c.into_unacknowledged();
        left.sort_unstable_by_key(|tag| match tag {
            PublishTag::Telemetry(id) => *id,
            _ => 0,
        });
        assert_eq!(left, [2, 3, 4].map(PublishTag::Telemetry).to_vec());
    }
}
