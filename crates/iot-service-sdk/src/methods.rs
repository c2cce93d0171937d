//! Direct methods over REST (PROTOCOL 4.2): `POST /twins/{id}/methods`.

use iot_methods::{MethodInvocation, MethodResult};
use iot_protocol::DeviceId;

use crate::request::{Method, Request, Segment, path};
use crate::retry::Retry;
use crate::{ServiceClient, ServiceError};

impl ServiceClient {
    /// Calls a direct method on a device and returns its answer: the status the device chose
    /// (any integer; the call succeeds even when the device answers 404 or 500) and its JSON
    /// payload.
    ///
    /// The hub waits up to the invocation's connect timeout for the device to come online and
    /// then up to its response timeout for the answer; the HTTP request may take that long
    /// plus the client's request timeout, which covers the round trip itself (Node sizes its
    /// request timeout from the two method timeouts the same way). A method call is never
    /// retried: the device may have acted on it.
    ///
    /// ```no_run
    /// # async fn run(client: iot_service_sdk::ServiceClient) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use iot_methods::MethodInvocation;
    /// use serde_json::json;
    ///
    /// let call = MethodInvocation::new("reboot".parse()?, json!({"delay": 5}))?
    ///     .with_response_timeout(Duration::from_secs(10))?;
    /// let answer = client.invoke_method(&"pump-7".parse()?, &call).await?;
    /// println!("device answered {}: {}", answer.status(), answer.payload());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`ServiceError::DeviceNotOnline`] when the device does not connect within the connect
    /// timeout, [`ServiceError::DeviceTimeout`] when it does not answer within the response
    /// timeout, [`ServiceError::NotFound`] for an unknown device,
    /// [`ServiceError::RequestTimeout`] when the hub itself does not answer in time.
    pub async fn invoke_method(
        &self,
        device_id: &DeviceId,
        invocation: &MethodInvocation,
    ) -> Result<MethodResult, ServiceError> {
        let path = path(&[
            Segment::Literal("twins"),
            Segment::Id(device_id.as_str()),
            Segment::Literal("methods"),
        ]);
        let mut request = Request::new(Method::Post, path)
            .device(device_id)
            .retry(Retry::Never)
            .json(invocation)?;
        request.method_call = true;
        request.timeout = Some(
            invocation
                .connect_timeout()
                .saturating_add(invocation.response_timeout())
                .saturating_add(self.request_timeout()),
        );
        self.execute_json(request, "method result").await
    }
}
