//! iot-methods (under construction).
#![forbid(unsafe_code)]
