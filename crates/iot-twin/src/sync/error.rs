//! [`SyncError`] and [`OutboxError`]: what the device-side twin machines refuse.

use crate::{SyncInput, SyncState, TwinError};

/// Why a [`crate::DesiredSync`] refused an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    // The driver fed an input the state does not allow.
    /// The input cannot happen in the current state, such as a notification while
    /// disconnected. Nothing changed.
    #[error("a {input} cannot happen while {state}")]
    InvalidTransition {
        /// The state the machine is in.
        state: SyncState,
        /// The refused input.
        input: SyncInput,
    },

    // The content cannot be described to the application.
    /// The change to desired properties could not be written as a merge patch (see
    /// [`crate::diff`]). Content that arrives as [`crate::Patch`] or [`crate::TwinState`] is
    /// checked against the same rules, so this means a broken invariant rather than bad input;
    /// it is reported instead of hidden. The state was updated; only the event is missing.
    #[error("the desired-properties change cannot be written as a patch: {0}")]
    Unrepresentable(#[source] TwinError),
}

/// Why a [`crate::ReportedOutbox`] refused an update or an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    // The update is at fault; nothing was queued.
    /// The patch breaks a limit the hub enforces on reported properties (key length, depth,
    /// string or property size, integer range).
    #[error("the reported patch breaks a limit: {0}")]
    Invalid(#[source] TwinError),
    /// With this update, the patches waiting to be sent would exceed the size a reported
    /// section may have (32 KB on IoT Hub, measured as [`crate::Limits`] describes, with a
    /// deleted member counting its key), so the hub could never take them all.
    #[error(
        "the reported updates waiting to be sent would have size {size}, more than the {limit} \
         a reported section holds; the update was not queued"
    )]
    Full {
        /// The size the waiting patches would have.
        size: usize,
        /// The reported section's size limit.
        limit: usize,
    },

    // The driver fed an input the state does not allow.
    /// `handle_connected` was called while already connected.
    #[error("the outbox is already connected")]
    AlreadyConnected,
    /// `handle_connection_lost` was called while not connected.
    #[error("the outbox is not connected")]
    NotConnected,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_state_input_and_sizes() {
        let error = SyncError::InvalidTransition {
            state: SyncState::Disconnected,
            input: SyncInput::Desired,
        };
        assert_eq!(
            error.to_string(),
            "a desired-properties notification cannot happen while disconnected"
        );
        let error = OutboxError::Full {
            size: 40_000,
            limit: 32_768,
        };
        assert_eq!(
            error.to_string(),
            "the reported updates waiting to be sent would have size 40000, more than the 32768 \
             a reported section holds; the update was not queued"
        );
    }
}
