//! Placeholder until iot-twin lands; replaced by the twin demo.
fn main() {}
