//! A small FHIRPath evaluator over `serde_json::Value`, enough to address elements in FHIRPath
//! Patch operations. Results carry their [`Location`] in the resource so callers can mutate it.
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
//! anything else (arithmetic, `<`, `|`, `is`/`as`, `resolve()`, ...) is rejected as a syntax error.

mod eval;
mod lex;
mod parse;

pub(crate) use eval::capitalise;
pub use eval::{Location, Node, Step, evaluate};
pub use parse::{Expr, Function, parse};

/// Why a FHIRPath expression could not be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PathError {
    #[error("at {at}: {message}")]
    Syntax { at: usize, message: String },
    #[error("{0}")]
    Evaluation(String),
}

impl PathError {
    fn syntax(at: usize, message: impl Into<String>) -> PathError {
        PathError::Syntax {
            at,
            message: message.into(),
        }
    }
}
