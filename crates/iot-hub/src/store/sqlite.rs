//! The SQLite backend: one writer thread that owns the connection and commits in groups.
//!
//! The thread takes the first waiting commit, drains every other one already queued, applies
//! them in one transaction (each inside its own savepoint, so a failing commit fails alone),
//! commits, and answers every waiter. Under load many commits share one transaction and one
//! sync; alone, a commit costs one transaction.

use std::path::Path;
use std::sync::Mutex;
use std::thread::JoinHandle;

use rusqlite::{CachedStatement, Connection, OpenFlags};
use tokio::sync::mpsc;

use super::schema::{self, Snapshot};
use super::{Durability, Request, Sender};
use crate::HubError;

/// The file name of the database inside the data directory.
const FILE: &str = "hub.sqlite3";
/// At most this many commits share one transaction.
const MAX_GROUP: usize = 512;
/// Prepared statements kept: more than the writer's distinct statements (about 25).
const STATEMENT_CACHE: usize = 64;

/// The handle to the writer thread.
#[derive(Debug)]
pub(super) struct Writer {
    sender: Sender,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Opens the database, prepares the schema, reads the snapshot and starts the thread.
    pub(super) fn open(dir: &Path, durability: Durability) -> Result<(Self, Snapshot), HubError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            HubError::store("open", format!("cannot create {}: {e}", dir.display()))
        })?;
        let conn = connect(&dir.join(FILE), durability)?;
        schema::prepare(&conn).map_err(|reason| HubError::store("open", reason))?;
        let snapshot = schema::load(&conn).map_err(|e| HubError::store("load", e))?;
        let (sender, receiver) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("iot-hub-store".into())
            .spawn(move || run(conn, receiver))
            .map_err(|e| HubError::store("open", format!("cannot start the writer: {e}")))?;
        let writer = Self {
            sender,
            thread: Mutex::new(Some(thread)),
        };
        Ok((writer, snapshot))
    }

    pub(super) fn send(&self, request: Request) -> Result<(), HubError> {
        self.sender
            .send(Some(request))
            .map_err(|_| HubError::Stopped)
    }

    /// Asks the thread to finish the queued commits and stop, and waits for it.
    pub(super) async fn close(&self) {
        // A closed channel means the thread is already gone.
        let _ = self.sender.send(None);
        let thread = self.thread.lock().ok().and_then(|mut slot| slot.take());
        if let Some(thread) = thread {
            // The thread only panics on a bug; closing goes on either way.
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// Opens the database file with the pragmas the hub relies on, and takes the exclusive lock
/// so that a second hub on the same directory fails at once.
fn connect(path: &Path, durability: Durability) -> Result<Connection, HubError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| HubError::store("open", format!("{}: {e}", path.display())))?;
    // A hub that holds the lock holds it for good: waiting (rusqlite waits 5 s by default)
    // only delays the error.
    conn.busy_timeout(std::time::Duration::from_millis(100))
        .map_err(|e| HubError::store("open", e))?;
    // Room for every statement the writer runs, so none is parsed twice.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let synchronous = match durability {
        Durability::Process => "NORMAL",
        Durability::PowerLoss => "FULL",
    };
    let pragmas = format!(
        "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = OFF;"
    );
    conn.execute_batch(&pragmas)
        .and_then(|()| conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;"))
        .map_err(|e| {
            HubError::store(
                "open",
                format!(
                    "{}: {e} (is another hub using this data directory?)",
                    path.display()
                ),
            )
        })?;
    Ok(conn)
}

/// The writer thread's loop.
fn run(mut conn: Connection, mut receiver: mpsc::UnboundedReceiver<Option<Request>>) {
    let mut group = Vec::new();
    let mut closing = false;
    while !closing {
        match receiver.blocking_recv() {
            Some(Some(first)) => group.push(first),
            Some(None) | None => break,
        }
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(Some(request)) => group.push(request),
                Ok(None) => {
                    closing = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let results = commit_group(&mut conn, &group);
        for (request, result) in group.drain(..).zip(results) {
            // A waiter that went away no longer needs its answer.
            let _ = request.reply.send(result);
        }
    }
}

/// Commits a group in one transaction, each request in its own savepoint.
fn commit_group(conn: &mut Connection, group: &[Request]) -> Vec<Result<(), String>> {
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => return vec![Err(e.to_string()); group.len()],
    };
    let results = match Savepoint::prepare(&tx) {
        Ok(mut savepoint) => apply_all(&tx, &mut savepoint, group),
        Err(e) => Err(e),
    };
    match results.and_then(|results| tx.commit().map(|()| results)) {
        Ok(results) => results,
        Err(e) => vec![Err(e.to_string()); group.len()],
    }
}

/// Each request's own result, or the error that fails the whole group.
fn apply_all(
    tx: &Connection,
    savepoint: &mut Savepoint<'_>,
    group: &[Request],
) -> rusqlite::Result<Vec<Result<(), String>>> {
    let mut results = Vec::with_capacity(group.len());
    for request in group {
        let applied = savepoint.apply(tx, request)?;
        results.push(applied.map_err(|e| e.to_string()));
    }
    Ok(results)
}

/// The savepoint statements, prepared (from the statement cache) once per group rather than
/// parsed for every request as rusqlite's `Savepoint` does.
struct Savepoint<'c> {
    open: CachedStatement<'c>,
    release: CachedStatement<'c>,
    rollback: CachedStatement<'c>,
}

impl<'c> Savepoint<'c> {
    fn prepare(conn: &'c Connection) -> rusqlite::Result<Self> {
        Ok(Self {
            open: conn.prepare_cached("SAVEPOINT request")?,
            release: conn.prepare_cached("RELEASE request")?,
            rollback: conn.prepare_cached("ROLLBACK TO request")?,
        })
    }

    /// Applies one request inside the savepoint: all its ops or, on the first failure, none
    /// (the inner error). The outer error is a savepoint that could not be opened, released or
    /// rolled back, which fails the whole group.
    fn apply(
        &mut self,
        conn: &Connection,
        request: &Request,
    ) -> rusqlite::Result<rusqlite::Result<()>> {
        self.open.execute([])?;
        let applied = request
            .ops
            .iter()
            .try_for_each(|op| schema::apply(conn, op));
        if applied.is_err() {
            self.rollback.execute([])?;
        }
        self.release.execute([])?;
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Op, Store};
    use super::*;

    #[tokio::test]
    async fn commits_survive_reopening_and_a_second_hub_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (store, snapshot) = Store::open(dir.path(), Durability::Process).unwrap();
        assert!(snapshot.devices.is_empty());
        let put = |id: &str| Op::PutDevice {
            id: id.into(),
            body: "{}".into(),
        };
        let (a, b) = tokio::join!(store.commit(vec![put("a")]), store.commit(vec![put("b")]));
        a.unwrap();
        b.unwrap();
        let second = Store::open(dir.path(), Durability::Process).unwrap_err();
        assert!(second.to_string().contains("another hub"), "{second}");
        store.close().await;
        assert!(matches!(
            store.commit(vec![put("c")]).await,
            Err(HubError::Stopped)
        ));
        let (_again, snapshot) = Store::open(dir.path(), Durability::PowerLoss).unwrap();
        let mut ids: Vec<_> = snapshot.devices.into_iter().map(|(id, _)| id).collect();
        ids.sort();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn a_failing_commit_fails_alone() {
        let mut conn = Connection::open_in_memory().unwrap();
        schema::prepare(&conn).unwrap();
        conn.execute_batch("CREATE TRIGGER no_x BEFORE INSERT ON devices WHEN NEW.id = 'x' BEGIN SELECT RAISE(ABORT, 'refused'); END;")
            .unwrap();
        let request = |id: &str| Request {
            ops: vec![Op::PutDevice {
                id: id.into(),
                body: "{}".into(),
            }],
            reply: tokio::sync::oneshot::channel().0,
        };
        let results = commit_group(&mut conn, &[request("a"), request("x"), request("b")]);
        assert!(results[0].is_ok() && results[2].is_ok());
        assert!(results[1].as_ref().unwrap_err().contains("refused"));
        let ids = schema::load(&conn).unwrap().devices.len();
        assert_eq!(ids, 2);
    }

    #[test]
    fn a_failing_request_leaves_none_of_its_ops() {
        let mut conn = Connection::open_in_memory().unwrap();
        schema::prepare(&conn).unwrap();
        conn.execute_batch("CREATE TRIGGER no_x BEFORE INSERT ON devices WHEN NEW.id = 'x' BEGIN SELECT RAISE(ABORT, 'refused'); END;")
            .unwrap();
        let put = |id: &str| Op::PutDevice {
            id: id.into(),
            body: "{}".into(),
        };
        let request = |ops: Vec<Op>| Request {
            ops,
            reply: tokio::sync::oneshot::channel().0,
        };
        let group = [
            request(vec![put("y"), put("x")]),
            request(vec![put("a"), put("b")]),
        ];
        let results = commit_group(&mut conn, &group);
        assert!(results[0].is_err() && results[1].is_ok());
        let devices = schema::load(&conn).unwrap().devices;
        let mut ids: Vec<_> = devices.iter().map(|device| device.0.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["a", "b"]);
    }
}
