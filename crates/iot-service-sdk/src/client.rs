//! [`ServiceClient`]: the cheap, cloneable handle every operation goes through, and the one
//! path by which requests are signed, sent, retried and turned into errors.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use iot_protocol::HostName;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::ServiceError;
use crate::builder::ServiceClientBuilder;
use crate::error::error_from_response;
use crate::request::Request;
use crate::response::Response;
use crate::retry::{RetryPolicy, with_retries};
use crate::token::Credentials;
use crate::transport::Http;

/// A client of an IoT hub's service REST API: the identity registry, twins, direct methods
/// and twin queries.
///
/// Built from a service connection string (a shared access policy such as `iothubowner`,
/// `service`, `registryRead` or `registryReadWrite`); the operations a policy may not perform
/// fail with [`ServiceError::Unauthorized`]. Cloning is cheap and clones share the
/// connection pool and the cached SAS token; a client may be used from many tasks at once.
/// It speaks to Azure IoT Hub and to the local `iot-hub` alike.
///
/// The operations are grouped by concern: the registry (`create_device`, `get_device`,
/// `update_device`, `delete_device`, `list_devices`, `enable_device`, `disable_device`,
/// `registry_statistics`, `service_statistics`), twins (`get_twin`, `update_twin`,
/// `replace_twin`), direct methods (`invoke_method`), queries (`query`), scheduled jobs
/// (`schedule_job`, `get_job`, `cancel_job`, `wait_for_completion`, `query_jobs`,
/// `device_jobs`, `query_device_jobs`) and configurations (`create_configuration`,
/// `get_configuration`, `update_configuration`, `delete_configuration`,
/// `list_configurations`, `test_configuration_queries`).
///
/// ```no_run
/// use iot_service_sdk::{ServiceClient, TwinUpdate};
/// use iot_protocol::{Device, DeviceId, IfMatch};
/// use serde_json::json;
///
/// # async fn run() -> Result<(), iot_service_sdk::ServiceError> {
/// let client = ServiceClient::from_connection_string(
///     "HostName=myhub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=...",
/// )?;
/// let id: DeviceId = "pump-7".parse()?;
/// client.create_device(&Device::new(id.clone())).await?;
/// let twin = client
///     .update_twin(&id, &TwinUpdate::new().desired(json!({"rpm": 900})), IfMatch::ANY)
///     .await?;
/// assert_eq!(twin.desired().content()["rpm"], 900);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ServiceClient {
    inner: Arc<Inner>,
}

struct Inner {
    credentials: Credentials,
    http: Http,
    retry: RetryPolicy,
}

impl ServiceClient {
    /// A client with default settings for a service connection string
    /// (`HostName=...;SharedAccessKeyName=...;SharedAccessKey=...`).
    ///
    /// # Errors
    /// [`ServiceError::Configuration`] when the connection string does not parse or the
    /// platform's certificate authorities cannot be loaded.
    pub fn from_connection_string(connection_string: &str) -> Result<Self, ServiceError> {
        Self::builder(connection_string).build()
    }

    /// Settings for a client, starting from a service connection string (checked in
    /// [`ServiceClientBuilder::build`]).
    pub fn builder(connection_string: &str) -> ServiceClientBuilder {
        ServiceClientBuilder::parse(connection_string)
    }

    /// A client with default settings that authenticates with a ready-made SAS token
    /// (`SharedAccessSignature sr=<host>&sig=...&se=...&skn=<policy>`), for a back end that is
    /// handed short-lived tokens instead of a key. The hub is the token's `sr`.
    ///
    /// The token is never renewed: once it expires, calls fail with
    /// [`ServiceError::Unauthorized`]; build a new client with a fresh token.
    ///
    /// # Errors
    /// [`ServiceError::Configuration`] when the token does not parse or is not scoped to a
    /// hub, or the platform's certificate authorities cannot be loaded.
    pub fn from_sas_token(sas_token: &str) -> Result<Self, ServiceError> {
        Self::builder_from_sas_token(sas_token).build()
    }

    /// Settings for a client authenticating with a ready-made SAS token (see
    /// [`Self::from_sas_token`]; checked in [`ServiceClientBuilder::build`]).
    pub fn builder_from_sas_token(sas_token: &str) -> ServiceClientBuilder {
        ServiceClientBuilder::parse_sas_token(sas_token)
    }

    pub(crate) fn new(credentials: Credentials, http: Http, retry: RetryPolicy) -> Self {
        Self {
            inner: Arc::new(Inner {
                credentials,
                http,
                retry,
            }),
        }
    }

    /// The hub's host name (`HostName`), to which tokens are scoped.
    pub fn host_name(&self) -> &HostName {
        self.inner.credentials.host_name()
    }

    /// The shared access policy the client authenticates as (`None` for a ready-made token
    /// that names none).
    pub fn policy_name(&self) -> Option<&str> {
        self.inner.credentials.policy_name()
    }

    /// The base URL requests go to (`https://host[:port]`).
    pub fn endpoint(&self) -> &str {
        self.inner.http.base()
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// The request timeout.
    pub(crate) fn request_timeout(&self) -> std::time::Duration {
        self.inner.http.request_timeout()
    }

    /// Sends `request`, retrying as its retry rule and the policy allow; a 2xx answer, or the
    /// error for the last answer.
    pub(crate) async fn execute(&self, request: Request) -> Result<Response, ServiceError> {
        let span = tracing::debug_span!(
            "iot_service_request",
            method = request.method.as_str(),
            path = %request.path,
        );
        with_retries(&self.inner.retry, request.retry, || self.attempt(&request))
            .instrument(span)
            .await
    }

    /// Sends `request` and reads the answer's body as JSON (`what` names it in errors).
    pub(crate) async fn execute_json<T: DeserializeOwned>(
        &self,
        request: Request,
        what: &str,
    ) -> Result<T, ServiceError> {
        self.execute(request).await?.json(what)
    }

    async fn attempt(&self, request: &Request) -> Result<Response, ServiceError> {
        let authorization = self.inner.credentials.header(unix_now());
        let response = self.inner.http.send(request, &authorization).await?;
        tracing::debug!(status = response.status, "answered");
        if response.is_success() {
            Ok(response)
        } else {
            Err(error_from_response(&request.context(), &response))
        }
    }
}

impl fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceClient")
            .field("host_name", self.host_name())
            .field("policy", &self.policy_name())
            .field("endpoint", &self.endpoint())
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// Seconds since the Unix epoch (0 for a clock set before it).
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}
