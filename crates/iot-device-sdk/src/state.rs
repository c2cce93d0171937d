//! [`ConnectionState`] and [`DisconnectReason`]: what the application sees of the connection.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_core::Stream;
use tokio::sync::{broadcast, watch};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

/// Where the client's connection to the hub stands.
///
/// ```text
///                  +------------------------------------------------+
///                  v                                                |
///   start --> Connecting --(subscribed, twin synced)--> Ready       |
///                  |                                      |         |
///                  | failure                              | lost,   |
///                  v                                      | renewal |
///            Disconnected { reason, retry_at } <----------+         |
///                  |                                                |
///                  +------------- retry_at reached -----------------+
///
///   close(), or the last handle dropped, from any state --> Closed
/// ```
///
/// The client reconnects by itself: after a failure it waits as its [`crate::RetryPolicy`]
/// says (`retry_at`), connects, subscribes again and fetches the twin, and only then reports
/// [`ConnectionState::Ready`]. Operations started in any state wait for the connection, each
/// within its own timeout. `retry_at` is `None` only when the client cannot recover: the SAS
/// token it was given has expired.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Opening the connection, subscribing, and reading the twin.
    Connecting {
        /// How many attempts failed in a row before this one (0 for the first).
        attempt: u32,
    },
    /// Connected, subscribed, and desired properties are in step with the hub.
    Ready,
    /// Not connected.
    Disconnected {
        /// Why the connection ended or could not be made.
        reason: DisconnectReason,
        /// When the next attempt starts; `None` when there is none.
        retry_at: Option<Instant>,
    },
    /// The client was closed; nothing more happens.
    Closed,
}

impl ConnectionState {
    /// Whether the client is [`ConnectionState::Ready`].
    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Ready)
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connecting { attempt: 0 } => f.write_str("connecting"),
            Self::Connecting { attempt } => {
                write!(f, "connecting (after {attempt} failed attempts)")
            }
            Self::Ready => f.write_str("ready"),
            Self::Disconnected {
                reason,
                retry_at: Some(at),
            } => {
                let wait = at.saturating_duration_since(Instant::now());
                write!(f, "disconnected ({reason}); retrying in {wait:?}")
            }
            Self::Disconnected {
                reason,
                retry_at: None,
            } => write!(f, "disconnected ({reason}); not retrying"),
            Self::Closed => f.write_str("closed"),
        }
    }
}

/// Why the client is not connected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    // The hub refused the connection.
    /// CONNACK 4 or 5: IoT Hub refuses an unknown device, a wrong key or signature, and an
    /// expired token this way. Retried with backoff, since a key may be rotated.
    NotAuthorized,
    /// CONNACK 3 ("server unavailable"), which IoT Hub answers for a disabled device. Retried
    /// with backoff, since the device may be enabled again.
    DeviceDisabled,
    /// Another CONNACK refusal.
    Refused {
        /// The CONNACK return code.
        code: u8,
    },

    // Credentials.
    /// The SAS token given in the options has expired. The client cannot make a new one and
    /// does not reconnect.
    TokenExpired,
    /// The client disconnected on purpose to present a fresh SAS token; it reconnects at once.
    TokenRenewal,

    // The connection.
    /// The TCP connection failed or was closed by the hub.
    Network {
        /// What happened.
        message: String,
    },
    /// The TLS handshake failed, e.g. the hub's certificate is not trusted.
    Tls {
        /// What happened.
        message: String,
    },
    /// The hub did not answer a keep-alive ping in time.
    KeepAliveTimeout,
    /// Connecting and subscribing took longer than the connect timeout.
    Timeout,

    // Protocol.
    /// The hub refused a subscription or sent something MQTT does not allow.
    Protocol {
        /// What was wrong.
        message: String,
    },
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAuthorized => f.write_str(
                "not authorized (CONNACK 5): unknown device, wrong key or signature, or an \
                 expired token",
            ),
            Self::DeviceDisabled => {
                f.write_str("server unavailable (CONNACK 3): the device is disabled")
            }
            Self::Refused { code } => write!(f, "refused with CONNACK code {code}"),
            Self::TokenExpired => f.write_str("the SAS token has expired"),
            Self::TokenRenewal => f.write_str("reconnecting with a fresh SAS token"),
            Self::Network { message } => write!(f, "network: {message}"),
            Self::Tls { message } => write!(f, "TLS: {message}"),
            Self::KeepAliveTimeout => f.write_str("the hub did not answer a keep-alive ping"),
            Self::Timeout => f.write_str("connecting took longer than the connect timeout"),
            Self::Protocol { message } => write!(f, "protocol: {message}"),
        }
    }
}

/// Capacity of the feed of state changes; a consumer further behind skips to the current
/// state.
const CHANGES_CAPACITY: usize = 32;

/// The driver's side of the connection state: the current state for [`watch`] readers, and
/// every change for [`StateChanges`] streams.
#[derive(Debug)]
pub(crate) struct StateFeed {
    current: watch::Sender<ConnectionState>,
    changes: broadcast::Sender<ConnectionState>,
}

impl StateFeed {
    /// A feed starting at `state`.
    pub(crate) fn new(state: ConnectionState) -> Self {
        Self {
            current: watch::Sender::new(state),
            changes: broadcast::Sender::new(CHANGES_CAPACITY),
        }
    }

    /// Moves to `state`.
    pub(crate) fn set(&self, state: ConnectionState) {
        self.current.send_replace(state.clone());
        // No stream listening is fine.
        let _ = self.changes.send(state);
    }

    /// A reader of the current state.
    pub(crate) fn watch(&self) -> watch::Receiver<ConnectionState> {
        self.current.subscribe()
    }

    /// A handle from which streams of changes are made.
    pub(crate) fn changes(&self) -> broadcast::Sender<ConnectionState> {
        self.changes.clone()
    }
}

/// The stream returned by [`crate::DeviceClient::state_changes`]: the current state first,
/// then every later state, [`ConnectionState::Closed`] last. A consumer that falls more than
/// 32 states behind skips to the current one. The first state may repeat once, when it
/// changes just as the stream is made.
#[derive(Debug)]
pub struct StateChanges {
    first: Option<ConnectionState>,
    current: watch::Receiver<ConnectionState>,
    changes: BroadcastStream<ConnectionState>,
    ended: bool,
}

impl StateChanges {
    pub(crate) fn new(
        current: watch::Receiver<ConnectionState>,
        changes: &broadcast::Sender<ConnectionState>,
    ) -> Self {
        let changes = BroadcastStream::new(changes.subscribe());
        let first = current.borrow().clone();
        Self {
            first: Some(first),
            current,
            changes,
            ended: false,
        }
    }

    fn yielded(&mut self, state: ConnectionState) -> Poll<Option<ConnectionState>> {
        self.ended = state == ConnectionState::Closed;
        Poll::Ready(Some(state))
    }
}

impl Stream for StateChanges {
    type Item = ConnectionState;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if let Some(first) = self.first.take() {
            return self.yielded(first);
        }
        match Pin::new(&mut self.changes).poll_next(cx) {
            Poll::Ready(Some(Ok(state))) => self.yielded(state),
            Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(_)))) => {
                let state = self.current.borrow().clone();
                self.yielded(state)
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn states_describe_themselves() {
        assert_eq!(
            ConnectionState::Connecting { attempt: 0 }.to_string(),
            "connecting"
        );
        assert!(ConnectionState::Ready.is_ready());
        let state = ConnectionState::Disconnected {
            reason: DisconnectReason::DeviceDisabled,
            retry_at: Some(Instant::now() + Duration::from_secs(30)),
        };
        let text = state.to_string();
        assert!(
            text.starts_with("disconnected (server unavailable (CONNACK 3)"),
            "{text}"
        );
        assert!(text.contains("retrying in"), "{text}");
        let stopped = ConnectionState::Disconnected {
            reason: DisconnectReason::TokenExpired,
            retry_at: None,
        };
        assert!(stopped.to_string().ends_with("not retrying"));
    }

    #[tokio::test]
    async fn streams_every_change_and_ends_after_closed() {
        use futures_util::StreamExt;
        let feed = StateFeed::new(ConnectionState::Connecting { attempt: 0 });
        let mut changes = StateChanges::new(feed.watch(), &feed.changes());
        feed.set(ConnectionState::Ready);
        feed.set(ConnectionState::Disconnected {
            reason: DisconnectReason::TokenRenewal,
            retry_at: None,
        });
        feed.set(ConnectionState::Ready);
        feed.set(ConnectionState::Closed);
        let seen: Vec<ConnectionState> = changes.by_ref().collect().await;
        assert_eq!(seen.len(), 5);
        assert_eq!(
            seen[2],
            ConnectionState::Disconnected {
                reason: DisconnectReason::TokenRenewal,
                retry_at: None
            }
        );
        assert_eq!(seen.last(), Some(&ConnectionState::Closed));
    }

    #[tokio::test]
    async fn a_lagging_stream_skips_to_the_current_state() {
        use futures_util::StreamExt;
        let feed = StateFeed::new(ConnectionState::Ready);
        let mut changes = StateChanges::new(feed.watch(), &feed.changes());
        assert_eq!(changes.next().await, Some(ConnectionState::Ready));
        for attempt in 0..100 {
            feed.set(ConnectionState::Connecting { attempt });
        }
        assert_eq!(
            changes.next().await,
            Some(ConnectionState::Connecting { attempt: 99 })
        );
    }
}
