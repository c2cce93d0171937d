//! Every example query of PROTOCOL 8, 9, 10 and 15, run over the test fleet.

use serde_json::{Value, json};

use super::{device_jobs, fleet, ids, modules};
use crate::query::{Collection, Condition, ItemType, Query};

fn run(text: &str, documents: &[Value]) -> Vec<Value> {
    let query = Query::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    // Printing and parsing again gives the same query and the same rows.
    let again = Query::parse(&query.to_string()).unwrap();
    assert_eq!(again, query, "{text}");
    let rows: Vec<Value> = query.evaluate(documents).collect();
    assert_eq!(again.evaluate(documents.to_vec()).collect::<Vec<_>>(), rows);
    rows
}

fn matching(text: &str, documents: &[Value]) -> Vec<String> {
    ids(&run(text, documents))
        .into_iter()
        .map(String::from)
        .collect()
}

#[test]
fn twin_queries_of_the_query_docs() {
    let fleet = fleet();
    let all = run("SELECT * FROM devices", &fleet);
    assert_eq!(all, fleet);
    assert_eq!(
        Query::parse("SELECT * FROM devices").unwrap().item_type(),
        ItemType::Twin
    );
    assert_eq!(
        run(
            "SELECT COUNT() as totalNumberOfDevices FROM devices",
            &fleet
        ),
        [json!({"totalNumberOfDevices": 5})]
    );
    assert_eq!(
        matching(
            "SELECT * FROM devices WHERE tags.location.region = 'US'",
            &fleet
        ),
        ["d1", "d2", "d5"]
    );
    let frequent = "SELECT * FROM devices
          WHERE tags.location.region = 'US'
            AND properties.reported.telemetryConfig.sendFrequencyInSecs >= 60";
    assert_eq!(matching(frequent, &fleet), ["d1"]);
    let wired = "SELECT * FROM devices WHERE properties.reported.connectivity IN ['wired', 'wifi']";
    assert_eq!(matching(wired, &fleet), ["d4"]);
    let defined = "SELECT * FROM devices WHERE is_defined(properties.reported.connectivity)";
    assert_eq!(matching(defined, &fleet), ["d1", "d2", "d3", "d4"]);
}

#[test]
fn grouping_gives_the_documented_shape() {
    let text = "SELECT properties.reported.telemetryConfig.status AS status,
            COUNT() AS numberOfDevices
          FROM devices
          GROUP BY properties.reported.telemetryConfig.status";
    assert_eq!(
        run(text, &fleet()),
        [
            json!({"numberOfDevices": 3, "status": "Success"}),
            json!({"numberOfDevices": 1, "status": "Pending"}),
            json!({"numberOfDevices": 1, "status": "Error"}),
        ]
    );
    let query = Query::parse(text).unwrap();
    assert!(query.is_aggregate());
    assert_eq!(query.item_type(), ItemType::Raw);
    let firmware = "SELECT properties.reported.firmware.fwUpdateStatus AS s, COUNT() AS n \
                    FROM devices GROUP BY properties.reported.firmware.fwUpdateStatus";
    // Devices without the property form a group of their own, without the key.
    assert_eq!(
        run(firmware, &fleet()),
        [
            json!({"s": "current", "n": 2}),
            json!({"s": "applying", "n": 1}),
            json!({"n": 2}),
        ]
    );
}

#[test]
fn projections_name_columns_by_leaf_or_alias() {
    let fleet = fleet();
    let text = "SELECT DeviceId, LastActivityTime FROM devices \
                WHERE status = 'enabled' AND connectionState = 'Disconnected'";
    let rows = run(text, &fleet);
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["deviceId", "lastActivityTime"]);
    }
    assert_eq!(ids(&rows), ["d1", "d3"]);
    let regions = run(
        "SELECT deviceId, tags.location.region FROM devices WHERE deviceId IN ['d1', 'd4']",
        &fleet,
    );
    assert_eq!(
        regions,
        [
            json!({"deviceId": "d1", "region": "US"}),
            json!({"deviceId": "d4"})
        ]
    );
    let temperatures = run(
        "SELECT properties.reported.temperature AS t FROM devices",
        &fleet,
    );
    assert_eq!(
        temperatures,
        [
            json!({"t": 21.5}),
            json!({"t": 25}),
            json!({"t": 18}),
            json!({}),
            json!({})
        ]
    );
    // `null` values are kept.
    let nulls = run(
        "SELECT TOP 1 x509Thumbprint.primaryThumbprint FROM devices",
        &fleet,
    );
    assert_eq!(nulls, [json!({"primaryThumbprint": null})]);
}

#[test]
fn aggregates_over_numbers() {
    let fleet = fleet();
    let text = "SELECT COUNT() AS n, SUM(properties.reported.temperature) AS sum, \
                AVG(properties.reported.temperature) AS avg, MIN(properties.reported.temperature) \
                AS low, MAX(properties.reported.temperature) AS high, \
                MAX(properties.reported.firmware.fwUpdateStatus) AS last FROM devices";
    assert_eq!(
        run(text, &fleet),
        [json!({"n": 5, "sum": 64.5, "avg": 21.5, "low": 18, "high": 25, "last": "current"})]
    );
    let none = "SELECT AVG(tags.none) AS a, SUM(tags.none) AS s, MIN(tags.none) AS m FROM devices";
    assert_eq!(run(none, &fleet), [json!({"s": 0})]);
    assert_eq!(
        run("SELECT COUNT() FROM devices WHERE deviceId = 'x'", &fleet),
        [json!({"$1": 0})]
    );
    let grouped_none =
        "SELECT tags.a, COUNT() AS n FROM devices WHERE deviceId = 'x' GROUP BY tags.a";
    assert!(run(grouped_none, &fleet).is_empty());
}

#[test]
fn top_and_paging() {
    let fleet = fleet();
    assert_eq!(
        matching(
            "SELECT TOP 2 * FROM devices WHERE tags.location.region = 'US'",
            &fleet
        ),
        ["d1", "d2"]
    );
    assert!(run("SELECT TOP 0 * FROM devices", &fleet).is_empty());
    let query = Query::parse("SELECT deviceId FROM devices").unwrap();
    let mut offset = Some(0);
    let mut seen = Vec::new();
    while let Some(at) = offset {
        let page = query.page(&fleet, at, 2);
        assert!(page.items.len() <= 2);
        seen.extend(page.items);
        offset = page.next;
    }
    assert_eq!(ids(&seen), ["d1", "d2", "d3", "d4", "d5"]);
    let past = query.page(&fleet, 9, 2);
    assert!(past.items.is_empty() && past.next.is_none());
    let top = Query::parse("SELECT TOP 3 deviceId FROM devices").unwrap();
    assert_eq!(top.page(&fleet, 2, 5).items, [json!({"deviceId": "d3"})]);
    assert_eq!(top.page(&fleet, 0, 3).next, None);
    // Skipping does not build rows, and `skip` reaches the same rows as `page`.
    let skipped: Vec<Value> = query.evaluate(&fleet).skip(3).collect();
    assert_eq!(ids(&skipped), ["d4", "d5"]);
}

#[test]
fn string_functions_in_twin_queries() {
    let fleet = fleet();
    for text in [
        "SELECT * FROM devices WHERE STARTSWITH(tags.location.plant, 'Red')",
        "SELECT * FROM devices WHERE starts_with(tags.location.plant, 'Red')",
        "SELECT * FROM devices WHERE ENDSWITH(tags.location.plant, '43')",
        "SELECT * FROM devices WHERE ends_with(tags.location.plant, '43')",
        "SELECT * FROM devices WHERE CONTAINS(tags.location.plant, 'mond4')",
    ] {
        assert_eq!(matching(text, &fleet), ["d1", "d2"], "{text}");
    }
    let lower = "SELECT * FROM devices WHERE LOWER(tags.location.region) = 'eu' \
                 AND LENGTH(deviceId) = 2 AND INDEX_OF(deviceId, '3') = 1";
    assert_eq!(matching(lower, &fleet), ["d3"]);
    let math = "SELECT * FROM devices WHERE ABS(properties.reported.temperature - 20) <= 2";
    assert_eq!(matching(math, &fleet), ["d1", "d3"]);
}

#[test]
fn module_and_job_queries() {
    let modules = modules();
    let scanning = "SELECT * FROM devices.modules WHERE properties.reported.status = 'scanning'";
    assert_eq!(
        matching(scanning, &modules),
        ["device1", "device2", "device3"]
    );
    let subset = "SELECT * FROM devices.modules
          WHERE properties.reported.status = 'scanning'
          AND deviceId IN ['device1', 'device2']";
    assert_eq!(matching(subset, &modules), ["device1", "device2"]);
    assert_eq!(run("SELECT * FROM devices.modules", &modules).len(), 4);

    let jobs = device_jobs();
    let job_ids = |text: &str| -> Vec<String> {
        run(text, &jobs)
            .iter()
            .map(|r| r["jobId"].as_str().unwrap().to_owned())
            .collect()
    };
    let mine = "SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'myDeviceId'";
    assert_eq!(job_ids(mine), ["myJobId", "oldJob", "reboot"]);
    assert_eq!(Query::parse(mine).unwrap().item_type(), ItemType::DeviceJob);
    // The docs' example names `createdTimeUtc`, which rows do not have (PROTOCOL 8.3 rows
    // carry `createdDateTimeUtc`): the condition is undefined for every row.
    let documented = "SELECT * FROM devices.jobs
          WHERE devices.jobs.deviceId = 'myDeviceId'
            AND devices.jobs.jobType = 'scheduleUpdateTwin'
            AND devices.jobs.status = 'completed'
            AND devices.jobs.createdTimeUtc > '2016-09-01'";
    assert!(job_ids(documented).is_empty());
    let fixed = documented.replace("createdTimeUtc", "createdDateTimeUtc");
    assert_eq!(job_ids(&fixed), ["myJobId"]);
    let one_job = "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'myJobId'";
    assert_eq!(job_ids(one_job), ["myJobId", "myJobId"]);
}

#[test]
fn job_query_conditions() {
    let fleet = fleet();
    let picked = |text: &str| -> Vec<&str> {
        let condition = Condition::parse(text).unwrap();
        fleet
            .iter()
            .filter(|t| condition.matches(t))
            .map(|t| t["deviceId"].as_str().unwrap())
            .collect()
    };
    assert_eq!(picked("deviceId IN ['d1', 'd2']"), ["d1", "d2"]);
    assert_eq!(picked("deviceId IN ['d1','d2']"), ["d1", "d2"]);
    assert_eq!(picked("deviceId = 'd1'"), ["d1"]);
    assert_eq!(picked("*"), ["d1", "d2", "d3", "d4", "d5"]);
}

#[test]
fn configuration_conditions_and_metrics() {
    let fleet = fleet();
    let target = Condition::parse("tags.devicetype = 'chiller'").unwrap();
    let targeted: Vec<&Value> = fleet.iter().filter(|t| target.matches(t)).collect();
    assert_eq!(targeted.len(), 2);
    let chiller = Condition::parse("properties.reported.chillerProperties.model='4000x'").unwrap();
    assert_eq!(fleet.iter().filter(|t| chiller.matches(t)).count(), 1);
    let modules =
        Condition::parse("from devices.modules where properties.reported.status = 'idle'").unwrap();
    assert_eq!(modules.collection(), Collection::Modules);
    assert_eq!(modules_matching(&modules), ["device1"]);

    let metric = |status: &str| {
        format!(
            "SELECT deviceId FROM devices WHERE configurations.[[firmware285]].status='Applied' \
             AND properties.reported.firmware.fwUpdateStatus='{status}'"
        )
    };
    assert_eq!(matching(&metric("current"), &fleet), ["d1", "d3"]);
    assert!(matching(&metric("applying"), &fleet).is_empty());
    let applied =
        "select deviceId from devices where configurations.[[firmware285]].status = 'Applied'";
    assert_eq!(matching(applied, &fleet), ["d1", "d3"]);
    let targeted = "select deviceId from devices where tags.devicetype = 'chiller'";
    assert_eq!(matching(targeted, &fleet), ["d1", "d2"]);
    // A service write bumped desired `$version` from 1 to 2 where it wrote desired properties.
    let version = "SELECT deviceId FROM devices WHERE properties.desired.$version = 2";
    assert_eq!(matching(version, &fleet), ["d1", "d5"]);
}

fn modules_matching(condition: &Condition) -> Vec<String> {
    modules()
        .iter()
        .filter(|t| condition.matches(t))
        .map(|t| t["deviceId"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn sample_flow_queries() {
    let fleet = fleet();
    let plant = "SELECT * FROM devices WHERE tags.location.plant = 'Redmond43'";
    assert_eq!(matching(plant, &fleet), ["d1", "d2"]);
    let cellular = format!("{plant} AND properties.reported.connectivity.type = 'cellular'");
    assert_eq!(matching(&cellular, &fleet), ["d1"]);
    let reboot = "SELECT deviceId FROM devices \
                  WHERE IS_DEFINED(properties.reported.iothubDM.reboot.lastReboot)";
    assert!(run(reboot, &fleet).is_empty());
}
