//! MQTT sessions: the subscriptions a client holds, apart from the connection that carries
//! them, and the handle through which the hub reaches a live connection.
//!
//! A CleanSession=0 session keeps all of its subscriptions across reconnects and hub restarts
//! (they are stored); the Python device SDK never subscribes again after reconnecting, so its
//! twin responses depend on this. A CleanSession=1 connection starts empty and its session ends
//! with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc};

/// The kinds of subscription a device may hold: one per topic filter IoT Hub allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Feed {
    /// `$iothub/twin/res/#`: answers to twin requests.
    TwinResponses,
    /// `$iothub/twin/PATCH/properties/desired/#`: desired-property notifications.
    DesiredPatches,
    /// `$iothub/methods/POST/#`: direct-method requests.
    Methods,
    /// `devices/{id}/messages/devicebound/#`: cloud-to-device messages.
    CloudToDevice,
}

impl Feed {
    const ALL: [Self; 4] = [
        Self::TwinResponses,
        Self::DesiredPatches,
        Self::Methods,
        Self::CloudToDevice,
    ];

    fn index(self) -> usize {
        match self {
            Self::TwinResponses => 0,
            Self::DesiredPatches => 1,
            Self::Methods => 2,
            Self::CloudToDevice => 3,
        }
    }
}

/// The granted QoS (0 or 1) of each feed a session is subscribed to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Subscriptions {
    granted: [Option<u8>; 4],
}

/// The stored form: a list of feeds and QoS.
#[derive(Serialize, Deserialize)]
struct Stored {
    feed: Feed,
    qos: u8,
}

impl Subscriptions {
    /// The QoS granted for `feed`, if subscribed.
    pub(crate) fn qos(&self, feed: Feed) -> Option<u8> {
        self.granted[feed.index()]
    }

    /// Whether `feed` is subscribed.
    pub(crate) fn has(&self, feed: Feed) -> bool {
        self.qos(feed).is_some()
    }

    /// Subscribes `feed` at `qos` (at most 1).
    pub(crate) fn add(&mut self, feed: Feed, qos: u8) {
        self.granted[feed.index()] = Some(qos.min(1));
    }

    /// Unsubscribes `feed`.
    pub(crate) fn remove(&mut self, feed: Feed) {
        self.granted[feed.index()] = None;
    }

    /// The stored JSON form.
    pub(crate) fn to_json(self) -> String {
        let list: Vec<Stored> = Feed::ALL
            .into_iter()
            .filter_map(|feed| self.qos(feed).map(|qos| Stored { feed, qos }))
            .collect();
        serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned())
    }

    /// Reads the stored JSON form.
    pub(crate) fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        let list: Vec<Stored> = serde_json::from_str(json)?;
        let mut subscriptions = Self::default();
        for Stored { feed, qos } in list {
            subscriptions.add(feed, qos);
        }
        Ok(subscriptions)
    }
}

/// A device's session.
#[derive(Debug, Default)]
pub(crate) struct Session {
    /// What the session is subscribed to.
    pub(crate) subscriptions: Subscriptions,
    /// Whether the session outlives its connection (CleanSession=0).
    pub(crate) persistent: bool,
    /// The live connection, if any.
    pub(crate) connection: Option<ConnectionHandle>,
}

/// Something the hub sends to a device outside the request-response flow of its own packets.
#[derive(Debug)]
pub(crate) struct Outbound {
    /// The topic.
    pub(crate) topic: String,
    /// The payload.
    pub(crate) payload: Bytes,
    /// The sequence number of a cloud-to-device message, which is sent at the feed's QoS and
    /// completed by the device's PUBACK; `None` for everything else, sent at QoS 0.
    pub(crate) message: Option<(u64, u8)>,
}

/// Why the hub closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// The same client id connected again.
    TakenOver,
    /// The device was disabled or deleted.
    Revoked,
    /// The device did not drain its outbound queue.
    TooSlow,
}

/// The hub's handle on a live connection: its outbound queue and a way to close it.
///
/// The queue is bounded. A device too slow to drain it is disconnected rather than allowed to
/// slow the hub or other devices down: it resynchronizes when it reconnects (its session, twin
/// and queued cloud-to-device messages are all still there; only QoS 0 traffic is lost, which
/// is what QoS 0 means).
#[derive(Debug, Clone)]
pub(crate) struct ConnectionHandle {
    /// Distinguishes this connection from earlier and later ones of the same device.
    pub(crate) id: u64,
    /// Boxed items: the channel allocates its slots in blocks up front, and a block of boxes is
    /// a tenth the size of a block of items, which every idle connection would carry.
    outbound: mpsc::Sender<Box<Outbound>>,
    closer: Arc<Closer>,
}

/// The close signal shared by a connection and its handle.
#[derive(Debug, Default)]
pub(crate) struct Closer {
    notify: Notify,
    closed: AtomicBool,
    reason: std::sync::Mutex<Option<CloseReason>>,
}

impl Closer {
    /// Waits until the hub closes the connection, and says why.
    pub(crate) async fn closed(&self) -> CloseReason {
        loop {
            if self.closed.load(Ordering::Acquire) {
                return self.reason().unwrap_or(CloseReason::Revoked);
            }
            self.notify.notified().await;
        }
    }

    fn reason(&self) -> Option<CloseReason> {
        self.reason.lock().ok().and_then(|reason| *reason)
    }

    fn close(&self, reason: CloseReason) {
        if let Ok(mut slot) = self.reason.lock() {
            slot.get_or_insert(reason);
        }
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }
}

impl ConnectionHandle {
    /// A handle with an outbound queue of `capacity`, and the receiving end for the connection.
    pub(crate) fn new(
        id: u64,
        capacity: usize,
    ) -> (Self, mpsc::Receiver<Box<Outbound>>, Arc<Closer>) {
        let (outbound, receiver) = mpsc::channel(capacity.max(1));
        let closer = Arc::new(Closer::default());
        let handle = Self {
            id,
            outbound,
            closer: Arc::clone(&closer),
        };
        (handle, receiver, closer)
    }

    /// Queues `item`; a full queue closes the connection instead.
    pub(crate) fn send(&self, item: Outbound) -> bool {
        match self.outbound.try_send(Box::new(item)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close(CloseReason::TooSlow);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Closes the connection.
    pub(crate) fn close(&self, reason: CloseReason) {
        self.closer.close(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_subscriptions_round_trip_through_json(granted in proptest::array::uniform4(proptest::option::of(0_u8..=1))) {
            let mut subscriptions = Subscriptions::default();
            for (feed, qos) in Feed::ALL.into_iter().zip(granted) {
                if let Some(qos) = qos {
                    subscriptions.add(feed, qos);
                }
            }
            prop_assert_eq!(Subscriptions::from_json(&subscriptions.to_json()).unwrap(), subscriptions);
        }
    }

    #[test]
    fn subscriptions_round_trip_through_json() {
        let mut subscriptions = Subscriptions::default();
        assert_eq!(subscriptions, Subscriptions::default());
        subscriptions.add(Feed::TwinResponses, 1);
        subscriptions.add(Feed::CloudToDevice, 2);
        assert_eq!(subscriptions.qos(Feed::CloudToDevice), Some(1));
        let json = subscriptions.to_json();
        assert_eq!(Subscriptions::from_json(&json).unwrap(), subscriptions);
        subscriptions.remove(Feed::TwinResponses);
        assert!(!subscriptions.has(Feed::TwinResponses));
        assert!(Subscriptions::from_json("{").is_err());
    }

    #[tokio::test]
    async fn a_full_queue_closes_the_connection() {
        let (handle, _receiver, closer) = ConnectionHandle::new(1, 1);
        let item = || Outbound {
            topic: "t".into(),
            payload: Bytes::new(),
            message: None,
        };
        assert!(handle.send(item()));
        assert!(!handle.send(item()));
        assert_eq!(closer.closed().await, CloseReason::TooSlow);
        handle.close(CloseReason::Revoked);
        assert_eq!(closer.closed().await, CloseReason::TooSlow);
    }
}
