//! The direct-method protocol of the IoT Hub model: method names, invocations and results,
//! payload rules, topics, handler routing on devices and the hub's pending-call table.
//!
//! Pure and sans-IO: nothing here opens a socket, spawns a task or reads a clock.
//!
//! Rules that direct methods share with the twin topics live once, in `iot-twin` (also pure):
//! [`RequestId`] wraps [`iot_twin::RequestId`] and only adds the narrower rule for the ids the
//! hub chooses (printable ASCII), and [`topic`] reads and writes its `?$rid=...&k=v` properties
//! with [`iot_twin::TopicProperties`].
//!
//! # Layout
//! - [`MethodName`], [`RequestId`]: validated names and request ids.
//! - [`payload`]: the JSON payload rules and wire encoding.
//! - [`MethodInvocation`], [`MethodResult`]: the REST body a back end posts and the answer it
//!   gets back.
//! - [`MethodRequest`], [`MethodResponse`]: what travels over MQTT between hub and device.
//! - [`topic`]: the MQTT topic codec.
//! - [`Router`], [`MethodHandler`]: routing method calls to application handlers on a device.
//! - [`PendingCalls`]: the hub's sans-IO table of calls in progress, with the call lifecycle
//!   [`CallState`] and outcomes [`CallOutcome`] / [`CallFailure`] (IoT Hub's error codes).
//! - [`Error`]: the crate's error type.
#![forbid(unsafe_code)]

mod call_id;
mod catch_panic;
mod error;
mod handler;
mod invocation;
mod lifecycle;
mod name;
mod outcome;
pub mod payload;
mod pending;
mod request;
mod request_id;
mod response;
mod router;
pub mod topic;

#[cfg(test)]
mod strategies;

pub use call_id::CallId;
pub use error::Error;
pub use handler::{HandlerError, MethodHandler};
pub use invocation::{MethodInvocation, MethodResult};
pub use lifecycle::{CallEnd, CallEvent, CallState};
pub use name::MethodName;
pub use outcome::{
    CallFailure, CallOutcome, ERROR_CODE_DEVICE_NOT_ONLINE, ERROR_CODE_GATEWAY_TIMEOUT,
};
pub use pending::{PendingCalls, PendingStats, ResponseDisposition};
pub use request::MethodRequest;
pub use request_id::RequestId;
pub use response::MethodResponse;
pub use router::{HANDLER_FAILURE_STATUS, NOT_IMPLEMENTED_STATUS, Router, RouterBuilder};
