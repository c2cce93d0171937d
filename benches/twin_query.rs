//! Twin queries over 100 000 generated twins (REST shape with `$metadata`, about 1.3 KB of JSON
//! each), against SQLite's JSON functions over the same twins as the baseline, in the same run.
//!
//! Two queries, each measured five ways:
//!
//! - filter: `SELECT COUNT() ... WHERE tags.location.region = 'US' AND
//!   properties.reported.connectivity.type = 'cellular'` (SQLite: `count(*)` with two
//!   `json_extract` in `WHERE`);
//! - group: `SELECT properties.reported.fwStatus AS s, COUNT() AS n ... GROUP BY
//!   properties.reported.fwStatus` (SQLite: `json_extract` in the select list and `GROUP BY`).
//!
//! Starting points:
//!
//! - `ours/values`: twins parsed into `serde_json::Value`s in memory (the hub's working form);
//! - `ours/json_text`: twins as JSON text in memory, each parsed to a `Value` then evaluated
//!   (what SQLite does with text);
//! - `ours/json_text_sparse`: twins as JSON text, read with `Query::evaluate_json`, which keeps
//!   only the members the query looks at;
//! - `sqlite/text`: twins as JSON text in an in-memory SQLite table;
//! - `sqlite/jsonb`: twins as SQLite's binary JSON (`jsonb()`) in an in-memory table, SQLite's
//!   own pre-parsed form.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use iot_twin::Query;
use rusqlite::Connection;
use serde_json::{Value, json};

const TWINS: usize = 100_000;

const FILTER: &str = "SELECT COUNT() AS n FROM devices WHERE tags.location.region = 'US' \
                      AND properties.reported.connectivity.type = 'cellular'";
const FILTER_SQL: &str = "SELECT count(*) FROM {table} \
     WHERE json_extract(doc, '$.tags.location.region') = 'US' \
     AND json_extract(doc, '$.properties.reported.connectivity.type') = 'cellular'";
const GROUP: &str = "SELECT properties.reported.fwStatus AS s, COUNT() AS n FROM devices \
                     GROUP BY properties.reported.fwStatus";
const GROUP_SQL: &str = "SELECT json_extract(doc, '$.properties.reported.fwStatus') AS s, \
     count(*) AS n FROM {table} GROUP BY s";

/// A small deterministic generator (xorshift64*), so every run sees the same fleet.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = usize::try_from(self.next() % items.len() as u64).expect("small");
        items[i]
    }
}

/// A twin as IoT Hub returns it, with realistic tags, desired and reported properties.
fn twin(i: usize, rng: &mut Rng) -> Value {
    let stamp = "2024-05-01T10:00:00.1234567Z";
    let region = rng.pick(&["US", "US", "EU", "APAC", "LATAM"]);
    let connectivity = rng.pick(&["cellular", "wifi", "wired", "cellular"]);
    let fw_status = rng.pick(&["current", "downloading", "verifying", "applying", "error"]);
    let battery = rng.next() % 100;
    json!({
        "deviceId": format!("device-{i:06}"),
        "etag": "AAAAAAAAAAQ=",
        "deviceEtag": "NjU4ODE3NDIy",
        "status": "enabled",
        "statusUpdateTime": "0001-01-01T00:00:00Z",
        "connectionState": rng.pick(&["Connected", "Disconnected"]),
        "lastActivityTime": stamp,
        "cloudToDeviceMessageCount": 0,
        "authenticationType": "sas",
        "x509Thumbprint": {"primaryThumbprint": null, "secondaryThumbprint": null},
        "modelId": "",
        "version": 11,
        "tags": {
            "location": {"region": region, "plant": format!("plant-{}", rng.next() % 40)},
            "devicetype": rng.pick(&["chiller", "pump", "valve"]),
            "owner": "facilities",
        },
        "properties": {
            "desired": {
                "telemetryConfig": {"sendFrequencyInSecs": 300},
                "firmware": {"fwVersion": "2.8.5", "fwPackageURI": "https://example.invalid/fw/2.8.5.bin"},
                "$metadata": {
                    "$lastUpdated": stamp, "$lastUpdatedVersion": 4,
                    "telemetryConfig": {"$lastUpdated": stamp, "$lastUpdatedVersion": 4,
                        "sendFrequencyInSecs": {"$lastUpdated": stamp, "$lastUpdatedVersion": 4}},
                    "firmware": {"$lastUpdated": stamp, "$lastUpdatedVersion": 3},
                },
                "$version": 4,
            },
            "reported": {
                "connectivity": {"type": connectivity, "signal": -70 - (battery % 30) as i64},
                "fwStatus": fw_status,
                "firmware": {"currentFwVersion": "2.8.4", "pendingFwVersion": "2.8.5"},
                "telemetryConfig": {"sendFrequencyInSecs": 300, "status": "Success"},
                "battery": battery,
                "temperature": 15.5 + (battery % 20) as f64,
                "$metadata": {
                    "$lastUpdated": stamp,
                    "connectivity": {"$lastUpdated": stamp,
                        "type": {"$lastUpdated": stamp}, "signal": {"$lastUpdated": stamp}},
                    "fwStatus": {"$lastUpdated": stamp},
                    "battery": {"$lastUpdated": stamp},
                    "temperature": {"$lastUpdated": stamp},
                },
                "$version": 7,
            },
        },
    })
}

struct Fleet {
    values: Vec<Value>,
    texts: Vec<String>,
    sqlite: Connection,
}

fn fleet() -> Fleet {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let values: Vec<Value> = (0..TWINS).map(|i| twin(i, &mut rng)).collect();
    let texts: Vec<String> = values.iter().map(Value::to_string).collect();
    let mut sqlite = Connection::open_in_memory().expect("in-memory SQLite");
    sqlite
        .execute_batch(
            "CREATE TABLE twins (id INTEGER PRIMARY KEY, doc TEXT NOT NULL);
             CREATE TABLE twins_jsonb (id INTEGER PRIMARY KEY, doc BLOB NOT NULL);",
        )
        .expect("tables");
    let insert = sqlite.transaction().expect("transaction");
    {
        let mut text = insert
            .prepare("INSERT INTO twins (doc) VALUES (?1)")
            .expect("insert");
        let mut binary = insert
            .prepare("INSERT INTO twins_jsonb (doc) VALUES (jsonb(?1))")
            .expect("insert");
        for doc in &texts {
            text.execute([doc]).expect("row");
            binary.execute([doc]).expect("row");
        }
    }
    insert.commit().expect("commit");
    Fleet {
        values,
        texts,
        sqlite,
    }
}

/// Runs a query through SQLite and returns its rows as (text or null, count) pairs.
fn sqlite_rows(sqlite: &Connection, sql: &str, table: &str) -> Vec<(Option<String>, i64)> {
    let sql = sql.replace("{table}", table);
    let mut statement = sqlite.prepare_cached(&sql).expect("prepare");
    let columns = statement.column_count();
    statement
        .query_map([], |row| {
            if columns == 1 {
                Ok((None, row.get(0)?))
            } else {
                Ok((row.get(0)?, row.get(1)?))
            }
        })
        .expect("query")
        .map(|row| row.expect("row"))
        .collect()
}

/// Our rows in the same form as [`sqlite_rows`], sorted like SQLite's `GROUP BY` output.
fn our_rows(rows: &[Value]) -> Vec<(Option<String>, i64)> {
    let mut out: Vec<(Option<String>, i64)> = rows
        .iter()
        .map(|row| {
            let key = row.get("s").and_then(Value::as_str).map(String::from);
            (key, row["n"].as_i64().expect("count"))
        })
        .collect();
    out.sort();
    out
}

fn run_values(query: &Query, fleet: &Fleet) -> Vec<Value> {
    query.evaluate(&fleet.values).collect()
}

fn run_text(query: &Query, fleet: &Fleet) -> Vec<Value> {
    let parsed = fleet
        .texts
        .iter()
        .map(|t| serde_json::from_str::<Value>(t).expect("valid twin"));
    query.evaluate(parsed).collect()
}

fn run_sparse(query: &Query, fleet: &Fleet) -> Vec<Value> {
    query
        .evaluate_json(fleet.texts.iter().map(String::as_bytes))
        .collect::<Result<_, _>>()
        .expect("valid twins")
}

fn bench_query(c: &mut Criterion, fleet: &Fleet, name: &str, text: &str, sql: &str) {
    let query = Query::parse(text).expect("valid query");
    // Every way gives the same answer before anything is timed.
    let expected = our_rows(&run_values(&query, fleet));
    assert_eq!(our_rows(&run_text(&query, fleet)), expected);
    assert_eq!(our_rows(&run_sparse(&query, fleet)), expected);
    assert_eq!(sqlite_rows(&fleet.sqlite, sql, "twins"), expected);
    assert_eq!(sqlite_rows(&fleet.sqlite, sql, "twins_jsonb"), expected);

    let mut group = c.benchmark_group(format!("twin_query/{name}"));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("ours/values", |b| {
        b.iter(|| run_values(black_box(&query), fleet));
    });
    group.bench_function("ours/json_text", |b| {
        b.iter(|| run_text(black_box(&query), fleet));
    });
    group.bench_function("ours/json_text_sparse", |b| {
        b.iter(|| run_sparse(black_box(&query), fleet));
    });
    group.bench_function("sqlite/text", |b| {
        b.iter(|| sqlite_rows(&fleet.sqlite, black_box(sql), "twins"));
    });
    group.bench_function("sqlite/jsonb", |b| {
        b.iter(|| sqlite_rows(&fleet.sqlite, black_box(sql), "twins_jsonb"));
    });
    group.finish();
}

fn twin_query(c: &mut Criterion) {
    let fleet = fleet();
    bench_query(c, &fleet, "filter_count", FILTER, FILTER_SQL);
    bench_query(c, &fleet, "group_by", GROUP, GROUP_SQL);
}

criterion_group!(benches, twin_query);
criterion_main!(benches);
