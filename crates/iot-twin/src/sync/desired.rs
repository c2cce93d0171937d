//! [`DesiredSync`]: the device's copy of desired properties, kept in step with the hub.

use serde_json::{Map, Value};

use super::buffer::Buffer;
use crate::{
    DeviceTopic, Patch, RequestId, RequestIds, SyncError, SyncInput, SyncState, TwinState,
    TwinVersion, diff, merge,
};

/// Notifications buffered by default while the versions before them are missing.
const DEFAULT_BUFFER: usize = 64;

/// Keeps a device's copy of desired properties in step with the hub, without IO.
///
/// The driver feeds it what happens ([`DesiredSync::handle_connected`],
/// [`DesiredSync::handle_desired`], [`DesiredSync::handle_get_response`], ...), publishes the
/// twin `GET` requests it asks for ([`DesiredSync::poll_command`]) and hands the application
/// the changes it reports ([`DesiredSync::poll_event`]). The states and their transitions are
/// drawn in [`SyncState`].
///
/// The rules, after IoT Hub's reconnection guidance (connect, subscribe, `GET`, ignore
/// notifications at or below the `GET`'s version):
/// - a notification at or below the current version is dropped (a duplicate or stale copy);
/// - the notification for the next version is applied, in any connected state: IoT Hub adds
///   exactly one to desired `$version` per change and sends that change, so it applies to the
///   current copy whatever else is in flight. (The guidance buffers everything until the `GET`
///   answers; applying the next version at once ends in the same state and shows the change
///   sooner.);
/// - a notification further ahead is buffered (up to [`DesiredSync::with_buffer_limit`]
///   notifications, the lowest versions kept) and, when live, a `GET` is queued; buffered
///   notifications are applied as soon as the versions before them are;
/// - every connection starts with a `GET`, since notifications sent while the device was away
///   are lost;
/// - an answer to a `GET` other than the one awaited is ignored. One that shows a desired
///   version at or below the current one changes nothing; a newer one replaces the copy. The
///   buffered notifications above it are then applied, and if versions are still missing (a
///   gap, or notifications dropped for lack of room) another `GET` is queued.
///
/// The application sees [`DesiredChanged`] events: the exact net change since the last event it
/// took, as a merge patch with `null` for deletions, at the version it brings the copy to.
/// Versions it sees strictly increase; a change the application has not taken yet is merged
/// with the next one rather than queued, so a slow application sees fewer, larger changes.
/// [`DesiredSync::desired`] shows the current copy at any time.
///
/// Time plays no part: a `GET` that does not come back is the driver's to time out (it calls
/// [`DesiredSync::handle_get_failed`] or [`DesiredSync::handle_connection_lost`]).
///
/// ```
/// use iot_twin::{DesiredSync, Patch, SyncCommand, TwinState, TwinVersion};
///
/// let mut sync = DesiredSync::new();
/// sync.handle_connected()?;
/// let Some(SyncCommand::GetTwin { request_id }) = sync.poll_command() else { unreachable!() };
/// assert_eq!(sync.poll_command(), None);
///
/// // The hub answers the GET; the application sees the whole desired section as a change.
/// let body = br#"{"desired":{"fan":{"rpm":900},"$version":4},"reported":{"$version":1}}"#;
/// sync.handle_get_response(&request_id, TwinState::from_slice(body)?)?;
/// let change = sync.poll_event().unwrap();
/// assert_eq!((change.version().get(), change.patch().len()), (4, 1));
///
/// // Version 5 applies; a copy of version 4 arriving late is dropped.
/// let patch = Patch::from_slice(br#"{"fan":{"rpm":1200}}"#)?;
/// sync.handle_desired(patch, TwinVersion::new(5).unwrap())?;
/// sync.handle_desired(Patch::new(), TwinVersion::new(4).unwrap())?;
/// assert_eq!(sync.poll_event().unwrap().version().get(), 5);
/// assert_eq!(sync.poll_event(), None);
/// assert_eq!(sync.desired().0["fan"]["rpm"], 1200);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DesiredSync {
    state: SyncState,
    ids: RequestIds,
    /// The `GET` handed out and not answered yet.
    request: Option<RequestId>,
    content: Map<String, Value>,
    version: Option<TwinVersion>,
    buffer: Buffer,
    /// The copy as the application last took it, and its version.
    seen: Map<String, Value>,
    seen_version: Option<TwinVersion>,
    /// The change from `seen` to `content`, when the application has not taken it.
    event: Option<DesiredChanged>,
}

/// Something the driver must send for a [`DesiredSync`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SyncCommand {
    /// Publish a twin `GET` with this request id ([`SyncCommand::topic`]) and hand its answer
    /// to [`DesiredSync::handle_get_response`].
    GetTwin {
        /// The request id the answer will echo.
        request_id: RequestId,
    },
}

impl SyncCommand {
    /// The topic to publish.
    pub fn topic(&self) -> DeviceTopic {
        match self {
            Self::GetTwin { request_id } => DeviceTopic::Get {
                request_id: request_id.clone(),
            },
        }
    }
}

/// A change of desired properties, for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredChanged {
    version: TwinVersion,
    patch: Patch,
}

impl DesiredChanged {
    /// The desired `$version` the change brings the copy to.
    pub fn version(&self) -> TwinVersion {
        self.version
    }

    /// The net change since the application's previous event (or since the empty document,
    /// for the first): merging it into the previous state gives the new one. Deleted members
    /// are `null`. It may be empty when the version moved but the content did not.
    pub fn patch(&self) -> &Patch {
        &self.patch
    }

    /// The version and the patch.
    pub fn into_parts(self) -> (TwinVersion, Patch) {
        (self.version, self.patch)
    }
}

impl Default for DesiredSync {
    fn default() -> Self {
        Self::new()
    }
}

impl DesiredSync {
    /// A machine in [`SyncState::Disconnected`] with an empty copy and no version yet, drawing
    /// request ids `g1`, `g2`, ... (see [`RequestIds`]).
    pub fn new() -> Self {
        Self {
            state: SyncState::Disconnected,
            ids: const { RequestIds::with_static_prefix("g") },
            request: None,
            content: Map::new(),
            version: None,
            buffer: Buffer::new(DEFAULT_BUFFER),
            seen: Map::new(),
            seen_version: None,
            event: None,
        }
    }

    /// Draws `GET` request ids from `ids`.
    pub fn with_request_ids(mut self, ids: RequestIds) -> Self {
        self.ids = ids;
        self
    }

    /// Buffers at most `limit` notifications that arrive ahead of their turn (64 by default).
    /// Beyond it, the lowest versions are kept and the answer of a further `GET` fills in the
    /// rest; 0 buffers nothing and leaves every gap to a `GET`.
    pub fn with_buffer_limit(mut self, limit: usize) -> Self {
        self.buffer.set_limit(limit);
        self
    }

    /// Where the machine stands.
    pub fn state(&self) -> SyncState {
        self.state
    }

    /// The current copy of desired properties and its `$version` (`None` until the first `GET`
    /// answer or the notification after it).
    pub fn desired(&self) -> (&Map<String, Value>, Option<TwinVersion>) {
        (&self.content, self.version)
    }

    /// Whether `request_id` is the `GET` this machine awaits, for a driver routing answers.
    pub fn awaits(&self, request_id: &RequestId) -> bool {
        self.request.as_ref() == Some(request_id)
    }

    /// The number of notifications buffered ahead of their turn.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The device connected and subscribed to both twin topics: a `GET` is queued.
    pub fn handle_connected(&mut self) -> Result<(), SyncError> {
        self.state.check(SyncInput::Connected)?;
        self.state = SyncState::GetQueued;
        Ok(())
    }

    /// The connection dropped. The `GET` in flight, if any, is forgotten; the copy, its version
    /// and the buffered notifications are kept for the next connection.
    pub fn handle_connection_lost(&mut self) -> Result<(), SyncError> {
        self.state.check(SyncInput::ConnectionLost)?;
        self.request = None;
        self.state = SyncState::Disconnected;
        Ok(())
    }

    /// A desired-properties notification: `patch` brings desired properties to `version`.
    pub fn handle_desired(&mut self, patch: Patch, version: TwinVersion) -> Result<(), SyncError> {
        self.state.check(SyncInput::Desired)?;
        let Some(current) = self.version else {
            self.buffer.insert(version, patch);
            return Ok(());
        };
        if version <= current {
            return Ok(());
        }
        if current.next() == Some(version) {
            merge(&mut self.content, &patch);
            self.version = Some(version);
            self.apply_buffered();
            return self.refresh_event();
        }
        self.buffer.insert(version, patch);
        if self.state == SyncState::Live {
            self.state = SyncState::GetQueued;
        }
        Ok(())
    }

    /// The answer to a twin `GET`. Returns whether it was the awaited one; any other answer is
    /// ignored.
    pub fn handle_get_response(
        &mut self,
        request_id: &RequestId,
        twin: TwinState,
    ) -> Result<bool, SyncError> {
        self.state.check(SyncInput::GetResponse)?;
        if !self.awaits(request_id) {
            return Ok(false);
        }
        self.request = None;
        let (content, version) = twin.into_parts().0.into_parts();
        if self.version.is_none_or(|current| version > current) {
            self.content = content;
            self.version = Some(version);
        }
        self.apply_buffered();
        self.state = match self.version {
            Some(current) if !self.buffer.is_ahead_of(current) => SyncState::Live,
            _ => SyncState::GetQueued,
        };
        self.refresh_event()?;
        Ok(true)
    }

    /// The awaited `GET` failed (an error status, or no answer in time): another is queued.
    /// Returns whether `request_id` was the awaited one; any other is ignored.
    pub fn handle_get_failed(&mut self, request_id: &RequestId) -> Result<bool, SyncError> {
        self.state.check(SyncInput::GetFailed)?;
        if !self.awaits(request_id) {
            return Ok(false);
        }
        self.request = None;
        self.state = SyncState::GetQueued;
        Ok(true)
    }

    /// What the driver must send next, if anything.
    pub fn poll_command(&mut self) -> Option<SyncCommand> {
        if self.state != SyncState::GetQueued {
            return None;
        }
        let request_id = self.ids.next_id();
        self.request = Some(request_id.clone());
        self.state = SyncState::AwaitingGet;
        Some(SyncCommand::GetTwin { request_id })
    }

    /// The change of desired properties the application has not seen yet, if any.
    pub fn poll_event(&mut self) -> Option<DesiredChanged> {
        let event = self.event.take()?;
        merge(&mut self.seen, &event.patch);
        self.seen_version = Some(event.version);
        Some(event)
    }

    /// Applies buffered notifications in order for as long as the next version is held, then
    /// forgets those the copy already includes.
    fn apply_buffered(&mut self) {
        let Some(mut current) = self.version else {
            return;
        };
        while let Some(next) = current.next() {
            let Some(patch) = self.buffer.take(next) else {
                break;
            };
            merge(&mut self.content, &patch);
            current = next;
        }
        self.version = Some(current);
        self.buffer.discard_through(current);
    }

    /// Brings the pending event up to date with the copy.
    fn refresh_event(&mut self) -> Result<(), SyncError> {
        let Some(version) = self.version else {
            return Ok(());
        };
        if self.seen_version.is_some_and(|seen| seen >= version) {
            return Ok(());
        }
        let patch = diff(&self.seen, &self.content).map_err(SyncError::Unrepresentable)?;
        self.event = Some(DesiredChanged { version, patch });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
