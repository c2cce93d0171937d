//! The recursive-descent parser: statements and conditions here, expressions in `parser/expr.rs`.
//!
//! ```text
//! statement  := SELECT [TOP n] projection FROM collection [WHERE expr] [GROUP BY path]
//! projection := '*' | item {',' item}
//! item       := (path | COUNT '(' ')' | (AVG|SUM|MIN|MAX) '(' path ')') [AS name]
//! collection := devices | devices.modules | devices.jobs
//! condition  := '*' | expr | FROM collection [WHERE expr]
//! ```

use super::ast::{Aggregate, Collection, Expr, Projection, SelectItem, SelectValue, Statement};
use super::error::Position;
use super::lexer::{Lexer, Spanned, Token};
use super::name::{Name, PropertyPath, is_reserved};
use super::validate::{Spans, validate_statement};
use super::{MAX_DEPTH, MAX_QUERY_CHARS, MAX_TOP, QueryError};

mod expr;

/// Parses a whole query.
pub(crate) fn parse_statement(text: &str) -> Result<Statement, QueryError> {
    let mut parser = Parser::new(text)?;
    let (statement, spans) = parser.statement()?;
    validate_statement(&statement, &spans, text)?;
    Ok(statement)
}

/// Parses a job `queryCondition` or a configuration `targetCondition`: the collection and the
/// condition (`None` for all documents).
pub(crate) fn parse_condition(text: &str) -> Result<(Collection, Option<Expr>), QueryError> {
    let mut parser = Parser::new(text)?;
    let result = parser.condition()?;
    parser.expect_end("the end of the condition")?;
    Ok(result)
}

/// Parser state: the lexer, the current token, and the expression depth.
#[derive(Debug)]
pub(crate) struct Parser<'a> {
    lexer: Lexer<'a>,
    current: Spanned<'a>,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Result<Self, QueryError> {
        let length = text.chars().count();
        if length > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong {
                length,
                limit: MAX_QUERY_CHARS,
            });
        }
        let mut lexer = Lexer::new(text);
        let current = lexer.next_token()?;
        Ok(Self {
            lexer,
            current,
            depth: 0,
        })
    }

    /// The current token.
    fn peek(&self) -> &Token<'a> {
        &self.current.token
    }

    /// Moves past the current token and returns it.
    fn advance(&mut self) -> Result<Spanned<'a>, QueryError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.current, next))
    }

    /// An error for the current token.
    fn unexpected(&self, expected: &'static str) -> QueryError {
        self.lexer.unexpected(&self.current, expected)
    }

    fn position(&self, offset: usize) -> Position {
        Position::locate(self.lexer.text(), offset)
    }

    /// Whether the current token is the keyword `keyword` (any letter case).
    fn at_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Token::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    /// Moves past `keyword` if it is the current token.
    fn eat_keyword(&mut self, keyword: &str) -> Result<bool, QueryError> {
        let found = self.at_keyword(keyword);
        if found {
            self.advance()?;
        }
        Ok(found)
    }

    fn expect_keyword(&mut self, keyword: &str, expected: &'static str) -> Result<(), QueryError> {
        if self.eat_keyword(keyword)? {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn eat(&mut self, token: &Token<'_>) -> Result<bool, QueryError> {
        let found = self.peek() == token;
        if found {
            self.advance()?;
        }
        Ok(found)
    }

    fn expect(&mut self, token: &Token<'_>, expected: &'static str) -> Result<(), QueryError> {
        if self.eat(token)? {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn expect_end(&self, expected: &'static str) -> Result<(), QueryError> {
        if *self.peek() == Token::End {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// One level deeper into an expression; fails past [`MAX_DEPTH`].
    fn enter(&mut self, at: usize) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::TooDeep {
                position: self.position(at),
                limit: MAX_DEPTH,
            });
        }
        Ok(())
    }

    fn leave(&mut self, levels: usize) {
        self.depth -= levels;
    }

    fn statement(&mut self) -> Result<(Statement, Spans), QueryError> {
        self.expect_keyword("SELECT", "SELECT at the start of the query")?;
        let top = self.top()?;
        let mut spans = Spans::default();
        let projection = self.projection(&mut spans.items)?;
        self.expect_keyword("FROM", "`,`, AS or FROM after the selected item")?;
        spans.from = self.current.start;
        let from = self.collection()?;
        let filter = if self.eat_keyword("WHERE")? {
            Some(self.expr()?)
        } else {
            None
        };
        let group_by = if self.at_keyword("GROUP") {
            let start = self.advance()?.start;
            self.expect_keyword("BY", "BY after GROUP")?;
            let path = self.path_after("a property path after GROUP BY")?;
            Some((path, start))
        } else {
            None
        };
        self.expect_end("WHERE, GROUP BY or the end of the query")?;
        spans.group_by = group_by.as_ref().map(|(_, start)| *start);
        let statement = Statement {
            top,
            projection,
            from,
            filter,
            group_by: group_by.map(|(path, _)| path),
        };
        Ok((statement, spans))
    }

    fn top(&mut self) -> Result<Option<u32>, QueryError> {
        if !self.eat_keyword("TOP")? {
            return Ok(None);
        }
        let source = self.lexer.text().get(self.current.start..self.current.end);
        let digits = source.filter(|s| s.bytes().all(|b| b.is_ascii_digit()));
        let value = match (self.peek(), digits) {
            (Token::Number(_), Some(digits)) => digits.parse::<u32>().ok(),
            _ => return Err(self.unexpected("a whole number after TOP")),
        };
        match value.filter(|v| *v <= MAX_TOP) {
            Some(value) => {
                self.advance()?;
                Ok(Some(value))
            }
            None => Err(QueryError::Unsupported {
                position: self.position(self.current.start),
                rule: format!("TOP takes a whole number from 0 to {MAX_TOP}"),
            }),
        }
    }

    /// The `SELECT` list; records where each item starts in `starts`.
    fn projection(&mut self, starts: &mut Vec<usize>) -> Result<Projection, QueryError> {
        if self.eat(&Token::Star)? {
            return Ok(Projection::All);
        }
        let mut items = Vec::new();
        loop {
            starts.push(self.current.start);
            items.push(self.select_item()?);
            if !self.eat(&Token::Comma)? {
                return Ok(Projection::Items(items));
            }
        }
    }

    fn select_item(&mut self) -> Result<SelectItem, QueryError> {
        let value = match (self.peek().clone(), self.lexer_peek_is_paren()) {
            (Token::Word(word), true) => self.aggregate(word)?,
            (Token::Word(_) | Token::Quoted(_), _) => {
                SelectValue::Path(self.path_after("a property path after SELECT")?)
            }
            _ => return Err(self.unexpected("a property path after SELECT")),
        };
        let alias = if self.eat_keyword("AS")? {
            Some(self.name("a name after AS")?)
        } else {
            None
        };
        Ok(SelectItem { value, alias })
    }

    /// Whether the token after the current one is `(` (looks ahead without consuming).
    fn lexer_peek_is_paren(&self) -> bool {
        let rest = self
            .lexer
            .text()
            .get(self.current.end..)
            .unwrap_or_default();
        rest.trim_start_matches([' ', '\t', '\r', '\n'])
            .starts_with('(')
    }

    fn aggregate(&mut self, word: &str) -> Result<SelectValue, QueryError> {
        let start = self.current.start;
        let aggregate = match word.to_ascii_uppercase().as_str() {
            "COUNT" => None,
            "AVG" => Some(Aggregate::Avg),
            "SUM" => Some(Aggregate::Sum),
            "MIN" => Some(Aggregate::Min),
            "MAX" => Some(Aggregate::Max),
            _ => {
                return Err(QueryError::Unsupported {
                    position: self.position(start),
                    rule: "SELECT takes property paths and the aggregates COUNT, AVG, SUM, MIN \
                           and MAX, not other functions"
                        .to_owned(),
                });
            }
        };
        self.advance()?;
        self.advance()?;
        let value = match aggregate {
            None => SelectValue::Count,
            Some(aggregate) => SelectValue::Aggregate(
                aggregate,
                self.path_after("a property path in the aggregate")?,
            ),
        };
        self.expect(&Token::RParen, "`)` to close the aggregate")?;
        Ok(value)
    }

    fn collection(&mut self) -> Result<Collection, QueryError> {
        if !self.eat_keyword("devices")? {
            return Err(self.unexpected("devices, devices.modules or devices.jobs after FROM"));
        }
        if !self.eat(&Token::Dot)? {
            return Ok(Collection::Devices);
        }
        if self.eat_keyword("modules")? {
            Ok(Collection::Modules)
        } else if self.eat_keyword("jobs")? {
            Ok(Collection::DeviceJobs)
        } else {
            Err(self.unexpected("modules or jobs after devices."))
        }
    }

    /// A name: a word that is not reserved, or `[[quoted]]`.
    fn name(&mut self, expected: &'static str) -> Result<Name, QueryError> {
        let name = match self.peek() {
            Token::Word(word) if !is_reserved(word) => Name::from_valid(word),
            Token::Quoted(word) => Name::from_valid(word),
            _ => return Err(self.unexpected(expected)),
        };
        self.advance()?;
        Ok(name)
    }

    /// A property path; `expected` names it in the error when none is there.
    fn path_after(&mut self, expected: &'static str) -> Result<PropertyPath, QueryError> {
        let first = self.name(expected)?;
        self.path_rest(first)
    }

    /// The `.name` parts after a path's first name.
    fn path_rest(&mut self, first: Name) -> Result<PropertyPath, QueryError> {
        let mut segments = vec![first];
        while self.eat(&Token::Dot)? {
            let name = match self.peek() {
                Token::Word(word) | Token::Quoted(word) => Name::from_valid(word),
                _ => return Err(self.unexpected("a member name after `.`")),
            };
            self.advance()?;
            segments.push(name);
        }
        PropertyPath::new(segments).ok_or_else(|| self.unexpected("a property path"))
    }

    fn condition(&mut self) -> Result<(Collection, Option<Expr>), QueryError> {
        if *self.peek() == Token::Star {
            self.advance()?;
            return Ok((Collection::Devices, None));
        }
        if self.eat_keyword("FROM")? {
            let collection = self.collection()?;
            let filter = if self.eat_keyword("WHERE")? {
                Some(self.expr()?)
            } else {
                None
            };
            return Ok((collection, filter));
        }
        Ok((Collection::Devices, Some(self.expr()?)))
    }
}

#[cfg(test)]
mod tests;
