//! Shared access keys: the symmetric secrets of devices, modules and shared access policies.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::ProtocolError;
use crate::encoding::{base64_decode_lenient, base64_decode_strict, base64_encode};

/// HMAC-SHA256, the only signature algorithm of IoT Hub SAS tokens.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The number of random bytes in a key IoT Hub generates.
pub const GENERATED_KEY_LEN: usize = 32;

/// A symmetric key, held as its raw bytes, written on the wire as base64.
///
/// `Debug` and `Display` never show the key; [`SharedAccessKey::to_secret_string`] does, for the
/// places that must (connection strings, registry responses). Equality is checked in constant
/// time. The type deliberately implements neither `Serialize` nor `Deserialize`, so that a key
/// cannot leak through a stray `serde_json::to_string`; the REST models serialize keys
/// explicitly.
///
/// ```
/// use iot_protocol::SharedAccessKey;
///
/// let key: SharedAccessKey = "NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=".parse().unwrap();
/// assert_eq!(key.sign(b"sign this message"), "8NJRMT83CcplGrAGaUVIUM/md5914KpWVNngSVoF9/M=");
/// assert_eq!(format!("{key:?}"), "SharedAccessKey(<redacted>)");
/// ```
#[derive(Clone)]
pub struct SharedAccessKey {
    bytes: Vec<u8>,
}

impl SharedAccessKey {
    /// Parses a key strictly: standard base64 alphabet, canonical padding, at least one byte.
    /// This is the form IoT Hub generates and the only one it stores.
    pub fn from_base64(text: &str) -> Result<Self, ProtocolError> {
        let bytes = base64_decode_strict(text).ok_or(ProtocolError::InvalidKey {
            rule: "not canonical base64 (standard alphabet, padded)",
        })?;
        Self::from_bytes(bytes)
    }

    /// Decodes a key the way Node.js `Buffer.from(key, "base64")` does: missing padding and
    /// characters outside the alphabet are tolerated and trailing bits dropped (`"key"` becomes
    /// the bytes `91 ec`). The Node SDK's own test vectors sign with such keys; real keys never
    /// need this. Fails only when nothing decodes.
    pub fn from_base64_lenient(text: &str) -> Result<Self, ProtocolError> {
        Self::from_bytes(base64_decode_lenient(text))
    }

    /// A key from raw bytes (at least one).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self, ProtocolError> {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Err(ProtocolError::InvalidKey {
                rule: "decodes to no bytes",
            });
        }
        Ok(Self { bytes })
    }

    /// A new key from random bytes the caller draws (this crate has no random number
    /// generator): the base64 of 32 bytes, like the keys IoT Hub generates.
    pub fn generate(random: [u8; GENERATED_KEY_LEN]) -> Self {
        Self {
            bytes: random.to_vec(),
        }
    }

    /// The key as canonical base64. This is the secret itself: write it only where the wire
    /// requires it.
    pub fn to_secret_string(&self) -> String {
        base64_encode(&self.bytes)
    }

    /// The raw key bytes (the HMAC key).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Signs `message` with HMAC-SHA256 and returns the signature as base64, as every SAS token
    /// carries it (before URL-encoding).
    pub fn sign(&self, message: &[u8]) -> String {
        base64_encode(&self.signature(message))
    }

    /// The raw HMAC-SHA256 of `message` (32 bytes).
    pub(crate) fn signature(&self, message: &[u8]) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(message);
        mac.finalize().into_bytes().to_vec()
    }

    /// A MAC keyed with this key.
    pub(crate) fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.bytes)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
    }
}

impl FromStr for SharedAccessKey {
    type Err = ProtocolError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_base64(text)
    }
}

impl PartialEq for SharedAccessKey {
    /// Compares in time that depends only on the lengths, never on where the keys differ.
    fn eq(&self, other: &Self) -> bool {
        self.bytes.len() == other.bytes.len()
            && self
                .bytes
                .iter()
                .zip(&other.bytes)
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

impl Eq for SharedAccessKey {}

impl fmt::Debug for SharedAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedAccessKey(<redacted>)")
    }
}

impl fmt::Display for SharedAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Serde support for keys inside the REST models, where the wire form is base64 text and an
/// empty string means "no key" (Node's service SDK sends `""` to ask the hub to generate one).
pub(crate) mod serde_option {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::SharedAccessKey;

    pub(crate) fn serialize<S: Serializer>(
        key: &Option<SharedAccessKey>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match key {
            Some(key) => serializer.serialize_str(&key.to_secret_string()),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SharedAccessKey>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(None),
            Some(text) if text.is_empty() => Ok(None),
            Some(text) => SharedAccessKey::from_base64(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const V1_KEY: &str = "NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=";

    #[test]
    fn python_vector_v1() {
        let key = SharedAccessKey::from_base64(V1_KEY).unwrap();
        assert_eq!(
            key.sign(b"sign this message"),
            "8NJRMT83CcplGrAGaUVIUM/md5914KpWVNngSVoF9/M="
        );
    }

    #[test]
    fn strict_parse_rejects_what_node_tolerates() {
        for bad in ["key", "fakeKey", "", "cGFzc3dvcmQ", "cGFz c3dvcmQ="] {
            let err = SharedAccessKey::from_base64(bad).unwrap_err();
            assert!(matches!(err, ProtocolError::InvalidKey { .. }), "{bad:?}");
        }
        let lenient = SharedAccessKey::from_base64_lenient("key").unwrap();
        assert_eq!(lenient.as_bytes(), [0x91, 0xec]);
        assert!(SharedAccessKey::from_base64_lenient("=").is_err());
    }

    #[test]
    fn generated_keys_look_like_the_hubs() {
        let key = SharedAccessKey::generate([7; GENERATED_KEY_LEN]);
        let text = key.to_secret_string();
        assert_eq!(text.len(), 44);
        assert_eq!(SharedAccessKey::from_base64(&text).unwrap(), key);
    }

    #[test]
    fn debug_and_display_redact() {
        let key = SharedAccessKey::from_base64(V1_KEY).unwrap();
        for shown in [format!("{key:?}"), format!("{key}"), format!("{key:#?}")] {
            assert!(!shown.contains("NMgJ"), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
    }

    #[test]
    fn equality_compares_bytes() {
        let a = SharedAccessKey::from_bytes(vec![1, 2, 3]).unwrap();
        assert_eq!(a, SharedAccessKey::from_bytes(vec![1, 2, 3]).unwrap());
        assert_ne!(a, SharedAccessKey::from_bytes(vec![1, 2, 4]).unwrap());
        assert_ne!(a, SharedAccessKey::from_bytes(vec![1, 2]).unwrap());
    }

    #[test]
    fn serde_helper_maps_empty_to_none() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Holder {
            #[serde(with = "serde_option")]
            key: Option<SharedAccessKey>,
        }
        let empty: Holder = serde_json::from_str(r#"{"key":""}"#).unwrap();
        assert!(empty.key.is_none());
        let null: Holder = serde_json::from_str(r#"{"key":null}"#).unwrap();
        assert!(null.key.is_none());
        let set: Holder = serde_json::from_str(&format!(r#"{{"key":"{V1_KEY}"}}"#)).unwrap();
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            format!(r#"{{"key":"{V1_KEY}"}}"#)
        );
        let err = serde_json::from_str::<Holder>(r#"{"key":"not base64!"}"#)
            .err()
            .unwrap();
        assert!(!err.to_string().contains("not base64!"));
    }

    proptest! {
        #[test]
        fn base64_round_trip(bytes in proptest::collection::vec(any::<u8>(), 1..80)) {
            let key = SharedAccessKey::from_bytes(bytes).unwrap();
            let text = key.to_secret_string();
            prop_assert_eq!(&SharedAccessKey::from_base64(&text).unwrap(), &key);
            prop_assert_eq!(SharedAccessKey::from_base64_lenient(&text).unwrap(), key);
        }
    }
}
