//! The MQTT topics of the device twin, for the device that publishes requests and the hub that
//! answers them.
//!
//! ```text
//! device subscribes   $iothub/twin/res/#
//!                     $iothub/twin/PATCH/properties/desired/#
//! device -> hub       $iothub/twin/GET/?$rid={rid}
//!                     $iothub/twin/PATCH/properties/reported/?$rid={rid}
//! hub -> device       $iothub/twin/res/{status}/?$rid={rid}[&$version={n}]
//!                     $iothub/twin/PATCH/properties/desired/?$version={n}
//! ```
//!
//! Every topic keeps the `/` before `?`: the Python SDK splits on `/` and reads the status from
//! segment 3, and the embedded C SDK slices the desired topic right after `desired/`. Parsers
//! refuse a topic without that `/` rather than accept what IoT Hub never sends.
//!
//! Properties after `?` are read and written by [`TopicProperties`] (`topic/properties.rs`),
//! the codec direct-method topics share: keys and values are percent-decoded when read, request
//! ids percent-encoded when written. Properties other than those a topic needs are ignored, such
//! as the `$version` some clients put on a reported patch.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::{RequestId, TwinVersion};

mod error;
mod properties;

pub use error::TopicError;
pub use properties::{PropertyError, TopicProperties};

/// Start of every twin topic.
const PREFIX: &str = "$iothub/twin/";
/// The paths after [`PREFIX`], without their final `/`.
const GET_PATH: &str = "GET";
const REPORTED_PATH: &str = "PATCH/properties/reported";
const DESIRED_PATH: &str = "PATCH/properties/desired";
const RESPONSE_PATH: &str = "res/";
/// The property that carries the request id.
const RID: &str = TopicProperties::REQUEST_ID;
/// The property that carries a section's `$version`.
const VERSION: &str = "$version";

/// A topic filter a device subscribes to before using its twin.
///
/// The hub parses the filters of a `SUBSCRIBE`; IoT Hub accepts only these exact strings.
///
/// ```
/// use iot_twin::TwinSubscription;
///
/// let filter: TwinSubscription = "$iothub/twin/res/#".parse().unwrap();
/// assert_eq!(filter, TwinSubscription::Responses);
/// assert_eq!(TwinSubscription::DesiredPatches.as_str(), "$iothub/twin/PATCH/properties/desired/#");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TwinSubscription {
    /// `$iothub/twin/res/#`: answers to `GET` and reported patches. A device must subscribe
    /// before sending requests, or the answers are lost.
    Responses,
    /// `$iothub/twin/PATCH/properties/desired/#`: desired-property notifications.
    DesiredPatches,
}

impl TwinSubscription {
    /// Both filters, in the order devices subscribe to them.
    pub const ALL: [Self; 2] = [Self::Responses, Self::DesiredPatches];

    /// The filter text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Responses => "$iothub/twin/res/#",
            Self::DesiredPatches => "$iothub/twin/PATCH/properties/desired/#",
        }
    }
}

impl FromStr for TwinSubscription {
    type Err = TopicError;

    fn from_str(filter: &str) -> Result<Self, TopicError> {
        Self::ALL
            .into_iter()
            .find(|known| known.as_str() == filter)
            .ok_or_else(|| TopicError::UnexpectedTopic {
                topic: filter.to_owned(),
                expected: "a twin subscription filter",
            })
    }
}

impl fmt::Display for TwinSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A twin topic the device publishes and the hub parses.
///
/// ```
/// use iot_twin::DeviceTopic;
///
/// let topic: DeviceTopic = "$iothub/twin/PATCH/properties/reported/?$rid=42&$version=3".parse()?;
/// assert!(matches!(&topic, DeviceTopic::ReportedPatch { request_id } if request_id.as_str() == "42"));
/// assert_eq!(topic.to_string(), "$iothub/twin/PATCH/properties/reported/?$rid=42");
/// # Ok::<(), iot_twin::TopicError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeviceTopic {
    /// `$iothub/twin/GET/?$rid={rid}`: a request for the twin's desired and reported
    /// properties. The body is ignored (the Python and Node SDKs send a single space).
    Get {
        /// The request id the answer echoes.
        request_id: RequestId,
    },
    /// `$iothub/twin/PATCH/properties/reported/?$rid={rid}`: a merge patch of reported
    /// properties in the body.
    ReportedPatch {
        /// The request id the answer echoes.
        request_id: RequestId,
    },
}

impl DeviceTopic {
    /// The request id the hub's answer must echo.
    pub fn request_id(&self) -> &RequestId {
        match self {
            Self::Get { request_id } | Self::ReportedPatch { request_id } => request_id,
        }
    }
}

impl FromStr for DeviceTopic {
    type Err = TopicError;

    fn from_str(topic: &str) -> Result<Self, TopicError> {
        const EXPECTED: &str = "a twin topic published by a device";
        let (path, query) = split(topic, EXPECTED)?;
        let request_id = || required_request_id(topic, query);
        match path {
            GET_PATH => Ok(Self::Get {
                request_id: request_id()?,
            }),
            REPORTED_PATH => Ok(Self::ReportedPatch {
                request_id: request_id()?,
            }),
            _ => Err(unexpected(topic, EXPECTED)),
        }
    }
}

impl fmt::Display for DeviceTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (path, rid) = match self {
            Self::Get { request_id } => (GET_PATH, request_id),
            Self::ReportedPatch { request_id } => (REPORTED_PATH, request_id),
        };
        write!(f, "{PREFIX}{path}/?{RID}={}", encode(rid))
    }
}

/// A twin topic the hub publishes and the device parses.
///
/// ```
/// use iot_twin::HubTopic;
///
/// let topic: HubTopic = "$iothub/twin/res/204/?$rid=1&$version=6".parse()?;
/// let HubTopic::Response { status, request_id, version } = &topic else { unreachable!() };
/// assert_eq!((*status, request_id.as_str(), version.map(|v| v.get())), (204, "1", Some(6)));
/// assert_eq!(topic.to_string(), "$iothub/twin/res/204/?$rid=1&$version=6");
///
/// let note: HubTopic = "$iothub/twin/PATCH/properties/desired/?$version=4".parse()?;
/// assert!(matches!(note, HubTopic::DesiredPatch { version } if version.get() == 4));
/// # Ok::<(), iot_twin::TopicError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HubTopic {
    /// `$iothub/twin/res/{status}/?$rid={rid}[&$version={n}]`: the answer to a request.
    ///
    /// A `GET` is answered with 200 and the twin's properties; a reported patch with 204 and
    /// the new reported `$version`, empty body; failures with another status and a JSON error
    /// body.
    Response {
        /// The status, as in HTTP.
        status: u16,
        /// The request id of the request answered.
        request_id: RequestId,
        /// The reported `$version` after an accepted patch.
        version: Option<TwinVersion>,
    },
    /// `$iothub/twin/PATCH/properties/desired/?$version={n}`: desired properties changed; the
    /// body is the change, with the same `$version` inside.
    DesiredPatch {
        /// The desired `$version` after the change.
        version: TwinVersion,
    },
}

impl HubTopic {
    /// Whether this is an answer with a success status (200 to 299).
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            Self::Response {
                status: 200..=299,
                ..
            }
        )
    }
}

impl FromStr for HubTopic {
    type Err = TopicError;

    fn from_str(topic: &str) -> Result<Self, TopicError> {
        const EXPECTED: &str = "a twin topic published by the hub";
        let (path, query) = split(topic, EXPECTED)?;
        if path == DESIRED_PATH {
            let version = find(topic, query, VERSION)?.ok_or_else(|| missing(topic, VERSION))?;
            return Ok(Self::DesiredPatch {
                version: parse_version(topic, version)?,
            });
        }
        let status = path
            .strip_prefix(RESPONSE_PATH)
            .filter(|segment| !segment.contains('/'))
            .ok_or_else(|| unexpected(topic, EXPECTED))?;
        Ok(Self::Response {
            status: parse_status(topic, status)?,
            request_id: required_request_id(topic, query)?,
            version: find(topic, query, VERSION)?
                .map(|version| parse_version(topic, version))
                .transpose()?,
        })
    }
}

impl fmt::Display for HubTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Response {
                status,
                request_id,
                version,
            } => {
                write!(
                    f,
                    "{PREFIX}{RESPONSE_PATH}{status}/?{RID}={}",
                    encode(request_id)
                )?;
                match version {
                    Some(version) => write!(f, "&{VERSION}={version}"),
                    None => Ok(()),
                }
            }
            Self::DesiredPatch { version } => {
                write!(f, "{PREFIX}{DESIRED_PATH}/?{VERSION}={version}")
            }
        }
    }
}

fn encode(rid: &RequestId) -> impl fmt::Display + '_ {
    TopicProperties::encode(rid.as_str())
}

/// Splits a twin topic into its path after [`PREFIX`] (without the final `/`) and its
/// properties (none when there is no `?`).
fn split<'t>(
    topic: &'t str,
    expected: &'static str,
) -> Result<(&'t str, TopicProperties<'t>), TopicError> {
    let rest = topic
        .strip_prefix(PREFIX)
        .ok_or_else(|| unexpected(topic, expected))?;
    let (path, properties) =
        TopicProperties::split(rest).ok_or_else(|| TopicError::MissingSlashBeforeQuery {
            topic: topic.to_owned(),
        })?;
    Ok((path, properties.unwrap_or(TopicProperties::new(""))))
}

/// The decoded value of the one property `key`, if present.
fn find<'t>(
    topic: &str,
    properties: TopicProperties<'t>,
    key: &'static str,
) -> Result<Option<Cow<'t, str>>, TopicError> {
    properties.get(key).map_err(|error| match error {
        PropertyError::DuplicateProperty => TopicError::DuplicateProperty {
            topic: topic.to_owned(),
            property: key,
        },
        PropertyError::InvalidPercentEncoding => not_utf8(topic),
    })
}

fn required_request_id(
    topic: &str,
    properties: TopicProperties<'_>,
) -> Result<RequestId, TopicError> {
    let rid = find(topic, properties, RID)?.ok_or_else(|| missing(topic, RID))?;
    RequestId::try_from(rid.into_owned())
}

fn parse_version(topic: &str, text: Cow<'_, str>) -> Result<TwinVersion, TopicError> {
    decimal(&text)
        .and_then(TwinVersion::new)
        .ok_or_else(|| TopicError::InvalidVersion {
            topic: topic.to_owned(),
            version: text.into_owned(),
        })
}

fn parse_status(topic: &str, segment: &str) -> Result<u16, TopicError> {
    let text = TopicProperties::decode(segment).map_err(|_| not_utf8(topic))?;
    decimal(&text)
        .and_then(|status| u16::try_from(status).ok())
        .ok_or_else(|| TopicError::InvalidStatus {
            topic: topic.to_owned(),
            status: text.into_owned(),
        })
}

/// `text` as a number when it is only ASCII digits (no sign, no spaces).
fn decimal(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if digits { text.parse().ok() } else { None }
}

fn not_utf8(topic: &str) -> TopicError {
    TopicError::InvalidPercentEncoding {
        topic: topic.to_owned(),
    }
}

fn unexpected(topic: &str, expected: &'static str) -> TopicError {
    TopicError::UnexpectedTopic {
        topic: topic.to_owned(),
        expected,
    }
}

fn missing(topic: &str, property: &'static str) -> TopicError {
    TopicError::MissingProperty {
        topic: topic.to_owned(),
        property,
    }
}

#[cfg(test)]
mod tests;
