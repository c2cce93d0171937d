//! Automatic device management content (PROTOCOL 10.2, 10.3): the desired properties a
//! configuration sets ([`DesiredContent`], paths as [`ContentPath`]), and how the contents of
//! the configurations that target one twin combine ([`layer`]).
//!
//! IoT Hub documents that the highest priority wins per twin path and that a twin falls back
//! to the next configuration when one stops targeting it; it does not document how paths that
//! contain one another interact. We treat every content entry as "this path holds exactly this
//! value" and apply the configurations one over the other, lowest precedence first, so an entry
//! of a higher configuration replaces what lower ones put at the same path or below it, and
//! writes inside what they put above it.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::error::type_name;
use crate::merge::pruned;
use crate::rules::key_rule;
use crate::{Patch, TwinError};

/// Where device content paths start.
const PREFIX: &str = "properties.desired";

/// A key of a configuration's `deviceContent`: `properties.desired` or a path below it
/// (`properties.desired.firmware.version`), keys joined with `.`.
///
/// Keys follow the twin key rules (no control characters, `.`, `$` or spaces) and cannot be
/// empty. Paths compare and sort key by key.
///
/// ```
/// use iot_twin::ContentPath;
///
/// let path: ContentPath = "properties.desired.firmware.version".parse()?;
/// assert_eq!(path.keys(), ["firmware", "version"]);
/// assert_eq!(path.to_string(), "properties.desired.firmware.version");
/// let firmware: ContentPath = "properties.desired.firmware".parse()?;
/// assert!(firmware.covers(&path) && !path.covers(&firmware));
/// assert!("properties.reported.x".parse::<ContentPath>().is_err());
/// assert!("properties.desired..x".parse::<ContentPath>().is_err());
/// # Ok::<(), iot_twin::TwinError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentPath {
    keys: Vec<String>,
}

impl ContentPath {
    /// Parses a content key.
    ///
    /// # Errors
    /// [`TwinError::InvalidContent`] for a path outside `properties.desired` or with an empty
    /// key; [`TwinError::InvalidKey`] for a key that breaks the key rules.
    pub fn parse(text: &str) -> Result<Self, TwinError> {
        let invalid = |rule| TwinError::InvalidContent {
            path: text.to_owned(),
            rule,
        };
        let outside = "device content paths start with properties.desired";
        let rest = text.strip_prefix(PREFIX).ok_or_else(|| invalid(outside))?;
        if rest.is_empty() {
            return Ok(Self { keys: Vec::new() });
        }
        let rest = rest.strip_prefix('.').ok_or_else(|| invalid(outside))?;
        let keys = rest
            .split('.')
            .map(|key| check_key(key, text).map(|()| key.to_owned()))
            .collect::<Result<_, _>>()?;
        Ok(Self { keys })
    }

    /// The keys below `properties.desired` (none for the whole section).
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// Whether `other` is this path or a path below it.
    pub fn covers(&self, other: &Self) -> bool {
        other.keys.starts_with(&self.keys)
    }
}

fn check_key(key: &str, path: &str) -> Result<(), TwinError> {
    if key.is_empty() {
        return Err(TwinError::InvalidContent {
            path: path.to_owned(),
            rule: "keys cannot be empty",
        });
    }
    match key_rule(key) {
        Some(rule) => Err(TwinError::InvalidKey {
            path: path.to_owned(),
            rule,
        }),
        None => Ok(()),
    }
}

impl fmt::Display for ContentPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        self.keys.iter().try_for_each(|key| write!(f, ".{key}"))
    }
}

impl FromStr for ContentPath {
    type Err = TwinError;

    fn from_str(text: &str) -> Result<Self, TwinError> {
        Self::parse(text)
    }
}

/// One setting of a configuration: the value a path holds (`null`: the property is removed).
#[derive(Debug, Clone, PartialEq)]
pub struct ContentEntry {
    path: ContentPath,
    value: Value,
}

impl ContentEntry {
    /// The path.
    pub fn path(&self) -> &ContentPath {
        &self.path
    }

    /// The value the path holds; `null` removes the property, and `null` members inside an
    /// object value are left out.
    pub fn value(&self) -> &Value {
        &self.value
    }
}

/// A configuration's `deviceContent`, checked: the desired properties it sets.
///
/// Each key is a [`ContentPath`] and its value what the path holds. The key
/// `properties.desired` itself takes an object and sets each of its members (it does not
/// empty the rest of the section). Values follow the patch rules (valid keys, no `null` in
/// arrays); sizes are checked when the content is written to a twin. No two paths of one
/// content may hold one another, so the order of the keys never matters.
///
/// ```
/// use iot_twin::DesiredContent;
/// use serde_json::json;
///
/// let content = json!({"properties.desired.firmware": {"fwVersion": "2.8.5"}});
/// let content = DesiredContent::from_map(content.as_object().unwrap())?;
/// assert_eq!(content.entries()[0].path().keys(), ["firmware"]);
///
/// let overlapping = json!({"properties.desired.a": 1, "properties.desired.a.b": 2});
/// assert!(DesiredContent::from_map(overlapping.as_object().unwrap()).is_err());
/// # Ok::<(), iot_twin::TwinError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DesiredContent {
    entries: Vec<ContentEntry>,
}

impl DesiredContent {
    /// Checks a `deviceContent` object.
    ///
    /// # Errors
    /// The [`TwinError`] of the first key or value that breaks a rule; paths start at the twin
    /// (`properties.desired.a.b`).
    pub fn from_map(content: &Map<String, Value>) -> Result<Self, TwinError> {
        let mut entries = Vec::with_capacity(content.len());
        for (key, value) in content {
            let path = ContentPath::parse(key)?;
            if !path.keys.is_empty() {
                entries.push(entry(path, value)?);
                continue;
            }
            let Value::Object(members) = value else {
                return Err(TwinError::WrongType {
                    path: key.clone(),
                    expected: "an object",
                    found: type_name(value),
                });
            };
            for (member, value) in members {
                let path = format!("{PREFIX}.{member}");
                check_key(member, &path)?;
                let keys = vec![member.clone()];
                entries.push(entry(ContentPath { keys }, value)?);
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        check_overlaps(&entries)?;
        Ok(Self { entries })
    }

    /// The settings, ordered by path.
    pub fn entries(&self) -> &[ContentEntry] {
        &self.entries
    }

    /// Whether the content sets nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Checks `value` as the value of `path` by checking the patch that would write it.
fn entry(path: ContentPath, value: &Value) -> Result<ContentEntry, TwinError> {
    let mut nested = value.clone();
    for key in path.keys.iter().rev() {
        let mut map = Map::new();
        map.insert(key.clone(), nested);
        nested = Value::Object(map);
    }
    Patch::from_value(nested).map_err(|e| e.within(PREFIX))?;
    let value = match value {
        Value::Object(map) => Value::Object(pruned(map)),
        other => other.clone(),
    };
    Ok(ContentEntry { path, value })
}

/// Entries are sorted by path, so a path that holds another comes right before the first of
/// the paths it holds.
fn check_overlaps(entries: &[ContentEntry]) -> Result<(), TwinError> {
    for pair in entries.windows(2) {
        if let [first, second] = pair
            && first.path.covers(&second.path)
        {
            return Err(TwinError::InvalidContent {
                path: second.path.to_string(),
                rule: "another path of the same content holds or is this path",
            });
        }
    }
    Ok(())
}

/// The desired properties of a twin after [`layer`], and which layers are in effect.
#[derive(Debug, Clone, PartialEq)]
pub struct Layered {
    /// The new desired content.
    pub desired: Map<String, Value>,
    /// Per layer, whether it is in effect on the twin (IoT Hub's `Applied`, else `Targeted`):
    /// a content is in effect when it is empty or at least one of its entries is not
    /// overridden by a later layer's entry at the same path or above it.
    pub applied: Vec<bool>,
}

/// Combines configuration contents on one twin's desired properties.
///
/// First every path of the `withdrawn` contents (configurations that no longer target the
/// twin) is removed; then the `layers` (the configurations that target it, lowest precedence
/// first: lower priority, then earlier creation) each set their paths, a later layer
/// overriding earlier ones. Properties no content names are kept as they are.
///
/// ```
/// use iot_twin::{DesiredContent, layer};
/// use serde_json::{Map, json};
///
/// let content = |v: serde_json::Value| DesiredContent::from_map(v.as_object().unwrap()).unwrap();
/// let low = content(json!({"properties.desired.fan": {"speed": 1, "mode": "eco"}}));
/// let high = content(json!({"properties.desired.fan": {"speed": 3}}));
/// let desired = json!({"other": true}).as_object().unwrap().clone();
///
/// let both = layer(&desired, &[], &[&low, &high]);
/// assert_eq!(json!(both.desired), json!({"other": true, "fan": {"speed": 3}}));
/// assert_eq!(both.applied, [false, true]);
///
/// // The higher one goes away: its paths are withdrawn and the lower one applies again.
/// let fallback = layer(&both.desired, &[&high], &[&low]);
/// assert_eq!(json!(fallback.desired), json!({"other": true, "fan": {"speed": 1, "mode": "eco"}}));
/// ```
pub fn layer(
    desired: &Map<String, Value>,
    withdrawn: &[&DesiredContent],
    layers: &[&DesiredContent],
) -> Layered {
    let mut out = desired.clone();
    for entry in withdrawn.iter().flat_map(|content| content.entries()) {
        remove(&mut out, &entry.path.keys);
    }
    for entry in layers.iter().flat_map(|content| content.entries()) {
        set(&mut out, &entry.path.keys, &entry.value);
    }
    let applied = layers
        .iter()
        .enumerate()
        .map(|(at, content)| {
            let later = layers.get(at + 1..).unwrap_or_default();
            content.is_empty() || content.entries().iter().any(|e| !overridden(e, later))
        })
        .collect();
    Layered {
        desired: out,
        applied,
    }
}

/// Whether a later layer sets `entry`'s path or a path above it.
fn overridden(entry: &ContentEntry, later: &[&DesiredContent]) -> bool {
    later
        .iter()
        .flat_map(|content| content.entries())
        .any(|other| other.path.covers(&entry.path))
}

/// Puts `value` at `keys`, making objects of the parents on the way; `null` removes.
fn set(map: &mut Map<String, Value>, keys: &[String], value: &Value) {
    let Some((last, parents)) = keys.split_last() else {
        return;
    };
    let mut current = map;
    for key in parents {
        let slot = current
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(inner) = slot else {
            return;
        };
        current = inner;
    }
    if value.is_null() {
        current.remove(last);
    } else {
        current.insert(last.clone(), value.clone());
    }
}

/// Removes the property at `keys`, if there is one.
fn remove(map: &mut Map<String, Value>, keys: &[String]) {
    let Some((last, parents)) = keys.split_last() else {
        return;
    };
    let mut current = map;
    for key in parents {
        match current.get_mut(key) {
            Some(Value::Object(inner)) => current = inner,
            _ => return,
        }
    }
    current.remove(last);
}

#[cfg(test)]
mod tests;
