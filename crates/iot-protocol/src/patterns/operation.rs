//! [`OperationNames`]: the wire names of an operation a direct method starts (reboot, factory
//! reset), and [`OperationReport`], the progress a device reports under them.

use iot_twin::Timestamp;
use serde_json::{Map, Value};

use super::{MESSAGE, STATUS, STATUS_ERROR};

/// The reported section under which operations report their progress.
pub const DM_SECTION: &str = "iothubDM";

/// The names one device-management operation uses on the wire: the method that starts it, its
/// answers, and the statuses and times the device reports under `iothubDM.<key>`.
///
/// | | [`Self::REBOOT`] | [`Self::FACTORY_RESET`] |
/// |---|---|---|
/// | method | `reboot` | `factoryReset` |
/// | answer | `"Reboot started"` | `"Factory reset started"` |
/// | running | `rebooting`, `startedRebootTime` | `resetting`, `startedFactoryResetTime` |
/// | done | `rebooted`, `lastReboot` | `reset`, `lastFactoryReset` |
/// | failed | `error`, `message` | `error`, `message` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct OperationNames {
    /// The method that starts it.
    pub method: &'static str,
    /// The key under `iothubDM`.
    pub key: &'static str,
    /// The method's answer (status 200) when the operation starts.
    pub started_answer: &'static str,
    /// The method's answer (status 409) while one already runs.
    pub busy_answer: &'static str,
    /// The status while it runs.
    pub running: &'static str,
    /// The status once it succeeded.
    pub done: &'static str,
    /// The member holding when it started (reported with the running status).
    pub started_time: &'static str,
    /// The member holding when it last succeeded.
    pub done_time: &'static str,
}

impl OperationNames {
    /// Reboot, with the names of IoT Hub's Node reboot samples (PROTOCOL 15).
    pub const REBOOT: Self = Self {
        method: "reboot",
        key: "reboot",
        started_answer: "Reboot started",
        busy_answer: "A reboot is already in progress",
        running: "rebooting",
        done: "rebooted",
        started_time: "startedRebootTime",
        done_time: "lastReboot",
    };

    /// Factory reset. IoT Hub's samples name no factory-reset properties; these follow the
    /// reboot ones.
    pub const FACTORY_RESET: Self = Self {
        method: "factoryReset",
        key: "factoryReset",
        started_answer: "Factory reset started",
        busy_answer: "A factory reset is already in progress",
        running: "resetting",
        done: "reset",
        started_time: "startedFactoryResetTime",
        done_time: "lastFactoryReset",
    };

    /// The dotted path of the reported section: `iothubDM.reboot`, `iothubDM.factoryReset`.
    pub fn section(&self) -> String {
        format!("{DM_SECTION}.{}", self.key)
    }

    /// The reported patch for `report`: `{"iothubDM": {"<key>": {...}}}`.
    pub fn patch(&self, report: &OperationReport) -> Value {
        let content = match report {
            OperationReport::Started { at } => members([
                (STATUS, Value::from(self.running)),
                (self.started_time, time(*at)),
                (MESSAGE, Value::Null),
            ]),
            OperationReport::Done { at } => members([
                (STATUS, Value::from(self.done)),
                (self.done_time, time(*at)),
            ]),
            OperationReport::Failed { message } => members([
                (STATUS, Value::from(STATUS_ERROR)),
                (MESSAGE, Value::from(message.as_str())),
            ]),
        };
        members([(DM_SECTION, members([(self.key, content)]))])
    }

    /// The status reported in `reported` (the reported properties), if there is one.
    pub fn status<'a>(&self, reported: &'a Map<String, Value>) -> Option<&'a str> {
        reported
            .get(DM_SECTION)?
            .get(self.key)?
            .get(STATUS)?
            .as_str()
    }
}

/// A step of an operation's progress, as a device reports it ([`OperationNames::patch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationReport {
    /// The operation started: the running status, the start time, and no message.
    Started {
        /// When it started; `None` is written `null` (a clock outside [`Timestamp`]'s range).
        at: Option<Timestamp>,
    },
    /// The operation succeeded: the done status and time.
    Done {
        /// When it finished; `None` is written `null`.
        at: Option<Timestamp>,
    },
    /// The operation failed: status `error` and why.
    Failed {
        /// Why it failed.
        message: String,
    },
}

fn members<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
    )
}

fn time(at: Option<Timestamp>) -> Value {
    at.map_or(Value::Null, |at| Value::from(at.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at() -> Timestamp {
        "2026-11-26T10:04:26.7760180Z".parse().unwrap()
    }

    #[test]
    fn reboot_reports_use_the_sample_names() {
        let reboot = OperationNames::REBOOT;
        assert_eq!(
            reboot.patch(&OperationReport::Started { at: Some(at()) }),
            json!({"iothubDM": {"reboot": {
                "status": "rebooting",
                "startedRebootTime": "2026-11-26T10:04:26.7760180Z",
                "message": null
            }}})
        );
        assert_eq!(
            reboot.patch(&OperationReport::Done { at: None }),
            json!({"iothubDM": {"reboot": {"status": "rebooted", "lastReboot": null}}})
        );
        assert_eq!(
            reboot.patch(&OperationReport::Failed {
                message: "disk busy".into()
            }),
            json!({"iothubDM": {"reboot": {"status": "error", "message": "disk busy"}}})
        );
        assert_eq!(
            (
                reboot.method,
                reboot.started_answer,
                reboot.section().as_str()
            ),
            ("reboot", "Reboot started", "iothubDM.reboot")
        );
    }

    #[test]
    fn factory_reset_reports_follow_the_reboot_ones() {
        let reset = OperationNames::FACTORY_RESET;
        assert_eq!(
            reset.patch(&OperationReport::Done { at: Some(at()) }),
            json!({"iothubDM": {"factoryReset": {
                "status": "reset",
                "lastFactoryReset": "2026-11-26T10:04:26.7760180Z"
            }}})
        );
        assert_eq!(
            (reset.method, reset.section().as_str()),
            ("factoryReset", "iothubDM.factoryReset")
        );
    }

    #[test]
    fn the_reported_status_is_read_back() {
        let reboot = OperationNames::REBOOT;
        let patch = reboot.patch(&OperationReport::Started { at: None });
        let Value::Object(reported) = patch else {
            unreachable!("a patch is an object")
        };
        assert_eq!(reboot.status(&reported), Some("rebooting"));
        assert_eq!(OperationNames::FACTORY_RESET.status(&reported), None);
        assert_eq!(reboot.status(&Map::new()), None);
    }
}
