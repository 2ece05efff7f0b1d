//! Conversion of FHIRPath results (typed nodes) into index values, by parameter type and the
//! FHIR type of each node.

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::{
    DateValue, IndexValue, NumberValue, QuantityValue, ReferenceKind, ReferenceValue, SpecialValue,
    StringValue, TokenValue,
};
use crate::fhirpath::{Node, NodeType};
use crate::model::TypeKind;
use crate::search::criteria::parse_date_range;
use crate::search::registry::ParamType;

const NAME_PARTS: [&str; 5] = ["family", "given", "prefix", "suffix", "text"];
const ADDRESS_PARTS: [&str; 7] = [
    "line",
    "city",
    "district",
    "state",
    "postalCode",
    "country",
    "text",
];
const CURRENCY_SYSTEM: &str = "urn:iso:std:iso:4217";

/// Lowercase, accents removed (canonical decomposition without combining marks).
pub fn normalize_string(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn texts<'v>(v: &'v Value, field: &str) -> impl Iterator<Item = &'v str> {
    let items: Vec<&Value> = match v.get(field) {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(x) => vec![x],
        None => Vec::new(),
    };
    items.into_iter().filter_map(Value::as_str)
}

/// A primitive's value as text (`true`, `1.50`, `abc`).
fn primitive_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn is_primitive(node: &Node<'_>) -> bool {
    match node.ty {
        NodeType::Fhir(t) => t.kind == TypeKind::Primitive,
        NodeType::System(_) => true,
        _ => !node.value.is_object(),
    }
}

/// Appends the index values of one node for a parameter of type `kind`.
pub(super) fn values(kind: ParamType, node: &Node<'_>, out: &mut Vec<IndexValue>) {
    let v = node.value.as_ref();
    if v.is_null() {
        return;
    }
    match kind {
        ParamType::String => strings(node, out),
        ParamType::Token => tokens(node, out),
        ParamType::Date => dates(node, out),
        ParamType::Number => {
            if let Some(n) = v.as_number().and_then(|n| number(&n.to_string())) {
                out.push(IndexValue::Number(n));
            }
        }
        ParamType::Quantity => out.extend(quantity(node).map(IndexValue::Quantity)),
        ParamType::Reference => out.extend(reference(node).map(IndexValue::Reference)),
        ParamType::Uri => out.extend(v.as_str().map(|s| IndexValue::Uri(s.to_owned()))),
        ParamType::Special => {
            let coordinate = |f: &str| v.get(f).and_then(Value::as_f64);
            if let (Some(latitude), Some(longitude)) =
                (coordinate("latitude"), coordinate("longitude"))
            {
                out.push(IndexValue::Special(SpecialValue::Position {
                    latitude,
                    longitude,
                }));
            }
        }
        // Composite values are built from their components by the caller.
        ParamType::Composite => {}
    }
}

fn string_value(s: &str) -> IndexValue {
    IndexValue::String(StringValue {
        original: s.to_owned(),
        normalized: normalize_string(s),
    })
}

fn strings(node: &Node<'_>, out: &mut Vec<IndexValue>) {
    let v = node.value.as_ref();
    if is_primitive(node) {
        out.extend(primitive_text(v).map(|s| string_value(&s)));
        return;
    }
    let parts: &[&str] = match node.type_name() {
        "HumanName" => &NAME_PARTS,
        "Address" => &ADDRESS_PARTS,
        _ => &[],
    };
    for part in parts {
        out.extend(texts(v, part).map(string_value));
    }
}

fn coding(v: &Value) -> TokenValue {
    TokenValue {
        system: text(v, "system"),
        code: text(v, "code"),
        text: text(v, "display"),
        identifier_type: Vec::new(),
    }
}

fn tokens(node: &Node<'_>, out: &mut Vec<IndexValue>) {
    let v = node.value.as_ref();
    if is_primitive(node) {
        if let Some(code) = primitive_text(v) {
            out.push(IndexValue::Token(TokenValue {
                code: Some(code),
                ..TokenValue::default()
            }));
        }
        return;
    }
    match node.type_name() {
        "Coding" => out.push(IndexValue::Token(coding(v))),
        "CodeableConcept" => {
            for c in v
                .get("coding")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push(IndexValue::Token(coding(c)));
            }
            if let Some(t) = text(v, "text") {
                out.push(IndexValue::Token(TokenValue {
                    text: Some(t),
                    ..TokenValue::default()
                }));
            }
        }
        "Identifier" => {
            let ty = v.get("type");
            out.push(IndexValue::Token(TokenValue {
                system: text(v, "system"),
                code: text(v, "value"),
                text: ty.and_then(|t| text(t, "text")),
                identifier_type: ty
                    .and_then(|t| t.get("coding"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|c| (text(c, "system"), text(c, "code")))
                    .collect(),
            }));
        }
        "ContactPoint" => out.push(IndexValue::Token(TokenValue {
            system: text(v, "system"),
            code: text(v, "value"),
            ..TokenValue::default()
        })),
        _ => {}
    }
}

fn date(original: &str) -> DateValue {
    let range = parse_date_range(original).ok();
    DateValue {
        low: range.map(|r| r.start),
        high: range.map(|r| r.end),
        original: original.to_owned(),
    }
}

fn period(p: &Value) -> DateValue {
    let start = text(p, "start");
    let end = text(p, "end");
    DateValue {
        low: start.as_deref().map(date).and_then(|d| d.low),
        high: end.as_deref().map(date).and_then(|d| d.high),
        original: format!("{}..{}", start.unwrap_or_default(), end.unwrap_or_default()),
    }
}

fn dates(node: &Node<'_>, out: &mut Vec<IndexValue>) {
    let v = node.value.as_ref();
    if is_primitive(node) {
        out.extend(v.as_str().map(|s| IndexValue::Date(date(s))));
        return;
    }
    match node.type_name() {
        "Period" => out.push(IndexValue::Date(period(v))),
        "Timing" => {
            out.extend(texts(v, "event").map(|e| IndexValue::Date(date(e))));
            if let Some(bounds) = v.get("repeat").and_then(|r| r.get("boundsPeriod")) {
                out.push(IndexValue::Date(period(bounds)));
            }
        }
        _ => {}
    }
}

/// A decimal as written, with the range its precision implies.
pub(super) fn number(original: &str) -> Option<NumberValue> {
    let value: f64 = original.parse().ok()?;
    let mantissa = original.split(['e', 'E']).next().unwrap_or(original);
    let exponent: i32 = original
        .split_once(['e', 'E'])
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    let decimals = mantissa.split_once('.').map_or(0, |(_, f)| f.len() as i32) - exponent;
    let half = 0.5 * 10f64.powi(-decimals);
    Some(NumberValue {
        original: original.to_owned(),
        value: Some(value),
        low: Some(value - half),
        high: Some(value + half),
    })
}

fn quantity(node: &Node<'_>) -> Option<QuantityValue> {
    let v = node.value.as_ref();
    let value_of = |q: &Value| {
        q.get("value")
            .and_then(Value::as_number)
            .map(|n| n.to_string())
    };
    if node.is_type(None, "Quantity") {
        let mut number = number(&value_of(v)?)?;
        match v.get("comparator").and_then(Value::as_str) {
            Some("<" | "<=") => number.low = None,
            Some(">" | ">=") => number.high = None,
            _ => {}
        }
        return Some(QuantityValue {
            number,
            system: text(v, "system"),
            code: text(v, "code"),
            unit: text(v, "unit"),
        });
    }
    match node.type_name() {
        "Money" => Some(QuantityValue {
            number: number(&value_of(v)?)?,
            system: Some(CURRENCY_SYSTEM.to_owned()),
            code: text(v, "currency"),
            unit: None,
        }),
        "Range" => {
            let (low, high) = (v.get("low"), v.get("high"));
            let lo = low.and_then(value_of);
            let hi = high.and_then(value_of);
            if lo.is_none() && hi.is_none() {
                return None;
            }
            let unit = [low, high]
                .into_iter()
                .flatten()
                .find(|q| q.get("system").is_some() || q.get("code").is_some());
            Some(QuantityValue {
                number: NumberValue {
                    original: format!(
                        "{}..{}",
                        lo.clone().unwrap_or_default(),
                        hi.clone().unwrap_or_default()
                    ),
                    value: None,
                    low: lo.and_then(|s| s.parse().ok()),
                    high: hi.and_then(|s| s.parse().ok()),
                },
                system: unit.and_then(|q| text(q, "system")),
                code: unit.and_then(|q| text(q, "code")),
                unit: unit.and_then(|q| text(q, "unit")),
            })
        }
        _ => None,
    }
}

/// Splits `[base/]Type/id[/_history/v]`.
fn literal(reference: &str) -> Option<(Option<&str>, &str, &str, Option<&str>)> {
    let (path, version) = match reference.split_once("/_history/") {
        Some((p, v)) => (p, Some(v)),
        None => (reference, None),
    };
    let (rest, id) = path.rsplit_once('/')?;
    let (base, ty) = match rest.rsplit_once('/') {
        Some((b, t)) => (Some(b), t),
        None => (None, rest),
    };
    let is_type = ty.starts_with(|c: char| c.is_ascii_uppercase())
        && ty.chars().all(|c| c.is_ascii_alphabetic());
    (is_type && !id.is_empty()).then_some((base, ty, id, version))
}

fn reference(node: &Node<'_>) -> Option<ReferenceValue> {
    let v = node.value.as_ref();
    let empty = ReferenceValue {
        kind: ReferenceKind::Logical,
        reference: None,
        resource_type: None,
        id: None,
        version: None,
        base_url: None,
        identifier: None,
        display: None,
    };
    if let Some(s) = v.as_str() {
        // canonical / uri: `url[|version]`
        let (url, version) = match s.split_once('|') {
            Some((u, ver)) => (u, Some(ver.to_owned())),
            None => (s, None),
        };
        let parts = literal(url);
        return Some(ReferenceValue {
            kind: ReferenceKind::Canonical,
            reference: Some(s.to_owned()),
            resource_type: parts.map(|p| p.1.to_owned()),
            id: parts.map(|p| p.2.to_owned()),
            version,
            ..empty
        });
    }
    if v.get("resourceType").is_some() {
        // an inline resource (`Bundle.entry[0].resource`)
        let ty = text(v, "resourceType")?;
        let id = text(v, "id");
        return Some(ReferenceValue {
            kind: ReferenceKind::Relative,
            reference: Some(format!("{ty}/{}", id.clone().unwrap_or_default())),
            resource_type: Some(ty),
            id,
            ..empty
        });
    }
    if node.type_name() != "Reference" {
        return None;
    }
    let identifier = v
        .get("identifier")
        .map(|i| (text(i, "system"), text(i, "value")));
    let display = text(v, "display");
    let declared_type = text(v, "type");
    let Some(r) = text(v, "reference") else {
        return identifier.is_some().then_some(ReferenceValue {
            resource_type: declared_type,
            identifier,
            display,
            ..empty
        });
    };
    let mut out = ReferenceValue {
        identifier,
        display,
        resource_type: declared_type,
        ..empty
    };
    if let Some(id) = r.strip_prefix('#') {
        out.kind = ReferenceKind::Contained;
        out.id = Some(id.to_owned());
    } else if r.starts_with("urn:") {
        out.kind = ReferenceKind::Urn;
    } else if let Some((base, ty, id, version)) = literal(&r) {
        out.kind = if base.is_some() {
            ReferenceKind::Absolute
        } else {
            ReferenceKind::Relative
        };
        out.base_url = base.map(str::to_owned);
        out.resource_type = Some(ty.to_owned());
        out.id = Some(id.to_owned());
        out.version = version.map(str::to_owned);
    }
    out.reference = Some(r);
    Some(out)
}
