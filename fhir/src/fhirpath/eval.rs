//! Evaluation of a parsed expression over a resource's JSON.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::FhirPathError;
use super::node::{Node, NodeType, SystemType};
use super::parse::{BinOp, Expr, Function, TypeName};
use crate::model::type_definition;

pub(crate) type Collection<'a> = Vec<Node<'a>>;

/// What an evaluation needs besides the focus: `%resource`.
pub(crate) struct Context<'a> {
    pub resource: &'a Value,
}

/// The offline `resolve()`: the last `Type/id` of a reference (an optional `/_history/v` after
/// it), as `../shared/tools/sp-eval.js` does for the golden output.
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([A-Z][A-Za-z]+)/([^/]+?)(/_history/[^/]+)?$")
        .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});

fn err(message: impl Into<String>) -> FhirPathError {
    FhirPathError::Evaluation(message.into())
}

fn boolean<'a>(b: bool) -> Collection<'a> {
    vec![Node::system(Value::Bool(b), SystemType::Boolean)]
}

/// Singleton evaluation of a collection as a boolean: empty is unknown (`None`), a single
/// boolean is itself, any other single item is `true`.
fn truth(c: &[Node<'_>]) -> Result<Option<bool>, FhirPathError> {
    match c {
        [] => Ok(None),
        [single] => Ok(Some(single.value.as_bool().unwrap_or(true))),
        _ => Err(err(format!(
            "expected a single boolean, got {} items",
            c.len()
        ))),
    }
}

fn from_truth<'a>(b: Option<bool>) -> Collection<'a> {
    b.map(boolean).unwrap_or_default()
}

/// FHIRPath equality of two items: numbers by value, everything else by JSON equality.
pub(crate) fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn number_literal(n: &str) -> Result<Node<'static>, FhirPathError> {
    let value: Value = serde_json::from_str(n).map_err(|_| err(format!("bad number {n}")))?;
    let ty = if n.contains('.') {
        SystemType::Decimal
    } else {
        SystemType::Integer
    };
    Ok(Node::system(value, ty))
}

pub(crate) fn eval<'a>(
    expr: &Expr,
    focus: &[Node<'a>],
    ctx: &Context<'a>,
) -> Result<Collection<'a>, FhirPathError> {
    Ok(match expr {
        Expr::Str(s) => vec![Node::system(Value::String(s.clone()), SystemType::String)],
        Expr::Num(n) => vec![number_literal(n)?],
        Expr::Bool(b) => boolean(*b),
        Expr::Empty => Vec::new(),
        Expr::This => focus.to_vec(),
        Expr::Resource => vec![Node::resource(ctx.resource)],
        Expr::Ident(name) => {
            let is_type_name = name.starts_with(|c: char| c.is_ascii_uppercase())
                && type_definition(name).is_some();
            if is_type_name {
                focus
                    .iter()
                    .filter(|n| n.is_type(None, name))
                    .cloned()
                    .collect()
            } else {
                members(focus, name)
            }
        }
        Expr::Member(base, name) => members(&eval(base, focus, ctx)?, name),
        Expr::Index(base, index) => {
            let base = eval(base, focus, ctx)?;
            let index = eval(index, focus, ctx)?;
            match index.first().and_then(|n| n.value.as_u64()) {
                Some(i) => base.into_iter().nth(i as usize).into_iter().collect(),
                None => Vec::new(),
            }
        }
        Expr::Call(receiver, function) => {
            let input = match receiver {
                Some(r) => eval(r, focus, ctx)?,
                None => focus.to_vec(),
            };
            call(function, input, ctx)?
        }
        Expr::Is(base, ty) => {
            let base = eval(base, focus, ctx)?;
            is(&base, ty)?
        }
        Expr::As(base, ty) => of_type(eval(base, focus, ctx)?, ty),
        Expr::Binary(op, left, right) => binary(*op, left, right, focus, ctx)?,
    })
}

fn members<'a>(focus: &[Node<'a>], name: &str) -> Collection<'a> {
    let mut out = Vec::new();
    for node in focus {
        node.children(name, &mut out);
    }
    out
}

fn is<'a>(input: &[Node<'a>], ty: &TypeName) -> Result<Collection<'a>, FhirPathError> {
    match input {
        [] => Ok(Vec::new()),
        [single] => Ok(boolean(single.is_type(ty.namespace.as_deref(), &ty.name))),
        _ => Err(err(format!(
            "'is' expects a single item, got {}",
            input.len()
        ))),
    }
}

/// `ofType(T)`, and `as T` / `as(T)` on collections of any size (69 official expressions use
/// `as` on collections).
fn of_type<'a>(input: Collection<'a>, ty: &TypeName) -> Collection<'a> {
    input
        .into_iter()
        .filter(|n| n.is_type(ty.namespace.as_deref(), &ty.name))
        .collect()
}

fn binary<'a>(
    op: BinOp,
    left: &Expr,
    right: &Expr,
    focus: &[Node<'a>],
    ctx: &Context<'a>,
) -> Result<Collection<'a>, FhirPathError> {
    let l = eval(left, focus, ctx)?;
    let r = eval(right, focus, ctx)?;
    Ok(match op {
        BinOp::Union => {
            let mut out = l;
            for n in r {
                if !out.iter().any(|o| equal(&o.value, &n.value)) {
                    out.push(n);
                }
            }
            out
        }
        BinOp::Eq | BinOp::Ne => {
            if l.is_empty() || r.is_empty() {
                return Ok(Vec::new());
            }
            let same =
                l.len() == r.len() && l.iter().zip(&r).all(|(a, b)| equal(&a.value, &b.value));
            boolean(same == (op == BinOp::Eq))
        }
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let (Some(a), Some(b)) = (l.first(), r.first()) else {
                return Ok(Vec::new());
            };
            if l.len() > 1 || r.len() > 1 {
                return Err(err("comparison expects single items"));
            }
            match compare(&a.value, &b.value) {
                None => Vec::new(),
                Some(o) => boolean(match op {
                    BinOp::Lt => o.is_lt(),
                    BinOp::Le => o.is_le(),
                    BinOp::Gt => o.is_gt(),
                    _ => o.is_ge(),
                }),
            }
        }
        BinOp::And => from_truth(match (truth(&l)?, truth(&r)?) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        }),
        BinOp::Or => from_truth(match (truth(&l)?, truth(&r)?) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        }),
        BinOp::Xor => from_truth(match (truth(&l)?, truth(&r)?) {
            (Some(a), Some(b)) => Some(a != b),
            _ => None,
        }),
        BinOp::Implies => from_truth(match (truth(&l)?, truth(&r)?) {
            (Some(false), _) | (_, Some(true)) => Some(true),
            (Some(true), Some(false)) => Some(false),
            _ => None,
        }),
    })
}

fn call<'a>(
    function: &Function,
    input: Collection<'a>,
    ctx: &Context<'a>,
) -> Result<Collection<'a>, FhirPathError> {
    Ok(match function {
        Function::Where(criteria) => {
            let mut out = Vec::new();
            for node in input {
                let result = eval(criteria, std::slice::from_ref(&node), ctx)?;
                if truth(&result)? == Some(true) {
                    out.push(node);
                }
            }
            out
        }
        Function::Select(projection) => {
            let mut out = Vec::new();
            for node in input {
                out.extend(eval(projection, std::slice::from_ref(&node), ctx)?);
            }
            out
        }
        Function::All(criteria) => {
            for node in input {
                let result = eval(criteria, std::slice::from_ref(&node), ctx)?;
                if truth(&result)? != Some(true) {
                    return Ok(boolean(false));
                }
            }
            boolean(true)
        }
        Function::Exists(None) => boolean(!input.is_empty()),
        Function::Exists(Some(criteria)) => {
            let filtered = call(&Function::Where(criteria.clone()), input, ctx)?;
            boolean(!filtered.is_empty())
        }
        Function::Empty => boolean(input.is_empty()),
        Function::Not => from_truth(truth(&input)?.map(|b| !b)),
        Function::First => input.into_iter().take(1).collect(),
        Function::Last => input.into_iter().last().into_iter().collect(),
        Function::Tail => input.into_iter().skip(1).collect(),
        Function::Single => match input.len() {
            0 | 1 => input,
            n => return Err(err(format!("single() on {n} items"))),
        },
        Function::Count => vec![Node::system(
            Value::from(input.len() as u64),
            SystemType::Integer,
        )],
        Function::HasValue => {
            boolean(input.len() == 1 && input[0].is_primitive() && !input[0].value.is_null())
        }
        Function::OfType(ty) | Function::As(ty) => of_type(input, ty),
        Function::Is(ty) => is(&input, ty)?,
        Function::Resolve => input.iter().filter_map(resolve).collect(),
        Function::Extension(url) => {
            let extensions = members(&input, "extension");
            extensions
                .into_iter()
                .filter(|e| e.value.get("url").and_then(Value::as_str) == Some(url))
                .collect()
        }
    })
}

/// A stub `{resourceType, id}` for a reference (a `Reference` or a canonical / uri string).
fn resolve<'a>(node: &Node<'a>) -> Option<Node<'a>> {
    let reference = match node.value.as_ref() {
        Value::String(s) => s.as_str(),
        v => v.get("reference")?.as_str()?,
    };
    let caps = REFERENCE.captures(reference)?;
    let (ty, id) = (caps.get(1)?.as_str(), caps.get(2)?.as_str());
    let mut stub = serde_json::Map::new();
    stub.insert("resourceType".into(), Value::String(ty.into()));
    stub.insert("id".into(), Value::String(id.into()));
    let value = Value::Object(stub);
    let ty = match Node::resource(&value).ty {
        NodeType::Fhir(t) => NodeType::Fhir(t),
        _ => NodeType::Unknown,
    };
    Some(Node {
        value: Cow::Owned(value),
        element: None,
        ty,
    })
}
