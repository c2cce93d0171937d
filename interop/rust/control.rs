//! The suite hub's loopback control port (see `hub.rs`): telemetry received and
//! cloud-to-device messages, which IoT Hub offers back ends only over Event Hubs and AMQP.

use serde_json::Value;

/// A client of the control port.
pub(crate) struct Control {
    base: String,
    http: reqwest::Client,
}

impl Control {
    /// A client of the control port at `base` (`http://127.0.0.1:port`).
    pub(crate) fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// The telemetry the hub received from `device_id`.
    pub(crate) async fn telemetry(&self, device_id: &str) -> Result<Vec<Value>, String> {
        let url = format!("{}/telemetry/{device_id}", self.base);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        response
            .json()
            .await
            .map_err(|e| format!("telemetry list: {e}"))
    }

    /// Queues a cloud-to-device message for `device_id`: `body`, application `properties`,
    /// `messageId`, `correlationId`, `contentType`.
    pub(crate) async fn send_c2d(&self, device_id: &str, message: &Value) -> Result<(), String> {
        let url = format!("{}/c2d/{device_id}", self.base);
        let response = self
            .http
            .post(&url)
            .json(message)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        Err(format!("control port answered {status}: {text}"))
    }
}
