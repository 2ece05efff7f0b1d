//! Extraction of typed index values: for a resource, every applicable search parameter's
//! expression is evaluated and each item converted to the value type of the parameter. This is
//! what the store indexes, on every write.

mod convert;
#[cfg(test)]
mod tests;
pub mod text;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::registry::{ParamType, Registry, SearchParamDef};
use crate::fhirpath::{FhirPathError, Node};

/// A string parameter's value.
#[derive(Debug, Clone, PartialEq)]
pub struct StringValue {
    /// As written (for `:exact`).
    pub original: String,
    /// Lowercase with accents removed (for the default starts-with and `:contains`).
    pub normalized: String,
}

/// A token parameter's value: one coding, identifier, contact point, code, boolean, uri or id.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TokenValue {
    pub system: Option<String>,
    /// The code, identifier value, contact point value, `true`/`false`...
    pub code: Option<String>,
    /// What `:text` searches: `Coding.display`, `CodeableConcept.text`, `Identifier.type.text`.
    /// A CodeableConcept's text is a row of its own, with no system and code.
    pub text: Option<String>,
    /// For an Identifier, the codings of its `type` (system, code), for `:of-type`.
    pub identifier_type: Vec<(Option<String>, Option<String>)>,
}

/// A date parameter's value as the instants it covers: `[low, high)`, either side open (`None`)
/// for a Period without start or end. Precision widens the range (`2020-03` is all of March);
/// a dateTime without a zone is taken as UTC.
#[derive(Debug, Clone, PartialEq)]
pub struct DateValue {
    pub low: Option<DateTime<Utc>>,
    pub high: Option<DateTime<Utc>>,
    /// As written; a Period as `start..end`.
    pub original: String,
}

/// A decimal with the range its precision implies (`1.50` → `[1.495, 1.505)`), or an interval
/// (a Range, or a Quantity with a comparator) with `value: None` and open sides as `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberValue {
    /// The decimal as written; a Range as `low..high`.
    pub original: String,
    pub value: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// A quantity parameter's value (Quantity and its profiles, Money, Range).
#[derive(Debug, Clone, PartialEq)]
pub struct QuantityValue {
    pub number: NumberValue,
    /// The unit system; `urn:iso:std:iso:4217` for Money.
    pub system: Option<String>,
    /// The unit code; the currency for Money.
    pub code: Option<String>,
    /// The human unit.
    pub unit: Option<String>,
}

/// How a reference is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceKind {
    /// `Patient/123`.
    Relative,
    /// `http://server/fhir/Patient/123`.
    Absolute,
    /// `#id`, a contained resource.
    Contained,
    /// `urn:uuid:...` / `urn:oid:...` (Bundle-internal).
    Urn,
    /// A canonical or uri element (`http://x/StructureDefinition/y|1.0`).
    Canonical,
    /// Only a `Reference.identifier` (for `:identifier`), or something else not resolvable.
    Logical,
}

/// A reference parameter's value.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceValue {
    pub kind: ReferenceKind,
    /// `Reference.reference` or the canonical as written; for an inline resource `Type/id`.
    pub reference: Option<String>,
    /// The target type, from the reference or `Reference.type`.
    pub resource_type: Option<String>,
    pub id: Option<String>,
    /// `_history` version, or a canonical's `|version`.
    pub version: Option<String>,
    /// For absolute references, the server base (`http://server/fhir`).
    pub base_url: Option<String>,
    /// `Reference.identifier` (system, value), for `:identifier`.
    pub identifier: Option<(Option<String>, Option<String>)>,
    pub display: Option<String>,
}

/// A special parameter's value; R4 has one special parameter, `Location.near`.
#[derive(Debug, Clone, PartialEq)]
pub enum SpecialValue {
    Position { latitude: f64, longitude: f64 },
}

/// One combination of a composite parameter's component values, in component order.
#[derive(Debug, Clone, PartialEq)]
pub struct CompositeValue {
    pub components: Vec<IndexValue>,
}

/// One index value of a parameter, by parameter type.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexValue {
    String(StringValue),
    Token(TokenValue),
    Date(DateValue),
    Number(NumberValue),
    Quantity(QuantityValue),
    Reference(ReferenceValue),
    Uri(String),
    Composite(CompositeValue),
    Special(SpecialValue),
}

/// The values of one parameter for one resource.
#[derive(Debug, Clone)]
pub struct Extracted<'r> {
    pub param: &'r SearchParamDef,
    pub values: Vec<IndexValue>,
}

/// A parameter whose expression failed on this resource (it yields no values).
#[derive(Debug, Clone)]
pub struct ExtractError<'r> {
    pub param: &'r SearchParamDef,
    pub error: FhirPathError,
}

/// Everything indexed for one resource.
#[derive(Debug, Clone, Default)]
pub struct Extraction<'r> {
    /// Parameters with at least one value, in registry order.
    pub params: Vec<Extracted<'r>>,
    pub errors: Vec<ExtractError<'r>>,
}

/// Extracts the values of every parameter of `registry` that applies to the resource's type.
pub fn extract<'r>(registry: &'r Registry, resource: &Value) -> Extraction<'r> {
    let mut out = Extraction::default();
    let Some(resource_type) = resource.get("resourceType").and_then(Value::as_str) else {
        return out;
    };
    for param in registry.for_type(resource_type) {
        match extract_param(registry, param, resource) {
            Ok(values) if values.is_empty() => {}
            Ok(values) => out.params.push(Extracted { param, values }),
            Err(error) => out.errors.push(ExtractError { param, error }),
        }
    }
    out
}

/// The values of one parameter (for `_text` and `_content`, which have no expression, the
/// chunks of [`text`]; none for other parameters without one).
/// `registry` resolves the types of a composite's components.
pub fn extract_param(
    registry: &Registry,
    param: &SearchParamDef,
    resource: &Value,
) -> Result<Vec<IndexValue>, FhirPathError> {
    let Some(expression) = &param.expression else {
        let chunks = match param.code.as_str() {
            "_text" => text::narrative(resource),
            "_content" => text::content(resource),
            _ => Vec::new(),
        };
        return Ok(chunks
            .into_iter()
            .map(|normalized| {
                IndexValue::String(StringValue {
                    original: String::new(),
                    normalized,
                })
            })
            .collect());
    };
    let nodes = match resource.get("resourceType").and_then(Value::as_str) {
        Some(resource_type) => expression.evaluate_for_type(resource, resource_type)?,
        None => expression.evaluate(resource)?,
    };
    let mut out = Vec::new();
    if param.kind != ParamType::Composite {
        for node in &nodes {
            convert::values(param.kind, node, &mut out);
        }
        return Ok(out);
    }
    for root in &nodes {
        let mut tuples: Vec<Vec<IndexValue>> = vec![Vec::new()];
        for component in &param.component {
            let kind = registry
                .by_url(&component.definition)
                .map_or(ParamType::Token, |p| p.kind);
            let mut values = Vec::new();
            for node in component.expression.evaluate_at(root, resource)? {
                convert::values(kind, &node, &mut values);
            }
            tuples = tuples
                .into_iter()
                .flat_map(|t| {
                    values.iter().map(move |v| {
                        let mut t = t.clone();
                        t.push(v.clone());
                        t
                    })
                })
                .collect();
        }
        out.extend(
            tuples
                .into_iter()
                .map(|components| IndexValue::Composite(CompositeValue { components })),
        );
    }
    Ok(out)
}

/// The converted values of already evaluated nodes, for callers evaluating their own expressions.
pub fn node_values(kind: ParamType, nodes: &[Node<'_>]) -> Vec<IndexValue> {
    let mut out = Vec::new();
    for node in nodes {
        convert::values(kind, node, &mut out);
    }
    out
}

pub use convert::normalize_string;
pub use text::normalize_text;
