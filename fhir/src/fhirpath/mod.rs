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

mod branches;
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
    /// The operands of a top-level union, each with its leading resource type (empty when the
    /// expression is not such a union).
    branches: Vec<branches::Branch>,
}

impl Expression {
    pub fn parse(source: &str) -> Result<Expression, FhirPathError> {
        let tree = parse::parse(source)?;
        Ok(Expression {
            source: source.to_owned(),
            branches: branches::split(&tree),
            tree,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn tree(&self) -> &Expr {
        &self.tree
    }

    /// Like [`Expression::evaluate`] on a resource of type `resource_type`, skipping the union
    /// operands led by another resource type (they yield nothing on it). The result is the same,
    /// in the same order.
    pub fn evaluate_for_type<'a>(
        &self,
        resource: &'a Value,
        resource_type: &str,
    ) -> Result<Vec<Node<'a>>, FhirPathError> {
        if self.branches.iter().all(|b| b.applies_to(resource_type)) {
            return self.evaluate(resource);
        }
        let focus = Node::resource(resource);
        let context = eval::Context { resource };
        let mut out: Vec<Node<'a>> = Vec::new();
        for (i, branch) in self.branches.iter().enumerate() {
            if !branch.applies_to(resource_type) {
                continue;
            }
            let nodes = eval::eval(&branch.expr, std::slice::from_ref(&focus), &context)?;
            if i == 0 {
                // As in `a | b`: the left operand is taken as is, the others without repeats.
                out = nodes;
            } else {
                for node in nodes {
                    if !out.iter().any(|o| eval::equal(&o.value, &node.value)) {
                        out.push(node);
                    }
                }
            }
        }
        Ok(out)
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
