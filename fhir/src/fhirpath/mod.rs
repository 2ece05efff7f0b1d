//! The FHIRPath evaluator for search-parameter expressions: type-aware (with the R4 element
//! model), over `serde_json::Value`, covering what the 1,375 official R4 SearchParameter
//! expressions use (checked against fhirpath.js by `fhir/tests/search_golden.rs`).
//!
//! Supported: paths with a leading type name (`Patient.name`, `Resource.meta.tag`); choice
//! elements by their base name (`Observation.value` finds `valueQuantity`, typed `Quantity`);
//! `_name` siblings of primitives (`birthDate.extension`); indexers; `|`, `=`, `!=`, `<`, `<=`,
//! `>`, `>=`, `and`, `or`, `xor`, `implies`; `is T`, `as T`; string, number and boolean literals,
//! `{}`, `$this` and `%resource`; the functions `where`, `select`, `all`, `exists`, `empty`,
//! `not`, `first`, `last`, `tail`, `single`, `count`, `hasValue`, `ofType`, `as`, `is`,
//! `extension(url)` and an offline `resolve()`.
//!
//! Deliberate differences from a strict engine: `x as T` on a collection keeps the items of type
//! `T` (like `ofType`) instead of failing; a System type name matches the FHIR primitives of that
//! kind (`value.as(DateTime)` finds `valueDateTime`); `resolve()` does no I/O and turns a
//! reference `Type/id` into a stub `{resourceType, id}` so that `resolve() is Patient` works.

mod eval;
pub(crate) mod lex;
mod node;
mod parse;

use serde_json::Value;

pub use node::{Node, NodeType, SystemType};
pub use parse::{BinOp, Expr, Function, TypeName};

/// Why an expression could not be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FhirPathError {
    #[error("at {at}: {message}")]
    Syntax { at: usize, message: String },
    #[error("{0}")]
    Evaluation(String),
}

impl FhirPathError {
    fn syntax(at: usize, message: impl Into<String>) -> FhirPathError {
        FhirPathError::Syntax {
            at,
            message: message.into(),
        }
    }
}

/// A parsed expression; parse once, evaluate many times.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    source: String,
    tree: Expr,
}

impl Expression {
    pub fn parse(source: &str) -> Result<Expression, FhirPathError> {
        Ok(Expression {
            source: source.to_owned(),
            tree: parse::parse(source)?,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn tree(&self) -> &Expr {
        &self.tree
    }

    /// Evaluates with the resource as focus and `%resource`.
    pub fn evaluate<'a>(&self, resource: &'a Value) -> Result<Vec<Node<'a>>, FhirPathError> {
        self.evaluate_at(&Node::resource(resource), resource)
    }

    /// Evaluates with `focus` as focus (a composite parameter's component, relative to the
    /// parameter's result) and `resource` as `%resource`.
    pub fn evaluate_at<'a>(
        &self,
        focus: &Node<'a>,
        resource: &'a Value,
    ) -> Result<Vec<Node<'a>>, FhirPathError> {
        eval::eval(
            &self.tree,
            std::slice::from_ref(focus),
            &eval::Context { resource },
        )
    }
}

#[cfg(test)]
mod tests;
