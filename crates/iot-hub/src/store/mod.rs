//! The hub's durable store: what it writes, what it reads back at start, and the two backends
//! (SQLite on disk, or nothing at all for an in-memory hub).
//!
//! The hub keeps its whole working set in memory and reads from there; the store only makes
//! writes durable. A write is a list of [`Op`]s committed atomically by [`Store::commit`], which
//! returns once the ops are committed (or have failed, changing nothing). The caller changes its
//! memory only after that, so memory and disk never disagree, and only then acknowledges.

mod schema;
mod sqlite;

use std::path::Path;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::HubError;

pub(crate) use schema::Snapshot;

/// How much a commit survives. IoT Hub itself gives no choice; a local hub runs on hardware
/// where the trade-off between write latency and power-loss safety is the operator's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Durability {
    /// Every acknowledged write survives the hub process being killed at any moment, not a
    /// power cut or an operating-system crash (SQLite `synchronous=NORMAL` in WAL mode: commits
    /// reach the operating system, fsync happens at checkpoints).
    #[default]
    Process,
    /// Every acknowledged write also survives a power cut (SQLite `synchronous=FULL`: each group
    /// commit waits for fsync).
    PowerLoss,
}

/// One durable change. Ops of one [`Store::commit`] apply all or none.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Inserts or replaces a device record (its registry JSON).
    PutDevice { id: String, body: String },
    /// Deletes a device with its twin, session and queued messages.
    DeleteDevice { id: String },
    /// Inserts or replaces a twin (its REST JSON).
    PutTwin { id: String, body: String },
    /// Inserts or replaces a persistent session's subscriptions.
    PutSession { client_id: String, body: String },
    /// Deletes a session.
    DeleteSession { client_id: String },
    /// Queues a cloud-to-device message.
    PutMessage(StoredMessage),
    /// Removes a queued cloud-to-device message.
    DeleteMessage { device_id: String, seq: u64 },
    /// Inserts or replaces a shared access policy (its JSON).
    PutPolicy { name: String, body: String },
    /// Inserts or replaces a job (its stored JSON).
    PutJob { id: String, body: String },
    /// Deletes a job with its per-device rows.
    DeleteJob { id: String },
    /// Inserts or replaces one device's row of a job (its `devices.jobs` JSON).
    PutDeviceJob {
        job_id: String,
        device_id: String,
        body: String,
    },
    /// Inserts or replaces a configuration (its REST JSON).
    PutConfiguration { id: String, body: String },
    /// Deletes a configuration.
    DeleteConfiguration { id: String },
    /// Keeps a deleted configuration's JSON until its content is removed from every twin.
    PutRetiredConfiguration { seq: u64, body: String },
    /// Forgets a deleted configuration whose content is removed from every twin.
    DeleteRetiredConfiguration { seq: u64 },
}

/// A queued cloud-to-device message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredMessage {
    pub(crate) device_id: String,
    pub(crate) seq: u64,
    pub(crate) body: Bytes,
    /// The property bag in its wire form.
    pub(crate) properties: String,
    /// Unix milliseconds.
    pub(crate) enqueued_ms: i64,
    /// Unix milliseconds.
    pub(crate) expiry_ms: i64,
}

/// One commit waiting for the writer.
struct Request {
    ops: Vec<Op>,
    reply: oneshot::Sender<Result<(), String>>,
}

/// The handle through which the hub commits; cheap to share behind an `Arc`.
#[derive(Debug)]
pub(crate) struct Store {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    /// Nothing is persisted; commits succeed at once.
    Memory,
    /// A writer thread owns the SQLite connection.
    Sqlite(sqlite::Writer),
}

impl Store {
    /// A store that persists nothing.
    pub(crate) fn memory() -> (Self, Snapshot) {
        let store = Self {
            backend: Backend::Memory,
        };
        (store, Snapshot::default())
    }

    /// Opens (or creates) the database in `dir` and reads everything it holds.
    pub(crate) fn open(dir: &Path, durability: Durability) -> Result<(Self, Snapshot), HubError> {
        let (writer, snapshot) = sqlite::Writer::open(dir, durability)?;
        let store = Self {
            backend: Backend::Sqlite(writer),
        };
        Ok((store, snapshot))
    }

    /// Commits `ops` atomically; returns once they are durable per the store's [`Durability`].
    /// On error nothing was written.
    pub(crate) async fn commit(&self, ops: Vec<Op>) -> Result<(), HubError> {
        if ops.is_empty() {
            return Ok(());
        }
        match &self.backend {
            Backend::Memory => Ok(()),
            Backend::Sqlite(writer) => {
                let (reply, answer) = oneshot::channel();
                writer.send(Request { ops, reply })?;
                match answer.await {
                    Ok(result) => result.map_err(|reason| HubError::store("commit", reason)),
                    Err(_) => Err(HubError::Stopped),
                }
            }
        }
    }

    /// Finishes the queued commits and closes the database. Later commits fail with
    /// [`HubError::Stopped`].
    pub(crate) async fn close(&self) {
        if let Backend::Sqlite(writer) = &self.backend {
            writer.close().await;
        }
    }
}

type Sender = mpsc::UnboundedSender<Option<Request>>;
