//! Desired properties as the application sees them: the converged copy
//! ([`DesiredProperties`]), a watch of it ([`DesiredWatch`]) and a stream of its changes
//! ([`DesiredChanges`]).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use iot_twin::{Patch, TwinVersion, diff};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio_stream::wrappers::WatchStream;

use crate::Error;

/// The device's copy of desired properties at one `$version`, in step with the hub.
///
/// Cheap to clone: the content is shared.
///
/// ```
/// use iot_device_sdk::DesiredProperties;
/// use iot_device_sdk::TwinVersion;
/// use serde_json::json;
///
/// let content = json!({"telemetryInterval": 30}).as_object().unwrap().clone();
/// let desired = DesiredProperties::new(TwinVersion::new(4).unwrap(), content);
/// assert_eq!(desired.get("telemetryInterval"), Some(&json!(30)));
///
/// #[derive(serde::Deserialize)]
/// #[serde(rename_all = "camelCase")]
/// struct Settings { telemetry_interval: u32 }
/// assert_eq!(desired.deserialize::<Settings>()?.telemetry_interval, 30);
/// # Ok::<(), iot_device_sdk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredProperties {
    version: TwinVersion,
    content: Arc<Map<String, Value>>,
}

impl DesiredProperties {
    /// Desired properties with `content` at `version`.
    pub fn new(version: TwinVersion, content: Map<String, Value>) -> Self {
        Self {
            version,
            content: Arc::new(content),
        }
    }

    /// The desired `$version`.
    pub fn version(&self) -> TwinVersion {
        self.version
    }

    /// The properties, without `$version`.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.content
    }

    /// The top-level property `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.content.get(key)
    }

    /// The properties converted to `T` with serde.
    ///
    /// # Errors
    /// [`Error::Serde`] when they do not fit `T`.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, Error> {
        T::deserialize(&Value::Object(Map::clone(&self.content)))
            .map_err(|e| Error::serde("desired properties", &e))
    }
}

/// A change of desired properties: what changed since the previous [`DesiredUpdate`] this
/// stream yielded, and the properties after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredUpdate {
    patch: Patch,
    properties: DesiredProperties,
}

impl DesiredUpdate {
    /// The desired `$version` after the change.
    pub fn version(&self) -> TwinVersion {
        self.properties.version
    }

    /// The net change as a merge patch: merged into the properties of the previous update it
    /// gives [`DesiredUpdate::properties`]; deleted members are `null`. The first update of a
    /// stream is the whole content.
    pub fn patch(&self) -> &Patch {
        &self.patch
    }

    /// The desired properties after the change.
    pub fn properties(&self) -> &DesiredProperties {
        &self.properties
    }

    /// The patch and the properties.
    pub fn into_parts(self) -> (Patch, DesiredProperties) {
        (self.patch, self.properties)
    }
}

/// A watch of the converged desired properties, from [`crate::DeviceClient::desired_watch`].
///
/// Holds `None` until the client first reads the twin, then always the latest copy. Cheap to
/// clone; each clone tracks on its own which version it last returned.
#[derive(Debug, Clone)]
pub struct DesiredWatch {
    receiver: watch::Receiver<Option<DesiredProperties>>,
    returned: Option<TwinVersion>,
}

impl DesiredWatch {
    pub(crate) fn new(receiver: watch::Receiver<Option<DesiredProperties>>) -> Self {
        Self {
            receiver,
            returned: None,
        }
    }

    /// The latest copy, `None` before the first twin read.
    pub fn current(&self) -> Option<DesiredProperties> {
        self.receiver.borrow().clone()
    }

    /// Waits for a copy newer than the one this watch last returned (any copy, on the first
    /// call) and returns it. Intermediate versions may be skipped; the copy returned is always
    /// the latest.
    ///
    /// # Errors
    /// [`Error::Closed`] when the client has stopped and no newer copy is left to return.
    pub async fn changed(&mut self) -> Result<DesiredProperties, Error> {
        let returned = self.returned;
        let newer = |copy: &Option<DesiredProperties>| {
            copy.as_ref()
                .is_some_and(|copy| returned.is_none_or(|seen| copy.version > seen))
        };
        let copy = self
            .receiver
            .wait_for(newer)
            .await
            .map_err(|_| Error::Closed)?
            .clone()
            .ok_or(Error::Closed)?;
        self.returned = Some(copy.version);
        Ok(copy)
    }
}

/// The stream returned by [`crate::DeviceClient::desired_changes`].
///
/// Yields a [`DesiredUpdate`] whenever the client's copy of desired properties moves to a new
/// version: first the whole content (when the twin has been read), then each change. Versions
/// strictly increase, so nothing is yielded twice; a consumer that falls behind gets one update
/// with the net change rather than a backlog, so it never sees stale content; after a
/// reconnect the client reads the twin again, so changes made while it was offline arrive as
/// an update too. The stream ends when the client stops.
#[derive(Debug)]
pub struct DesiredChanges {
    inner: WatchStream<Option<DesiredProperties>>,
    seen: Option<DesiredProperties>,
}

impl DesiredChanges {
    pub(crate) fn new(receiver: watch::Receiver<Option<DesiredProperties>>) -> Self {
        Self {
            inner: WatchStream::new(receiver),
            seen: None,
        }
    }

    /// The update from what this stream last yielded to `next`, if `next` is newer.
    fn update(&mut self, next: DesiredProperties) -> Option<DesiredUpdate> {
        let empty = Map::new();
        let previous = match &self.seen {
            Some(seen) if seen.version >= next.version => return None,
            Some(seen) => seen.as_map(),
            None => &empty,
        };
        let patch = match diff(previous, next.as_map()) {
            Ok(patch) => patch,
            Err(error) => {
                tracing::error!(%error, "a desired-properties change cannot be written as a patch");
                Patch::new()
            }
        };
        self.seen = Some(next.clone());
        Some(DesiredUpdate {
            patch,
            properties: next,
        })
    }
}

impl Stream for DesiredChanges {
    type Item = DesiredUpdate;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Some(next))) => {
                    if let Some(update) = self.update(next) {
                        return Poll::Ready(Some(update));
                    }
                }
                Poll::Ready(Some(None)) => {}
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use serde_json::json;

    fn props(version: u64, content: Value) -> Option<DesiredProperties> {
        let Value::Object(map) = content else {
            panic!("not an object: {content}");
        };
        Some(DesiredProperties::new(
            TwinVersion::new(version).unwrap(),
            map,
        ))
    }

    #[tokio::test]
    async fn streams_net_changes_in_version_order() {
        let (sender, receiver) = watch::channel(None);
        let mut changes = DesiredChanges::new(receiver);
        sender.send_replace(props(3, json!({"a": 1, "b": {"c": 2}})));
        let first = changes.next().await.unwrap();
        assert_eq!(first.version().get(), 3);
        assert_eq!(
            first.patch().as_map(),
            json!({"a": 1, "b": {"c": 2}}).as_object().unwrap()
        );

        // Two versions before the consumer looks: one update with the net change.
        sender.send_replace(props(4, json!({"a": 2, "b": {"c": 2}})));
        sender.send_replace(props(5, json!({"a": 2})));
        let second = changes.next().await.unwrap();
        assert_eq!(second.version().get(), 5);
        assert_eq!(
            second.patch().as_map(),
            json!({"a": 2, "b": null}).as_object().unwrap()
        );

        // An older or equal version is never yielded.
        sender.send_replace(props(5, json!({"a": 9})));
        sender.send_replace(props(6, json!({"a": 3})));
        let third = changes.next().await.unwrap();
        assert_eq!(
            (third.version().get(), third.properties().get("a")),
            (6, Some(&json!(3)))
        );
        drop(sender);
        assert!(changes.next().await.is_none());
    }

    #[tokio::test]
    async fn a_late_subscriber_starts_with_the_whole_content() {
        let (sender, receiver) = watch::channel(props(7, json!({"x": true})));
        let mut changes = DesiredChanges::new(receiver);
        let update = changes.next().await.unwrap();
        let (patch, properties) = update.into_parts();
        assert_eq!(patch.as_map(), properties.as_map());
        drop(sender);
    }

    #[tokio::test]
    async fn the_watch_returns_each_copy_once() {
        let (sender, receiver) = watch::channel(None);
        let mut desired = DesiredWatch::new(receiver);
        assert_eq!(desired.current(), None);
        sender.send_replace(props(2, json!({"a": 1})));
        assert_eq!(desired.changed().await.unwrap().version().get(), 2);
        assert_eq!(desired.current().unwrap().version().get(), 2);
        let waiting = tokio::spawn({
            let mut desired = desired.clone();
            async move { desired.changed().await }
        });
        sender.send_replace(props(3, json!({"a": 2})));
        assert_eq!(waiting.await.unwrap().unwrap().version().get(), 3);
        drop(sender);
        assert_eq!(desired.changed().await.unwrap().version().get(), 3);
        assert_eq!(desired.changed().await, Err(Error::Closed));
    }

    #[test]
    fn typed_access_reports_what_does_not_fit() {
        let desired = props(1, json!({"interval": "soon"})).unwrap();
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Settings {
            interval: u32,
        }
        let error = desired.deserialize::<Settings>().unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("desired properties: invalid type"),
            "{error}"
        );
    }
}
