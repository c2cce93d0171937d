//! IoT Hub error codes: a six-digit number whose first three digits are the HTTP status, and a
//! name sent in the `iothub-errorcode` header.

use std::fmt;
use std::str::FromStr;

use crate::ProtocolError;

macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident = $number:literal,)*) => {
        /// An IoT Hub error code.
        ///
        /// Numbers and names are those of the IoT Hub error reference and the service swagger;
        /// each maps to its HTTP status (the number's first three digits), its number and its
        /// name, and back. The selection covers what the registry, twins, methods, jobs,
        /// configurations and the MQTT endpoint produce, plus the generic code of each status.
        ///
        /// ```
        /// use iot_protocol::ErrorCode;
        ///
        /// let code = ErrorCode::DeviceNotFound;
        /// assert_eq!((code.http_status(), code.number(), code.name()), (404, 404001, "DeviceNotFound"));
        /// assert_eq!(ErrorCode::from_number(404001), Some(code));
        /// assert_eq!("DeviceNotFound".parse::<ErrorCode>().unwrap(), code);
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)*
        }

        impl ErrorCode {
            /// Every code this crate knows, in numeric order.
            pub const ALL: &'static [Self] = &[$(Self::$name,)*];

            /// The six-digit code, e.g. `404001`.
            pub fn number(self) -> u32 {
                match self {
                    $(Self::$name => $number,)*
                }
            }

            /// The name, e.g. `DeviceNotFound`: the value of the `iothub-errorcode` header.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }
        }
    };
}

error_codes! {
    // 400 Bad Request
    /// 400000: a request that fits no more specific code.
    GenericBadRequest = 400000,
    /// 400001: the api-version is not supported.
    InvalidProtocolVersion = 400001,
    /// 400003: the operation is not valid in this context.
    InvalidOperation = 400003,
    /// 400004: an argument (body field, twin key or value, id) is invalid.
    ArgumentInvalid = 400004,
    /// 400005: a required argument is null.
    ArgumentNull = 400005,
    /// 400006: the body is not parsable JSON.
    IotHubFormatError = 400006,
    /// 400011: a bulk operation names the same device twice.
    DeviceDefinedMultipleTimes = 400011,
    /// 400012: the body could not be deserialized.
    DeserializationError = 400012,
    /// 400013: a bulk registry operation failed.
    BulkRegistryOperationFailure = 400013,
    /// 400027: the connection was closed because the same identity connected again.
    ConnectionForcefullyClosedOnNewConnection = 400027,
    /// 400401: a configuration's target condition is invalid.
    InvalidConfigurationTargetCondition = 400401,
    /// 400402: a configuration's content is invalid.
    InvalidConfigurationContent = 400402,
    /// 400403: a configuration's content cannot change after creation.
    CannotModifyImmutableConfigurationContent = 400403,
    /// 400404: a configuration's custom metric query is invalid.
    InvalidConfigurationCustomMetricsQuery = 400404,
    // 401 Unauthorized
    /// 401000: not authorized, no more specific code.
    GenericUnauthorized = 401000,
    /// 401001: the hub in the token or host does not exist.
    IotHubNotFound = 401001,
    /// 401002: the SAS token is missing, malformed, expired, or does not grant the operation.
    IotHubUnauthorizedAccess = 401002,
    /// 401003: authentication failed (the code the hub logs when it closes an expired device
    /// connection).
    IotHubUnauthorized = 401003,
    // 403 Forbidden
    /// 403000: forbidden, no more specific code.
    GenericForbidden = 403000,
    /// 403002: the hub's daily message quota is used up.
    IotHubQuotaExceeded = 403002,
    /// 403003: the job quota is used up.
    JobQuotaExceeded = 403003,
    /// 403004: the device's cloud-to-device queue is full.
    DeviceMaximumQueueDepthExceeded = 403004,
    /// 403100: a twin section is over its size limit (the code IoT Hub returns for
    /// `'Properties.Reported' size should be less than 32768 bytes.`).
    DeviceModelMaxPropertiesExceeded = 403100,
    // 404 Not Found
    /// 404000: not found, no more specific code.
    GenericNotFound = 404000,
    /// 404001: no such device.
    DeviceNotFound = 404001,
    /// 404002: no such job.
    JobNotFound = 404002,
    /// 404010: no such module.
    ModuleNotFound = 404010,
    /// 404103: the device is not connected (or not subscribed to methods) within the connect
    /// timeout.
    DeviceNotOnline = 404103,
    /// 404104: the device closed its connection.
    DeviceConnectionClosedRemotely = 404104,
    /// 404301: no such configuration.
    ConfigurationNotFound = 404301,
    // 405 Method Not Allowed
    /// 405000: the HTTP method is not allowed on this resource.
    GenericMethodNotAllowed = 405000,
    // 409 Conflict
    /// 409000: conflict, no more specific code.
    GenericConflict = 409000,
    /// 409001: a device with this id exists.
    DeviceAlreadyExists = 409001,
    /// 409104: a job with this id exists.
    JobAlreadyExists = 409104,
    /// 409301: the device already has a module with this id.
    ModuleAlreadyExistsOnDevice = 409301,
    /// 409401: a configuration with this id exists.
    ConfigurationAlreadyExists = 409401,
    // 412 Precondition Failed
    /// 412000: a precondition failed, no more specific code.
    GenericPreconditionFailed = 412000,
    /// 412001: the `If-Match` etag does not match.
    PreconditionFailed = 412001,
    /// 412002: a cloud-to-device message's lock expired before completion.
    DeviceMessageLockLost = 412002,
    // 413 Payload Too Large
    /// 413000: the request is too large, no more specific code.
    GenericRequestEntityTooLarge = 413000,
    /// 413001: a message or method payload is over its size limit.
    MessageTooLarge = 413001,
    /// 413002: a bulk operation names too many devices.
    TooManyDevices = 413002,
    /// 413003: the device has too many modules.
    TooManyModulesOnDevice = 413003,
    /// 413101: the hub has the maximum number of configurations.
    ConfigurationCountLimitExceeded = 413101,
    // 415 Unsupported Media Type
    /// 415000: the content type is not supported.
    GenericUnsupportedMediaType = 415000,
    // 429 Too Many Requests
    /// 429000: throttled, no more specific code.
    GenericTooManyRequests = 429000,
    /// 429001: the operation's throttle is exceeded.
    ThrottlingException = 429001,
    /// 429002: too many requests are queued behind the throttle.
    ThrottleBacklogLimitExceeded = 429002,
    /// 429003: a request waited too long behind the throttle.
    ThrottlingBacklogTimeout = 429003,
    /// 429004: too many jobs are active.
    ThrottlingMaxActiveJobCountExceeded = 429004,
    /// 429005: the device's own throttle is exceeded.
    DeviceThrottlingLimitExceeded = 429005,
    // 500 Internal Server Error
    /// 500000: a server error, no more specific code.
    GenericServerError = 500000,
    /// 500001: a transient server error.
    ServerError = 500001,
    /// 500002: the job was cancelled.
    JobCancelled = 500002,
    // 503 Service Unavailable
    /// 503000: unavailable, no more specific code.
    GenericServiceUnavailable = 503000,
    /// 503001: the service is temporarily unavailable.
    ServiceUnavailable = 503001,
    // 504 Gateway Timeout
    /// 504000: a gateway timeout, no more specific code.
    GenericGatewayTimeout = 504000,
    /// 504101: the device did not answer a direct method within the response timeout.
    GatewayTimeout = 504101,
}

impl ErrorCode {
    /// The HTTP status this code is sent with: its first three digits.
    pub fn http_status(self) -> u16 {
        u16::try_from(self.number() / 1000).unwrap_or(500)
    }

    /// The code with this number, if known.
    pub fn from_number(number: u32) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|code| code.number() == number)
    }

    /// The code with this name (case-sensitive), if known.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|code| code.name() == name)
    }
}

impl ErrorCode {
    /// The code IoT Hub answers a failed twin write with: 400006 `IotHubFormatError` when the
    /// body is not a well-formed twin document, 400004 `ArgumentInvalid` when it breaks a rule
    /// about keys, values or depth, 403100 when a section would outgrow its size quota.
    pub fn for_twin_error(error: &iot_twin::TwinError) -> Self {
        Self::from(error.class())
    }
}

impl From<iot_twin::ErrorClass> for ErrorCode {
    fn from(class: iot_twin::ErrorClass) -> Self {
        match class {
            iot_twin::ErrorClass::Malformed => Self::IotHubFormatError,
            iot_twin::ErrorClass::QuotaExceeded => Self::DeviceModelMaxPropertiesExceeded,
            _ => Self::ArgumentInvalid,
        }
    }
}

impl FromStr for ErrorCode {
    type Err = ProtocolError;

    /// Parses a name (`DeviceNotFound`) or a number (`404001`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_name(text)
            .or_else(|| text.parse().ok().and_then(Self::from_number))
            .ok_or_else(|| ProtocolError::UnknownErrorCode {
                code: text.to_owned(),
            })
    }
}

impl fmt::Display for ErrorCode {
    /// The name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn protocol_table_rows() {
        let rows: &[(u16, u32, &str)] = &[
            (400, 400004, "ArgumentInvalid"),
            (400, 400005, "ArgumentNull"),
            (400, 400006, "IotHubFormatError"),
            (400, 400011, "DeviceDefinedMultipleTimes"),
            (400, 400013, "BulkRegistryOperationFailure"),
            (401, 401002, "IotHubUnauthorizedAccess"),
            (403, 403002, "IotHubQuotaExceeded"),
            (403, 403004, "DeviceMaximumQueueDepthExceeded"),
            (404, 404001, "DeviceNotFound"),
            (404, 404002, "JobNotFound"),
            (404, 404010, "ModuleNotFound"),
            (404, 404103, "DeviceNotOnline"),
            (409, 409001, "DeviceAlreadyExists"),
            (409, 409301, "ModuleAlreadyExistsOnDevice"),
            (412, 412001, "PreconditionFailed"),
            (413, 413001, "MessageTooLarge"),
            (413, 413002, "TooManyDevices"),
            (429, 429001, "ThrottlingException"),
            (429, 429002, "ThrottleBacklogLimitExceeded"),
            (429, 429003, "ThrottlingBacklogTimeout"),
            (429, 429004, "ThrottlingMaxActiveJobCountExceeded"),
            (429, 429005, "DeviceThrottlingLimitExceeded"),
            (500, 500001, "ServerError"),
            (503, 503001, "ServiceUnavailable"),
            (504, 504101, "GatewayTimeout"),
            (403, 403100, "DeviceModelMaxPropertiesExceeded"),
            (409, 409104, "JobAlreadyExists"),
            (400, 400027, "ConnectionForcefullyClosedOnNewConnection"),
        ];
        for &(status, number, name) in rows {
            let code = ErrorCode::from_number(number).unwrap();
            assert_eq!(
                (code.http_status(), code.name()),
                (status, name),
                "{number}"
            );
            assert_eq!(ErrorCode::from_name(name), Some(code));
        }
    }

    #[test]
    fn mapping_is_a_bijection() {
        let numbers: HashSet<_> = ErrorCode::ALL.iter().map(|c| c.number()).collect();
        let names: HashSet<_> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(numbers.len(), ErrorCode::ALL.len());
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_number(code.number()), Some(code));
            assert_eq!(code.to_string().parse::<ErrorCode>().unwrap(), code);
            assert_eq!(
                code.number().to_string().parse::<ErrorCode>().unwrap(),
                code
            );
            assert!((400..600).contains(&code.http_status()));
            assert_eq!(u32::from(code.http_status()), code.number() / 1000);
        }
        let mut sorted = ErrorCode::ALL.to_vec();
        sorted.sort_by_key(|c| c.number());
        assert_eq!(sorted, ErrorCode::ALL);
    }

    #[test]
    fn twin_errors_map_to_the_hubs_codes() {
        let cases = [
            (iot_twin::Patch::from_slice(b"{").unwrap_err(), 400_006),
            (iot_twin::Patch::from_slice(b"[]").unwrap_err(), 400_006),
            (
                iot_twin::Patch::from_slice(br#"{"a.b":1}"#).unwrap_err(),
                400_004,
            ),
            (
                iot_twin::TwinError::SectionTooLarge {
                    section: iot_twin::SectionKind::Reported,
                    size: 40_000,
                    limit: 32_768,
                },
                403_100,
            ),
        ];
        for (error, number) in cases {
            assert_eq!(
                ErrorCode::for_twin_error(&error).number(),
                number,
                "{error}"
            );
        }
    }

    #[test]
    fn unknown_codes_are_errors() {
        assert!(ErrorCode::from_number(999999).is_none());
        assert!("devicenotfound".parse::<ErrorCode>().is_err());
        assert_eq!(
            "Nope".parse::<ErrorCode>().unwrap_err(),
            ProtocolError::UnknownErrorCode {
                code: "Nope".into()
            }
        );
    }
}
