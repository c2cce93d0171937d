//! SUBSCRIBE and UNSUBSCRIBE: which filters a device may use, and the session bookkeeping.
//!
//! A device may subscribe to exactly the filters IoT Hub documents: `$iothub/twin/res/#`,
//! `$iothub/twin/PATCH/properties/desired/#`, `$iothub/methods/POST/#` and its own
//! `devices/{id}/messages/devicebound/#`. Any other filter (another device's topics, other
//! `$iothub` topics, wildcards elsewhere) gets the failure code 0x80 in SUBACK, alone; the rest
//! of the packet is granted. Granted QoS is at most 1.

use iot_protocol::{DeviceId, MessageTopic};
use iot_twin::TwinSubscription;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Subscribe, SubscribeReasonCode, Unsubscribe};

use crate::HubError;
use crate::core::{Core, DeviceEntry};
use crate::session::{Feed, Subscriptions};
use crate::store::Op;

/// The feed a filter subscribes to, if `device` may use it.
pub(crate) fn feed_of(filter: &str, device: &DeviceId) -> Option<Feed> {
    if let Ok(twin) = filter.parse::<TwinSubscription>() {
        return Some(match twin {
            TwinSubscription::Responses => Feed::TwinResponses,
            TwinSubscription::DesiredPatches => Feed::DesiredPatches,
        });
    }
    if filter == iot_methods::topic::SUBSCRIPTION {
        return Some(Feed::Methods);
    }
    match MessageTopic::parse_cloud_to_device_filter(filter) {
        Ok(owner) if owner == *device => Some(Feed::CloudToDevice),
        _ => None,
    }
}

/// What a SUBSCRIBE or UNSUBSCRIBE changed.
#[derive(Debug)]
pub(crate) struct Changed {
    /// The SUBACK codes, one per filter (empty for UNSUBSCRIBE).
    pub(crate) codes: Vec<SubscribeReasonCode>,
    /// Whether the method feed is subscribed after the change.
    pub(crate) methods: bool,
    /// The subscriptions before, to tell what changed.
    pub(crate) before: Subscriptions,
}

impl Core {
    /// Applies a SUBSCRIBE of connection `connection`: commits a persistent session's new
    /// subscriptions, installs them, and returns the SUBACK codes. Holds the device's write
    /// lock throughout, then delivers queued messages if they were just subscribed.
    pub(crate) async fn subscribe(
        &self,
        entry: &DeviceEntry,
        device: &DeviceId,
        connection: u64,
        packet: &Subscribe,
    ) -> Result<Changed, HubError> {
        let _write = entry.write.lock().await;
        let before = entry.read().session.subscriptions;
        let mut after = before;
        let codes = packet
            .filters
            .iter()
            .map(|filter| match feed_of(&filter.path, device) {
                Some(feed) => {
                    let qos = (filter.qos as u8).min(1);
                    after.add(feed, qos);
                    SubscribeReasonCode::Success(if qos == 0 {
                        QoS::AtMostOnce
                    } else {
                        QoS::AtLeastOnce
                    })
                }
                None => SubscribeReasonCode::Failure,
            })
            .collect();
        self.install(entry, device, connection, after).await?;
        let added = !before.has(Feed::CloudToDevice) && after.has(Feed::CloudToDevice);
        if added {
            self.deliver_queued(entry, device).await?;
        }
        Ok(Changed {
            codes,
            methods: after.has(Feed::Methods),
            before,
        })
    }

    /// Applies an UNSUBSCRIBE; filters the device could not have subscribed are ignored.
    pub(crate) async fn unsubscribe(
        &self,
        entry: &DeviceEntry,
        device: &DeviceId,
        connection: u64,
        packet: &Unsubscribe,
    ) -> Result<Changed, HubError> {
        let _write = entry.write.lock().await;
        let before = entry.read().session.subscriptions;
        let mut after = before;
        for feed in packet.topics.iter().filter_map(|f| feed_of(f, device)) {
            after.remove(feed);
        }
        self.install(entry, device, connection, after).await?;
        Ok(Changed {
            codes: Vec::new(),
            methods: after.has(Feed::Methods),
            before,
        })
    }

    /// Commits (for a persistent session) and installs `after`, if `connection` still owns
    /// the session. The caller holds the write lock.
    async fn install(
        &self,
        entry: &DeviceEntry,
        device: &DeviceId,
        connection: u64,
        after: Subscriptions,
    ) -> Result<(), HubError> {
        let (owned, persistent, before) = {
            let state = entry.read();
            let owned = state
                .session
                .connection
                .as_ref()
                .is_some_and(|c| c.id == connection);
            (owned, state.session.persistent, state.session.subscriptions)
        };
        if !owned || before == after {
            return Ok(());
        }
        if persistent {
            let op = Op::PutSession {
                client_id: device.as_str().to_owned(),
                body: after.to_json(),
            };
            self.store.commit(vec![op]).await?;
        }
        entry.lock().session.subscriptions = after;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_filters_of_the_device_itself_are_allowed() {
        let device: DeviceId = "d1".parse().unwrap();
        let cases = [
            ("$iothub/twin/res/#", Some(Feed::TwinResponses)),
            (
                "$iothub/twin/PATCH/properties/desired/#",
                Some(Feed::DesiredPatches),
            ),
            ("$iothub/methods/POST/#", Some(Feed::Methods)),
            (
                "devices/d1/messages/devicebound/#",
                Some(Feed::CloudToDevice),
            ),
            ("devices/d2/messages/devicebound/#", None),
            ("devices/+/messages/devicebound/#", None),
            ("devices/d1/messages/events/#", None),
            ("$iothub/twin/#", None),
            ("$iothub/#", None),
            ("#", None),
            ("$iothub/methods/POST/+", None),
        ];
        for (filter, expected) in cases {
            assert_eq!(feed_of(filter, &device), expected, "{filter}");
        }
    }
}
