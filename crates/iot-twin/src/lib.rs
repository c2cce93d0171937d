//! Device twin documents for the IoT Hub device-management model.
#![forbid(unsafe_code)]

mod timestamp;

pub use timestamp::{Timestamp, TimestampError};
