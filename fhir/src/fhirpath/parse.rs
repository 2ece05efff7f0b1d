//! Parser from tokens to the expression tree, with FHIRPath operator precedence (low to high):
//! `implies`, `or`/`xor`, `and`, `=`/`!=`, `<`/`<=`/`>`/`>=`, `|`, `is`/`as`, invocation and
//! indexer.

use super::FhirPathError;
use super::lex::{Spanned, Token, tokenize};

/// A parsed FHIRPath expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A string literal.
    Str(String),
    /// A number literal, as written.
    Num(String),
    Bool(bool),
    /// `{}`.
    Empty,
    /// `$this`.
    This,
    /// `%resource`, `%context`, `%rootResource`: the resource being evaluated.
    Resource,
    /// An identifier at the start of a path: a type name the focus is (`Patient.name`), or a
    /// member of the focus.
    Ident(String),
    /// `base.name`.
    Member(Box<Expr>, String),
    /// `base[index]`.
    Index(Box<Expr>, Box<Expr>),
    /// `base.f(...)`, or `f(...)` on the focus when the receiver is `None`.
    Call(Option<Box<Expr>>, Function),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `x is T`.
    Is(Box<Expr>, TypeName),
    /// `x as T` (on a collection, like `ofType(T)`).
    As(Box<Expr>, TypeName),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Union,
    And,
    Or,
    Xor,
    Implies,
}

/// A type specifier: `Quantity`, `FHIR.Quantity`, `System.String`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeName {
    pub namespace: Option<String>,
    pub name: String,
}

/// The functions the evaluator knows.
#[derive(Debug, Clone, PartialEq)]
pub enum Function {
    Where(Box<Expr>),
    Select(Box<Expr>),
    All(Box<Expr>),
    Exists(Option<Box<Expr>>),
    Empty,
    Not,
    First,
    Last,
    Tail,
    Single,
    Count,
    HasValue,
    OfType(TypeName),
    As(TypeName),
    Is(TypeName),
    /// `resolve()`, offline: a reference `Type/id` becomes a stub `{resourceType, id}`.
    Resolve,
    /// `extension('url')`.
    Extension(String),
}

pub fn parse(src: &str) -> Result<Expr, FhirPathError> {
    let tokens = tokenize(src)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        end: src.len(),
    };
    let expr = parser.expr()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(expr),
        Some((token, at)) => Err(FhirPathError::syntax(
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

fn bin(op: BinOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary(op, Box::new(left), Box::new(right))
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

    fn expect(&mut self, want: Token) -> Result<(), FhirPathError> {
        let at = self.offset();
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err(FhirPathError::syntax(
                at,
                format!("expected {}, found {}", describe(&want), describe(&t)),
            )),
            None => Err(FhirPathError::syntax(
                at,
                format!("expected {}, found end of expression", describe(&want)),
            )),
        }
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w == word)
    }

    fn expr(&mut self) -> Result<Expr, FhirPathError> {
        let mut left = self.or_expr()?;
        while self.keyword("implies") {
            self.pos += 1;
            left = bin(BinOp::Implies, left, self.or_expr()?);
        }
        Ok(left)
    }

    fn or_expr(&mut self) -> Result<Expr, FhirPathError> {
        let mut left = self.and_expr()?;
        loop {
            let op = if self.keyword("or") {
                BinOp::Or
            } else if self.keyword("xor") {
                BinOp::Xor
            } else {
                return Ok(left);
            };
            self.pos += 1;
            left = bin(op, left, self.and_expr()?);
        }
    }

    fn and_expr(&mut self) -> Result<Expr, FhirPathError> {
        let mut left = self.eq_expr()?;
        while self.keyword("and") {
            self.pos += 1;
            left = bin(BinOp::And, left, self.eq_expr()?);
        }
        Ok(left)
    }

    fn eq_expr(&mut self) -> Result<Expr, FhirPathError> {
        let mut left = self.cmp_expr()?;
        loop {
            let op = match self.peek() {
                Some(Token::Op("=")) => BinOp::Eq,
                Some(Token::Op("!=")) => BinOp::Ne,
                _ => return Ok(left),
            };
            self.pos += 1;
            left = bin(op, left, self.cmp_expr()?);
        }
    }

    fn cmp_expr(&mut self) -> Result<Expr, FhirPathError> {
        let mut left = self.union_expr()?;
        loop {
            let op = match self.peek() {
                Some(Token::Op("<")) => BinOp::Lt,
                Some(Token::Op("<=")) => BinOp::Le,
                Some(Token::Op(">")) => BinOp::Gt,
                Some(Token::Op(">=")) => BinOp::Ge,
                _ => return Ok(left),
            };
            self.pos += 1;
            left = bin(op, left, self.union_expr()?);
        }
    }

    fn union_expr(&mut self) -> Result<Expr, FhirPathError> {
        let mut left = self.type_expr()?;
        while self.peek() == Some(&Token::Op("|")) {
            self.pos += 1;
            left = bin(BinOp::Union, left, self.type_expr()?);
        }
        Ok(left)
    }

    fn type_expr(&mut self) -> Result<Expr, FhirPathError> {
        let mut left = self.path_expr()?;
        loop {
            if self.keyword("is") {
                self.pos += 1;
                left = Expr::Is(Box::new(left), self.type_name("is")?);
            } else if self.keyword("as") {
                self.pos += 1;
                left = Expr::As(Box::new(left), self.type_name("as")?);
            } else {
                return Ok(left);
            }
        }
    }

    fn path_expr(&mut self) -> Result<Expr, FhirPathError> {
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
                            return Err(FhirPathError::syntax(
                                at,
                                format!("expected a name after '.', found {found}"),
                            ));
                        }
                    }
                }
                Some(Token::LBracket) => {
                    self.pos += 1;
                    let index = self.expr()?;
                    self.expect(Token::RBracket)?;
                    expr = Expr::Index(Box::new(expr), Box::new(index));
                }
                _ => return Ok(expr),
            }
        }
    }

    fn term(&mut self) -> Result<Expr, FhirPathError> {
        let at = self.offset();
        match self.next() {
            Some(Token::Str(s)) => Ok(Expr::Str(s)),
            Some(Token::Num(n)) => Ok(Expr::Num(n)),
            Some(Token::This) => Ok(Expr::This),
            Some(Token::Env(name)) => match name.as_str() {
                "resource" | "context" | "rootResource" => Ok(Expr::Resource),
                _ => Err(FhirPathError::syntax(
                    at,
                    format!("unsupported variable '%{name}'"),
                )),
            },
            Some(Token::LBrace) => {
                self.expect(Token::RBrace)?;
                Ok(Expr::Empty)
            }
            Some(Token::LParen) => {
                let inner = self.expr()?;
                self.expect(Token::RParen)?;
                Ok(inner)
            }
            Some(Token::Ident(word)) => match word.as_str() {
                "true" => Ok(Expr::Bool(true)),
                "false" => Ok(Expr::Bool(false)),
                _ => self.invocation(None, word, at),
            },
            Some(t) => Err(FhirPathError::syntax(
                at,
                format!("unexpected {}", describe(&t)),
            )),
            None => Err(FhirPathError::syntax(at, "unexpected end of expression")),
        }
    }

    /// A member name or a function call, after `.` (`receiver` set) or at the start of a term.
    fn invocation(
        &mut self,
        receiver: Option<Expr>,
        name: String,
        at: usize,
    ) -> Result<Expr, FhirPathError> {
        if self.peek() != Some(&Token::LParen) {
            return Ok(match receiver {
                Some(base) => Expr::Member(Box::new(base), name),
                None => Expr::Ident(name),
            });
        }
        self.pos += 1;
        let no_args = self.peek() == Some(&Token::RParen);
        let function = match name.as_str() {
            "where" => Function::Where(Box::new(self.expr()?)),
            "select" => Function::Select(Box::new(self.expr()?)),
            "all" => Function::All(Box::new(self.expr()?)),
            "exists" if no_args => Function::Exists(None),
            "exists" => Function::Exists(Some(Box::new(self.expr()?))),
            "empty" => Function::Empty,
            "not" => Function::Not,
            "first" => Function::First,
            "last" => Function::Last,
            "tail" => Function::Tail,
            "single" => Function::Single,
            "count" => Function::Count,
            "hasValue" => Function::HasValue,
            "resolve" => Function::Resolve,
            "ofType" => Function::OfType(self.type_name("ofType()")?),
            "as" => Function::As(self.type_name("as()")?),
            "is" => Function::Is(self.type_name("is()")?),
            "extension" => {
                let arg_at = self.offset();
                match self.next() {
                    Some(Token::Str(url)) => Function::Extension(url),
                    _ => {
                        return Err(FhirPathError::syntax(
                            arg_at,
                            "extension() takes a string literal url",
                        ));
                    }
                }
            }
            _ => {
                return Err(FhirPathError::syntax(
                    at,
                    format!("unsupported function '{name}'"),
                ));
            }
        };
        self.expect(Token::RParen)?;
        Ok(Expr::Call(receiver.map(Box::new), function))
    }

    /// A possibly qualified type name after `is`, `as`, `ofType(`...
    fn type_name(&mut self, after: &str) -> Result<TypeName, FhirPathError> {
        let at = self.offset();
        let Some(Token::Ident(first)) = self.next() else {
            return Err(FhirPathError::syntax(
                at,
                format!("{after} takes a type name"),
            ));
        };
        if self.peek() == Some(&Token::Dot)
            && let Some((Token::Ident(second), _)) = self.tokens.get(self.pos + 1)
            && (first == "FHIR" || first == "System")
        {
            let name = second.clone();
            self.pos += 2;
            return Ok(TypeName {
                namespace: Some(first),
                name,
            });
        }
        Ok(TypeName {
            namespace: None,
            name: first,
        })
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
        Token::Op(op) => format!("'{op}'"),
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
        check("Patient.name", r#"Member(Ident("Patient"), "name")"#);
        check(
            "a | b.c",
            r#"Binary(Union, Ident("a"), Member(Ident("b"), "c"))"#,
        );
        check(
            "(A.value as Quantity) | (A.value as Range)",
            r#"Binary(Union, As(Member(Ident("A"), "value"), TypeName { namespace: None, name: "Quantity" }), As(Member(Ident("A"), "value"), TypeName { namespace: None, name: "Range" }))"#,
        );
        check(
            "a.where(resolve() is Patient)",
            r#"Call(Some(Ident("a")), Where(Is(Call(None, Resolve), TypeName { namespace: None, name: "Patient" })))"#,
        );
        check(
            "x.exists() and x != false",
            r#"Binary(And, Call(Some(Ident("x")), Exists(None)), Binary(Ne, Ident("x"), Bool(false)))"#,
        );
        check(
            "value.as(FHIR.Quantity)",
            r#"Call(Some(Ident("value")), As(TypeName { namespace: Some("FHIR"), name: "Quantity" }))"#,
        );
        check(
            "Bundle.entry[0].resource",
            r#"Member(Index(Member(Ident("Bundle"), "entry"), Num("0")), "resource")"#,
        );
        check("%resource.a", r#"Member(Resource, "a")"#);
        check(
            "a or b and c",
            r#"Binary(Or, Ident("a"), Binary(And, Ident("b"), Ident("c")))"#,
        );
    }

    #[test]
    fn rejects() {
        check("", "error: at 0: unexpected end of expression");
        check(
            "a.",
            "error: at 2: expected a name after '.', found end of expression",
        );
        check("a.foo()", "error: at 2: unsupported function 'foo'");
        check("a is 'x'", "error: at 5: is takes a type name");
        check("%ucum", "error: at 0: unsupported variable '%ucum'");
        check("a b", "error: at 2: unexpected 'b'");
    }
}
