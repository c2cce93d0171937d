//! The MQTT 3.1.1 endpoint devices connect to (PROTOCOL 1, 3, 4.1, 5).
//!
//! - `listener.rs`: accepting TCP and TLS connections, one task each.
//! - `connect.rs` and `auth.rs`: CONNECT, admission, the session, CONNACK.
//! - `connection.rs`: the connection loop and its end.
//! - `inbound.rs`: what a device publishes; `subscribe.rs`: what it subscribes to.
//! - `framing.rs`: packets over bytes; `twin_topic.rs`: the twin topics the hub writes.

mod auth;
mod connect;
mod connection;
mod framing;
mod inbound;
pub(crate) mod listener;
mod subscribe;
pub(crate) mod twin_topic;
