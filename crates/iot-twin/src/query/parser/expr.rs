//! Expressions, by precedence from loosest to tightest:
//!
//! ```text
//! expr           := and {OR and}
//! and            := not {AND not}
//! not            := NOT not | comparison
//! comparison     := additive [(= | != | <> | < | <= | > | >=) additive | (IN | NIN) array]
//! additive       := multiplicative {(+ | -) multiplicative}
//! multiplicative := unary {(* | / | %) unary}
//! unary          := - unary | primary
//! primary        := constant | path | function '(' [expr {, expr}] ')' | '(' expr ')'
//! ```
//!
//! Comparisons do not chain (`a = b = c` is refused). A `-` directly before a number literal
//! makes a negative literal. Every `NOT`, unary `-`, parenthesis, call and nested array, and
//! every operator in a chain of arithmetic, counts one level towards [`MAX_DEPTH`]; chains of
//! `AND` and `OR` do not, so long lists of alternatives stay possible.

use super::super::ast::{ArithmeticOp, CompareOp, Constant, Expr, Function};
use super::super::error::quote;
use super::super::lexer::Token;
use super::super::name::{Name, is_reserved};
use super::{Parser, QueryError};

/// What the parser says it wanted where a value was missing.
const VALUE: &str = "a value (a property path, constant, function call or `(`)";

impl Parser<'_> {
    /// A whole expression.
    pub(super) fn expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.eat_keyword("OR")? {
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.not()?;
        while self.eat_keyword("AND")? {
            let right = self.not()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, QueryError> {
        if !self.at_keyword("NOT") {
            return self.comparison();
        }
        let start = self.advance()?.start;
        self.enter(start)?;
        let operand = self.not()?;
        self.leave(1);
        Ok(Expr::Not(Box::new(operand)))
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let left = self.additive()?;
        let op = match self.peek() {
            Token::Eq => CompareOp::Eq,
            Token::Ne => CompareOp::Ne,
            Token::Lt => CompareOp::Lt,
            Token::Le => CompareOp::Le,
            Token::Gt => CompareOp::Gt,
            Token::Ge => CompareOp::Ge,
            Token::Word(w) if w.eq_ignore_ascii_case("IN") || w.eq_ignore_ascii_case("NIN") => {
                let negated = w.eq_ignore_ascii_case("NIN");
                self.advance()?;
                let list = self.in_list()?;
                return Ok(Expr::In {
                    value: Box::new(left),
                    list,
                    negated,
                });
            }
            _ => return Ok(left),
        };
        self.advance()?;
        let right = self.additive()?;
        Ok(Expr::Compare(op, Box::new(left), Box::new(right)))
    }

    fn in_list(&mut self) -> Result<Vec<Constant>, QueryError> {
        if *self.peek() != Token::LBracket {
            return Err(self.unexpected("an array constant `[...]` after IN or NIN"));
        }
        match self.constant()? {
            Some(Constant::Array(items)) => Ok(items),
            _ => Err(self.unexpected("an array constant `[...]` after IN or NIN")),
        }
    }

    fn additive(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.multiplicative()?;
        let mut levels = 0;
        loop {
            let op = match self.peek() {
                Token::Plus => ArithmeticOp::Add,
                Token::Minus => ArithmeticOp::Subtract,
                _ => break,
            };
            let start = self.advance()?.start;
            self.enter(start)?;
            levels += 1;
            let right = self.multiplicative()?;
            left = Expr::Arithmetic(op, Box::new(left), Box::new(right));
        }
        self.leave(levels);
        Ok(left)
    }

    fn multiplicative(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        let mut levels = 0;
        loop {
            let op = match self.peek() {
                Token::Star => ArithmeticOp::Multiply,
                Token::Slash => ArithmeticOp::Divide,
                Token::Percent => ArithmeticOp::Remainder,
                _ => break,
            };
            let start = self.advance()?.start;
            self.enter(start)?;
            levels += 1;
            let right = self.unary()?;
            left = Expr::Arithmetic(op, Box::new(left), Box::new(right));
        }
        self.leave(levels);
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        if *self.peek() != Token::Minus {
            return self.primary();
        }
        let start = self.advance()?.start;
        if let Token::Number(n) = *self.peek() {
            self.advance()?;
            return Ok(Expr::Constant(Constant::Number(n.negated())));
        }
        self.enter(start)?;
        let operand = self.unary()?;
        self.leave(1);
        Ok(Expr::Negate(Box::new(operand)))
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        if let Some(constant) = self.constant()? {
            return Ok(Expr::Constant(constant));
        }
        match self.peek().clone() {
            Token::LParen => {
                let start = self.advance()?.start;
                self.enter(start)?;
                let inner = self.expr()?;
                self.expect(&Token::RParen, "`)` to close `(`")?;
                self.leave(1);
                Ok(inner)
            }
            Token::Word(word) if !is_reserved(word) => {
                let start = self.advance()?.start;
                if *self.peek() == Token::LParen {
                    self.call(word, start)
                } else {
                    Ok(Expr::Path(self.path_rest(Name::from_valid(word))?))
                }
            }
            Token::Quoted(word) => {
                self.advance()?;
                Ok(Expr::Path(self.path_rest(Name::from_valid(word))?))
            }
            _ => Err(self.unexpected(VALUE)),
        }
    }

    fn call(&mut self, name: &str, start: usize) -> Result<Expr, QueryError> {
        let Some(function) = Function::from_name(name) else {
            return Err(QueryError::UnknownFunction {
                position: self.position(start),
                name: quote(name),
            });
        };
        self.advance()?;
        self.enter(start)?;
        let mut args = Vec::new();
        if !self.eat(&Token::RParen)? {
            loop {
                args.push(self.expr()?);
                if self.eat(&Token::RParen)? {
                    break;
                }
                self.expect(&Token::Comma, "`,` or `)` in the argument list")?;
            }
        }
        self.leave(1);
        let (min, max, expected) = function.arity();
        if args.len() < min || max.is_some_and(|max| args.len() > max) {
            return Err(QueryError::Arity {
                position: self.position(start),
                function: function.name(),
                expected,
                found: args.len(),
            });
        }
        Ok(Expr::Call(function, args))
    }

    /// A constant, if one starts here: a literal, a keyword constant or an array constant.
    fn constant(&mut self) -> Result<Option<Constant>, QueryError> {
        let constant = match self.peek().clone() {
            Token::String(s) => Constant::String(s),
            Token::Number(n) => Constant::Number(n),
            Token::Word(w) => match w.to_ascii_lowercase().as_str() {
                "true" => Constant::Bool(true),
                "false" => Constant::Bool(false),
                "null" => Constant::Null,
                "undefined" => Constant::Undefined,
                _ => return Ok(None),
            },
            Token::LBracket => return self.array().map(Some),
            _ => return Ok(None),
        };
        self.advance()?;
        Ok(Some(constant))
    }

    fn array(&mut self) -> Result<Constant, QueryError> {
        let start = self.advance()?.start;
        self.enter(start)?;
        let mut items = Vec::new();
        if !self.eat(&Token::RBracket)? {
            loop {
                items.push(self.array_element()?);
                if self.eat(&Token::RBracket)? {
                    break;
                }
                self.expect(&Token::Comma, "`,` or `]` in the array constant")?;
            }
        }
        self.leave(1);
        Ok(Constant::Array(items))
    }

    fn array_element(&mut self) -> Result<Constant, QueryError> {
        if *self.peek() == Token::Minus {
            self.advance()?;
            if let Token::Number(n) = *self.peek() {
                self.advance()?;
                return Ok(Constant::Number(n.negated()));
            }
            return Err(self.unexpected("a number after `-` in the array constant"));
        }
        match self.constant()? {
            Some(constant) => Ok(constant),
            None => Err(self.unexpected("a constant in the array constant")),
        }
    }
}
