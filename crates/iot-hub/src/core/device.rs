//! One registered device in memory: its registry record, twin, MQTT session and queued
//! cloud-to-device messages, behind one write lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use iot_protocol::{ConnectionState, Device};
use iot_twin::{Timestamp, Twin};

use crate::c2d::QueuedMessage;
use crate::session::Session;

/// A device's entry in the hub's working set.
///
/// Writers (twin writes, session changes, queue changes, registry updates) take `write` for
/// the whole change, commit to the store while holding it, and only then install the new state
/// under `state`'s short lock. So changes to one device are serialized and applied in commit
/// order, while readers never wait for a commit and no lock is held across socket IO.
#[derive(Debug)]
pub(crate) struct DeviceEntry {
    /// Serializes writers; held across the store commit.
    pub(crate) write: tokio::sync::Mutex<()>,
    /// The current state; locked only to copy from it or to install a change.
    state: RwLock<DeviceState>,
    /// Last activity, Unix milliseconds (`i64::MIN` for never); kept in memory only.
    last_activity_ms: AtomicI64,
}

/// Everything the hub knows about a device.
#[derive(Debug)]
pub(crate) struct DeviceState {
    /// The registry record, keys included; connection fields are filled in on reads.
    pub(crate) device: Device,
    /// The twin; registry fields are filled in on reads.
    pub(crate) twin: Twin,
    /// The MQTT session (subscriptions and the live connection, if any).
    pub(crate) session: Session,
    /// Queued cloud-to-device messages, oldest first.
    pub(crate) messages: VecDeque<QueuedMessage>,
    /// The sequence number of the next queued message.
    pub(crate) next_seq: u64,
    /// Set once the device is deleted; writers that raced with the delete must stop.
    pub(crate) deleted: bool,
    /// The body of a twin `GET`, built on first use after each twin change.
    twin_body: OnceLock<Bytes>,
}

impl DeviceEntry {
    pub(crate) fn new(state: DeviceState) -> Self {
        Self {
            write: tokio::sync::Mutex::new(()),
            state: RwLock::new(state),
            last_activity_ms: AtomicI64::new(i64::MIN),
        }
    }

    /// Reads the state. A writer that panicked leaves the last installed state, which is
    /// consistent (changes are installed whole), so a poisoned lock is still read.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, DeviceState> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Locks the state to install a change; hold it briefly and never across an await.
    pub(crate) fn lock(&self) -> RwLockWriteGuard<'_, DeviceState> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records activity at `now`.
    pub(crate) fn touch(&self, now: Timestamp) {
        let ms = i64::try_from(now.unix_nanos() / 1_000_000).unwrap_or(i64::MAX);
        self.last_activity_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// The last activity, [`Timestamp::MIN`] for never.
    pub(crate) fn last_activity(&self) -> Timestamp {
        match self.last_activity_ms.load(Ordering::Relaxed) {
            i64::MIN => Timestamp::MIN,
            ms => Timestamp::from_unix_nanos(i128::from(ms) * 1_000_000).unwrap_or(Timestamp::MIN),
        }
    }
}

impl DeviceState {
    pub(crate) fn new(device: Device, twin: Twin, session: Session) -> Self {
        Self {
            device,
            twin,
            session,
            messages: VecDeque::new(),
            next_seq: 1,
            deleted: false,
            twin_body: OnceLock::new(),
        }
    }

    /// Installs a new twin and forgets the cached `GET` body.
    pub(crate) fn set_twin(&mut self, twin: Twin) {
        self.twin = twin;
        self.twin_body = OnceLock::new();
    }

    /// The body of a twin `GET`: `{"desired":{..},"reported":{..}}`.
    pub(crate) fn twin_body(&self) -> Bytes {
        self.twin_body
            .get_or_init(|| {
                serde_json::to_vec(&self.twin.state())
                    .map(Bytes::from)
                    .unwrap_or_default()
            })
            .clone()
    }

    /// Whether a connection is live for this device.
    pub(crate) fn connection_state(&self) -> ConnectionState {
        if self.session.connection.is_some() {
            ConnectionState::Connected
        } else {
            ConnectionState::Disconnected
        }
    }
}
