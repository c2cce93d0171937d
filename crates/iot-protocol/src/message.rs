//! Message property bags: the `key=value&...` tail of telemetry and cloud-to-device topics.

use std::fmt;
use std::str::FromStr;

use iot_twin::Timestamp;

use crate::ProtocolError;
use crate::encoding::{quote, split_pair, unquote};

const INPUT: &str = "message property bag";

/// The delivery acknowledgement a cloud-to-device message asks for (`iothub-ack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ack {
    /// No feedback (`none`, the default when the key is absent).
    None,
    /// Feedback when the device completes the message (`positive`).
    Positive,
    /// Feedback when the message expires or is rejected (`negative`).
    Negative,
    /// Both (`full`).
    Full,
}

impl Ack {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Positive => "positive",
            Self::Negative => "negative",
            Self::Full => "full",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        [Self::None, Self::Positive, Self::Negative, Self::Full]
            .into_iter()
            .find(|ack| ack.as_str() == value)
    }
}

/// One application property: a name and a value, or no value (`key` without `=` on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppProperty {
    /// The property name, decoded.
    pub name: String,
    /// The value, decoded; `None` for a property sent without `=`.
    pub value: Option<String>,
}

/// The properties of a telemetry or cloud-to-device message: the system properties IoT Hub
/// defines, as typed fields, and the application's own properties, in order.
///
/// The wire form is a query string. [`fmt::Display`] encodes every key and value with
/// `quote(x, safe="")`, so `$` becomes `%24`, `/` becomes `%2F` and a space `%20`, as the
/// official SDKs and the hub send them; a property without a value is written `key`, an empty
/// value `key=`. [`MessageProperties::parse`] percent-decodes keys and values (`%24.mid` is
/// `$.mid`; `+` is a plus, never a space), and rejects a system property that repeats, lacks a
/// value, or has an unusable value. Keys starting with `$.` that IoT Hub does not define stay
/// application properties.
///
/// ```
/// use iot_protocol::MessageProperties;
///
/// let props = MessageProperties::parse("%24.mid=b36d&%24.ct=application%2Fjson&%24.ce=utf-8&scenario=py-device").unwrap();
/// assert_eq!(props.message_id.as_deref(), Some("b36d"));
/// assert_eq!(props.content_type.as_deref(), Some("application/json"));
/// assert_eq!(props.application[0].name, "scenario");
/// assert_eq!(props.to_string(), "%24.mid=b36d&%24.ct=application%2Fjson&%24.ce=utf-8&scenario=py-device");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MessageProperties {
    /// `$.mid`: the message id.
    pub message_id: Option<String>,
    /// `$.cid`: the correlation id.
    pub correlation_id: Option<String>,
    /// `$.uid`: the user id.
    pub user_id: Option<String>,
    /// `$.to`: the destination, e.g. `/devices/{id}/messages/devicebound`.
    pub to: Option<String>,
    /// `$.ct`: the content type, e.g. `application/json`.
    pub content_type: Option<String>,
    /// `$.ce`: the content encoding, e.g. `utf-8`.
    pub content_encoding: Option<String>,
    /// `$.exp`: the absolute expiry time (ISO 8601).
    pub expiry: Option<Timestamp>,
    /// `$.ctime`: the creation time, as the sender wrote it (the C SDK sends it; the hub does not
    /// interpret it, so neither do we).
    pub creation_time: Option<String>,
    /// `$.on`: the output name of a module's message.
    pub output_name: Option<String>,
    /// `$.ifid`: the interface id.
    pub interface_id: Option<String>,
    /// `$.sub`: the component name.
    pub component: Option<String>,
    /// `$.cdid`: the id of the device that sent the message (set by the hub).
    pub connection_device_id: Option<String>,
    /// `$.cmid`: the id of the module that sent the message (set by the hub).
    pub connection_module_id: Option<String>,
    /// `$.diagid`: the diagnostic (distributed tracing) id.
    pub diagnostic_id: Option<String>,
    /// `$.diagctx`: the diagnostic correlation context.
    pub diagnostic_context: Option<String>,
    /// `iothub-ack`: the feedback a cloud-to-device message requests.
    pub ack: Option<Ack>,
    /// The application's properties, in the order they were sent or added.
    pub application: Vec<AppProperty>,
}

/// A system property whose value is text: its key, and how to read and write its field.
struct TextField {
    key: &'static str,
    get: fn(&MessageProperties) -> &Option<String>,
    get_mut: fn(&mut MessageProperties) -> &mut Option<String>,
}

macro_rules! text_fields {
    ($($key:literal => $field:ident),* $(,)?) => {
        [$(TextField {
            key: $key,
            get: |p| &p.$field,
            get_mut: |p| &mut p.$field,
        }),*]
    };
}

/// The text system properties, in the order we write them.
const TEXT_FIELDS: [TextField; 14] = text_fields![
    "$.mid" => message_id,
    "$.cid" => correlation_id,
    "$.uid" => user_id,
    "$.to" => to,
    "$.ct" => content_type,
    "$.ce" => content_encoding,
    "$.ctime" => creation_time,
    "$.on" => output_name,
    "$.ifid" => interface_id,
    "$.sub" => component,
    "$.cdid" => connection_device_id,
    "$.cmid" => connection_module_id,
    "$.diagid" => diagnostic_id,
    "$.diagctx" => diagnostic_context,
];

/// The absolute expiry, a timestamp.
const EXPIRY: &str = "$.exp";
/// The feedback request, an [`Ack`].
const ACK: &str = "iothub-ack";

impl MessageProperties {
    /// No properties.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an application property with a value.
    pub fn with_app_property(mut self, name: &str, value: &str) -> Self {
        self.application.push(AppProperty {
            name: name.to_owned(),
            value: Some(value.to_owned()),
        });
        self
    }

    /// The value of the first application property named `name`; `Some(None)` when it was sent
    /// without a value.
    pub fn app_property(&self, name: &str) -> Option<Option<&str>> {
        self.application
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_deref())
    }

    /// Whether no system or application property is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Parses a property bag (see the type's documentation). The empty string is the empty bag.
    pub fn parse(bag: &str) -> Result<Self, ProtocolError> {
        let mut props = Self::default();
        for pair in bag.split('&').filter(|pair| !pair.is_empty()) {
            let (raw_key, raw_value) = split_pair(pair);
            let key = unquote(raw_key, INPUT, "property name")?;
            if key.is_empty() {
                return Err(ProtocolError::Malformed {
                    input: INPUT,
                    rule: "a property name must not be empty",
                });
            }
            let value = raw_value
                .map(|v| unquote(v, INPUT, &key).map(|v| v.into_owned()))
                .transpose()?;
            props.set(key.into_owned(), value)?;
        }
        Ok(props)
    }

    /// Stores one decoded pair.
    fn set(&mut self, key: String, value: Option<String>) -> Result<(), ProtocolError> {
        let Some(slot) = self.system_slot(&key) else {
            self.application.push(AppProperty { name: key, value });
            return Ok(());
        };
        let value = value.ok_or_else(|| invalid(&key, "a system property needs a value"))?;
        let filled = match slot {
            Slot::Text(slot) => slot.replace(value).is_some(),
            Slot::Expiry(slot) => {
                let time = value
                    .parse()
                    .map_err(|_| invalid(&key, "must be an ISO 8601 time"))?;
                slot.replace(time).is_some()
            }
            Slot::Ack(slot) => {
                let ack = Ack::parse(&value)
                    .ok_or_else(|| invalid(&key, "must be none, positive, negative or full"))?;
                slot.replace(ack).is_some()
            }
        };
        if filled {
            return Err(ProtocolError::DuplicateField {
                input: INPUT,
                field: key,
            });
        }
        Ok(())
    }

    /// The field a system property key belongs to, or `None` for an application property.
    fn system_slot(&mut self, key: &str) -> Option<Slot<'_>> {
        match key {
            EXPIRY => Some(Slot::Expiry(&mut self.expiry)),
            ACK => Some(Slot::Ack(&mut self.ack)),
            _ => TEXT_FIELDS
                .iter()
                .find(|field| field.key == key)
                .map(|field| Slot::Text((field.get_mut)(self))),
        }
    }

    /// Writes every property, system properties first.
    fn write_pairs(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        let mut pair = |f: &mut fmt::Formatter<'_>, key: &str, value: Option<&str>| {
            write!(f, "{separator}{}", quote(key))?;
            separator = "&";
            match value {
                Some(value) => write!(f, "={}", quote(value)),
                None => Ok(()),
            }
        };
        for field in &TEXT_FIELDS {
            if let Some(value) = (field.get)(self) {
                pair(f, field.key, Some(value))?;
            }
        }
        if let Some(expiry) = self.expiry {
            pair(f, EXPIRY, Some(&expiry.to_string()))?;
        }
        if let Some(ack) = self.ack {
            pair(f, ACK, Some(ack.as_str()))?;
        }
        for property in &self.application {
            pair(f, &property.name, property.value.as_deref())?;
        }
        Ok(())
    }
}

/// Where a system property's decoded value goes.
enum Slot<'a> {
    Text(&'a mut Option<String>),
    Expiry(&'a mut Option<Timestamp>),
    Ack(&'a mut Option<Ack>),
}

fn invalid(key: &str, rule: &'static str) -> ProtocolError {
    ProtocolError::InvalidField {
        input: INPUT,
        field: key.to_owned(),
        rule,
    }
}

impl FromStr for MessageProperties {
    type Err = ProtocolError;

    fn from_str(bag: &str) -> Result<Self, Self::Err> {
        Self::parse(bag)
    }
}

impl fmt::Display for MessageProperties {
    /// The encoded property bag (empty for no properties).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_pairs(f)
    }
}

#[cfg(test)]
mod tests;
