//! The database schema, its version check, and reading everything back at start.

use rusqlite::{Connection, params};

use super::{Op, StoredMessage};

/// The schema version this hub writes, kept in SQLite's `user_version`. Version 1 had no
/// jobs or configurations; [`prepare`] adds their tables to a version 1 database.
pub(super) const SCHEMA_VERSION: i64 = 2;

const CREATE: &str = "
CREATE TABLE devices  (id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE twins    (id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE sessions (client_id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE policies (name TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE messages (
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body BLOB NOT NULL,
    properties TEXT NOT NULL,
    enqueued_ms INTEGER NOT NULL,
    expiry_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;
";

/// The tables version 2 adds: jobs with their per-device rows, configurations, and the
/// content of deleted configurations still to be removed from twins.
const CREATE_V2: &str = "
CREATE TABLE jobs (id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE device_jobs (
    job_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (job_id, device_id)
) WITHOUT ROWID;
CREATE TABLE configurations (id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE retired_configurations (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
";

/// Everything the store holds, read at start.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// `(id, registry JSON)`.
    pub(crate) devices: Vec<(String, String)>,
    /// `(id, twin JSON)`.
    pub(crate) twins: Vec<(String, String)>,
    /// `(client id, subscriptions JSON)`.
    pub(crate) sessions: Vec<(String, String)>,
    /// `(name, policy JSON)`.
    pub(crate) policies: Vec<(String, String)>,
    /// Queued cloud-to-device messages, by device and sequence number.
    pub(crate) messages: Vec<StoredMessage>,
    /// `(job id, job JSON)`.
    pub(crate) jobs: Vec<(String, String)>,
    /// `(job id, device id, device job JSON)`, by job and device.
    pub(crate) device_jobs: Vec<(String, String, String)>,
    /// `(id, configuration JSON)`.
    pub(crate) configurations: Vec<(String, String)>,
    /// `(sequence number, configuration JSON)` of deleted configurations, oldest first.
    pub(crate) retired_configurations: Vec<(u64, String)>,
}

/// Creates the schema in an empty database, or checks the version of an existing one.
pub(super) fn prepare(conn: &Connection) -> Result<(), String> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| e.to_string())?;
    let created = match version {
        0 => format!("{CREATE} {CREATE_V2}"),
        1 => CREATE_V2.to_owned(),
        SCHEMA_VERSION => return Ok(()),
        other => Err(format!(
            "the database has schema version {other}, this hub knows version {SCHEMA_VERSION} \
             (was it written by a newer hub?)"
        ))?,
    };
    let batch = format!("BEGIN; {created} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;");
    conn.execute_batch(&batch).map_err(|e| e.to_string())
}

/// Reads every table.
pub(super) fn load(conn: &Connection) -> rusqlite::Result<Snapshot> {
    Ok(Snapshot {
        devices: pairs(conn, "SELECT id, body FROM devices")?,
        twins: pairs(conn, "SELECT id, body FROM twins")?,
        sessions: pairs(conn, "SELECT client_id, body FROM sessions")?,
        policies: pairs(conn, "SELECT name, body FROM policies")?,
        messages: messages(conn)?,
        jobs: pairs(conn, "SELECT id, body FROM jobs")?,
        device_jobs: device_jobs(conn)?,
        configurations: pairs(conn, "SELECT id, body FROM configurations")?,
        retired_configurations: retired(conn)?,
    })
}

fn device_jobs(conn: &Connection) -> rusqlite::Result<Vec<(String, String, String)>> {
    let mut statement =
        conn.prepare("SELECT job_id, device_id, body FROM device_jobs ORDER BY job_id, device_id")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
    rows.collect()
}

fn retired(conn: &Connection) -> rusqlite::Result<Vec<(u64, String)>> {
    let mut statement =
        conn.prepare("SELECT seq, body FROM retired_configurations ORDER BY seq")?;
    let rows = statement.query_map([], |row| {
        let seq: i64 = row.get(0)?;
        Ok((u64::try_from(seq).unwrap_or_default(), row.get(1)?))
    })?;
    rows.collect()
}

fn pairs(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut statement = conn.prepare(sql)?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

fn messages(conn: &Connection) -> rusqlite::Result<Vec<StoredMessage>> {
    let mut statement = conn.prepare(
        "SELECT device_id, seq, body, properties, enqueued_ms, expiry_ms FROM messages \
         ORDER BY device_id, seq",
    )?;
    let rows = statement.query_map([], |row| {
        Ok(StoredMessage {
            device_id: row.get(0)?,
            seq: u64::try_from(row.get::<_, i64>(1)?).unwrap_or_default(),
            body: row.get::<_, Vec<u8>>(2)?.into(),
            properties: row.get(3)?,
            enqueued_ms: row.get(4)?,
            expiry_ms: row.get(5)?,
        })
    })?;
    rows.collect()
}

/// Applies one op inside the current transaction.
pub(super) fn apply(conn: &Connection, op: &Op) -> rusqlite::Result<()> {
    match op {
        Op::PutDevice { id, body } => put(
            conn,
            "INSERT OR REPLACE INTO devices (id, body) VALUES (?1, ?2)",
            id,
            body,
        ),
        Op::DeleteDevice { id } => {
            for sql in [
                "DELETE FROM devices WHERE id = ?1",
                "DELETE FROM twins WHERE id = ?1",
                "DELETE FROM messages WHERE device_id = ?1",
                "DELETE FROM sessions WHERE client_id = ?1 \
                 OR substr(client_id, 1, length(?1) + 1) = ?1 || '/'",
            ] {
                conn.prepare_cached(sql)?.execute([id])?;
            }
            Ok(())
        }
        Op::PutTwin { id, body } => put(
            conn,
            "INSERT OR REPLACE INTO twins (id, body) VALUES (?1, ?2)",
            id,
            body,
        ),
        Op::PutSession { client_id, body } => put(
            conn,
            "INSERT OR REPLACE INTO sessions (client_id, body) VALUES (?1, ?2)",
            client_id,
            body,
        ),
        Op::DeleteSession { client_id } => conn
            .prepare_cached("DELETE FROM sessions WHERE client_id = ?1")?
            .execute([client_id])
            .map(drop),
        Op::PutMessage(message) => put_message(conn, message),
        Op::DeleteMessage { device_id, seq } => conn
            .prepare_cached("DELETE FROM messages WHERE device_id = ?1 AND seq = ?2")?
            .execute(params![device_id, seq_param(*seq)])
            .map(drop),
        Op::PutPolicy { name, body } => put(
            conn,
            "INSERT OR REPLACE INTO policies (name, body) VALUES (?1, ?2)",
            name,
            body,
        ),
        Op::PutJob { id, body } => put(
            conn,
            "INSERT OR REPLACE INTO jobs (id, body) VALUES (?1, ?2)",
            id,
            body,
        ),
        Op::DeleteJob { id } => {
            for sql in [
                "DELETE FROM jobs WHERE id = ?1",
                "DELETE FROM device_jobs WHERE job_id = ?1",
            ] {
                conn.prepare_cached(sql)?.execute([id])?;
            }
            Ok(())
        }
        Op::PutDeviceJob {
            job_id,
            device_id,
            body,
        } => conn
            .prepare_cached(
                "INSERT OR REPLACE INTO device_jobs (job_id, device_id, body) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![job_id, device_id, body])
            .map(drop),
        Op::PutConfiguration { id, body } => put(
            conn,
            "INSERT OR REPLACE INTO configurations (id, body) VALUES (?1, ?2)",
            id,
            body,
        ),
        Op::DeleteConfiguration { id } => conn
            .prepare_cached("DELETE FROM configurations WHERE id = ?1")?
            .execute([id])
            .map(drop),
        Op::PutRetiredConfiguration { seq, body } => conn
            .prepare_cached(
                "INSERT OR REPLACE INTO retired_configurations (seq, body) VALUES (?1, ?2)",
            )?
            .execute(params![seq_param(*seq), body])
            .map(drop),
        Op::DeleteRetiredConfiguration { seq } => conn
            .prepare_cached("DELETE FROM retired_configurations WHERE seq = ?1")?
            .execute([seq_param(*seq)])
            .map(drop),
    }
}

/// Runs `sql`, an `INSERT OR REPLACE` of a key and a body; the text is static so that finding
/// the cached statement builds no string.
fn put(conn: &Connection, sql: &'static str, id: &str, body: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?
        .execute(params![id, body])
        .map(drop)
}

fn put_message(conn: &Connection, message: &StoredMessage) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO messages \
         (device_id, seq, body, properties, enqueued_ms, expiry_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        message.device_id,
        seq_param(message.seq),
        message.body.as_ref(),
        message.properties,
        message.enqueued_ms,
        message.expiry_ms,
    ])
    .map(drop)
}

/// Sequence numbers count from 1 and stay far below `i64::MAX`.
fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        prepare(&conn).unwrap();
        conn
    }

    #[test]
    fn ops_round_trip_through_load() {
        let conn = fresh();
        let message = StoredMessage {
            device_id: "d1".into(),
            seq: 7,
            body: bytes::Bytes::from_static(b"hello"),
            properties: "%24.mid=m1".into(),
            enqueued_ms: 1,
            expiry_ms: 2,
        };
        let ops = [
            Op::PutDevice {
                id: "d1".into(),
                body: "{}".into(),
            },
            Op::PutTwin {
                id: "d1".into(),
                body: "{\"t\":1}".into(),
            },
            Op::PutSession {
                client_id: "d1".into(),
                body: "[]".into(),
            },
            Op::PutMessage(message.clone()),
        ];
        for op in &ops {
            apply(&conn, op).unwrap();
        }
        let snapshot = load(&conn).unwrap();
        assert_eq!(snapshot.devices, [("d1".into(), "{}".into())]);
        assert_eq!(snapshot.twins, [("d1".into(), "{\"t\":1}".into())]);
        assert_eq!(snapshot.sessions.len(), 1);
        assert_eq!(snapshot.messages, [message]);

        for client_id in ["d1/m1", "d1x/m1", "d_/m1"] {
            let body = "[]".into();
            let client_id = client_id.into();
            apply(&conn, &Op::PutSession { client_id, body }).unwrap();
        }
        apply(&conn, &Op::DeleteDevice { id: "d1".into() }).unwrap();
        apply(&conn, &Op::DeleteDevice { id: "d_".into() }).unwrap();
        let left: Vec<_> = load(&conn)
            .unwrap()
            .sessions
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(left, ["d1x/m1"]);
        apply(
            &conn,
            &Op::DeleteSession {
                client_id: "d1x/m1".into(),
            },
        )
        .unwrap();
        let empty = load(&conn).unwrap();
        assert!(empty.devices.is_empty() && empty.twins.is_empty());
        assert!(empty.sessions.is_empty() && empty.messages.is_empty());
    }

    #[test]
    fn a_version_1_database_gains_the_job_and_configuration_tables() {
        let conn = Connection::open_in_memory().unwrap();
        let v1 = format!("BEGIN; {CREATE} PRAGMA user_version = 1; COMMIT;");
        conn.execute_batch(&v1).unwrap();
        let device = Op::PutDevice {
            id: "d1".into(),
            body: "{}".into(),
        };
        apply(&conn, &device).unwrap();
        prepare(&conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let job = Op::PutJob {
            id: "j1".into(),
            body: "{}".into(),
        };
        apply(&conn, &job).unwrap();
        let snapshot = load(&conn).unwrap();
        assert_eq!(snapshot.devices.len(), 1);
        assert_eq!(snapshot.jobs.len(), 1);
        // Preparing again changes nothing.
        prepare(&conn).unwrap();
        assert_eq!(load(&conn).unwrap().jobs.len(), 1);
    }

    #[test]
    fn job_and_configuration_ops_round_trip_through_load() {
        let conn = fresh();
        let row = |job: &str, device: &str| Op::PutDeviceJob {
            job_id: job.into(),
            device_id: device.into(),
            body: format!("{{\"d\":\"{device}\"}}"),
        };
        let ops = [
            Op::PutJob {
                id: "j1".into(),
                body: "{\"a\":1}".into(),
            },
            Op::PutJob {
                id: "j2".into(),
                body: "{}".into(),
            },
            row("j1", "d2"),
            row("j1", "d1"),
            row("j2", "d1"),
            row("j1", "d1"),
            Op::PutConfiguration {
                id: "c1".into(),
                body: "{}".into(),
            },
            Op::PutRetiredConfiguration {
                seq: 2,
                body: "{\"id\":\"c0\"}".into(),
            },
            Op::PutRetiredConfiguration {
                seq: 1,
                body: "{}".into(),
            },
        ];
        for op in &ops {
            apply(&conn, op).unwrap();
        }
        let snapshot = load(&conn).unwrap();
        let rows: Vec<_> = snapshot
            .device_jobs
            .iter()
            .map(|(job, device, _)| format!("{job}/{device}"))
            .collect();
        assert_eq!(rows, ["j1/d1", "j1/d2", "j2/d1"]);
        assert_eq!(snapshot.configurations, [("c1".into(), "{}".into())]);
        let seqs: Vec<u64> = snapshot
            .retired_configurations
            .iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(seqs, [1, 2]);

        let deletes = [
            Op::DeleteJob { id: "j1".into() },
            Op::DeleteConfiguration { id: "c1".into() },
            Op::DeleteRetiredConfiguration { seq: 1 },
        ];
        for op in &deletes {
            apply(&conn, op).unwrap();
        }
        let snapshot = load(&conn).unwrap();
        assert_eq!(snapshot.jobs, [("j2".into(), "{}".into())]);
        assert_eq!(snapshot.device_jobs.len(), 1);
        assert!(snapshot.configurations.is_empty());
        assert_eq!(snapshot.retired_configurations.len(), 1);
    }

    #[test]
    fn unknown_schema_versions_are_refused() {
        let conn = fresh();
        prepare(&conn).unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        let error = prepare(&conn).unwrap_err();
        assert!(error.contains("schema version 99"), "{error}");
    }
}
