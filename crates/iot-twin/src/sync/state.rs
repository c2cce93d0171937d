//! [`SyncState`]: where the device's copy of desired properties stands, and the inputs that
//! move it.

use std::fmt;

use crate::SyncError;

/// Where a [`crate::DesiredSync`] stands.
///
/// ```text
///                     handle_connected
///   +--------------+ -----------------> +-----------+   poll_command   +-------------+
///   | Disconnected |                    | GetQueued | ---------------> | AwaitingGet |
///   +--------------+                    +-----------+ <--------------- +-------------+
///          ^                                  ^       handle_get_failed,       |
///          |                                  |       or an answer that        | handle_get_response
///          | handle_connection_lost           |       leaves a gap             | (caught up)
///          | (from every other state)         |                                v
///          |                                  |  notification after a gap  +------+
///          |                                  +--------------------------- | Live |
///          +-------------------------------------------------------------- +------+
/// ```
///
/// - `Disconnected`: no connection; nothing arrives and nothing is sent. The machine starts
///   here. Only [`SyncInput::Connected`] is allowed.
/// - `GetQueued`: connected and subscribed; a twin `GET` waits to be handed out by
///   `poll_command`. Every (re)connect passes through here, since notifications sent while the
///   device was away are lost.
/// - `AwaitingGet`: the `GET` was handed out; its answer is awaited.
/// - `Live`: in step with the hub; notifications are applied as they come.
///
/// In every connected state a notification for the next version is applied at once and one
/// further ahead is buffered; in `Live`, a notification further ahead also queues a `GET`.
/// [`SyncInput::Connected`] is refused unless `Disconnected`; every other input is refused
/// while `Disconnected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncState {
    /// No connection.
    Disconnected,
    /// Connected; a twin `GET` is to be sent.
    GetQueued,
    /// Connected; the `GET` was sent and its answer is awaited.
    AwaitingGet,
    /// Connected and in step with the hub.
    Live,
}

/// An input to a [`crate::DesiredSync`], named in [`SyncError::InvalidTransition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncInput {
    /// The device connected and subscribed to the twin topics.
    Connected,
    /// The connection dropped.
    ConnectionLost,
    /// A desired-properties notification arrived.
    Desired,
    /// An answer to a twin `GET` arrived.
    GetResponse,
    /// A twin `GET` failed or timed out.
    GetFailed,
}

impl SyncState {
    /// Whether the device is connected.
    pub const fn is_connected(self) -> bool {
        !matches!(self, Self::Disconnected)
    }

    /// Checks that `input` may happen in this state.
    pub(crate) fn check(self, input: SyncInput) -> Result<(), SyncError> {
        let allowed = match input {
            SyncInput::Connected => !self.is_connected(),
            _ => self.is_connected(),
        };
        if allowed {
            Ok(())
        } else {
            Err(SyncError::InvalidTransition { state: self, input })
        }
    }
}

impl fmt::Display for SyncState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Disconnected => "disconnected",
            Self::GetQueued => "waiting to send a twin GET",
            Self::AwaitingGet => "awaiting a twin GET answer",
            Self::Live => "live",
        })
    }
}

impl fmt::Display for SyncInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connected => "connected",
            Self::ConnectionLost => "connection lost",
            Self::Desired => "desired-properties notification",
            Self::GetResponse => "twin GET answer",
            Self::GetFailed => "twin GET failed",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: [SyncState; 4] = [
        SyncState::Disconnected,
        SyncState::GetQueued,
        SyncState::AwaitingGet,
        SyncState::Live,
    ];

    #[test]
    fn connecting_is_allowed_only_when_disconnected() {
        for state in STATES {
            assert_eq!(
                state.check(SyncInput::Connected).is_ok(),
                state == SyncState::Disconnected
            );
        }
    }

    #[test]
    fn everything_else_needs_a_connection() {
        for input in [
            SyncInput::ConnectionLost,
            SyncInput::Desired,
            SyncInput::GetResponse,
            SyncInput::GetFailed,
        ] {
            for state in STATES {
                assert_eq!(state.check(input).is_ok(), state.is_connected());
            }
            assert_eq!(
                SyncState::Disconnected.check(input),
                Err(SyncError::InvalidTransition {
                    state: SyncState::Disconnected,
                    input
                })
            );
        }
    }
}
