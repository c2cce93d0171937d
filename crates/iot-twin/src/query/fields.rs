//! How a property path in a query maps onto the queried document, and how result columns are
//! named.
//!
//! IoT Hub matches the top-level fields of a twin in any letter case (`SELECT DeviceId,
//! LastActivityTime` yields `deviceId` and `lastActivityTime`, PROTOCOL 8.2), while keys below
//! them are case-sensitive. Here the first name of a path is matched in any letter case against
//! the documented top-level fields of the collection's documents (the REST twin fields of
//! PROTOCOL 6.2, or the device-job row fields of 8.3) and replaced by their wire spelling; other
//! names are used exactly as written. Paths may also start with the collection's own name, as
//! IoT Hub's job queries do (`devices.jobs.jobId`); that prefix is dropped. IoT Hub documents
//! the prefix only for `devices.jobs`; it is accepted for `devices` and `devices.modules` too,
//! since no twin has a top-level field named `devices`.

use super::ast::{Collection, SelectItem, SelectValue};
use super::name::PropertyPath;

/// Top-level fields of a device or module twin (PROTOCOL 6.2).
const TWIN_FIELDS: [&str; 20] = [
    "deviceId",
    "moduleId",
    "etag",
    "deviceEtag",
    "status",
    "statusReason",
    "statusUpdateTime",
    "connectionState",
    "lastActivityTime",
    "cloudToDeviceMessageCount",
    "authenticationType",
    "x509Thumbprint",
    "modelId",
    "version",
    "capabilities",
    "deviceScope",
    "parentScopes",
    "tags",
    "properties",
    "configurations",
];

/// Fields of a `devices.jobs` row (PROTOCOL 8.3).
const JOB_FIELDS: [&str; 10] = [
    "deviceId",
    "jobId",
    "jobType",
    "status",
    "startTimeUtc",
    "endTimeUtc",
    "createdDateTimeUtc",
    "lastUpdatedDateTimeUtc",
    "outcome",
    "error",
];

/// The keys `path` walks in documents of `from`: the collection prefix dropped and the first
/// key in its wire spelling when it is a known top-level field.
pub(crate) fn resolve(path: &PropertyPath, from: Collection) -> Vec<&str> {
    let mut segments: Vec<&str> = path.segments().iter().map(|s| s.as_str()).collect();
    let prefix: &[&str] = match from {
        Collection::Devices => &["devices"],
        Collection::Modules => &["devices", "modules"],
        Collection::DeviceJobs => &["devices", "jobs"],
    };
    let has_prefix = segments.len() > prefix.len()
        && prefix
            .iter()
            .zip(&segments)
            .all(|(p, s)| p.eq_ignore_ascii_case(s));
    if has_prefix {
        segments.drain(..prefix.len());
    }
    let fields: &[&'static str] = match from {
        Collection::Devices | Collection::Modules => &TWIN_FIELDS,
        Collection::DeviceJobs => &JOB_FIELDS,
    };
    if let Some(first) = segments.first_mut() {
        if let Some(field) = fields.iter().find(|f| f.eq_ignore_ascii_case(first)) {
            *first = field;
        }
    }
    segments
}

/// The key each column of a `SELECT` list gets in a result row: its `AS` name; else, for a
/// path, its last key (in wire spelling for a top-level field); else, for an aggregate without
/// a name, `$1`, `$2`, ... in order, as Cosmos DB (whose query language IoT Hub's follows) names
/// unnamed columns. IoT Hub does not document the names of unnamed aggregates.
pub(crate) fn column_names(items: &[SelectItem], from: Collection) -> Vec<String> {
    let mut unnamed = 0;
    items
        .iter()
        .map(|item| match (&item.alias, &item.value) {
            (Some(alias), _) => alias.as_str().to_owned(),
            (None, SelectValue::Path(path)) => resolve(path, from)
                .last()
                .copied()
                .unwrap_or_default()
                .to_owned(),
            (None, _) => {
                unnamed += 1;
                format!("${unnamed}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::name::Name;

    fn resolved(text: &str, from: Collection) -> Vec<String> {
        let path: PropertyPath = text.parse().unwrap();
        resolve(&path, from).into_iter().map(String::from).collect()
    }

    #[test]
    fn top_level_fields_match_in_any_case() {
        assert_eq!(resolved("DeviceId", Collection::Devices), ["deviceId"]);
        assert_eq!(
            resolved("LASTACTIVITYTIME", Collection::Modules),
            ["lastActivityTime"]
        );
        assert_eq!(
            resolved("Properties.Reported.Fw", Collection::Devices),
            ["properties", "Reported", "Fw"]
        );
        assert_eq!(
            resolved("tags.DeviceId", Collection::Devices),
            ["tags", "DeviceId"]
        );
        assert_eq!(resolved("JobID", Collection::DeviceJobs), ["jobId"]);
        assert_eq!(
            resolved("unknownField", Collection::Devices),
            ["unknownField"]
        );
    }

    #[test]
    fn collection_prefixes_are_dropped() {
        assert_eq!(
            resolved("devices.jobs.deviceId", Collection::DeviceJobs),
            ["deviceId"]
        );
        assert_eq!(
            resolved("devices.modules.moduleId", Collection::Modules),
            ["moduleId"]
        );
        assert_eq!(
            resolved("devices.tags.a", Collection::Devices),
            ["tags", "a"]
        );
        // The prefix alone is a path like any other.
        assert_eq!(resolved("devices", Collection::Devices), ["devices"]);
        assert_eq!(resolved("devices.jobs", Collection::Devices), ["jobs"]);
    }

    #[test]
    fn columns_are_named_by_alias_leaf_or_position() {
        let path = |t: &str| SelectValue::Path(t.parse().unwrap());
        let items = vec![
            SelectItem {
                value: path("DeviceId"),
                alias: None,
            },
            SelectItem {
                value: path("tags.location.region"),
                alias: None,
            },
            SelectItem {
                value: SelectValue::Count,
                alias: None,
            },
            SelectItem {
                value: SelectValue::Count,
                alias: Some(Name::try_from("n").unwrap()),
            },
            SelectItem {
                value: SelectValue::Count,
                alias: None,
            },
        ];
        assert_eq!(
            column_names(&items, Collection::Devices),
            ["deviceId", "region", "$1", "n", "$2"]
        );
    }
}
