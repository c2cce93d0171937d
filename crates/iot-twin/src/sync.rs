//! The device side of the twin, without IO: desired properties kept in step with the hub
//! ([`DesiredSync`]) and reported properties delivered exactly as updated
//! ([`ReportedOutbox`]).
//!
//! Both are state machines in the sans-IO style: a driver owning the MQTT connection feeds
//! them what happens (`handle_*`), publishes what they ask for (`poll_command`, `poll_send`)
//! and hands the application what they report (`poll_event`, `poll_ticket_result`). Topics are
//! written and read with [`crate::DeviceTopic`] and [`crate::HubTopic`]; bodies with
//! [`crate::TwinState`], [`crate::DesiredNotification`] and [`crate::Patch`]. Each machine draws
//! request ids from its own [`crate::RequestIds`], so the driver routes an answer on
//! `$iothub/twin/res/#` to whichever machine [awaits](DesiredSync::awaits) its request id.
//!
//! Layout: `desired.rs` and `buffer.rs` (desired properties), `state.rs` ([`SyncState`] and
//! its diagram), `outbox.rs` and `load.rs` (reported properties), `error.rs`.

mod buffer;
mod desired;
mod error;
mod load;
mod outbox;
#[cfg(test)]
mod sim;
mod state;

pub use desired::{DesiredChanged, DesiredSync, SyncCommand};
pub use error::{OutboxError, SyncError};
pub use outbox::{ReportOutcome, ReportedOutbox, Ticket};
pub use state::{SyncInput, SyncState};
