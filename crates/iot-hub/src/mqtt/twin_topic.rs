//! The twin topics the hub writes, built with `iot_twin`'s topic codec.

use iot_twin::{HubTopic, RequestId, TwinVersion};

/// `$iothub/twin/PATCH/properties/desired/?$version={version}`.
pub(crate) fn desired(version: TwinVersion) -> String {
    HubTopic::DesiredPatch { version }.to_string()
}

/// `$iothub/twin/res/{status}/?$rid={rid}[&$version={version}]`.
pub(crate) fn response(status: u16, request_id: RequestId, version: Option<TwinVersion>) -> String {
    HubTopic::Response {
        status,
        request_id,
        version,
    }
    .to_string()
}
