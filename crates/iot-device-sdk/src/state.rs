//! [`ConnectionState`] and [`DisconnectReason`]: what the application sees of the connection.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_core::Stream;
use tokio::sync::watch;
use tokio_stream::wrappers::WatchStream;

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

/// The stream returned by [`crate::DeviceClient::state_changes`]: the current state first,
/// then every later state. A consumer that falls behind sees the latest state, not every
/// intermediate one. The stream ends when the client's driver has stopped.
#[derive(Debug)]
pub struct StateChanges {
    inner: WatchStream<ConnectionState>,
}

impl StateChanges {
    pub(crate) fn new(receiver: watch::Receiver<ConnectionState>) -> Self {
        Self {
            inner: WatchStream::new(receiver),
        }
    }
}

impl Stream for StateChanges {
    type Item = ConnectionState;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
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
}
