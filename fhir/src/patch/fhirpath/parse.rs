//! Parser from tokens to the expression tree of the supported FHIRPath subset.

use serde_json::Value;

use super::PathError;
use super::lex::{Spanned, Token, tokenize};

/// A parsed FHIRPath expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A string, number or boolean literal.
    Literal(Value),
    /// `{}`.
    Empty,
    /// `$this`.
    This,
    /// `%resource` / `%context` / `%rootResource`: the resource being patched.
    Resource,
    /// An identifier at the start of a path: a member of the focus, or a type name that matches
    /// the focus's `resourceType`.
    Ident(String),
    /// `base.name`.
    Member(Box<Expr>, String),
    /// `base[index]`.
    Index(Box<Expr>, Box<Expr>),
    /// `base.f(...)`, or `f(...)` on the focus when the receiver is `None`.
    Call(Option<Box<Expr>>, Function),
    /// `left = right`, or `left != right` when `negated`.
    Equals {
        left: Box<Expr>,
        right: Box<Expr>,
        negated: bool,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// The functions the evaluator knows.
#[derive(Debug, Clone, PartialEq)]
pub enum Function {
    Where(Box<Expr>),
    Exists(Option<Box<Expr>>),
    Empty,
    Not,
    First,
    Last,
    Single,
    Count,
    /// `ofType(T)`, holding the unqualified type name (`FHIR.Quantity` → `Quantity`).
    OfType(String),
    /// `extension('url')`.
    Extension(String),
}

pub fn parse(src: &str) -> Result<Expr, PathError> {
    let tokens = tokenize(src)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        end: src.len(),
    };
    let expr = parser.or_expr()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(expr),
        Some((token, at)) => Err(PathError::syntax(
            *at,
            format!("unexpected {}", describe(token)),
        )),
    }
}

struct Parser {
    tokens: Vec<Spanned>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |(_, at)| *at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).map(|(t, _)| t.clone());
        self.pos += 1;
        token
    }

    fn expect(&mut self, want: Token) -> Result<(), PathError> {
        let at = self.offset();
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err(PathError::syntax(
                at,
                format!("expected {}, found {}", describe(&want), describe(&t)),
            )),
            None => Err(PathError::syntax(
                at,
                format!("expected {}, found end of expression", describe(&want)),
            )),
        }
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w == word)
    }

    fn or_expr(&mut self) -> Result<Expr, PathError> {
        let mut left = self.and_expr()?;
        while self.keyword("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and_expr()?));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, PathError> {
        let mut left = self.eq_expr()?;
        while self.keyword("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.eq_expr()?));
        }
        Ok(left)
    }

    fn eq_expr(&mut self) -> Result<Expr, PathError> {
        let left = self.path_expr()?;
        let negated = match self.peek() {
            Some(Token::Eq) => false,
            Some(Token::NotEq) => true,
            _ => return Ok(left),
        };
        self.pos += 1;
        let right = self.path_expr()?;
        Ok(Expr::Equals {
            left: Box::new(left),
            right: Box::new(right),
            negated,
        })
    }

    fn path_expr(&mut self) -> Result<Expr, PathError> {
        let mut expr = self.term()?;
        loop {
            match self.peek() {
                Some(Token::Dot) => {
                    self.pos += 1;
                    let at = self.offset();
                    match self.next() {
                        Some(Token::Ident(name)) => {
                            expr = self.invocation(Some(expr), name, at)?;
                        }
                        other => {
                            let found = other
                                .as_ref()
                                .map_or("end of expression".to_string(), describe);
                            return Err(PathError::syntax(
                                at,
                                format!("expected a name after '.', found {found}"),
                            ));
                        }
                    }
                }
                Some(Token::LBracket) => {
                    self.pos += 1;
                    let index = self.or_expr()?;
                    self.expect(Token::RBracket)?;
                    expr = Expr::Index(Box::new(expr), Box::new(index));
                }
                _ => return Ok(expr),
            }
        }
    }

    fn term(&mut self) -> Result<Expr, PathError> {
        let at = self.offset();
        match self.next() {
            Some(Token::Str(s)) => Ok(Expr::Literal(Value::String(s))),
            Some(Token::Num(n)) => {
                let number = serde_json::from_str::<Value>(&n)
                    .map_err(|_| PathError::syntax(at, format!("bad number '{n}'")))?;
                Ok(Expr::Literal(number))
            }
            Some(Token::This) => Ok(Expr::This),
            Some(Token::Env(name)) => match name.as_str() {
                "resource" | "context" | "rootResource" => Ok(Expr::Resource),
                _ => Err(PathError::syntax(
                    at,
                    format!("unsupported variable '%{name}'"),
                )),
            },
            Some(Token::LBrace) => {
                self.expect(Token::RBrace)?;
                Ok(Expr::Empty)
            }
            Some(Token::LParen) => {
                let inner = self.or_expr()?;
                self.expect(Token::RParen)?;
                Ok(inner)
            }
            Some(Token::Ident(word)) => match word.as_str() {
                "true" => Ok(Expr::Literal(Value::Bool(true))),
                "false" => Ok(Expr::Literal(Value::Bool(false))),
                _ => self.invocation(None, word, at),
            },
            Some(t) => Err(PathError::syntax(
                at,
                format!("unexpected {}", describe(&t)),
            )),
            None => Err(PathError::syntax(at, "unexpected end of expression")),
        }
    }

    /// A member name or a function call, after `.` (`receiver` set) or at the start of a term.
    fn invocation(
        &mut self,
        receiver: Option<Expr>,
        name: String,
        at: usize,
    ) -> Result<Expr, PathError> {
        if self.peek() != Some(&Token::LParen) {
            return Ok(match receiver {
                Some(base) => Expr::Member(Box::new(base), name),
                None => Expr::Ident(name),
            });
        }
        self.pos += 1;
        let function = match name.as_str() {
            "where" => Function::Where(Box::new(self.or_expr()?)),
            "exists" if self.peek() == Some(&Token::RParen) => Function::Exists(None),
            "exists" => Function::Exists(Some(Box::new(self.or_expr()?))),
            "empty" => Function::Empty,
            "not" => Function::Not,
            "first" => Function::First,
            "last" => Function::Last,
            "single" => Function::Single,
            "count" => Function::Count,
            "ofType" => Function::OfType(self.type_name()?),
            "extension" => {
                let arg_at = self.offset();
                match self.next() {
                    Some(Token::Str(url)) => Function::Extension(url),
                    _ => {
                        return Err(PathError::syntax(
                            arg_at,
                            "extension() takes a string literal url",
                        ));
                    }
                }
            }
            _ => {
                return Err(PathError::syntax(
                    at,
                    format!("unsupported function '{name}'"),
                ));
            }
        };
        self.expect(Token::RParen)?;
        Ok(Expr::Call(receiver.map(Box::new), function))
    }

    /// A possibly qualified type name: `Quantity`, `FHIR.Quantity`, `System.String`.
    fn type_name(&mut self) -> Result<String, PathError> {
        let at = self.offset();
        let Some(Token::Ident(mut name)) = self.next() else {
            return Err(PathError::syntax(at, "ofType() takes a type name"));
        };
        while self.peek() == Some(&Token::Dot) {
            self.pos += 1;
            let at = self.offset();
            match self.next() {
                Some(Token::Ident(part)) => name = part,
                _ => return Err(PathError::syntax(at, "ofType() takes a type name")),
            }
        }
        Ok(name)
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Ident(name) => format!("'{name}'"),
        Token::This => "'$this'".into(),
        Token::Env(name) => format!("'%{name}'"),
        Token::Str(s) => format!("string '{s}'"),
        Token::Num(n) => format!("number {n}"),
        Token::Dot => "'.'".into(),
        Token::Comma => "','".into(),
        Token::LParen => "'('".into(),
        Token::RParen => "')'".into(),
        Token::LBracket => "'['".into(),
        Token::RBracket => "']'".into(),
        Token::LBrace => "'{'".into(),
        Token::RBrace => "'}'".into(),
        Token::Eq => "'='".into(),
        Token::NotEq => "'!='".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `expected` is the debug form of the tree, or `error: ...`.
    fn check(src: &str, expected: &str) {
        let actual = match parse(src) {
            Ok(expr) => format!("{expr:?}"),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(actual, expected, "parsing {src:?}");
    }

    #[test]
    fn parses() {
        check("Patient", r#"Ident("Patient")"#);
        check("Patient.name", r#"Member(Ident("Patient"), "name")"#);
        check(
            "Patient.name[1]",
            r#"Index(Member(Ident("Patient"), "name"), Literal(Number(1)))"#,
        );
        check("name.first()", r#"Call(Some(Ident("name")), First)"#);
        check(
            "identifier.where(system = 'x' and value != 'y')",
            r#"Call(Some(Ident("identifier")), Where(And(Equals { left: Ident("system"), right: Literal(String("x")), negated: false }, Equals { left: Ident("value"), right: Literal(String("y")), negated: true })))"#,
        );
        check(
            "a or b and c",
            r#"Or(Ident("a"), And(Ident("b"), Ident("c")))"#,
        );
        check(
            "(a or b) and c",
            r#"And(Or(Ident("a"), Ident("b")), Ident("c"))"#,
        );
        check(
            "value.ofType(FHIR.Quantity)",
            r#"Call(Some(Ident("value")), OfType("Quantity"))"#,
        );
        check(
            "extension('http://x')",
            r#"Call(None, Extension("http://x"))"#,
        );
        check("exists()", "Call(None, Exists(None))");
        check(
            "where(active = true)",
            r#"Call(None, Where(Equals { left: Ident("active"), right: Literal(Bool(true)), negated: false }))"#,
        );
        check("%resource.id", r#"Member(Resource, "id")"#);
    }

    #[test]
    fn rejects() {
        check("", "error: at 0: unexpected end of expression");
        check(
            "Patient.",
            "error: at 8: expected a name after '.', found end of expression",
        );
        check(
            "Patient..name",
            "error: at 8: expected a name after '.', found '.'",
        );
        check(
            "Patient.name[0",
            "error: at 14: expected ']', found end of expression",
        );
        check(
            "Patient.name.resolve()",
            "error: at 13: unsupported function 'resolve'",
        );
        check("Patient name", "error: at 8: unexpected 'name'");
        check(
            "where(a",
            "error: at 7: expected ')', found end of expression",
        );
        check(
            "extension(url)",
            "error: at 10: extension() takes a string literal url",
        );
        check("ofType('x')", "error: at 7: ofType() takes a type name");
        check("%ucum", "error: at 0: unsupported variable '%ucum'");
    }
}
