//! The MQTT topics of direct methods: the hub's request to the device and the device's response.
//!
//! ```text
//! hub -> device   $iothub/methods/POST/{method name}/?$rid={request id}
//! device -> hub   $iothub/methods/res/{status}/?$rid={request id}
//! ```
//!
//! Both keep the `/` before `?`: the Python device SDK splits the topic on `/` and reads the
//! method name (or status) from segment 3, so `POST/reboot?$rid=1` would break it. Parsers reject
//! a topic without that `/` rather than accept what IoT Hub never sends.
//!
//! The method name travels verbatim (the SDKs do not decode it; [`MethodName`] forbids the
//! characters that would break the topic). The properties after `?` are read and written by
//! [`iot_twin::TopicProperties`], the codec the twin topics use too: the request id is
//! percent-encoded when written (everything but ASCII letters, digits and `-._~`, as the Python
//! SDK encodes it) and percent-decoded when read; `+` always stays `+`, never a space. A
//! malformed escape such as `%zz` is kept literally, as Python's `unquote` does. Further
//! `&key=value` properties after `$rid` are tolerated and ignored; property keys are
//! percent-decoded too, so `%24rid` is `$rid`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use iot_twin::{PropertyError, TopicProperties};

use crate::{Error, MethodName, RequestId};

/// The filter a device subscribes to in order to receive method requests.
pub const SUBSCRIPTION: &str = "$iothub/methods/POST/#";

/// Start of every request topic.
const REQUEST_PREFIX: &str = "$iothub/methods/POST/";
/// Start of every response topic.
const RESPONSE_PREFIX: &str = "$iothub/methods/res/";
/// The property that carries the request id.
const RID_KEY: &str = TopicProperties::REQUEST_ID;

/// The topic of a method request, `$iothub/methods/POST/{name}/?$rid={rid}`.
///
/// ```
/// use iot_methods::topic::RequestTopic;
///
/// let topic: RequestTopic = "$iothub/methods/POST/reboot/?$rid=a%2Bb&x=1".parse().unwrap();
/// assert_eq!(topic.name().as_str(), "reboot");
/// assert_eq!(topic.request_id().as_str(), "a+b");
/// assert_eq!(topic.to_string(), "$iothub/methods/POST/reboot/?$rid=a%2Bb");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestTopic {
    name: MethodName,
    request_id: RequestId,
}

impl RequestTopic {
    /// The request topic for calling `name` with `request_id`.
    pub fn new(name: MethodName, request_id: RequestId) -> Self {
        Self { name, request_id }
    }

    /// The method being called.
    pub fn name(&self) -> &MethodName {
        &self.name
    }

    /// The request id the response must echo.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// The method name and request id, owned.
    pub fn into_parts(self) -> (MethodName, RequestId) {
        (self.name, self.request_id)
    }
}

impl FromStr for RequestTopic {
    type Err = Error;

    fn from_str(topic: &str) -> Result<Self, Error> {
        let (segment, query) = split(topic, REQUEST_PREFIX)?;
        let name = segment.parse()?;
        let request_id = request_id_from_query(topic, query)?;
        Ok(Self { name, request_id })
    }
}

impl fmt::Display for RequestTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_request(f, &self.name, &self.request_id)
    }
}

/// The topic of a method response, `$iothub/methods/res/{status}/?$rid={rid}`.
///
/// ```
/// use iot_methods::topic::ResponseTopic;
///
/// let topic: ResponseTopic = "$iothub/methods/res/404/?$rid=7".parse().unwrap();
/// assert_eq!(topic.status(), 404);
/// assert_eq!(topic.request_id().as_str(), "7");
/// assert_eq!(topic.to_string(), "$iothub/methods/res/404/?$rid=7");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResponseTopic {
    status: i32,
    request_id: RequestId,
}

impl ResponseTopic {
    /// The response topic answering `request_id` with `status`.
    pub fn new(status: i32, request_id: RequestId) -> Self {
        Self { status, request_id }
    }

    /// The status the device answered with.
    pub fn status(&self) -> i32 {
        self.status
    }

    /// The request id being answered.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// The status and request id, owned.
    pub fn into_parts(self) -> (i32, RequestId) {
        (self.status, self.request_id)
    }
}

impl FromStr for ResponseTopic {
    type Err = Error;

    fn from_str(topic: &str) -> Result<Self, Error> {
        let (segment, query) = split(topic, RESPONSE_PREFIX)?;
        let decoded = decode(topic, segment)?;
        let status = decoded.parse().map_err(|_| Error::InvalidStatus {
            topic: topic.to_owned(),
            status: decoded.into_owned(),
        })?;
        let request_id = request_id_from_query(topic, query)?;
        Ok(Self { status, request_id })
    }
}

impl fmt::Display for ResponseTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_response(f, self.status, &self.request_id)
    }
}

/// The request topic for `name` and `rid`, allocated once.
pub(crate) fn request_topic(name: &MethodName, rid: &RequestId) -> String {
    let mut topic =
        String::with_capacity(REQUEST_PREFIX.len() + name.as_str().len() + 7 + rid.as_str().len());
    // Writing to a `String` cannot fail.
    let _ = write_request(&mut topic, name, rid);
    topic
}

/// The response topic for `status` and `rid`, allocated once.
pub(crate) fn response_topic(status: i32, rid: &RequestId) -> String {
    let mut topic = String::with_capacity(RESPONSE_PREFIX.len() + 11 + 7 + rid.as_str().len());
    // Writing to a `String` cannot fail.
    let _ = write_response(&mut topic, status, rid);
    topic
}

/// Writes the request topic for `name` and `rid`.
fn write_request(out: &mut impl fmt::Write, name: &MethodName, rid: &RequestId) -> fmt::Result {
    write!(out, "{REQUEST_PREFIX}{name}/?{RID_KEY}={}", encode(rid))
}

/// Writes the response topic for `status` and `rid`.
fn write_response(out: &mut impl fmt::Write, status: i32, rid: &RequestId) -> fmt::Result {
    write!(out, "{RESPONSE_PREFIX}{status}/?{RID_KEY}={}", encode(rid))
}

fn encode(rid: &RequestId) -> impl fmt::Display + '_ {
    TopicProperties::encode(rid.as_str())
}

/// Splits `topic` after `prefix` into its one path segment and its properties.
fn split<'t>(
    topic: &'t str,
    prefix: &'static str,
) -> Result<(&'t str, TopicProperties<'t>), Error> {
    let rest = topic
        .strip_prefix(prefix)
        .ok_or_else(|| Error::NotAMethodTopic {
            topic: topic.to_owned(),
            expected: prefix,
        })?;
    match TopicProperties::split(rest) {
        Some((segment, Some(properties))) => Ok((segment, properties)),
        Some((_, None)) => Err(Error::MissingRequestId {
            topic: topic.to_owned(),
        }),
        None => Err(Error::MissingSlashBeforeQuery {
            topic: topic.to_owned(),
        }),
    }
}

/// Finds the one `$rid` property and decodes it.
fn request_id_from_query(topic: &str, properties: TopicProperties<'_>) -> Result<RequestId, Error> {
    let topic = || topic.to_owned();
    let rid = properties.get(RID_KEY).map_err(|error| match error {
        PropertyError::DuplicateProperty => Error::DuplicateRequestId { topic: topic() },
        PropertyError::InvalidPercentEncoding => Error::InvalidPercentEncoding { topic: topic() },
    })?;
    rid.ok_or_else(|| Error::MissingRequestId { topic: topic() })?
        .parse()
}

/// Percent-decodes a path segment, leaving `+` and malformed escapes as they are.
fn decode<'t>(topic: &str, text: &'t str) -> Result<Cow<'t, str>, Error> {
    TopicProperties::decode(text).map_err(|_| Error::InvalidPercentEncoding {
        topic: topic.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::{method_name, request_id};
    use proptest::prelude::*;

    fn request(topic: &str) -> Result<RequestTopic, Error> {
        topic.parse()
    }

    fn response(topic: &str) -> Result<ResponseTopic, Error> {
        topic.parse()
    }

    fn rid(text: &str) -> RequestId {
        text.parse().unwrap()
    }

    #[test]
    fn emits_the_documented_shapes() {
        let topic = RequestTopic::new("reboot".parse().unwrap(), rid("1"));
        assert_eq!(topic.to_string(), "$iothub/methods/POST/reboot/?$rid=1");
        let topic = ResponseTopic::new(200, rid("1"));
        assert_eq!(topic.to_string(), "$iothub/methods/res/200/?$rid=1");
        assert_eq!(
            ResponseTopic::new(-1, rid("x")).to_string(),
            "$iothub/methods/res/-1/?$rid=x"
        );
        assert_eq!(SUBSCRIPTION, "$iothub/methods/POST/#");
    }

    #[test]
    fn request_ids_are_percent_encoded_like_python() {
        let topic = ResponseTopic::new(200, rid("a b+c/d?e&f=g%h~i.j-k_l"));
        assert_eq!(
            topic.to_string(),
            "$iothub/methods/res/200/?$rid=a%20b%2Bc%2Fd%3Fe%26f%3Dg%25h~i.j-k_l"
        );
    }

    #[test]
    fn parses_what_the_sdks_send() {
        let node = response("$iothub/methods/res/200/?$rid=5").unwrap();
        assert_eq!((node.status(), node.request_id().as_str()), (200, "5"));
        let python = response("$iothub/methods/res/%2D7/?$rid=9f1c%2D2d").unwrap();
        assert_eq!(
            (python.status(), python.request_id().as_str()),
            (-7, "9f1c-2d")
        );
        let embedded = response("$iothub/methods/res/65535/?$rid=1").unwrap();
        assert_eq!(embedded.status(), 65535);
    }

    #[test]
    fn plus_is_never_a_space() {
        assert_eq!(
            response("$iothub/methods/res/1/?$rid=a+b")
                .unwrap()
                .request_id()
                .as_str(),
            "a+b"
        );
        assert_eq!(
            request("$iothub/methods/POST/m/?$rid=a%2Bb")
                .unwrap()
                .request_id()
                .as_str(),
            "a+b"
        );
    }

    #[test]
    fn tolerates_extra_properties_and_encoded_keys() {
        let topic = request("$iothub/methods/POST/reboot/?x=1&$rid=42&y&z=").unwrap();
        assert_eq!(topic.request_id().as_str(), "42");
        let topic = response("$iothub/methods/res/200/?%24rid=42&%ff=1").unwrap();
        assert_eq!(topic.request_id().as_str(), "42");
    }

    #[test]
    fn keeps_malformed_escapes_literally() {
        let topic = response("$iothub/methods/res/200/?$rid=50%zz%").unwrap();
        assert_eq!(topic.request_id().as_str(), "50%zz%");
    }

    #[test]
    fn rejects_other_topics() {
        for topic in [
            "$iothub/methods/res/200/?$rid=1",
            "$iothub/twin/res/200/?$rid=1",
            "$IOTHUB/methods/POST/m/?$rid=1",
            "",
        ] {
            assert!(
                matches!(request(topic), Err(Error::NotAMethodTopic { expected, .. }) if expected == REQUEST_PREFIX),
                "{topic}"
            );
        }
        assert!(matches!(
            response("$iothub/methods/POST/m/?$rid=1"),
            Err(Error::NotAMethodTopic { .. })
        ));
    }

    #[test]
    fn rejects_missing_slash_before_query() {
        assert_eq!(
            request("$iothub/methods/POST/reboot?$rid=1"),
            Err(Error::MissingSlashBeforeQuery {
                topic: "$iothub/methods/POST/reboot?$rid=1".into()
            })
        );
        assert!(matches!(
            response("$iothub/methods/res/200?$rid=1"),
            Err(Error::MissingSlashBeforeQuery { .. })
        ));
    }

    #[test]
    fn rejects_missing_or_duplicate_rid() {
        for topic in [
            "$iothub/methods/POST/reboot/",
            "$iothub/methods/POST/reboot",
            "$iothub/methods/POST/reboot/?",
            "$iothub/methods/POST/reboot/?rid=1&$version=2",
        ] {
            assert!(
                matches!(request(topic), Err(Error::MissingRequestId { .. })),
                "{topic}"
            );
        }
        assert!(matches!(
            response("$iothub/methods/res/200/?$rid=1&%24rid=1"),
            Err(Error::DuplicateRequestId { .. })
        ));
        assert_eq!(
            response("$iothub/methods/res/200/?$rid="),
            Err(Error::EmptyRequestId)
        );
        assert!(matches!(
            response("$iothub/methods/res/200/?$rid=%09"),
            Err(Error::RequestIdNotPrintable {
                character: '\t',
                ..
            })
        ));
    }

    #[test]
    fn rejects_bad_method_names() {
        assert_eq!(
            request("$iothub/methods/POST//?$rid=1"),
            Err(Error::EmptyMethodName)
        );
        assert!(matches!(
            request("$iothub/methods/POST/a/b/?$rid=1"),
            Err(Error::MethodNameForbiddenChar { character: '/', .. })
        ));
        assert!(matches!(
            request("$iothub/methods/POST/a+b/?$rid=1"),
            Err(Error::MethodNameForbiddenChar { character: '+', .. })
        ));
    }

    #[test]
    fn rejects_bad_status() {
        for (topic, status) in [
            ("$iothub/methods/res//?$rid=1", ""),
            ("$iothub/methods/res/ok/?$rid=1", "ok"),
            ("$iothub/methods/res/2147483648/?$rid=1", "2147483648"),
            ("$iothub/methods/res/2%200/?$rid=1", "2 0"),
        ] {
            assert_eq!(
                response(topic),
                Err(Error::InvalidStatus {
                    topic: topic.into(),
                    status: status.into()
                })
            );
        }
    }

    #[test]
    fn rejects_non_utf8_escapes() {
        assert!(matches!(
            response("$iothub/methods/res/200/?$rid=%ff"),
            Err(Error::InvalidPercentEncoding { .. })
        ));
        assert!(matches!(
            response("$iothub/methods/res/%ff/?$rid=1"),
            Err(Error::InvalidPercentEncoding { .. })
        ));
    }

    proptest! {
        #[test]
        fn request_topic_round_trip(name in method_name(), rid in request_id()) {
            let topic = RequestTopic::new(name.parse().unwrap(), rid.parse().unwrap());
            let text = topic.to_string();
            prop_assert_eq!(&request(&text).unwrap(), &topic);
            prop_assert_eq!(request(&format!("{text}&extra=1")).unwrap(), topic);
        }

        #[test]
        fn response_topic_round_trip(status in any::<i32>(), rid in request_id()) {
            let topic = ResponseTopic::new(status, rid.parse().unwrap());
            let text = topic.to_string();
            prop_assert_eq!(&response(&text).unwrap(), &topic);
            prop_assert_eq!(response(&format!("{text}&extra=1")).unwrap(), topic);
        }

        #[test]
        fn parsers_never_panic(suffix in "\\PC{0,40}") {
            let _ = request(&format!("{REQUEST_PREFIX}{suffix}"));
            let _ = response(&format!("{RESPONSE_PREFIX}{suffix}"));
        }
    }
}
