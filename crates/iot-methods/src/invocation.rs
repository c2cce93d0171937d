//! The service side of a direct method over REST: the invocation a back end posts to
//! `/twins/{deviceId}/methods` and the result it gets back.

use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::{Error, MethodName, payload};

/// A back end's request to call a method on a device: the body of
/// `POST /twins/{deviceId}/methods` (`CloudToDeviceMethod` in the REST reference).
///
/// On the wire it is
/// `{"methodName": "...", "payload": ..., "responseTimeoutInSeconds": 30, "connectTimeoutInSeconds": 0}`.
/// Deserializing validates every field and ignores unknown ones (the Node service SDK passes
/// through extras such as `timeoutInSeconds`); absent or `null` fields take their defaults, so
/// `{"methodName": "reboot"}` is a complete invocation with a `null` payload.
///
/// ```
/// use std::time::Duration;
/// use iot_methods::MethodInvocation;
///
/// let call: MethodInvocation = serde_json::from_str(
///     r#"{"methodName":"reboot","payload":{},"responseTimeoutInSeconds":5,"timeoutInSeconds":9}"#,
/// )
/// .unwrap();
/// assert_eq!(call.method_name().as_str(), "reboot");
/// assert_eq!(call.response_timeout(), Duration::from_secs(5));
/// assert_eq!(call.connect_timeout(), Duration::ZERO);
///
/// let too_short = r#"{"methodName":"reboot","responseTimeoutInSeconds":1}"#;
/// assert!(serde_json::from_str::<MethodInvocation>(too_short).is_err());
/// ```
///
/// Serde reports a broken rule only as text; [`MethodInvocation::from_json`] reports it as a
/// typed [`Error`], so that a hub can answer 413 for a payload over the limit and 400 for the
/// rest.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "InvocationWire")]
pub struct MethodInvocation {
    method_name: MethodName,
    payload: Value,
    response_timeout: Duration,
    connect_timeout: Duration,
}

impl MethodInvocation {
    /// The response timeout when the request gives none: 30 s.
    pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
    /// The shortest response timeout IoT Hub accepts: 5 s.
    pub const MIN_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
    /// The longest response timeout IoT Hub accepts: 300 s.
    pub const MAX_RESPONSE_TIMEOUT: Duration = Duration::from_secs(300);
    /// The connect timeout when the request gives none: 0 s (the device must already be online).
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::ZERO;
    /// The longest connect timeout IoT Hub accepts: 300 s.
    pub const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(300);

    /// An invocation of `method_name` with `payload` (`Value::Null` for none) and the default
    /// timeouts.
    ///
    /// # Errors
    /// [`Error::PayloadTooLarge`] when the payload encodes to more than
    /// [`payload::MAX_PAYLOAD_BYTES`].
    pub fn new(method_name: MethodName, payload: Value) -> Result<Self, Error> {
        payload::check(&payload)?;
        Ok(Self {
            method_name,
            payload,
            response_timeout: Self::DEFAULT_RESPONSE_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
        })
    }

    /// Reads an invocation from a REST request body, with typed errors.
    ///
    /// ```
    /// use iot_methods::{Error, MethodInvocation};
    ///
    /// let body = br#"{"methodName":"reboot","connectTimeoutInSeconds":301}"#;
    /// assert!(matches!(
    ///     MethodInvocation::from_json(body),
    ///     Err(Error::ConnectTimeoutOutOfRange { seconds: 301, .. })
    /// ));
    /// ```
    ///
    /// # Errors
    /// [`Error::MalformedInvocation`] when the body is not a JSON object of the expected shape;
    /// otherwise the error of the first field that breaks a rule (method name, payload size,
    /// timeouts).
    pub fn from_json(body: &[u8]) -> Result<Self, Error> {
        let wire: InvocationWire =
            serde_json::from_slice(body).map_err(|err| Error::MalformedInvocation {
                reason: err.to_string(),
            })?;
        Self::try_from(wire)
    }

    /// Sets how long the hub waits for the device's answer once the request is sent.
    ///
    /// The wire counts whole seconds; a fractional part is rounded up, so the hub never waits
    /// less than asked.
    ///
    /// # Errors
    /// [`Error::ResponseTimeoutOutOfRange`] outside 5-300 s.
    pub fn with_response_timeout(mut self, timeout: Duration) -> Result<Self, Error> {
        self.response_timeout = response_timeout_from_secs(whole_seconds(timeout))?;
        Ok(self)
    }

    /// Sets how long the hub waits for an offline device to connect before giving up.
    ///
    /// The wire counts whole seconds; a fractional part is rounded up.
    ///
    /// # Errors
    /// [`Error::ConnectTimeoutOutOfRange`] above 300 s.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Result<Self, Error> {
        self.connect_timeout = connect_timeout_from_secs(whole_seconds(timeout))?;
        Ok(self)
    }

    /// The method to call.
    pub fn method_name(&self) -> &MethodName {
        &self.method_name
    }

    /// The JSON payload handed to the device (`null` when none was given).
    pub fn payload(&self) -> &Value {
        &self.payload
    }

    /// How long the hub waits for the device's answer once the request is sent.
    pub fn response_timeout(&self) -> Duration {
        self.response_timeout
    }

    /// How long the hub waits for an offline device to connect.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Splits the invocation into its method name and payload, dropping the timeouts.
    pub fn into_parts(self) -> (MethodName, Value) {
        (self.method_name, self.payload)
    }
}

/// Whole seconds in `timeout`, rounded up, saturating at `i64::MAX`.
fn whole_seconds(timeout: Duration) -> i64 {
    let secs = timeout
        .as_secs()
        .saturating_add(u64::from(timeout.subsec_nanos() > 0));
    i64::try_from(secs).unwrap_or(i64::MAX)
}

fn response_timeout_from_secs(seconds: i64) -> Result<Duration, Error> {
    let min = MethodInvocation::MIN_RESPONSE_TIMEOUT.as_secs();
    let max = MethodInvocation::MAX_RESPONSE_TIMEOUT.as_secs();
    in_range(seconds, min, max).ok_or(Error::ResponseTimeoutOutOfRange { seconds, min, max })
}

fn connect_timeout_from_secs(seconds: i64) -> Result<Duration, Error> {
    let max = MethodInvocation::MAX_CONNECT_TIMEOUT.as_secs();
    in_range(seconds, 0, max).ok_or(Error::ConnectTimeoutOutOfRange {
        seconds,
        min: 0,
        max,
    })
}

/// `seconds` as a duration when it lies in `min..=max`.
fn in_range(seconds: i64, min: u64, max: u64) -> Option<Duration> {
    let secs = u64::try_from(seconds).ok()?;
    (min..=max)
        .contains(&secs)
        .then(|| Duration::from_secs(secs))
}

impl Serialize for MethodInvocation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        InvocationWireRef {
            method_name: &self.method_name,
            payload: &self.payload,
            response_timeout_in_seconds: whole_seconds(self.response_timeout),
            connect_timeout_in_seconds: whole_seconds(self.connect_timeout),
        }
        .serialize(serializer)
    }
}

/// The JSON shape of [`MethodInvocation`], as read. The name is read as plain text so that
/// its rules are checked (with typed errors) in `try_from`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvocationWire {
    method_name: String,
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    response_timeout_in_seconds: Option<i64>,
    #[serde(default)]
    connect_timeout_in_seconds: Option<i64>,
}

impl TryFrom<InvocationWire> for MethodInvocation {
    type Error = Error;

    fn try_from(wire: InvocationWire) -> Result<Self, Error> {
        let mut invocation = Self::new(MethodName::try_from(wire.method_name)?, wire.payload)?;
        if let Some(seconds) = wire.response_timeout_in_seconds {
            invocation.response_timeout = response_timeout_from_secs(seconds)?;
        }
        if let Some(seconds) = wire.connect_timeout_in_seconds {
            invocation.connect_timeout = connect_timeout_from_secs(seconds)?;
        }
        Ok(invocation)
    }
}

/// The JSON shape of [`MethodInvocation`], as written: every field, like the Node SDK.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvocationWireRef<'a> {
    method_name: &'a MethodName,
    payload: &'a Value,
    response_timeout_in_seconds: i64,
    connect_timeout_in_seconds: i64,
}

/// What a back end gets back from a method call the device answered: the body of the 200
/// response, `{"status": <int>, "payload": <JSON or null>}`.
///
/// `status` is whatever the device chose (the HTTP status is 200 even when the device answered
/// 404 or 500). A missing `payload` reads as `null`; `null` is always written.
///
/// ```
/// use iot_methods::MethodResult;
/// use serde_json::json;
///
/// let result = MethodResult::new(200, json!("Reboot started"));
/// assert_eq!(
///     serde_json::to_string(&result).unwrap(),
///     r#"{"status":200,"payload":"Reboot started"}"#
/// );
/// let read: MethodResult = serde_json::from_str(r#"{"status":404}"#).unwrap();
/// assert_eq!(read.status(), 404);
/// assert!(read.payload().is_null());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodResult {
    status: i32,
    #[serde(default)]
    payload: Value,
}

impl MethodResult {
    /// A result with the device's `status` and `payload`.
    pub fn new(status: i32, payload: Value) -> Self {
        Self { status, payload }
    }

    /// The status the device answered with.
    pub fn status(&self) -> i32 {
        self.status
    }

    /// The device's JSON payload (`null` when it sent none).
    pub fn payload(&self) -> &Value {
        &self.payload
    }

    /// The device's JSON payload, owned.
    pub fn into_payload(self) -> Value {
        self.payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn parse(json: &str) -> Result<MethodInvocation, serde_json::Error> {
        serde_json::from_str(json)
    }

    fn reboot() -> MethodName {
        "reboot".parse().unwrap()
    }

    #[test]
    fn reads_what_node_sends() {
        let call = parse(
            r#"{"methodName":"reboot","payload":{},"responseTimeoutInSeconds":5,"connectTimeoutInSeconds":0}"#,
        )
        .unwrap();
        assert_eq!(call.method_name(), &reboot());
        assert_eq!(call.payload(), &json!({}));
        assert_eq!(call.response_timeout(), Duration::from_secs(5));
        assert_eq!(call.connect_timeout(), Duration::ZERO);
    }

    #[test]
    fn absent_fields_take_defaults_and_unknown_fields_are_ignored() {
        let call = parse(r#"{"methodName":"reboot","timeoutInSeconds":200,"extra":[1]}"#).unwrap();
        assert_eq!(call.payload(), &Value::Null);
        assert_eq!(
            call.response_timeout(),
            MethodInvocation::DEFAULT_RESPONSE_TIMEOUT
        );
        assert_eq!(
            call.connect_timeout(),
            MethodInvocation::DEFAULT_CONNECT_TIMEOUT
        );
        let nulls = parse(
            r#"{"methodName":"reboot","payload":null,"responseTimeoutInSeconds":null,"connectTimeoutInSeconds":null}"#,
        )
        .unwrap();
        assert_eq!(nulls, call);
    }

    #[test]
    fn range_limits_are_inclusive() {
        for (field, ok, bad) in [
            ("responseTimeoutInSeconds", [5, 300], [4, 301]),
            ("connectTimeoutInSeconds", [0, 300], [-1, 301]),
        ] {
            for seconds in ok {
                assert!(parse(&format!(r#"{{"methodName":"m","{field}":{seconds}}}"#)).is_ok());
            }
            for seconds in bad {
                let err =
                    parse(&format!(r#"{{"methodName":"m","{field}":{seconds}}}"#)).unwrap_err();
                assert!(err.to_string().contains(field), "{err}");
                assert!(err.to_string().contains(&seconds.to_string()), "{err}");
            }
        }
    }

    #[test]
    fn bad_name_and_missing_name_are_rejected() {
        let err = parse(r#"{"methodName":"a/b"}"#).unwrap_err();
        assert!(err.to_string().contains("'/'"), "{err}");
        let err = parse(r#"{"payload":1}"#).unwrap_err();
        assert!(err.to_string().contains("methodName"), "{err}");
        assert!(parse(r#"{"methodName":"m","responseTimeoutInSeconds":"30"}"#).is_err());
    }

    #[test]
    fn oversized_payload_is_rejected() {
        let big = "x".repeat(payload::MAX_PAYLOAD_BYTES);
        let err = MethodInvocation::new(reboot(), json!(big)).unwrap_err();
        assert!(matches!(err, Error::PayloadTooLarge { size: 131_074, .. }));
        let body = json!({"methodName": "reboot", "payload": big}).to_string();
        assert!(parse(&body).unwrap_err().to_string().contains("131072"));
    }

    #[test]
    fn from_json_gives_typed_errors() {
        let from = |body: &str| MethodInvocation::from_json(body.as_bytes());
        assert_eq!(
            from(r#"{"methodName":"reboot","payload":[1]}"#).unwrap(),
            parse(r#"{"methodName":"reboot","payload":[1]}"#).unwrap()
        );
        assert_eq!(from(r#"{"methodName":""}"#), Err(Error::EmptyMethodName));
        assert!(matches!(
            from(r#"{"methodName":"m","responseTimeoutInSeconds":301}"#),
            Err(Error::ResponseTimeoutOutOfRange {
                seconds: 301,
                min: 5,
                max: 300
            })
        ));
        let big = json!({"methodName": "m", "payload": "x".repeat(payload::MAX_PAYLOAD_BYTES)});
        assert!(matches!(
            from(&big.to_string()),
            Err(Error::PayloadTooLarge {
                size: 131_074,
                limit: 131_072
            })
        ));
        for malformed in ["", "[]", r#"{"payload":1}"#, r#"{"methodName":7}"#, "{"] {
            let err = from(malformed).unwrap_err();
            assert!(
                matches!(err, Error::MalformedInvocation { .. }),
                "{malformed}: {err:?}"
            );
        }
        let err = from(r#"{"payload":1}"#).unwrap_err();
        assert!(
            err.to_string().contains("missing field `methodName`"),
            "{err}"
        );
    }

    #[test]
    fn builder_validates_timeouts() {
        let call = MethodInvocation::new(reboot(), Value::Null).unwrap();
        let call = call
            .with_response_timeout(Duration::from_millis(4_001))
            .unwrap();
        assert_eq!(call.response_timeout(), Duration::from_secs(5));
        assert_eq!(
            call.clone().with_response_timeout(Duration::from_secs(4)),
            Err(Error::ResponseTimeoutOutOfRange {
                seconds: 4,
                min: 5,
                max: 300
            })
        );
        assert_eq!(
            call.clone().with_connect_timeout(Duration::MAX),
            Err(Error::ConnectTimeoutOutOfRange {
                seconds: i64::MAX,
                min: 0,
                max: 300
            })
        );
        let call = call.with_connect_timeout(Duration::from_secs(300)).unwrap();
        assert_eq!(call.connect_timeout(), Duration::from_secs(300));
    }

    #[test]
    fn writes_every_field() {
        let call = MethodInvocation::new(reboot(), Value::Null).unwrap();
        assert_eq!(
            serde_json::to_value(&call).unwrap(),
            json!({"methodName": "reboot", "payload": null,
                   "responseTimeoutInSeconds": 30, "connectTimeoutInSeconds": 0})
        );
    }

    #[test]
    fn result_reads_null_or_missing_payload() {
        let read: MethodResult = serde_json::from_str(r#"{"status":-1,"payload":null}"#).unwrap();
        assert_eq!(read, MethodResult::new(-1, Value::Null));
        assert_eq!(
            serde_json::to_string(&MethodResult::new(500, Value::Null)).unwrap(),
            r#"{"status":500,"payload":null}"#
        );
        assert!(serde_json::from_str::<MethodResult>(r#"{"payload":1}"#).is_err());
    }

    proptest! {
        #[test]
        fn invocation_json_round_trip(
            response in 5u64..=300,
            connect in 0u64..=300,
            text in "\\PC{0,20}",
        ) {
            let call = MethodInvocation::new(reboot(), json!({"text": text}))
                .unwrap()
                .with_response_timeout(Duration::from_secs(response))
                .unwrap()
                .with_connect_timeout(Duration::from_secs(connect))
                .unwrap();
            let json = serde_json::to_string(&call).unwrap();
            prop_assert_eq!(parse(&json).unwrap(), call);
        }

        #[test]
        fn result_json_round_trip(status in any::<i32>(), text in "\\PC{0,20}") {
            let result = MethodResult::new(status, json!(text));
            let json = serde_json::to_string(&result).unwrap();
            prop_assert_eq!(serde_json::from_str::<MethodResult>(&json).unwrap(), result);
        }
    }
}
