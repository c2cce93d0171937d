//! What a [`crate::DeviceClient`] asks its driver, each request with the oneshot for its
//! answer and its deadline.

use iot_twin::{Patch, TwinState, TwinVersion};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::{Error, Message};

/// Where the driver sends the outcome of one operation.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// A request from the application to the driver.
#[derive(Debug)]
pub(crate) enum Command {
    /// Read the twin.
    GetTwin {
        reply: Reply<TwinState>,
        deadline: Instant,
    },
    /// Merge `patch` into reported properties.
    UpdateReported {
        patch: Patch,
        reply: Reply<TwinVersion>,
        deadline: Instant,
    },
    /// Send a telemetry message.
    SendTelemetry {
        message: Box<Message>,
        reply: Reply<()>,
        deadline: Instant,
    },
}

impl Command {
    /// Answers the request with `error` without doing it.
    pub(crate) fn fail(self, error: Error) {
        // A caller that stopped waiting has nothing to be told.
        match self {
            Self::GetTwin { reply, .. } => drop(reply.send(Err(error))),
            Self::UpdateReported { reply, .. } => drop(reply.send(Err(error))),
            Self::SendTelemetry { reply, .. } => drop(reply.send(Err(error))),
        }
    }
}
