//! Evaluation of a parsed FHIRPath expression against a resource, yielding located nodes.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

use super::{
    Expr, Function, PathError, Unsupported, unsupported_in_function, unsupported_operator,
};
use crate::fhirpath::BinOp;

/// One step from a parent object to a child: its JSON key and, for arrays, the item index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub key: String,
    pub index: Option<usize>,
}

/// Where a node lives in the resource: the steps from the root (empty for the resource itself).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub steps: Vec<Step>,
    /// Set when the last step was found through a choice element's base name: the name asked for
    /// (`value`) whose JSON key is typed (`valueQuantity`).
    pub choice_base: Option<String>,
}

impl Location {
    fn child(&self, key: &str, index: Option<usize>, choice_base: Option<&str>) -> Location {
        let mut steps = self.steps.clone();
        steps.push(Step {
            key: key.to_string(),
            index,
        });
        Location {
            steps,
            choice_base: choice_base.map(str::to_string),
        }
    }

    /// The element path without indexes, e.g. `Patient.contact.name`.
    pub fn element_path(&self, resource_type: &str) -> String {
        let mut path = resource_type.to_string();
        for step in &self.steps {
            path.push('.');
            path.push_str(&step.key);
        }
        path
    }
}

/// An item of a result collection: a value from the resource (with its location) or one the
/// expression computed (a literal, a boolean, a count), which has no location.
#[derive(Debug, Clone, PartialEq)]
pub struct Node<'a> {
    pub location: Option<Location>,
    pub value: Cow<'a, Value>,
}

impl<'a> Node<'a> {
    fn computed(value: Value) -> Node<'a> {
        Node {
            location: None,
            value: Cow::Owned(value),
        }
    }
}

/// Evaluates `expr` with the resource `root` as focus.
pub fn evaluate<'a>(expr: &Expr, root: &'a Value) -> Result<Vec<Node<'a>>, PathError> {
    let root_node = Node {
        location: Some(Location::default()),
        value: Cow::Borrowed(root),
    };
    let eval = Evaluator {
        root: root_node.clone(),
    };
    eval.eval(expr, std::slice::from_ref(&root_node), &root_node)
}

struct Evaluator<'a> {
    root: Node<'a>,
}

impl<'a> Evaluator<'a> {
    fn eval(
        &self,
        expr: &Expr,
        focus: &[Node<'a>],
        this: &Node<'a>,
    ) -> Result<Vec<Node<'a>>, PathError> {
        Ok(match expr {
            Expr::Str(s) => vec![Node::computed(Value::String(s.clone()))],
            Expr::Num(n) => vec![Node::computed(number(n)?)],
            Expr::Bool(b) => vec![Node::computed(Value::Bool(*b))],
            Expr::Empty => Vec::new(),
            Expr::This => vec![this.clone()],
            Expr::Resource => vec![self.root.clone()],
            Expr::Ident(name) => {
                let mut out = Vec::new();
                for node in focus {
                    let is_type = name.starts_with(|c: char| c.is_ascii_uppercase())
                        && node.value.get("resourceType").and_then(Value::as_str)
                            == Some(name.as_str());
                    if is_type {
                        out.push(node.clone());
                    } else {
                        children(node, name, &mut out);
                    }
                }
                out
            }
            Expr::Member(base, name) => {
                let mut out = Vec::new();
                for node in self.eval(base, focus, this)? {
                    children(&node, name, &mut out);
                }
                out
            }
            Expr::Index(base, index) => {
                let items = self.eval(base, focus, this)?;
                let index = self.eval(index, focus, this)?;
                let n = match index.as_slice() {
                    [node] => node.value.as_u64(),
                    _ => None,
                };
                let n = n.ok_or_else(|| {
                    PathError::Evaluation("an index must be a single non-negative integer".into())
                })?;
                usize::try_from(n)
                    .ok()
                    .and_then(|n| items.into_iter().nth(n))
                    .into_iter()
                    .collect()
            }
            Expr::Call(receiver, function) => {
                let items = match receiver {
                    Some(base) => self.eval(base, focus, this)?,
                    None => focus.to_vec(),
                };
                self.call(function, items)?
            }
            Expr::Binary(op @ (BinOp::Eq | BinOp::Ne), left, right) => {
                let left = self.eval(left, focus, this)?;
                let right = self.eval(right, focus, this)?;
                if left.is_empty() || right.is_empty() {
                    Vec::new()
                } else {
                    let same = left.len() == right.len()
                        && left
                            .iter()
                            .zip(&right)
                            .all(|(l, r)| equal(&l.value, &r.value));
                    vec![Node::computed(Value::Bool(same == (*op == BinOp::Eq)))]
                }
            }
            Expr::Binary(BinOp::And, left, right) => {
                let l = truth(&self.eval(left, focus, this)?)?;
                let r = truth(&self.eval(right, focus, this)?)?;
                boolean(match (l, r) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                })
            }
            Expr::Binary(BinOp::Or, left, right) => {
                let l = truth(&self.eval(left, focus, this)?)?;
                let r = truth(&self.eval(right, focus, this)?)?;
                boolean(match (l, r) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                })
            }
            Expr::Binary(op, ..) => {
                return Err(unsupported(
                    unsupported_operator(*op).map(Unsupported::Operator),
                ));
            }
            Expr::Is(..) => return Err(unsupported(Some(Unsupported::Operator("is")))),
            Expr::As(..) => return Err(unsupported(Some(Unsupported::Operator("as")))),
        })
    }

    fn call(&self, function: &Function, items: Vec<Node<'a>>) -> Result<Vec<Node<'a>>, PathError> {
        Ok(match function {
            Function::Where(criteria) => self.filter(criteria, items)?,
            Function::Exists(criteria) => {
                let items = match criteria {
                    Some(criteria) => self.filter(criteria, items)?,
                    None => items,
                };
                boolean(Some(!items.is_empty()))
            }
            Function::Empty => boolean(Some(items.is_empty())),
            Function::Not => boolean(truth(&items)?.map(|b| !b)),
            Function::First => items.into_iter().take(1).collect(),
            Function::Last => items.into_iter().last().into_iter().collect(),
            Function::Single if items.len() > 1 => {
                return Err(PathError::Evaluation(format!(
                    "single() found {} items",
                    items.len()
                )));
            }
            Function::Single => items,
            Function::Count => vec![Node::computed(Value::from(items.len()))],
            Function::OfType(type_name) => items
                .into_iter()
                .filter(|n| is_of_type(n, &type_name.name))
                .collect(),
            Function::Extension(url) => {
                let mut out = Vec::new();
                for node in &items {
                    let mut extensions = Vec::new();
                    children(node, "extension", &mut extensions);
                    out.extend(extensions.into_iter().filter(|e| {
                        e.value.get("url").and_then(Value::as_str) == Some(url.as_str())
                    }));
                }
                out
            }
            Function::Select(_)
            | Function::All(_)
            | Function::Tail
            | Function::HasValue
            | Function::As(_)
            | Function::Is(_)
            | Function::Resolve => return Err(unsupported(unsupported_in_function(function))),
        })
    }

    fn filter(&self, criteria: &Expr, items: Vec<Node<'a>>) -> Result<Vec<Node<'a>>, PathError> {
        let mut kept = Vec::new();
        for item in items {
            let result = self.eval(criteria, std::slice::from_ref(&item), &item)?;
            if truth(&result)? == Some(true) {
                kept.push(item);
            }
        }
        Ok(kept)
    }
}

/// The members `name` of `node`, arrays flattened. When the object has no key `name` but has
/// keys `name` + an upper-case type (`valueQuantity` for `value`), those are the choice element.
fn children<'a>(node: &Node<'a>, name: &str, out: &mut Vec<Node<'a>>) {
    let Some(location) = &node.location else {
        return;
    };
    let object: &'a Map<String, Value> = match &node.value {
        Cow::Borrowed(Value::Object(object)) => object,
        _ => return,
    };
    if let Some(value) = object.get(name) {
        push_child(location, name, value, None, out);
        return;
    }
    for (key, value) in object {
        let typed = key
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()));
        if typed {
            push_child(location, key, value, Some(name), out);
        }
    }
}

fn push_child<'a>(
    parent: &Location,
    key: &str,
    value: &'a Value,
    choice: Option<&str>,
    out: &mut Vec<Node<'a>>,
) {
    match value {
        Value::Null => {}
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate().filter(|(_, item)| !item.is_null()) {
                out.push(Node {
                    location: Some(parent.child(key, Some(i), choice)),
                    value: Cow::Borrowed(item),
                });
            }
        }
        _ => out.push(Node {
            location: Some(parent.child(key, None, choice)),
            value: Cow::Borrowed(value),
        }),
    }
}

fn is_of_type(node: &Node<'_>, type_name: &str) -> bool {
    if node.value.get("resourceType").and_then(Value::as_str) == Some(type_name) {
        return true;
    }
    match node.location.as_ref().and_then(|l| l.steps.last()) {
        Some(step) => {
            let suffix = capitalise(type_name);
            step.key.len() > suffix.len() && step.key.ends_with(&suffix)
        }
        None => matches!(
            (&*node.value, type_name),
            (Value::String(_), "string" | "String")
                | (Value::Bool(_), "boolean" | "Boolean")
                | (
                    Value::Number(_),
                    "integer" | "decimal" | "Integer" | "Decimal"
                )
        ),
    }
}

/// `quantity` → `Quantity`: the suffix a type gives a choice element's JSON name.
pub(crate) fn capitalise(type_name: &str) -> String {
    let mut chars = type_name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The error for a construct [`super::parse`] rejects; only an expression that did not come
/// from it gets here.
fn unsupported(construct: Option<Unsupported>) -> PathError {
    let what = construct.map_or_else(|| "unsupported construct".to_string(), |c| c.to_string());
    PathError::Evaluation(format!("{what} in a FHIRPath Patch path"))
}

/// A number literal as written (digits with an optional fraction) as a JSON number.
fn number(text: &str) -> Result<Value, PathError> {
    text.parse::<u64>()
        .ok()
        .map(Value::from)
        .or_else(|| {
            text.parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
        })
        .ok_or_else(|| PathError::Evaluation(format!("bad number '{text}'")))
}

/// FHIRPath equality of two JSON values; numbers compare by value (`1 = 1.0`).
fn equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(l), Value::Number(r)) => match (l.as_f64(), r.as_f64()) {
            (Some(l), Some(r)) => l == r,
            _ => l == r,
        },
        _ => left == right,
    }
}

/// The boolean value of a collection: empty → unknown, one boolean → itself, one other item → true.
fn truth(items: &[Node<'_>]) -> Result<Option<bool>, PathError> {
    match items {
        [] => Ok(None),
        [node] => Ok(Some(node.value.as_bool().unwrap_or(true))),
        _ => Err(PathError::Evaluation(format!(
            "expected a single boolean, found {} items",
            items.len()
        ))),
    }
}

fn boolean<'a>(value: Option<bool>) -> Vec<Node<'a>> {
    value
        .map(|b| Node::computed(Value::Bool(b)))
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::parse;
    use super::*;

    fn patient() -> Value {
        json!({
            "resourceType": "Patient",
            "id": "p1",
            "extension": [{"url": "http://example.org/eye", "valueCode": "blue"}],
            "active": true,
            "identifier": [
                {"system": "http://a", "value": "1"},
                {"system": "http://b", "value": "2"}
            ],
            "name": [
                {"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
                {"use": "usual", "given": ["Jim"]}
            ],
            "deceasedBoolean": false,
            "multipleBirthInteger": 2
        })
    }

    /// `expected` lists each result as `location => value` (`-` for a computed value), joined by
    /// `; `, or `error: ...`.
    fn check(src: &str, expected: &str) {
        let resource = patient();
        let actual = match parse(src).and_then(|expr| evaluate(&expr, &resource)) {
            Ok(nodes) => nodes
                .iter()
                .map(|n| {
                    let at = match &n.location {
                        None => "-".to_string(),
                        Some(l) => {
                            let steps: Vec<String> = l
                                .steps
                                .iter()
                                .map(|s| match s.index {
                                    Some(i) => format!("{}[{i}]", s.key),
                                    None => s.key.clone(),
                                })
                                .collect();
                            format!("/{}", steps.join("/"))
                        }
                    };
                    format!("{at} => {}", n.value)
                })
                .collect::<Vec<_>>()
                .join("; "),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(actual, expected, "evaluating {src:?}");
    }

    #[test]
    fn navigation() {
        check("Patient.id", r#"/id => "p1""#);
        check("id", r#"/id => "p1""#);
        check("Observation.id", "");
        check(
            "Patient.name.given",
            r#"/name[0]/given[0] => "Peter"; /name[0]/given[1] => "James"; /name[1]/given[0] => "Jim""#,
        );
        check("Patient.name[1].given[0]", r#"/name[1]/given[0] => "Jim""#);
        check("Patient.name[5]", "");
        check(
            "Patient.name.given.first()",
            r#"/name[0]/given[0] => "Peter""#,
        );
        check("Patient.name.given.last()", r#"/name[1]/given[0] => "Jim""#);
        check("Patient.deceased", "/deceasedBoolean => false");
        check(
            "Patient.deceased.ofType(boolean)",
            "/deceasedBoolean => false",
        );
        check("Patient.deceased.ofType(dateTime)", "");
        check(
            "Patient.multipleBirth.ofType(FHIR.integer)",
            "/multipleBirthInteger => 2",
        );
        check("Patient.ofType(Patient).id", r#"/id => "p1""#);
        check(
            "Patient.extension('http://example.org/eye').value",
            r#"/extension[0]/valueCode => "blue""#,
        );
        check("Patient.extension('http://other')", "");
        check("%resource.active", "/active => true");
        check("Patient.missing.deeper", "");
    }

    #[test]
    fn filters() {
        check(
            "Patient.identifier.where(system = 'http://b').value",
            r#"/identifier[1]/value => "2""#,
        );
        check(
            "Patient.identifier.where(system != 'http://b').value",
            r#"/identifier[0]/value => "1""#,
        );
        check("Patient.identifier.where(value = 2)", "");
        check(
            "Patient.identifier.where(system = 'http://a' or value = '2').value",
            r#"/identifier[0]/value => "1"; /identifier[1]/value => "2""#,
        );
        check(
            "Patient.identifier.where(system = 'http://a' and value = '2')",
            "",
        );
        check(
            "Patient.name.where(given = 'Jim').use",
            r#"/name[1]/use => "usual""#,
        );
        check(
            "Patient.name.where(family.exists()).use",
            r#"/name[0]/use => "official""#,
        );
        check(
            "Patient.name.where(family.empty()).use",
            r#"/name[1]/use => "usual""#,
        );
        check(
            "Patient.name.where(family.exists().not()).use",
            r#"/name[1]/use => "usual""#,
        );
        check(
            "Patient.name.where($this.use = 'usual').given",
            r#"/name[1]/given[0] => "Jim""#,
        );
        check(
            "Patient.name.where(given.exists($this = 'James')).use",
            r#"/name[0]/use => "official""#,
        );
        check("Patient.where(multipleBirth = 2.0).id", r#"/id => "p1""#);
        check("Patient.where(active = true).id", r#"/id => "p1""#);
        check("Patient.where(active = false).id", "");
    }

    #[test]
    fn computed() {
        check("Patient.name.count()", "- => 2");
        check("Patient.name.exists()", "- => true");
        check("Patient.photo.exists()", "- => false");
        check("Patient.name.single()", "error: single() found 2 items");
        // Collections of different sizes are unequal, not an error.
        check("Patient.where(name.given = 'Jim')", "");
        check(
            "Patient.where(name.given)",
            "error: expected a single boolean, found 3 items",
        );
        check(
            "Patient.name['a']",
            "error: an index must be a single non-negative integer",
        );
        check("{} = 1", "");
    }
}
