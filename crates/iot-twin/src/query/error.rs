//! [`QueryError`]: why a query text was refused, and where.

use std::fmt;

/// A place in a query text: a byte offset and the 1-based line and column it falls on.
///
/// Columns count Unicode scalar values (characters), not bytes, so they match what an editor
/// shows for a query typed by a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// Byte offset from the start of the text.
    pub offset: usize,
    /// Line number, from 1. Lines end at `\n`.
    pub line: usize,
    /// Column number, from 1, in characters.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text` (clamped to the text's length and moved back to
    /// a character boundary).
    pub fn locate(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = text.get(..offset).unwrap_or_default();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
        Self {
            offset,
            line,
            column,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} (byte {})", self.line, self.column, self.offset)
    }
}

/// Why a query, job condition or configuration target condition was refused.
///
/// Every variant but [`QueryError::TooLong`] carries the [`Position`] of the offending text.
/// Messages quote at most a short piece of the query. IoT Hub answers such queries with
/// 400 Bad Request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    // The text as a whole.
    /// The text is longer than IoT Hub's 8192-character limit on query expressions.
    #[error("the query is {length} characters long, more than the {limit} allowed")]
    TooLong {
        /// Its length in characters.
        length: usize,
        /// The limit.
        limit: usize,
    },

    // The text is not in the grammar.
    /// A token the grammar does not allow at this point.
    #[error("expected {expected}, found {found} at {position}")]
    Unexpected {
        /// Where the unexpected token starts.
        position: Position,
        /// What the grammar allows here, such as `a property path after SELECT`.
        expected: &'static str,
        /// The token found, quoted and shortened, or `the end of the query`.
        found: String,
    },
    /// A literal or a name that cannot be read: an unknown escape in a string, an unclosed
    /// string or `[[name]]`, a number out of range, a character outside the grammar.
    #[error("{reason} at {position}")]
    InvalidToken {
        /// Where the token starts.
        position: Position,
        /// What is wrong with it.
        reason: String,
    },
    /// Expressions nest deeper than [`crate::query::MAX_DEPTH`] levels (parentheses, `NOT`,
    /// unary minus, function arguments and chains of arithmetic operators all count).
    #[error("the expression is nested more than {limit} levels deep at {position}")]
    TooDeep {
        /// Where the level past the limit starts.
        position: Position,
        /// The limit.
        limit: usize,
    },

    // The text is in the grammar but breaks a rule of the language.
    /// A function name IoT Hub does not define.
    #[error("unknown function {name} at {position}")]
    UnknownFunction {
        /// Where the call starts.
        position: Position,
        /// The name as written, quoted and shortened.
        name: String,
    },
    /// A function called with the wrong number of arguments.
    #[error("{function} takes {expected}, found {found} at {position}")]
    Arity {
        /// Where the call starts.
        position: Position,
        /// The function's name.
        function: &'static str,
        /// How many arguments it takes, such as `2 arguments` or `2 or 3 arguments`.
        expected: &'static str,
        /// How many it was given.
        found: usize,
    },
    /// A well-formed query that the language does not allow, such as a projection on
    /// `devices.jobs`, a `GROUP BY` with `SELECT *`, or two projections with the same name.
    #[error("{rule} at {position}")]
    Unsupported {
        /// Where the offending part starts.
        position: Position,
        /// The rule it breaks.
        rule: String,
    },
}

impl QueryError {
    /// Where in the text the error is, when it points at one place.
    pub fn position(&self) -> Option<Position> {
        match self {
            Self::TooLong { .. } => None,
            Self::Unexpected { position, .. }
            | Self::InvalidToken { position, .. }
            | Self::TooDeep { position, .. }
            | Self::UnknownFunction { position, .. }
            | Self::Arity { position, .. }
            | Self::Unsupported { position, .. } => Some(*position),
        }
    }
}

/// Longest piece of query text quoted in an error message, in characters.
const MAX_QUOTE: usize = 32;

/// `text` in backquotes, cut to [`MAX_QUOTE`] characters (marked with `…`).
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::from("`");
    let mut chars = text.chars();
    out.extend(chars.by_ref().take(MAX_QUOTE));
    if chars.next().is_some() {
        out.push('…');
    }
    out.push('`');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "SELECT *\n  FROM dévices\nWHERE";
        let at = |needle: &str| Position::locate(text, text.find(needle).unwrap());
        assert_eq!(
            at("SELECT"),
            Position {
                offset: 0,
                line: 1,
                column: 1
            }
        );
        assert_eq!(at("FROM").line, 2);
        assert_eq!(at("FROM").column, 3);
        let where_ = at("WHERE");
        assert_eq!((where_.line, where_.column), (3, 1));
        // An offset inside a character moves back to its start; past the end clamps.
        let inside = Position::locate(text, text.find('é').unwrap() + 1);
        assert_eq!(inside.offset, text.find('é').unwrap());
        assert_eq!(Position::locate(text, 999).offset, text.len());
    }

    #[test]
    fn messages_name_what_was_expected_and_where() {
        let error = QueryError::Unexpected {
            position: Position::locate("SELECT FROM devices", 7),
            expected: "a property path after SELECT",
            found: quote("FROM"),
        };
        assert_eq!(
            error.to_string(),
            "expected a property path after SELECT, found `FROM` at 1:8 (byte 7)"
        );
        assert_eq!(error.position().map(|p| p.offset), Some(7));
        let long = QueryError::TooLong {
            length: 9000,
            limit: 8192,
        };
        assert_eq!(long.position(), None);
        assert!(long.to_string().contains("8192"));
    }

    #[test]
    fn quotes_are_cut() {
        assert_eq!(quote("abc"), "`abc`");
        let cut = quote(&"x".repeat(100));
        assert_eq!(cut.chars().count(), MAX_QUOTE + 3);
        assert!(cut.ends_with("…`"));
    }
}
