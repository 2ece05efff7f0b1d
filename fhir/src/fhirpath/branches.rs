//! Union branches led by a resource type: many official search expressions are one union over
//! the types a parameter applies to (`AllergyIntolerance.patient | CarePlan.subject… | …`, up to
//! 30 branches). A branch led by another resource type yields nothing, so evaluating only the
//! branches of the resource's own type gives the same result for a fraction of the work.

use super::parse::{BinOp, Expr, Function};
use crate::ResourceType;

/// One operand of a top-level union chain, with the resource type leading it, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    pub leading_type: Option<String>,
    pub expr: Expr,
}

impl Branch {
    /// Whether the branch can yield something on a resource of type `rt`.
    pub fn applies_to(&self, rt: &str) -> bool {
        self.leading_type.as_deref().is_none_or(|t| t == rt)
    }
}

/// The operands of a left-nested union chain (`a | b | c`), or none when `tree` is not a union
/// of at least two operands.
pub fn split(tree: &Expr) -> Vec<Branch> {
    let mut operands = Vec::new();
    collect(tree, &mut operands);
    if operands.len() < 2 {
        return Vec::new();
    }
    operands
        .into_iter()
        .map(|expr| Branch {
            leading_type: leading_type(expr),
            expr: expr.clone(),
        })
        .collect()
}

fn collect<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    match expr {
        Expr::Binary(BinOp::Union, left, right) => {
            collect(left, out);
            out.push(right);
        }
        other => out.push(other),
    }
}

/// The resource type an operand starts from, when every step after it keeps an empty input
/// empty (so a resource of another type gives nothing). `exists()`, `count()`, `not()` and
/// the like turn nothing into something; an operand using them has no leading type.
fn leading_type(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Ident(name) => name
            .parse::<ResourceType>()
            .ok()
            .map(|t| t.as_str().to_owned()),
        Expr::Member(base, _) | Expr::Index(base, _) | Expr::Is(base, _) | Expr::As(base, _) => {
            leading_type(base)
        }
        Expr::Call(Some(base), function) if keeps_empty(function) => leading_type(base),
        _ => None,
    }
}

fn keeps_empty(function: &Function) -> bool {
    matches!(
        function,
        Function::Where(_)
            | Function::Select(_)
            | Function::OfType(_)
            | Function::As(_)
            | Function::Is(_)
            | Function::First
            | Function::Last
            | Function::Tail
            | Function::Single
            | Function::Resolve
            | Function::Extension(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhirpath::parse::parse;

    fn check(source: &str, expected: &[Option<&str>]) {
        let branches = split(&parse(source).unwrap());
        let got: Vec<Option<&str>> = branches.iter().map(|b| b.leading_type.as_deref()).collect();
        assert_eq!(got, expected, "{source}");
    }

    #[test]
    fn leading_types() {
        check("Patient.name", &[]);
        check(
            "Patient.name | Practitioner.name",
            &[Some("Patient"), Some("Practitioner")],
        );
        check(
            "AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient) | (Observation.value as Quantity)",
            &[
                Some("AllergyIntolerance"),
                Some("CarePlan"),
                Some("Observation"),
            ],
        );
        check(
            "Patient.deceased.exists() | Person.name",
            &[None, Some("Person")],
        );
        check("name | Person.name", &[None, Some("Person")]);
        check("NotAType.x | Patient.y", &[None, Some("Patient")]);
    }
}
