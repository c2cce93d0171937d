//! The twin topics the hub writes, built with `iot_twin`'s topic codec.

use std::fmt::Write as _;

use iot_twin::{HubTopic, RequestId, TwinVersion};

/// `$iothub/twin/res/{status}/?$rid=&$version={version}` without the request id, with room
/// for a 20-digit version and for percent-encoding in the request id.
const RESPONSE_CAPACITY: usize = 64;

/// `$iothub/twin/PATCH/properties/desired/?$version={version}`.
pub(crate) fn desired(version: TwinVersion) -> String {
    HubTopic::DesiredPatch { version }.to_string()
}

/// `$iothub/twin/res/{status}/?$rid={rid}[&$version={version}]`.
///
/// Written into a string sized for the whole topic, which `to_string` would grow several times.
pub(crate) fn response(status: u16, request_id: RequestId, version: Option<TwinVersion>) -> String {
    let mut topic = String::with_capacity(RESPONSE_CAPACITY + request_id.as_str().len());
    let response = HubTopic::Response {
        status,
        request_id,
        version,
    };
    // Writing to a `String` cannot fail.
    let _ = write!(topic, "{response}");
    topic
}
