//! [`PropertyPath`]: a dotted path into desired or reported properties (`firmware`,
//! `iothubDM.reboot`), checked by the twin key rules.

use std::fmt;
use std::time::SystemTime;

use iot_twin::{Patch, Timestamp};
use serde_json::{Map, Value};

use crate::error::ConfigError;

/// A path of keys into a properties section, written with dots (`settings.fan`); each key
/// follows the twin key rules (no `.`, `$`, spaces or control characters, not empty).
///
/// ```
/// use iot_device_sdk::patterns::PropertyPath;
/// use serde_json::json;
///
/// let path = PropertyPath::parse("settings.fan")?;
/// assert_eq!(path.keys(), ["settings", "fan"]);
/// assert_eq!(path.nest(json!({"on": true})), json!({"settings": {"fan": {"on": true}}}));
/// assert_eq!(path.find(&json!({"settings": {"fan": 3}})), Some(&json!(3)));
/// assert!(PropertyPath::parse("a..b").is_err());
/// assert!(PropertyPath::parse("$version").is_err());
/// # Ok::<(), iot_device_sdk::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PropertyPath {
    keys: Vec<String>,
}

impl PropertyPath {
    /// Parses a dotted path.
    ///
    /// # Errors
    /// A [`ConfigError`] for option `path` naming the rule broken.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let keys: Vec<String> = text.split('.').map(str::to_owned).collect();
        if keys.iter().any(String::is_empty) {
            return Err(ConfigError::new(
                "path",
                format!("{text:?}: a key is empty"),
            ));
        }
        let path = Self { keys };
        Patch::from_value(path.nest(Value::Null))
            .map_err(|e| ConfigError::new("path", format!("{text:?}: {e}")))?;
        Ok(path)
    }

    /// The keys, outermost first.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// `value` placed at this path in an otherwise empty object.
    pub fn nest(&self, value: Value) -> Value {
        self.keys.iter().rev().fold(value, |inner, key| {
            let mut map = Map::new();
            map.insert(key.clone(), inner);
            Value::Object(map)
        })
    }

    /// The value at this path in `document`, if there is one.
    pub fn find<'a>(&self, document: &'a Value) -> Option<&'a Value> {
        self.keys
            .iter()
            .try_fold(document, |value, key| value.get(key.as_str()))
    }

    /// The value at this path in a properties map.
    pub(crate) fn find_in<'a>(&self, properties: &'a Map<String, Value>) -> Option<&'a Value> {
        let (first, rest) = self.keys.split_first()?;
        rest.iter()
            .try_fold(properties.get(first)?, |value, key| value.get(key.as_str()))
    }
}

impl fmt::Display for PropertyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.keys.join("."))
    }
}

/// The time now, for reported timestamps; `None` for a clock outside the range of
/// [`Timestamp`].
pub(crate) fn now() -> Option<Timestamp> {
    Timestamp::from_system_time(SystemTime::now()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_nest_and_find() {
        let path = PropertyPath::parse("iothubDM.reboot").unwrap();
        assert_eq!(path.to_string(), "iothubDM.reboot");
        let nested = path.nest(json!({"status": "rebooting"}));
        assert_eq!(
            nested,
            json!({"iothubDM": {"reboot": {"status": "rebooting"}}})
        );
        assert_eq!(path.find(&nested), Some(&json!({"status": "rebooting"})));
        let Value::Object(map) = nested else {
            unreachable!()
        };
        assert_eq!(path.find_in(&map), Some(&json!({"status": "rebooting"})));
        assert_eq!(path.find(&json!({"iothubDM": 1})), None);
    }

    #[test]
    fn keys_follow_the_twin_rules() {
        for bad in ["", "a.", ".a", "a b", "a.$b", "a\u{1}"] {
            let error = PropertyPath::parse(bad).unwrap_err();
            assert_eq!(error.option(), "path", "{bad:?}");
        }
    }

    #[test]
    fn now_is_after_the_epoch() {
        assert!(now().is_some_and(|t| t > Timestamp::UNIX_EPOCH));
    }
}
