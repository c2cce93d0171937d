//! [`OutgoingQueue`]: telemetry and method responses on their way to the hub, kept until the
//! hub acknowledges them and sent again on the next connection when a connection drops first.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;

use super::correlate::PublishTag;
use crate::command::Reply;
use crate::{Error, Operation};

/// One message to publish.
#[derive(Debug)]
pub(super) struct Item {
    pub(super) topic: String,
    pub(super) payload: Bytes,
    /// The caller waiting for the PUBACK, for telemetry; `None` for a method response.
    reply: Option<Reply<()>>,
}

/// Telemetry and method responses not acknowledged yet.
///
/// Method responses go before telemetry: a back end is waiting on each of them. Within a kind,
/// messages go in the order they were queued, including after a reconnect.
#[derive(Debug, Default)]
pub(super) struct OutgoingQueue {
    next_id: u64,
    responses: BTreeMap<u64, Item>,
    telemetry: BTreeMap<u64, Item>,
    /// Handed to the current connection, not acknowledged yet.
    sent: HashMap<u64, Item>,
}

impl OutgoingQueue {
    /// Queues telemetry; returns its id.
    pub(super) fn telemetry(&mut self, topic: String, payload: Bytes, reply: Reply<()>) -> u64 {
        let id = self.take_id();
        let item = Item {
            topic,
            payload,
            reply: Some(reply),
        };
        self.telemetry.insert(id, item);
        id
    }

    /// Queues a method response.
    pub(super) fn method_response(&mut self, topic: String, payload: Bytes) {
        let id = self.take_id();
        let item = Item {
            topic,
            payload,
            reply: None,
        };
        self.responses.insert(id, item);
    }

    /// The next message to hand to the connection, with the tag its PUBACK will carry; with
    /// `responses_only`, telemetry waits.
    pub(super) fn next(&mut self, responses_only: bool) -> Option<(PublishTag, &Item)> {
        let (id, item, tag) = match self.responses.pop_first() {
            Some((id, item)) => (id, item, PublishTag::MethodResponse(id)),
            None if responses_only => return None,
            None => {
                let (id, item) = self.telemetry.pop_first()?;
                (id, item, PublishTag::Telemetry(id))
            }
        };
        let item = self.sent.entry(id).or_insert(item);
        Some((tag, item))
    }

    /// Puts back a message the connection could not take.
    pub(super) fn unsend(&mut self, tag: PublishTag) {
        let (id, telemetry) = match tag {
            PublishTag::Telemetry(id) => (id, true),
            PublishTag::MethodResponse(id) => (id, false),
            PublishTag::Twin => return,
        };
        if let Some(item) = self.sent.remove(&id) {
            let queue = if telemetry {
                &mut self.telemetry
            } else {
                &mut self.responses
            };
            queue.insert(id, item);
        }
    }

    /// The hub acknowledged the message tagged `tag`.
    pub(super) fn acknowledged(&mut self, tag: PublishTag) {
        let (PublishTag::Telemetry(id) | PublishTag::MethodResponse(id)) = tag else {
            return;
        };
        if let Some(Item {
            reply: Some(reply), ..
        }) = self.sent.remove(&id)
        {
            // The caller may have stopped waiting.
            let _ = reply.send(Ok(()));
        }
    }

    /// Telemetry `id` reached its deadline: its caller is told, and it is sent no more.
    pub(super) fn expire(&mut self, id: u64, after: std::time::Duration) {
        let item = self.telemetry.remove(&id).or_else(|| self.sent.remove(&id));
        if let Some(Item {
            reply: Some(reply), ..
        }) = item
        {
            let _ = reply.send(Err(Error::Timeout {
                operation: Operation::SendTelemetry,
                after,
            }));
        }
    }

    /// Telemetry waiting or unacknowledged.
    pub(super) fn pending_telemetry(&self) -> usize {
        self.telemetry.len()
            + self
                .sent
                .values()
                .filter(|item| item.reply.is_some())
                .count()
    }

    /// Whether a method response waits to be sent.
    pub(super) fn has_responses(&self) -> bool {
        !self.responses.is_empty()
    }

    /// Answers every telemetry caller with `error` and forgets everything.
    pub(super) fn fail_all(&mut self, error: &Error) {
        let items = self
            .telemetry
            .values_mut()
            .chain(self.sent.values_mut())
            .filter_map(|item| item.reply.take());
        for reply in items {
            let _ = reply.send(Err(error.clone()));
        }
        self.telemetry.clear();
        self.responses.clear();
        self.sent.clear();
    }

    fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::sync::oneshot;

    fn body(text: &'static str) -> Bytes {
        Bytes::from_static(text.as_bytes())
    }

    #[test]
    fn responses_go_first_and_order_survives_a_reconnect() {
        let mut queue = OutgoingQueue::default();
        let (reply, mut outcome) = oneshot::channel();
        let t1 = queue.telemetry("t".into(), body("1"), reply);
        let (reply2, _) = oneshot::channel();
        let t2 = queue.telemetry("t".into(), body("2"), reply2);
        queue.method_response("r".into(), body("r"));
        let (tag, item) = queue.next(false).unwrap();
        assert_eq!((&item.topic[..], tag), ("r", PublishTag::MethodResponse(3)));
        assert_eq!(queue.next(true).map(|(tag, _)| tag), None);
        assert_eq!(queue.next(false).unwrap().0, PublishTag::Telemetry(t1));
        assert_eq!(queue.next(false).unwrap().0, PublishTag::Telemetry(t2));
        // The connection drops: both go again, in order.
        queue.unsend(PublishTag::Telemetry(t2));
        queue.unsend(PublishTag::Telemetry(t1));
        assert_eq!(queue.pending_telemetry(), 2);
        assert_eq!(queue.next(false).unwrap().0, PublishTag::Telemetry(t1));
        queue.acknowledged(PublishTag::Telemetry(t1));
        assert_eq!(outcome.try_recv().unwrap(), Ok(()));
        assert_eq!(queue.pending_telemetry(), 1);
    }

    #[test]
    fn expiry_and_failure_answer_the_callers() {
        let mut queue = OutgoingQueue::default();
        let (reply, mut expired) = oneshot::channel();
        let id = queue.telemetry("t".into(), body("1"), reply);
        queue.expire(id, Duration::from_secs(1));
        assert!(matches!(
            expired.try_recv().unwrap(),
            Err(Error::Timeout { .. })
        ));
        let (reply, mut closed) = oneshot::channel();
        queue.telemetry("t".into(), body("2"), reply);
        queue.next(false);
        queue.fail_all(&Error::Closed);
        assert_eq!(closed.try_recv().unwrap(), Err(Error::Closed));
        assert_eq!(queue.pending_telemetry(), 0);
        assert!(!queue.has_responses());
    }
}
