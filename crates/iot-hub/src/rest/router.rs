//! The routes of the REST API, the state its handlers share, and the per-request span.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use iot_protocol::ErrorCode;
use tracing::Instrument;

use super::error::RestError;
use super::{configurations, jobs, methods, query, registry, twins};
use crate::core::Core;
use crate::{Configurations, Jobs, Registry, Twins};

/// What every handler reaches the hub through: the same operations the in-process API offers.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    registry: Registry,
    twins: Twins,
    jobs: Jobs,
    configurations: Configurations,
    core: Arc<Core>,
}

impl Api {
    /// The registry operations.
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The twin operations.
    pub(crate) fn twins(&self) -> &Twins {
        &self.twins
    }

    /// The scheduled jobs.
    pub(crate) fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// The configurations.
    pub(crate) fn configurations(&self) -> &Configurations {
        &self.configurations
    }

    /// The core (policies, host name, method calls).
    pub(crate) fn core(&self) -> &Core {
        &self.core
    }

    /// The core, shared, for work moved to another thread.
    pub(crate) fn shared_core(&self) -> Arc<Core> {
        Arc::clone(&self.core)
    }
}

/// The REST API over `core`.
///
/// Paths follow IoT Hub's service API (PROTOCOL 4.2, 6.1, 8.1, 9.1, 10.1, 11.1); the
/// `api-version` query parameter is accepted with any value and may be absent. Module forms answer 404
/// `ModuleNotFound` because this hub registers devices only. Any other path answers 404, a
/// known path with another method 405, both in IoT Hub's error shape.
pub(crate) fn router(core: Arc<Core>) -> Router {
    let api = Api {
        registry: Registry::new(Arc::clone(&core)),
        twins: Twins::new(Arc::clone(&core)),
        jobs: Jobs::new(Arc::clone(&core)),
        configurations: Configurations::new(Arc::clone(&core)),
        core,
    };
    Router::new()
        .route("/devices", get(registry::list))
        // The Node service SDK lists devices at `/devices/`.
        .route("/devices/", get(registry::list))
        .route("/devices/query", post(query::run))
        .route(
            "/devices/{id}",
            get(registry::get)
                .put(registry::put)
                .delete(registry::delete),
        )
        .route("/devices/{id}/modules", get(registry::list_modules))
        .route("/devices/{id}/modules/{mid}", any(registry::module))
        .route("/statistics/devices", get(registry::statistics))
        .route("/statistics/service", get(registry::service_statistics))
        .route(
            "/twins/{id}",
            get(twins::get).patch(twins::patch).put(twins::replace),
        )
        .route("/twins/{id}/methods", post(methods::invoke))
        .route("/twins/{id}/modules/{mid}", any(twins::module))
        .route("/twins/{id}/modules/{mid}/methods", any(twins::module))
        .route("/jobs/v2/query", get(jobs::query))
        .route("/jobs/v2/{id}", get(jobs::get).put(jobs::create))
        .route("/jobs/v2/{id}/cancel", post(jobs::cancel))
        .route("/configurations", get(configurations::list))
        .route(
            "/configurations/testQueries",
            post(configurations::test_queries),
        )
        .route(
            "/configurations/{id}",
            get(configurations::get)
                .put(configurations::put)
                .delete(configurations::delete),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(api)
        .layer(middleware::from_fn(trace))
}

async fn not_found(method: Method, request: Request) -> RestError {
    RestError::new(
        ErrorCode::GenericNotFound,
        format!("no resource {method} {}", request.uri().path()),
    )
}

async fn method_not_allowed(method: Method, request: Request) -> Response {
    RestError::new(
        ErrorCode::GenericMethodNotAllowed,
        format!("{} does not allow {method}", request.uri().path()),
    )
    .into_response()
}

/// One span per request, with its method and path (never its headers: the token is a
/// credential), and the answer's status logged at debug level.
async fn trace(request: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
    );
    async move {
        let started = Instant::now();
        let response = next.run(request).await;
        tracing::debug!(
            status = response.status().as_u16(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "answered"
        );
        response
    }
    .instrument(span)
    .await
}
