//! How a method call ends, and the error codes IoT Hub reports for the failures.

use std::fmt;

use crate::MethodResult;

/// IoT Hub's error code when the device did not come online within the connect timeout
/// (`DeviceNotOnline`, HTTP 404).
pub const ERROR_CODE_DEVICE_NOT_ONLINE: u32 = 404_103;
/// IoT Hub's error code when the device did not answer within the response timeout
/// (`GatewayTimeout`, HTTP 504; missing from the .NET SDK's error enum).
pub const ERROR_CODE_GATEWAY_TIMEOUT: u32 = 504_101;

/// The single outcome of a method call that was not cancelled.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome {
    /// The device answered; the back end gets this with HTTP 200, whatever the device's status.
    Response(MethodResult),
    /// The call failed without an answer from the device.
    Failed(CallFailure),
}

/// Why a method call ended without an answer from the device.
///
/// Each failure carries the numeric error code, the HTTP status, the error name of the
/// `iothub-errorcode` header and the message text that IoT Hub itself uses.
///
/// ```
/// use iot_methods::CallFailure;
///
/// let failure = CallFailure::ResponseTimeout;
/// assert_eq!(failure.error_code(), 504_101);
/// assert_eq!(failure.http_status(), 504);
/// assert_eq!(failure.to_string(), "Timed out waiting for the response from device.");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallFailure {
    /// The device was not connected and subscribed within the connect timeout.
    DeviceNotOnline,
    /// The device did not answer within the response timeout.
    ResponseTimeout,
}

impl CallFailure {
    /// IoT Hub's numeric error code (404103 or 504101).
    pub const fn error_code(self) -> u32 {
        match self {
            Self::DeviceNotOnline => ERROR_CODE_DEVICE_NOT_ONLINE,
            Self::ResponseTimeout => ERROR_CODE_GATEWAY_TIMEOUT,
        }
    }

    /// The HTTP status the back end receives (404 or 504).
    pub const fn http_status(self) -> u16 {
        match self {
            Self::DeviceNotOnline => 404,
            Self::ResponseTimeout => 504,
        }
    }

    /// The error name IoT Hub puts in the `iothub-errorcode` header.
    pub const fn error_name(self) -> &'static str {
        match self {
            Self::DeviceNotOnline => "DeviceNotOnline",
            Self::ResponseTimeout => "GatewayTimeout",
        }
    }

    /// The message text IoT Hub uses (the same as `Display`).
    pub const fn message(self) -> &'static str {
        match self {
            Self::DeviceNotOnline => "Timed out waiting for device to connect.",
            Self::ResponseTimeout => "Timed out waiting for the response from device.",
        }
    }
}

impl fmt::Display for CallFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for CallFailure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_carry_the_hubs_codes_and_texts() {
        let not_online = CallFailure::DeviceNotOnline;
        assert_eq!(
            (
                not_online.error_code(),
                not_online.http_status(),
                not_online.error_name()
            ),
            (404_103, 404, "DeviceNotOnline")
        );
        assert_eq!(not_online.to_string(), not_online.message());
        assert_eq!(
            not_online.message(),
            "Timed out waiting for device to connect."
        );

        let timeout = CallFailure::ResponseTimeout;
        assert_eq!(
            (
                timeout.error_code(),
                timeout.http_status(),
                timeout.error_name()
            ),
            (504_101, 504, "GatewayTimeout")
        );
        assert_eq!(timeout.to_string(), timeout.message());
    }

    #[test]
    fn http_status_is_the_code_prefix() {
        for failure in [CallFailure::DeviceNotOnline, CallFailure::ResponseTimeout] {
            assert_eq!(
                failure.error_code() / 1000,
                u32::from(failure.http_status())
            );
        }
    }
}
