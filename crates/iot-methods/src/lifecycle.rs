//! The lifecycle of one method call in the hub's pending-call table.

use std::fmt;

use crate::Error;

/// Where a method call stands.
///
/// ```text
///   invoke, device offline                     invoke, device online
///   (a connect timeout of 0 fires                       |
///    its Deadline at once)                              |
///          |                                            |
///          v                                            v
///  +------------------+      DeviceOnline      +------------------+  Transmitted  +----------+
///  | WaitingForDevice |----------------------->| AwaitingTransmit |-------------->| InFlight |
///  +------------------+                        +------------------+               +----------+
///     |            |                              |           |                  |    |    |
///     | Deadline   | Cancel              Deadline |    Cancel |         Response |    |    | Cancel
///     v            v                              v           v                  v    |    v
///  DeviceNotOnline  Cancelled                  TimedOut    Cancelled      Responded   |  Cancelled
///                                                                                     | Deadline
///                                                                                     v
///                                                                                 TimedOut
/// ```
///
/// Each end above is the state [`CallState::Completed`] with that [`CallEnd`]. Any other pair of
/// state and [`CallEvent`] is a disallowed transition and [`CallState::on`] returns an error.
/// A device going offline is not an event: a call already dispatched keeps waiting for its
/// response timeout, as IoT Hub does (it sends method requests at QoS 0 and never resends
/// them, so a request dispatched to a device that drops off ends in a timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallState {
    /// The device is offline; the call waits for it up to the connect timeout.
    WaitingForDevice,
    /// The device is online; the request waits to be handed out by `poll_transmit`. The
    /// response timeout is already running.
    AwaitingTransmit,
    /// The request was handed out for publishing; the call waits for the device's response.
    InFlight,
    /// The call has ended; nothing changes it any more.
    Completed(CallEnd),
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallEnd {
    /// The device answered in time.
    Responded,
    /// The device did not come online within the connect timeout.
    DeviceNotOnline,
    /// The device did not answer within the response timeout.
    TimedOut,
    /// The caller cancelled the call; it produces no outcome.
    Cancelled,
}

/// Something that happens to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallEvent {
    /// The device is connected and subscribed to method requests.
    DeviceOnline,
    /// The request was handed out for publishing.
    Transmitted,
    /// The device's response arrived.
    Response,
    /// The call's current deadline passed (connect timeout while waiting for the device,
    /// response timeout afterwards).
    Deadline,
    /// The caller gave up on the call.
    Cancel,
}

impl CallState {
    /// The state after `event`.
    ///
    /// # Errors
    /// [`Error::InvalidTransition`] when `event` cannot happen in this state.
    pub fn on(self, event: CallEvent) -> Result<Self, Error> {
        use CallEvent as E;
        match (self, event) {
            (Self::WaitingForDevice, E::DeviceOnline) => Ok(Self::AwaitingTransmit),
            (Self::WaitingForDevice, E::Deadline) => Ok(Self::Completed(CallEnd::DeviceNotOnline)),
            (Self::AwaitingTransmit, E::Transmitted) => Ok(Self::InFlight),
            (Self::AwaitingTransmit | Self::InFlight, E::Deadline) => {
                Ok(Self::Completed(CallEnd::TimedOut))
            }
            (Self::InFlight, E::Response) => Ok(Self::Completed(CallEnd::Responded)),
            (Self::WaitingForDevice | Self::AwaitingTransmit | Self::InFlight, E::Cancel) => {
                Ok(Self::Completed(CallEnd::Cancelled))
            }
            (state, event) => Err(Error::InvalidTransition { state, event }),
        }
    }

    /// Whether the call has ended.
    pub fn is_completed(self) -> bool {
        matches!(self, Self::Completed(_))
    }
}

impl fmt::Display for CallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WaitingForDevice => f.write_str("waiting for the device"),
            Self::AwaitingTransmit => f.write_str("awaiting transmission"),
            Self::InFlight => f.write_str("in flight"),
            Self::Completed(end) => write!(f, "completed ({end})"),
        }
    }
}

impl fmt::Display for CallEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Responded => "responded",
            Self::DeviceNotOnline => "device not online",
            Self::TimedOut => "timed out",
            Self::Cancelled => "cancelled",
        })
    }
}

impl fmt::Display for CallEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DeviceOnline => "device online",
            Self::Transmitted => "transmitted",
            Self::Response => "response",
            Self::Deadline => "deadline",
            Self::Cancel => "cancel",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CallEvent as E;
    use CallState as S;

    const STATES: [CallState; 7] = [
        S::WaitingForDevice,
        S::AwaitingTransmit,
        S::InFlight,
        S::Completed(CallEnd::Responded),
        S::Completed(CallEnd::DeviceNotOnline),
        S::Completed(CallEnd::TimedOut),
        S::Completed(CallEnd::Cancelled),
    ];
    const EVENTS: [CallEvent; 5] = [
        E::DeviceOnline,
        E::Transmitted,
        E::Response,
        E::Deadline,
        E::Cancel,
    ];

    #[test]
    fn allowed_transitions_follow_the_diagram() {
        let allowed = [
            (S::WaitingForDevice, E::DeviceOnline, S::AwaitingTransmit),
            (
                S::WaitingForDevice,
                E::Deadline,
                S::Completed(CallEnd::DeviceNotOnline),
            ),
            (
                S::WaitingForDevice,
                E::Cancel,
                S::Completed(CallEnd::Cancelled),
            ),
            (S::AwaitingTransmit, E::Transmitted, S::InFlight),
            (
                S::AwaitingTransmit,
                E::Deadline,
                S::Completed(CallEnd::TimedOut),
            ),
            (
                S::AwaitingTransmit,
                E::Cancel,
                S::Completed(CallEnd::Cancelled),
            ),
            (S::InFlight, E::Response, S::Completed(CallEnd::Responded)),
            (S::InFlight, E::Deadline, S::Completed(CallEnd::TimedOut)),
            (S::InFlight, E::Cancel, S::Completed(CallEnd::Cancelled)),
        ];
        for state in STATES {
            for event in EVENTS {
                let expected = allowed
                    .iter()
                    .find(|(from, on, _)| *from == state && *on == event)
                    .map(|(_, _, to)| *to);
                match expected {
                    Some(to) => assert_eq!(state.on(event), Ok(to), "{state} on {event}"),
                    None => assert_eq!(
                        state.on(event),
                        Err(Error::InvalidTransition { state, event }),
                        "{state} on {event}"
                    ),
                }
            }
        }
    }

    #[test]
    fn completed_is_final() {
        for state in STATES.into_iter().filter(|s| s.is_completed()) {
            assert!(EVENTS.into_iter().all(|event| state.on(event).is_err()));
        }
    }

    #[test]
    fn error_names_state_and_event() {
        let err = S::Completed(CallEnd::TimedOut).on(E::Cancel).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a call that is completed (timed out) cannot take event cancel"
        );
    }
}
