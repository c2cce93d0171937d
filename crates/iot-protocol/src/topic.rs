//! Telemetry and cloud-to-device MQTT topics, and the cloud-to-device subscription filter.

use std::fmt;
use std::str::FromStr;

use crate::{DeviceId, Identity, MessageProperties, ModuleId, ProtocolError};

const INPUT: &str = "message topic";

/// A telemetry (device-to-cloud) or cloud-to-device message topic with its property bag.
///
/// | Kind | Topic |
/// |---|---|
/// | device telemetry | `devices/{deviceId}/messages/events/[{bag}]` |
/// | module telemetry | `devices/{deviceId}/modules/{moduleId}/messages/events/[{bag}]` |
/// | cloud-to-device | `devices/{deviceId}/messages/devicebound/[{bag}]` |
///
/// Parsing also accepts the topics without the trailing `/` when there is no bag. The bag is
/// everything after the last fixed segment, so a raw `/` inside it (which the official SDKs
/// never send) still parses. Will messages use the telemetry topic.
///
/// ```
/// use iot_protocol::MessageTopic;
///
/// let topic = MessageTopic::parse("devices/conf-py-7b73b5f6/messages/events/%24.ct=application%2Fjson&scenario=py-device").unwrap();
/// let MessageTopic::Telemetry { identity, properties } = &topic else { panic!() };
/// assert_eq!(identity.to_string(), "conf-py-7b73b5f6");
/// assert_eq!(properties.content_type.as_deref(), Some("application/json"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageTopic {
    /// A message from a device or module to the hub.
    Telemetry {
        /// The sender.
        identity: Identity,
        /// The message's properties.
        properties: MessageProperties,
    },
    /// A message from the hub to a device.
    CloudToDevice {
        /// The recipient.
        device_id: DeviceId,
        /// The message's properties.
        properties: MessageProperties,
    },
}

impl MessageTopic {
    /// Parses a topic of one of the three shapes.
    pub fn parse(topic: &str) -> Result<Self, ProtocolError> {
        let rest = topic.strip_prefix("devices/").ok_or(malformed())?;
        let (device, rest) = rest.split_once('/').ok_or(malformed())?;
        let device_id = DeviceId::parse(device)?;
        if let Some(bag) = tail(rest, "messages/events") {
            return Ok(Self::Telemetry {
                identity: Identity::device(device_id),
                properties: MessageProperties::parse(bag)?,
            });
        }
        if let Some(bag) = tail(rest, "messages/devicebound") {
            return Ok(Self::CloudToDevice {
                device_id,
                properties: MessageProperties::parse(bag)?,
            });
        }
        let rest = rest.strip_prefix("modules/").ok_or(malformed())?;
        let (module, rest) = rest.split_once('/').ok_or(malformed())?;
        let bag = tail(rest, "messages/events").ok_or(malformed())?;
        Ok(Self::Telemetry {
            identity: Identity::module(device_id, ModuleId::parse(module)?),
            properties: MessageProperties::parse(bag)?,
        })
    }

    /// The topic filter a device subscribes to for cloud-to-device messages:
    /// `devices/{deviceId}/messages/devicebound/#`.
    pub fn cloud_to_device_filter(device_id: &DeviceId) -> String {
        format!("devices/{device_id}/messages/devicebound/#")
    }

    /// The device a cloud-to-device subscription filter is for, or an error when `filter` is not
    /// exactly `devices/{deviceId}/messages/devicebound/#`. Ids may contain `+` and `#`, so
    /// `devices/+/messages/devicebound/#` names the device `+`: compare the result with the
    /// subscriber's own id.
    pub fn parse_cloud_to_device_filter(filter: &str) -> Result<DeviceId, ProtocolError> {
        let device = filter
            .strip_prefix("devices/")
            .and_then(|rest| rest.strip_suffix("/messages/devicebound/#"))
            .ok_or(ProtocolError::Malformed {
                input: "cloud-to-device topic filter",
                rule: "must be devices/{deviceId}/messages/devicebound/#",
            })?;
        DeviceId::parse(device)
    }

    /// The message's properties.
    pub fn properties(&self) -> &MessageProperties {
        match self {
            Self::Telemetry { properties, .. } | Self::CloudToDevice { properties, .. } => {
                properties
            }
        }
    }
}

/// What follows `segment` in `rest`: the bag after `segment/`, or `""` when `rest` is exactly
/// `segment`.
fn tail<'a>(rest: &'a str, segment: &str) -> Option<&'a str> {
    let after = rest.strip_prefix(segment)?;
    if after.is_empty() {
        return Some("");
    }
    after.strip_prefix('/')
}

fn malformed() -> ProtocolError {
    ProtocolError::Malformed {
        input: INPUT,
        rule: "must be devices/{id}/messages/events/, devices/{id}/modules/{id}/messages/events/ \
               or devices/{id}/messages/devicebound/, optionally followed by a property bag",
    }
}

impl FromStr for MessageTopic {
    type Err = ProtocolError;

    fn from_str(topic: &str) -> Result<Self, Self::Err> {
        Self::parse(topic)
    }
}

impl fmt::Display for MessageTopic {
    /// The topic, always with the `/` before the bag.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Telemetry {
                identity,
                properties,
            } => {
                write!(f, "devices/{}/", identity.device_id())?;
                if let Some(module) = identity.module_id() {
                    write!(f, "modules/{module}/")?;
                }
                write!(f, "messages/events/{properties}")
            }
            Self::CloudToDevice {
                device_id,
                properties,
            } => write!(f, "devices/{device_id}/messages/devicebound/{properties}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn device(id: &str) -> DeviceId {
        DeviceId::parse(id).unwrap()
    }

    #[test]
    fn captured_python_telemetry_topic() {
        let text = "devices/conf-py-7b73b5f6/messages/events/%24.mid=b36d&%24.ct=application%2Fjson&%24.ce=utf-8&scenario=py-device";
        let topic = MessageTopic::parse(text).unwrap();
        assert_eq!(topic.properties().message_id.as_deref(), Some("b36d"));
        assert_eq!(topic.to_string(), text);
    }

    #[test]
    fn real_hub_c2d_topic() {
        let text = "devices/VxDev1/messages/devicebound/%24.mid=ee06e90f&%24.to=%2Fdevices%2FVxDev1%2Fmessages%2Fdevicebound&%24.ce=utf-8";
        let topic = MessageTopic::parse(text).unwrap();
        let MessageTopic::CloudToDevice {
            device_id,
            properties,
        } = &topic
        else {
            panic!("{topic:?}");
        };
        assert_eq!(device_id.as_str(), "VxDev1");
        assert_eq!(
            properties.to.as_deref(),
            Some("/devices/VxDev1/messages/devicebound")
        );
        assert_eq!(MessageTopic::parse(&topic.to_string()).unwrap(), topic);
    }

    #[test]
    fn module_and_bare_topics() {
        let module = MessageTopic::parse("devices/d/modules/m/messages/events/").unwrap();
        let MessageTopic::Telemetry {
            identity,
            properties,
        } = &module
        else {
            panic!("{module:?}");
        };
        assert_eq!(identity.to_string(), "d/m");
        assert!(properties.is_empty());
        assert_eq!(module.to_string(), "devices/d/modules/m/messages/events/");
        for bare in [
            "devices/d/messages/events",
            "devices/d/messages/devicebound",
        ] {
            assert!(MessageTopic::parse(bare).unwrap().properties().is_empty());
        }
    }

    #[test]
    fn rejects_other_topics() {
        for bad in [
            "",
            "devices/d",
            "devices//messages/events/",
            "devices/d/messages/eventsx",
            "devices/d/messages/events2/",
            "devices/d/modules/m/messages/devicebound/",
            "devices/d/modules//messages/events/",
            "$iothub/twin/res/#",
            "devices/d/messages/events/%24.mid=1&%24.mid=2",
        ] {
            assert!(MessageTopic::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn c2d_filter_both_ways() {
        let filter = MessageTopic::cloud_to_device_filter(&device("dev#1"));
        assert_eq!(filter, "devices/dev#1/messages/devicebound/#");
        assert_eq!(
            MessageTopic::parse_cloud_to_device_filter(&filter).unwrap(),
            device("dev#1")
        );
        for bad in [
            "devices/d/messages/devicebound/",
            "devices/d/messages/devicebound/+",
            "devices/d/messages/events/#",
        ] {
            assert!(
                MessageTopic::parse_cloud_to_device_filter(bad).is_err(),
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(
            device_id in "[A-Za-z0-9\\-.+%_#*?!(),=@$':;]{1,20}",
            module in proptest::option::of("[A-Za-z0-9\\-.+%_#*?!(),=@$':;]{1,20}"),
            c2d in any::<bool>(),
            message_id in proptest::option::of("\\PC{0,10}"),
            app in proptest::collection::vec(("[a-z/ ]{1,6}", proptest::option::of("\\PC{0,10}")), 0..3),
        ) {
            let mut properties = MessageProperties::new();
            properties.message_id = message_id;
            for (name, value) in app {
                properties.application.push(crate::AppProperty { name, value });
            }
            let device_id = DeviceId::parse(&device_id).unwrap();
            let topic = match (c2d, module) {
                (true, _) => MessageTopic::CloudToDevice { device_id, properties },
                (false, None) => MessageTopic::Telemetry { identity: Identity::device(device_id), properties },
                (false, Some(m)) => MessageTopic::Telemetry {
                    identity: Identity::module(device_id, ModuleId::parse(&m).unwrap()),
                    properties,
                },
            };
            prop_assert_eq!(MessageTopic::parse(&topic.to_string()).unwrap(), topic);
        }

        #[test]
        fn parse_never_panics(topic in "devices/\\PC{0,60}") {
            let _ = MessageTopic::parse(&topic);
        }
    }
}
