//! iot-protocol (under construction).
#![forbid(unsafe_code)]
