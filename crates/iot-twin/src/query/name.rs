//! [`Name`] and [`PropertyPath`]: the names a query uses for twin members and result columns.

use std::fmt;
use std::str::FromStr;

use super::QueryError;
use super::error::Position;
use super::lexer::{Lexer, Token};

/// Words with a meaning of their own in the grammar. A path cannot start with one and an alias
/// cannot be one unless quoted as `[[word]]`; after a `.` they are ordinary member names.
const RESERVED: [&str; 16] = [
    "SELECT",
    "TOP",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "NIN",
    "TRUE",
    "FALSE",
    "NULL",
    "UNDEFINED",
];

/// Whether `word` is a reserved word, in any letter case.
pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

/// A member name in a property path, or a column name given with `AS`.
///
/// Written plainly when it is an identifier (an ASCII letter, `_` or `$`, then ASCII letters,
/// digits, `_` or `$`: `deviceId`, `$version`), otherwise quoted in double brackets
/// (`[[chiller-water]]`, `[[firmware 2.1]]`). A name is never empty, and since `]]` ends the
/// quoted form, it cannot contain `]]` nor end with `]`. Letter case is kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Box<str>);

impl Name {
    /// The name as a twin JSON key.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the name can be written without `[[ ]]` (reserved words aside).
    pub fn is_identifier(&self) -> bool {
        is_identifier(&self.0)
    }

    /// A name already known to be valid (from the lexer).
    pub(crate) fn from_valid(text: &str) -> Self {
        Self(text.into())
    }

    /// Writes the name: plain when it is an identifier that may stand here, else quoted.
    pub(crate) fn write(&self, f: &mut fmt::Formatter<'_>, first: bool) -> fmt::Result {
        if self.is_identifier() && !(first && is_reserved(&self.0)) {
            f.write_str(&self.0)
        } else {
            write!(f, "[[{}]]", self.0)
        }
    }
}

/// Whether `text` is an identifier: `[A-Za-z_$][A-Za-z0-9_$]*`.
pub(crate) fn is_identifier(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'$')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
}

/// Why `text` cannot be a [`Name`], if it cannot.
pub(crate) fn name_problem(text: &str) -> Option<&'static str> {
    if text.is_empty() {
        Some("a name cannot be empty")
    } else if text.contains("]]") {
        Some("a name cannot contain `]]`")
    } else if text.ends_with(']') {
        Some("a name cannot end with `]`")
    } else {
        None
    }
}

impl TryFrom<&str> for Name {
    type Error = QueryError;

    /// A name for the twin key `key`, as it would appear in the JSON (not in query syntax).
    fn try_from(key: &str) -> Result<Self, QueryError> {
        match name_problem(key) {
            Some(reason) => Err(QueryError::InvalidToken {
                position: Position::locate(key, 0),
                reason: reason.to_owned(),
            }),
            None => Ok(Self(key.into())),
        }
    }
}

impl fmt::Display for Name {
    /// The name in query syntax, quoted when it is not an identifier or is a reserved word.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, true)
    }
}

/// A dotted path into the queried JSON document, such as `properties.reported.firmware.status`
/// or `configurations.[[firmware-285]].status`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PropertyPath {
    segments: Vec<Name>,
}

impl PropertyPath {
    /// A path of one or more names; `None` for no names.
    pub fn new(segments: Vec<Name>) -> Option<Self> {
        (!segments.is_empty()).then_some(Self { segments })
    }

    /// The names, outermost first.
    pub fn segments(&self) -> &[Name] {
        &self.segments
    }

    /// The last name: the column a projection of this path produces unless given an alias.
    pub fn last(&self) -> &Name {
        // Constructed non-empty.
        &self.segments[self.segments.len() - 1]
    }
}

impl fmt::Display for PropertyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            segment.write(f, i == 0)?;
        }
        Ok(())
    }
}

impl FromStr for PropertyPath {
    type Err = QueryError;

    /// Reads a path in query syntax (`tags.location.[[plant-id]]`), as [`fmt::Display`] writes
    /// it.
    fn from_str(text: &str) -> Result<Self, QueryError> {
        let mut lexer = Lexer::new(text);
        let mut segments = Vec::new();
        loop {
            let token = lexer.next_token()?;
            let name = match token.token {
                Token::Word(word) if segments.is_empty() && is_reserved(word) => None,
                Token::Word(word) | Token::Quoted(word) => Some(Name::from_valid(word)),
                _ => None,
            };
            let Some(name) = name else {
                return Err(lexer.unexpected(&token, "a member name"));
            };
            segments.push(name);
            let next = lexer.next_token()?;
            match next.token {
                Token::Dot => {}
                Token::End => return Ok(Self { segments }),
                _ => return Err(lexer.unexpected(&next, "`.` or the end of the path")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::try_from(text).unwrap()
    }

    #[test]
    fn names_print_plain_or_quoted() {
        assert_eq!(name("deviceId").to_string(), "deviceId");
        assert_eq!(name("$version").to_string(), "$version");
        assert_eq!(name("chiller-water").to_string(), "[[chiller-water]]");
        assert_eq!(name("1st").to_string(), "[[1st]]");
        assert_eq!(name("from").to_string(), "[[from]]");
        assert!(!name("a b").is_identifier());
    }

    #[test]
    fn names_that_cannot_be_quoted_are_refused() {
        for bad in ["", "a]]b", "a]"] {
            assert!(Name::try_from(bad).is_err(), "{bad:?}");
        }
        assert!(Name::try_from("a]b").is_ok());
    }

    #[test]
    fn paths_round_trip_through_text() {
        for text in [
            "properties.reported.a",
            "configurations.[[firmware-285]].status",
            "tags.from.where",
            "[[select]].x",
            "properties.desired.$version",
        ] {
            let path: PropertyPath = text.parse().unwrap();
            assert_eq!(path.to_string(), text);
        }
        let path: PropertyPath = "tags . [[a.b]]".parse().unwrap();
        assert_eq!(path.segments().len(), 2);
        assert_eq!(path.last().as_str(), "a.b");
        assert!("select.x".parse::<PropertyPath>().is_err());
        assert!("a.".parse::<PropertyPath>().is_err());
        assert!("a b".parse::<PropertyPath>().is_err());
        assert!(PropertyPath::new(Vec::new()).is_none());
    }
}
