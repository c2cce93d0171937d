//! The direct-method protocol of the IoT Hub model: method names, invocations and results,
//! payload rules.
//!
//! Pure and sans-IO: nothing here opens a socket, spawns a task or reads a clock.
//!
//! # Layout
//! - [`name`](MethodName): validated method names.
//! - [`payload`]: the JSON payload rules and wire encoding.
//! - [`invocation`](MethodInvocation): the REST body a back end posts and the
//!   [`MethodResult`] it gets back.
//! - [`Error`]: the crate's error type.
#![forbid(unsafe_code)]

mod error;
mod invocation;
mod name;
pub mod payload;

pub use error::Error;
pub use invocation::{MethodInvocation, MethodResult};
pub use name::MethodName;
