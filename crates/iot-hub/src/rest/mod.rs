//! The REST API back ends call: IoT Hub's service API for the identity registry, twins,
//! direct methods, twin queries, scheduled jobs and configurations, over HTTPS (or plain HTTP when the hub is built with
//! `plain_tcp()`), for the official service SDKs and ours alike.
//!
//! Handlers only translate: they authorize the request, read its path, headers and body, call
//! the operations the in-process API offers ([`crate::Registry`], [`crate::Twins`], the method
//! driver), and write the answer or IoT Hub's error body. Every protocol rule is in the pure
//! crates or the core.
//!
//! # Layout
//! - `listener.rs`: binding, TLS, HTTP/1.1 connections and shutdown.
//! - `router.rs`: the routes, the handlers' shared state, the span per request.
//! - `auth.rs`: SAS tokens against the shared access policies, and the right per operation.
//! - `registry.rs`, `twins.rs`, `methods.rs`, `query.rs` (with `continuation.rs`),
//!   `jobs.rs`, `configurations.rs`: the endpoints.
//! - `extract.rs`: ids, `If-Match`, bodies with limits, JSON errors; `response.rs`: answers;
//!   `error.rs`: IoT Hub's error bodies and the `iothub-errorcode` header.

mod auth;
mod configurations;
mod continuation;
mod error;
mod extract;
mod jobs;
mod listener;
mod methods;
mod query;
mod registry;
mod response;
mod router;
mod twins;

pub(crate) use listener::{bind, run};

/// The largest registry, twin or query request body: 256 KB. Twin sections are limited to
/// 32 KB each (PROTOCOL 7), so this leaves room for a whole twin sent back with its metadata;
/// IoT Hub does not document a request size limit for these endpoints.
pub(crate) const BODY_LIMIT: usize = 256 * 1024;
