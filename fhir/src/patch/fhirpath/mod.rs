//! Locating elements for FHIRPath Patch: paths are parsed by the crate's FHIRPath parser
//! ([`crate::fhirpath`]) and evaluated here over `serde_json::Value`, each result carrying its
//! [`Location`] in the resource so callers can mutate it.
//!
//! Supported: member paths (`Patient.name.given`) where a leading type name matches
//! `resourceType`; indexers `[n]`; `where(...)` with `=`, `!=`, `and`, `or`, parentheses, string,
//! number and boolean literals, `{}`, `$this` and `%resource`; the functions `exists()`,
//! `exists(criteria)`, `empty()`, `not()`, `first()`, `last()`, `single()`, `count()`,
//! `ofType(T)` and `extension('url')`; choice elements by their base name (`Observation.value`
//! finds `valueQuantity`).
//!
//! Known limits, all because there is no element model here: primitives are the JSON values
//! (so `birthDate = '1974-12-25'` compares as strings and there are no date literals); the
//! `_element` siblings holding primitive ids and extensions are invisible; `ofType(T)` keeps a
//! node only when its JSON key ends in `T` (choice elements) or its `resourceType` is `T`;
//! anything else the parser accepts (`<`, `|`, `is`/`as`, `select()`, `resolve()`, ...) is
//! rejected by [`parse`] as a syntax error, as is what it does not (arithmetic, date literals).

mod eval;

use crate::fhirpath::lex::{Token, tokenize};
use crate::fhirpath::{BinOp, Expression, FhirPathError};

pub use crate::fhirpath::{Expr, Function};
pub(crate) use eval::capitalise;
pub use eval::{Location, Node, Step, evaluate};

/// Why a FHIRPath expression could not be parsed or evaluated: the crate's FHIRPath error, whose
/// `Syntax` variant [`parse`] also uses for constructs the evaluator does not support.
pub type PathError = FhirPathError;

/// Parses `src` with the crate's FHIRPath parser and rejects, as a syntax error at its offset,
/// the first construct [`evaluate`] does not support.
pub fn parse(src: &str) -> Result<Expr, PathError> {
    let expr = Expression::parse(src)?.tree().clone();
    match first_unsupported(&expr) {
        None => Ok(expr),
        Some(construct) => Err(PathError::Syntax {
            at: construct.offset(src),
            message: construct.to_string(),
        }),
    }
}

/// A construct the parser accepts but the location evaluator does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unsupported {
    /// A function call, by its FHIRPath name.
    Function(&'static str),
    /// A binary operator, or the type operators `is` / `as`, as written.
    Operator(&'static str),
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unsupported::Function(name) => write!(f, "unsupported function '{name}'"),
            Unsupported::Operator(op) => write!(f, "unsupported operator '{op}'"),
        }
    }
}

impl Unsupported {
    /// The byte offset of the construct's first occurrence in `src` (0 if it cannot be found).
    /// It is the first: [`first_unsupported`] walks in source order, so no earlier occurrence of
    /// the same function or operator can have been accepted.
    fn offset(self, src: &str) -> usize {
        let Ok(tokens) = tokenize(src) else {
            return 0;
        };
        let found = (0..tokens.len()).find(|&i| {
            let next = tokens.get(i + 1).map(|(t, _)| t);
            let previous = i.checked_sub(1).map(|p| &tokens[p].0);
            match (self, &tokens[i].0) {
                (Unsupported::Function(name), Token::Ident(word)) => {
                    word == name && next == Some(&Token::LParen)
                }
                (Unsupported::Operator(op), Token::Op(symbol)) => op == *symbol,
                // A keyword operator follows a complete operand; `is`/`as` precede a type name.
                (Unsupported::Operator(op), Token::Ident(word)) => {
                    word == op
                        && previous.is_some_and(ends_operand)
                        && (!matches!(op, "is" | "as") || next != Some(&Token::LParen))
                }
                _ => false,
            }
        });
        found.map_or(0, |i| tokens[i].1)
    }
}

fn ends_operand(token: &Token) -> bool {
    matches!(
        token,
        Token::Ident(_)
            | Token::This
            | Token::Env(_)
            | Token::Str(_)
            | Token::Num(_)
            | Token::RParen
            | Token::RBracket
            | Token::RBrace
    )
}

/// The first construct in `expr`, in source order, that [`evaluate`] does not support.
pub(crate) fn first_unsupported(expr: &Expr) -> Option<Unsupported> {
    match expr {
        Expr::Str(_)
        | Expr::Num(_)
        | Expr::Bool(_)
        | Expr::Empty
        | Expr::This
        | Expr::Resource
        | Expr::Ident(_) => None,
        Expr::Member(base, _) => first_unsupported(base),
        Expr::Index(base, index) => first_unsupported(base).or_else(|| first_unsupported(index)),
        Expr::Call(receiver, function) => receiver
            .as_deref()
            .and_then(first_unsupported)
            .or_else(|| unsupported_in_function(function)),
        Expr::Binary(op, left, right) => first_unsupported(left)
            .or_else(|| unsupported_operator(*op).map(Unsupported::Operator))
            .or_else(|| first_unsupported(right)),
        Expr::Is(operand, _) => first_unsupported(operand).or(Some(Unsupported::Operator("is"))),
        Expr::As(operand, _) => first_unsupported(operand).or(Some(Unsupported::Operator("as"))),
    }
}

fn unsupported_in_function(function: &Function) -> Option<Unsupported> {
    let name = match function {
        Function::Where(criteria) | Function::Exists(Some(criteria)) => {
            return first_unsupported(criteria);
        }
        Function::Exists(None)
        | Function::Empty
        | Function::Not
        | Function::First
        | Function::Last
        | Function::Single
        | Function::Count
        | Function::OfType(_)
        | Function::Extension(_) => return None,
        Function::Select(_) => "select",
        Function::All(_) => "all",
        Function::Tail => "tail",
        Function::HasValue => "hasValue",
        Function::As(_) => "as",
        Function::Is(_) => "is",
        Function::Resolve => "resolve",
    };
    Some(Unsupported::Function(name))
}

/// The operator as written, when [`evaluate`] does not support it.
fn unsupported_operator(op: BinOp) -> Option<&'static str> {
    match op {
        BinOp::Eq | BinOp::Ne | BinOp::And | BinOp::Or => None,
        BinOp::Lt => Some("<"),
        BinOp::Le => Some("<="),
        BinOp::Gt => Some(">"),
        BinOp::Ge => Some(">="),
        BinOp::Union => Some("|"),
        BinOp::Xor => Some("xor"),
        BinOp::Implies => Some("implies"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A supported path parses to the same tree as with the crate's parser.
    fn accepts(src: &str) {
        let tree = Expression::parse(src).map(|e| e.tree().clone());
        assert_eq!(parse(src), tree, "parsing {src:?}");
        assert!(parse(src).is_ok(), "parsing {src:?}");
    }

    /// `expected` is the error message.
    fn rejects(src: &str, expected: &str) {
        let message = parse(src).err().map(|e| e.to_string());
        assert_eq!(message.as_deref(), Some(expected), "parsing {src:?}");
    }

    #[test]
    fn accepts_what_the_evaluator_supports() {
        accepts("Patient.name[1].given");
        accepts("identifier.where(system = 'x' and value != 'y' or $this = {})");
        accepts("value.ofType(FHIR.Quantity)");
        accepts("where(active = true).exists(period.empty().not())");
        accepts("%resource.extension('http://x').first()");
        // Element names that are also keywords are members, not operators.
        accepts("a.is.as.xor");
    }

    #[test]
    fn rejects_the_unsupported_with_its_offset() {
        rejects("", "at 0: unexpected end of expression");
        rejects(
            "Patient..name",
            "at 8: expected a name after '.', found '.'",
        );
        rejects(
            "Patient.name.resolve()",
            "at 13: unsupported function 'resolve'",
        );
        rejects(
            "name.where(given.select($this).exists())",
            "at 17: unsupported function 'select'",
        );
        rejects(
            "name.tail().hasValue()",
            "at 5: unsupported function 'tail'",
        );
        rejects("a.as(Quantity)", "at 2: unsupported function 'as'");
        rejects("a.where(b < 1)", "at 10: unsupported operator '<'");
        rejects("a.where(b >= 1)", "at 10: unsupported operator '>='");
        rejects("name | telecom", "at 5: unsupported operator '|'");
        rejects("a.where(b xor c)", "at 10: unsupported operator 'xor'");
        rejects("a implies (b)", "at 2: unsupported operator 'implies'");
        rejects("value is Quantity", "at 6: unsupported operator 'is'");
        rejects(
            "(value as Quantity).unit",
            "at 7: unsupported operator 'as'",
        );
        // The first in source order, not the outermost.
        rejects("a.where(b.is(T)) | c", "at 10: unsupported function 'is'");
        // What the parser itself rejects.
        rejects("a + 1", "at 2: unsupported character '+'");
        rejects("birthDate = @1974", "at 12: unsupported character '@'");
        rejects("a div 2", "at 2: unexpected 'div'");
        rejects("%ucum", "at 0: unsupported variable '%ucum'");
    }
}
