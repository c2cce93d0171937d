//! [`ApplyStatus`] and [`ConfigurationStatus`]: what a device reports about a section of
//! desired properties it applies (the configuration pattern).

use std::fmt;

use iot_twin::TwinVersion;
use serde::{Deserialize, Serialize};

use super::STATUS_ERROR;

/// The reported member holding the desired `$version` a configuration status is about.
pub const DESIRED_VERSION: &str = "desiredVersion";

/// What a device reports about a desired configuration section, in `status`.
///
/// ```
/// use iot_protocol::patterns::ApplyStatus;
///
/// assert_eq!(ApplyStatus::parse("applying"), Some(ApplyStatus::Applying));
/// assert_eq!(serde_json::to_string(&ApplyStatus::Applied).unwrap(), r#""applied""#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ApplyStatus {
    /// `pending`: the content was received and waits while an older one is being applied.
    Pending,
    /// `applying`: the device is applying the content.
    Applying,
    /// `applied`: the content is in effect.
    Applied,
    /// `error`: applying failed; `message` says why.
    Error,
}

impl ApplyStatus {
    /// Every status, in the order a device goes through them.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Applying, Self::Applied, Self::Error];

    /// The reported spelling: `pending`, `applying`, `applied` or `error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Applying => "applying",
            Self::Applied => "applied",
            Self::Error => STATUS_ERROR,
        }
    }

    /// The status a reported spelling names (exactly, in lower case).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

impl fmt::Display for ApplyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status object a device reports for a configuration section:
/// `{"status": "applied", "desiredVersion": 7, "message": null}`.
///
/// `message` is written `null` when there is none, so that a report replaces the message of an
/// earlier failure (reported properties merge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationStatus {
    /// The status.
    pub status: ApplyStatus,
    /// The desired `$version` the status is about.
    pub desired_version: TwinVersion,
    /// Why applying failed, for [`ApplyStatus::Error`].
    #[serde(default)]
    pub message: Option<String>,
}

impl ConfigurationStatus {
    /// `status` about `desired_version`, without a message.
    pub fn new(status: ApplyStatus, desired_version: TwinVersion) -> Self {
        Self {
            status,
            desired_version,
            message: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(n: u64) -> TwinVersion {
        TwinVersion::new(n).unwrap()
    }

    #[test]
    fn statuses_round_trip_their_spelling() {
        let spelled = ApplyStatus::ALL.map(ApplyStatus::as_str);
        assert_eq!(spelled, ["pending", "applying", "applied", "error"]);
        for status in ApplyStatus::ALL {
            assert_eq!(ApplyStatus::parse(status.as_str()), Some(status));
            assert_eq!(status.to_string(), status.as_str());
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                json!(status.as_str())
            );
            let read: ApplyStatus = serde_json::from_value(json!(status.as_str())).unwrap();
            assert_eq!(read, status);
        }
        assert_eq!(ApplyStatus::parse("Applied"), None);
        assert!(serde_json::from_value::<ApplyStatus>(json!("Applied")).is_err());
    }

    #[test]
    fn statuses_are_written_with_version_and_message() {
        let failed = ConfigurationStatus {
            message: Some("bad image".into()),
            ..ConfigurationStatus::new(ApplyStatus::Error, v(3))
        };
        let written = json!({"status": "error", "desiredVersion": 3, "message": "bad image"});
        assert_eq!(serde_json::to_value(&failed).unwrap(), written);
        assert_eq!(
            serde_json::from_value::<ConfigurationStatus>(written).unwrap(),
            failed
        );
        let applied = ConfigurationStatus::new(ApplyStatus::Applied, v(4));
        assert_eq!(
            serde_json::to_value(&applied).unwrap(),
            json!({"status": "applied", "desiredVersion": 4, "message": null})
        );
    }

    #[test]
    fn statuses_without_a_message_or_a_valid_version() {
        let read: ConfigurationStatus =
            serde_json::from_value(json!({"status": "pending", "desiredVersion": 2})).unwrap();
        assert_eq!(read, ConfigurationStatus::new(ApplyStatus::Pending, v(2)));
        for bad in [
            json!({"status": "applied", "desiredVersion": 0}),
            json!({"status": "applied"}),
            json!({"status": "done", "desiredVersion": 1}),
        ] {
            assert!(serde_json::from_value::<ConfigurationStatus>(bad).is_err());
        }
    }
}
