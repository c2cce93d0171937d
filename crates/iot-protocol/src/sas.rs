//! SAS tokens: `SharedAccessSignature sr=...&sig=...&se=...[&skn=...]`.

use std::fmt;
use std::str::FromStr;

use hmac::Mac;
use iot_twin::Timestamp;

use crate::encoding::{base64_decode_unpadded_ok, base64_encode, quote, split_pair, unquote};
use crate::{ProtocolError, ResourceUri, SasError, SharedAccessKey};

/// The fixed prefix of every token.
const PREFIX: &str = "SharedAccessSignature ";
/// The name used in parse errors.
const INPUT: &str = "SAS token";

/// A shared access signature token.
///
/// Created tokens encode `sr`, `sig` and `skn` exactly as the Python device SDK does
/// (`quote(x, safe="")`, upper-case hex) and emit the fields in its order: `sr`, `sig`, `se`,
/// `skn`. Parsed tokens accept the fields in any order and keep `sr`, `sig`, `se` and `skn`
/// exactly as received, because the signature covers the raw `sr` and `se` and SDKs differ in
/// how they encode them; re-emitting a parsed token writes those raw values back in the
/// order above.
///
/// `Debug` and `Display` replace the signature with `<redacted>`: a token is a bearer credential
/// until it expires. [`SasToken::to_secret_string`] gives the usable token.
///
/// ```
/// use iot_protocol::{DeviceId, HostName, ResourceUri, SasToken, SharedAccessKey};
///
/// let key: SharedAccessKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".parse().unwrap();
/// let host: HostName = "myhub.azure-devices.net".parse().unwrap();
/// let device: DeviceId = "device1".parse().unwrap();
/// let token = SasToken::create(&ResourceUri::device(&host, &device), &key, None, 1_700_000_000);
/// assert_eq!(
///     token.to_secret_string(),
///     "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdevice1\
///      &sig=gFSfLGMXDOvf906%2FiaX3KwzLLNFHgaFZyCbsGjxtd1Y%3D&se=1700000000"
/// );
/// let parsed: SasToken = token.to_secret_string().parse().unwrap();
/// assert_eq!(parsed, token);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SasToken {
    /// `sr` exactly as on the wire (percent-encoded); the string-to-sign starts with it.
    resource_raw: String,
    /// `sr` decoded.
    resource: ResourceUri,
    /// `sig` exactly as on the wire.
    signature_raw: String,
    /// `sig` percent-decoded and base64-decoded.
    signature: Vec<u8>,
    /// `se` exactly as on the wire (ASCII digits); the string-to-sign ends with it.
    expiry_raw: String,
    /// `se` as a number.
    expiry: u64,
    /// `skn` exactly as on the wire, and decoded.
    policy: Option<(String, String)>,
}

impl SasToken {
    /// Signs a token for `resource` that expires at `expiry` (seconds since the Unix epoch),
    /// naming `policy` in `skn` when the key is a shared access policy's key.
    pub fn create(
        resource: &ResourceUri,
        key: &SharedAccessKey,
        policy: Option<&str>,
        expiry: u64,
    ) -> Self {
        let resource_raw = resource.encoded();
        let expiry_raw = expiry.to_string();
        let signature = key.signature(string_to_sign(&resource_raw, &expiry_raw).as_bytes());
        Self {
            resource_raw,
            resource: resource.clone(),
            signature_raw: quote(&base64_encode(&signature)).to_string(),
            signature,
            expiry_raw,
            expiry,
            policy: policy.map(|name| (quote(name).to_string(), name.to_owned())),
        }
    }

    /// Parses a token. Fields may come in any order; `sr`, `sig` and `se` are required, `skn`
    /// is optional, anything else (or a repeated field) is an error.
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        let fields = text.strip_prefix(PREFIX).ok_or(ProtocolError::Malformed {
            input: INPUT,
            rule: "must start with \"SharedAccessSignature \"",
        })?;
        let raw = RawFields::split(fields)?;
        let resource_raw = raw.sr.ok_or(missing("sr"))?;
        let signature_raw = raw.sig.ok_or(missing("sig"))?;
        let expiry_raw = raw.se.ok_or(missing("se"))?;
        Ok(Self {
            resource: ResourceUri::parse(&unquote(resource_raw, INPUT, "sr")?).map_err(|_| {
                invalid(
                    "sr",
                    "must decode to a non-empty resource without control characters",
                )
            })?,
            resource_raw: resource_raw.to_owned(),
            signature: decode_signature(signature_raw)?,
            signature_raw: signature_raw.to_owned(),
            expiry: parse_expiry(expiry_raw)?,
            expiry_raw: expiry_raw.to_owned(),
            policy: raw.skn.map(decode_policy).transpose()?,
        })
    }

    /// The resource the token is scoped to (decoded `sr`).
    pub fn resource(&self) -> &ResourceUri {
        &self.resource
    }

    /// The expiry (`se`), seconds since the Unix epoch.
    pub fn expiry(&self) -> u64 {
        self.expiry
    }

    /// The expiry as a timestamp, or `None` past year 9999.
    pub fn expires_at(&self) -> Option<Timestamp> {
        let secs = i64::try_from(self.expiry).ok()?;
        Timestamp::from_unix_seconds(secs).ok()
    }

    /// The shared access policy named in `skn` (decoded), if any.
    pub fn policy_name(&self) -> Option<&str> {
        self.policy.as_ref().map(|(_, decoded)| decoded.as_str())
    }

    /// The usable token text, signature included.
    pub fn to_secret_string(&self) -> String {
        self.render(&self.signature_raw)
    }

    /// Checks the token against the keys of the identity or policy it claims to be signed with
    /// (typically primary, then secondary), its expiry against `now`, and its scope against the
    /// resource being accessed, in that order.
    ///
    /// The signature is recomputed as HMAC-SHA256 over the raw `sr`, `"\n"` and the raw `se`,
    /// and compared in constant time with the decoded `sig`.
    pub fn verify<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k SharedAccessKey>,
        accessed: &ResourceUri,
        now: Timestamp,
    ) -> Result<(), SasError> {
        self.verify_signature(keys)?;
        self.verify_expiry(now)?;
        self.verify_scope(accessed)
    }

    /// Checks only the signature: `Ok` when one of `keys` signed this token.
    pub fn verify_signature<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k SharedAccessKey>,
    ) -> Result<(), SasError> {
        let message = string_to_sign(&self.resource_raw, &self.expiry_raw);
        let matched = keys.into_iter().any(|key| {
            let mut mac = key.mac();
            mac.update(message.as_bytes());
            mac.verify_slice(&self.signature).is_ok()
        });
        if matched {
            Ok(())
        } else {
            Err(SasError::SignatureMismatch)
        }
    }

    /// Checks only the expiry: the token is expired once `se` ≤ `now`.
    pub fn verify_expiry(&self, now: Timestamp) -> Result<(), SasError> {
        let now = now.unix_seconds();
        if i128::from(self.expiry) <= i128::from(now) {
            return Err(SasError::Expired {
                expiry: self.expiry,
                now,
            });
        }
        Ok(())
    }

    /// Checks only the scope: the token's resource must cover `accessed`
    /// (see [`ResourceUri::covers`]).
    pub fn verify_scope(&self, accessed: &ResourceUri) -> Result<(), SasError> {
        if self.resource.covers(accessed) {
            Ok(())
        } else {
            Err(SasError::WrongScope {
                token_resource: self.resource.as_str().to_owned(),
                accessed: accessed.as_str().to_owned(),
            })
        }
    }

    fn render(&self, signature: &str) -> String {
        let mut text = format!(
            "{PREFIX}sr={}&sig={signature}&se={}",
            self.resource_raw, self.expiry_raw
        );
        if let Some((raw, _)) = &self.policy {
            text.push_str("&skn=");
            text.push_str(raw);
        }
        text
    }
}

/// The HMAC input: raw `sr`, a newline, raw `se`.
fn string_to_sign(resource_raw: &str, expiry_raw: &str) -> String {
    format!("{resource_raw}\n{expiry_raw}")
}

/// The four fields of a token, raw, after the duplicate and unknown-field checks.
#[derive(Default)]
struct RawFields<'a> {
    sr: Option<&'a str>,
    sig: Option<&'a str>,
    se: Option<&'a str>,
    skn: Option<&'a str>,
}

impl<'a> RawFields<'a> {
    fn split(fields: &'a str) -> Result<Self, ProtocolError> {
        let mut raw = Self::default();
        for pair in fields.split('&') {
            let (name, value) = split_pair(pair);
            let value = value.ok_or(ProtocolError::Malformed {
                input: INPUT,
                rule: "every field must be name=value, separated by '&'",
            })?;
            let slot = match name {
                "sr" => &mut raw.sr,
                "sig" => &mut raw.sig,
                "se" => &mut raw.se,
                "skn" => &mut raw.skn,
                other => {
                    return Err(ProtocolError::UnknownField {
                        input: INPUT,
                        field: other.to_owned(),
                    });
                }
            };
            if slot.replace(value).is_some() {
                return Err(ProtocolError::DuplicateField {
                    input: INPUT,
                    field: name.to_owned(),
                });
            }
        }
        Ok(raw)
    }
}

fn missing(field: &'static str) -> ProtocolError {
    ProtocolError::MissingField {
        input: INPUT,
        field,
    }
}

fn invalid(field: &str, rule: &'static str) -> ProtocolError {
    ProtocolError::InvalidField {
        input: INPUT,
        field: field.to_owned(),
        rule,
    }
}

/// Percent-decodes `sig` (a raw `/` or `+` is kept as is, never turned into a space) and
/// base64-decodes it, with or without padding.
fn decode_signature(raw: &str) -> Result<Vec<u8>, ProtocolError> {
    let text = unquote(raw, INPUT, "sig")?;
    match base64_decode_unpadded_ok(&text) {
        Some(bytes) if !bytes.is_empty() => Ok(bytes),
        _ => Err(invalid("sig", "must be URL-encoded base64")),
    }
}

/// `se` must be decimal digits that fit in 64 bits.
fn parse_expiry(raw: &str) -> Result<u64, ProtocolError> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            "se",
            "must be seconds since the Unix epoch, in decimal digits",
        ));
    }
    raw.parse()
        .map_err(|_| invalid("se", "is too large for a 64-bit number of seconds"))
}

fn decode_policy(raw: &str) -> Result<(String, String), ProtocolError> {
    let decoded = unquote(raw, INPUT, "skn")?;
    if decoded.is_empty() {
        return Err(invalid("skn", "must not be empty"));
    }
    Ok((raw.to_owned(), decoded.into_owned()))
}

impl FromStr for SasToken {
    type Err = ProtocolError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for SasToken {
    /// The token with its signature replaced by `<redacted>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render("<redacted>"))
    }
}

impl fmt::Debug for SasToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SasToken")
            .field("sr", &self.resource_raw)
            .field("sig", &"<redacted>")
            .field("se", &self.expiry_raw)
            .field("skn", &self.policy_name())
            .finish()
    }
}

#[cfg(test)]
mod tests;
