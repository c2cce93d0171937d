//! [`Continuation`]: the `x-ms-continuation` token of query paging.

use std::fmt;

use iot_twin::query::Query;

use super::error::RestError;

/// Where the next page of a query starts.
///
/// The token means "the query's result sequence from this position on": the position of the
/// next row (rows counted after `TOP`, from 0) and a fingerprint of the query it belongs to,
/// the 64-bit FNV-1a hash of the query's canonical text (so spacing and keyword case do not
/// matter, but any other change does). A token presented with another query is refused. Each
/// page is evaluated anew over the twins as they are when it is asked for; IoT Hub's queries
/// are not snapshot-consistent across pages either, and a position is all a later page needs.
///
/// Text form: `{position}.{fingerprint}`, both in lower-case hexadecimal, the fingerprint
/// in 16 digits. Clients treat it as opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Continuation {
    position: usize,
    fingerprint: u64,
}

impl Continuation {
    /// The token for `query`'s rows from `position` on.
    pub(crate) fn new(query: &Query, position: usize) -> Self {
        Self {
            position,
            fingerprint: fingerprint(query),
        }
    }

    /// Parses a token (400 `ArgumentInvalid` when it is not one this hub wrote).
    pub(crate) fn parse(text: &str) -> Result<Self, RestError> {
        let invalid = || RestError::invalid("x-ms-continuation is not a continuation token");
        let (position, fingerprint) = text.trim().split_once('.').ok_or_else(invalid)?;
        let hex = |part: &str, max: usize| {
            !part.is_empty() && part.len() <= max && part.bytes().all(|b| b.is_ascii_hexdigit())
        };
        if !hex(position, 16) || !hex(fingerprint, 16) {
            return Err(invalid());
        }
        Ok(Self {
            position: usize::from_str_radix(position, 16).map_err(|_| invalid())?,
            fingerprint: u64::from_str_radix(fingerprint, 16).map_err(|_| invalid())?,
        })
    }

    /// The position this token continues `query` from, or 400 `ArgumentInvalid` when the
    /// token belongs to another query.
    pub(crate) fn position_in(&self, query: &Query) -> Result<usize, RestError> {
        if self.fingerprint == fingerprint(query) {
            Ok(self.position)
        } else {
            Err(RestError::invalid(
                "x-ms-continuation continues another query than this one",
            ))
        }
    }
}

impl fmt::Display for Continuation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}.{:016x}", self.position, self.fingerprint)
    }
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

    #[test]
    fn a_token_continues_only_its_own_query() {
        let all = query("SELECT * FROM devices");
        let token = Continuation::new(&all, 100);
        let same = query("select *   from DEVICES");
        assert_eq!(token.position_in(&same), Ok(100));
        let other = query("SELECT * FROM devices WHERE status = 'enabled'");
        let error = token.position_in(&other).expect_err("another query");
        assert_eq!(error.code(), ErrorCode::ArgumentInvalid);
    }

    #[test]
    fn fingerprints_are_stable_fnv1a() {
        let text = query("SELECT * FROM devices").to_string();
        assert_eq!(text, "SELECT * FROM devices");
        let token = Continuation::new(&query(&text), 0).to_string();
        // FNV-1a of the text, computed independently (Python).
        assert_eq!(token, "0.e7126f3c5ec94862");
    }

    #[test]
    fn other_text_is_refused() {
        for bad in [
            "",
            ".",
            "1.",
            ".1",
            "x.1",
            "1.x",
            "1.2.3",
            "+1.2",
            "1 .2",
            "1.00000000000000001",
        ] {
            assert!(Continuation::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn tokens_round_trip(position in any::<usize>(), fingerprint in any::<u64>()) {
            let token = Continuation { position, fingerprint };
            prop_assert_eq!(Continuation::parse(&token.to_string()), Ok(token));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = Continuation::parse(&text);
        }
    }
}
