//! Connection strings: `Key=Value` pairs joined by `;`, for devices, modules and services.

mod device;
mod service;

pub use device::{DeviceConnectionString, DeviceCredential};
pub use service::ServiceConnectionString;

use crate::ProtocolError;
use crate::encoding::split_pair;

/// What the redacting `Display` forms show instead of a secret.
const REDACTED: &str = "<redacted>";

/// Splits `text` into the values of the `known` keys (by position).
///
/// Each pair is split on its first `=` (base64 keys end in `=`); keys are case-sensitive;
/// unknown and repeated keys are errors; empty segments (a trailing `;`) are skipped.
fn split_fields<'a, const N: usize>(
    text: &'a str,
    input: &'static str,
    known: [&'static str; N],
) -> Result<[Option<&'a str>; N], ProtocolError> {
    let mut values = [None; N];
    for pair in text.split(';').filter(|pair| !pair.is_empty()) {
        let (name, value) = split_pair(pair);
        let value = value.ok_or(ProtocolError::Malformed {
            input,
            rule: "every part must be Key=Value, separated by ';'",
        })?;
        let index =
            known
                .iter()
                .position(|k| *k == name)
                .ok_or_else(|| ProtocolError::UnknownField {
                    input,
                    field: name.to_owned(),
                })?;
        let slot = values.get_mut(index).ok_or(ProtocolError::Malformed {
            input,
            rule: "every part must be Key=Value, separated by ';'",
        })?;
        if slot.replace(value).is_some() {
            return Err(ProtocolError::DuplicateField {
                input,
                field: name.to_owned(),
            });
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_the_first_equals_sign() {
        let [a, b] = split_fields("A=x==;B=y", "test", ["A", "B"]).unwrap();
        assert_eq!((a, b), (Some("x=="), Some("y")));
        let [a, b] = split_fields("B=;", "test", ["A", "B"]).unwrap();
        assert_eq!((a, b), (None, Some("")));
    }

    #[test]
    fn rejects_unknown_repeated_and_bare_keys() {
        assert_eq!(
            split_fields("A=1;a=2", "test", ["A"]).unwrap_err(),
            ProtocolError::UnknownField {
                input: "test",
                field: "a".into()
            }
        );
        assert_eq!(
            split_fields("A=1;A=2", "test", ["A"]).unwrap_err(),
            ProtocolError::DuplicateField {
                input: "test",
                field: "A".into()
            }
        );
        assert!(split_fields("A", "test", ["A"]).is_err());
    }
}
