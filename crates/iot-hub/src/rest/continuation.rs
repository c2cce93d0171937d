//! [`Continuation`]: the `x-ms-continuation` token of query paging.

use std::fmt;

use iot_protocol::DeviceId;
use iot_twin::query::Query;

use super::error::RestError;
use crate::twin_query::Resume;

/// Where the next page of a query starts, for the query it belongs to.
///
/// The token means "the query's results from here on": for plain rows, from the device whose
/// twin gave the next row (and how many rows were returned before, which `TOP` counts); for
/// aggregates, from a position in the row sequence (see `twin_query.rs`). It also holds a
/// fingerprint of its query, the 64-bit FNV-1a hash of the query's canonical text (so spacing
/// and keyword case do not matter, any other change does); a token presented with another
/// query is refused. Each page reads the twins as they are when it is asked for: like IoT
/// Hub's, the results are not a snapshot across pages.
///
/// Text form, in lower-case hexadecimal: `r.{position}.{fingerprint}` or
/// `d.{rows before}.{fingerprint}.{device id's bytes}`. Clients treat it as opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Continuation {
    resume: Resume,
    fingerprint: u64,
}

impl Continuation {
    /// The token that resumes `query` at `resume`.
    pub(crate) fn new(query: &Query, resume: Resume) -> Self {
        Self {
            resume,
            fingerprint: fingerprint(query),
        }
    }

    /// Parses a token (400 `ArgumentInvalid` when it is not one this hub writes).
    pub(crate) fn parse(text: &str) -> Result<Self, RestError> {
        let invalid = || RestError::invalid("x-ms-continuation is not a continuation token");
        let mut parts = text.trim().split('.');
        let kind = parts.next();
        let count = parts.next().and_then(hex_number).ok_or_else(invalid)?;
        let fingerprint = parts.next().and_then(hex_number).ok_or_else(invalid)?;
        let resume = match (kind, parts.next(), parts.next()) {
            (Some("r"), None, None) => Resume::Row(usize::try_from(count).map_err(|_| invalid())?),
            (Some("d"), Some(id), None) => Resume::At {
                next: hex_device_id(id).ok_or_else(invalid)?,
                emitted: usize::try_from(count).map_err(|_| invalid())?,
            },
            _ => return Err(invalid()),
        };
        Ok(Self {
            resume,
            fingerprint,
        })
    }

    /// Where this token resumes `query`, or 400 `ArgumentInvalid` when it belongs to another
    /// query.
    pub(crate) fn resume_for(self, query: &Query) -> Result<Resume, RestError> {
        if self.fingerprint == fingerprint(query) {
            Ok(self.resume)
        } else {
            Err(RestError::invalid(
                "x-ms-continuation continues another query than this one",
            ))
        }
    }
}

impl fmt::Display for Continuation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.resume {
            Resume::Start => write!(f, "r.0.{:016x}", self.fingerprint),
            Resume::Row(position) => write!(f, "r.{position:x}.{:016x}", self.fingerprint),
            Resume::At { next, emitted } => {
                write!(f, "d.{emitted:x}.{:016x}.", self.fingerprint)?;
                next.as_str()
                    .bytes()
                    .try_for_each(|byte| write!(f, "{byte:02x}"))
            }
        }
    }
}

/// A hexadecimal number of 1 to 16 digits.
fn hex_number(text: &str) -> Option<u64> {
    let valid = !text.is_empty() && text.len() <= 16 && text.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| u64::from_str_radix(text, 16).ok()).flatten()
}

/// A device id from the hexadecimal of its bytes.
fn hex_device_id(text: &str) -> Option<DeviceId> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    let mut id = String::with_capacity(text.len() / 2);
    for pair in text.as_bytes().chunks(2) {
        let byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        id.push(char::from(byte));
    }
    DeviceId::parse(&id).ok()
}

/// FNV-1a (64-bit) of the query's canonical text: stable across runs and builds, unlike the
/// standard library's hasher.
fn fingerprint(query: &Query) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    query.to_string().bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_protocol::ErrorCode;
    use proptest::prelude::*;

    fn query(text: &str) -> Query {
        Query::parse(text).expect("a valid query")
    }

    fn at(id: &str, emitted: usize) -> Resume {
        Resume::At {
            next: id.parse().expect("a valid id"),
            emitted,
        }
    }

    #[test]
    fn a_token_continues_only_its_own_query() {
        let all = query("SELECT * FROM devices");
        let token = Continuation::new(&all, at("d-7", 100));
        let same = query("select *   from DEVICES");
        assert_eq!(token.clone().resume_for(&same), Ok(at("d-7", 100)));
        let other = query("SELECT * FROM devices WHERE status = 'enabled'");
        let error = token.resume_for(&other).expect_err("another query");
        assert_eq!(error.code(), ErrorCode::ArgumentInvalid);
    }

    #[test]
    fn the_text_is_the_documented_form() {
        let all = query("SELECT * FROM devices");
        assert_eq!(all.to_string(), "SELECT * FROM devices");
        // FNV-1a of that text, computed independently (Python).
        let fingerprint = "e7126f3c5ec94862";
        let row = Continuation::new(&all, Resume::Row(255)).to_string();
        assert_eq!(row, format!("r.ff.{fingerprint}"));
        let device = Continuation::new(&all, at("d1", 10)).to_string();
        assert_eq!(device, format!("d.a.{fingerprint}.6431"));
    }

    #[test]
    fn other_text_is_refused() {
        for bad in [
            "",
            "r",
            "r.1",
            "r.1.",
            "r.x.1",
            "r.1.2.3",
            "d.1.2",
            "d.1.2.6",
            "d.1.2.zz",
            "d.1.2.20",
            "x.1.2",
            "r.+1.2",
            "r.1.00000000000000001",
        ] {
            assert!(Continuation::parse(bad).is_err(), "{bad:?}");
        }
    }

    fn resumes() -> impl Strategy<Value = Resume> {
        prop_oneof![
            any::<usize>().prop_map(Resume::Row),
            ("[a-zA-Z0-9+%#*?!(),=@$':;._-]{1,128}", any::<usize>()).prop_map(|(id, emitted)| {
                Resume::At {
                    next: id.parse().expect("a valid id"),
                    emitted,
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn tokens_round_trip(resume in resumes(), fingerprint in any::<u64>()) {
            let token = Continuation { resume, fingerprint };
            prop_assert_eq!(Continuation::parse(&token.to_string()), Ok(token));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,60}") {
            let _ = Continuation::parse(&text);
        }
    }
}
