//! `Guard`: what an allowed interaction may touch. Built from the [`Access`] the authorizer
//! returns for each permission an interaction needs (a conditional update needs its search
//! and its update: all must hold), it checks single resources against patient compartments
//! and granular scope filters.
//!
//! Choices (documented in the README):
//! - A resource outside the reach of a restricted scope is a **403** (`forbidden`), for reads
//!   and writes alike: the caller named it, and a 404 would make it look absent (a client
//!   might then try to create it).
//! - The patient compartment is, for now, the `Patient` whose id is the `patient` claim and
//!   every resource whose top-level `subject` or `patient` references `Patient/{claim}`
//!   (relative, or absolute under this tenant's base).
//! - Granular filters (`?category=laboratory`) are checked as tokens on the element of the
//!   same name: a code or string, a Coding or a CodeableConcept (or a list of them), with the
//!   token forms `code`, `system|code`, `|code` and `system|`, and `,` for alternatives. A
//!   filter that cannot be checked that way (modifiers, `_` parameters, other element shapes)
//!   refuses the request with 403 rather than guessing.

use hearth_auth::{Access, Restriction};
use hearth_store::StoredVersion;
use serde_json::Value;

use crate::error::ApiError;

/// The accesses granted for one interaction; every one must admit a resource.
#[derive(Debug, Clone)]
pub struct Guard {
    accesses: Vec<Access>,
}

/// Why a single resource did not pass.
enum Miss {
    /// Outside every restriction.
    Outside,
    /// A filter that cannot be evaluated on one resource.
    Unchecked(String),
}

impl Guard {
    pub fn new(accesses: Vec<Access>) -> Guard {
        Guard { accesses }
    }

    /// Whether no access is restricted (nothing to check on resources).
    pub fn is_full(&self) -> bool {
        self.accesses.iter().all(|a| matches!(a, Access::Full))
    }

    /// Ok when `resource` (of type `rt`, in the tenant whose FHIR base is `base`) is within
    /// reach of every access.
    pub fn check(&self, base: &str, rt: &str, resource: &Value) -> Result<(), ApiError> {
        for access in &self.accesses {
            let Access::Restricted(restrictions) = access else {
                continue;
            };
            let mut unchecked = None;
            let mut admitted = false;
            for restriction in restrictions {
                match admits(restriction, base, rt, resource) {
                    Ok(()) => {
                        admitted = true;
                        break;
                    }
                    Err(Miss::Unchecked(what)) => unchecked = Some(what),
                    Err(Miss::Outside) => {}
                }
            }
            if !admitted {
                return Err(match unchecked {
                    Some(what) => ApiError::forbidden(format!(
                        "the scope filter '{what}' cannot be checked on a single resource"
                    )),
                    None => ApiError::forbidden("the resource is outside the token's scopes"),
                });
            }
        }
        Ok(())
    }

    /// [`Guard::check`] on a stored version; a version without content (a delete) cannot be
    /// checked and is refused when restricted.
    pub fn check_stored(&self, base: &str, version: &StoredVersion) -> Result<(), ApiError> {
        if self.is_full() {
            return Ok(());
        }
        let body = version
            .body
            .as_deref()
            .ok_or_else(|| ApiError::forbidden("the resource is outside the token's scopes"))?;
        let resource: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::internal(format!("stored resource unreadable: {e}")))?;
        self.check(base, version.key.rt.as_str(), &resource)
    }
}

fn admits(restriction: &Restriction, base: &str, rt: &str, resource: &Value) -> Result<(), Miss> {
    if let Some(patient) = &restriction.patient
        && !in_patient_compartment(patient, base, rt, resource)
    {
        return Err(Miss::Outside);
    }
    for (param, value) in &restriction.filters {
        if !filter_matches(param, value, resource)? {
            return Err(Miss::Outside);
        }
    }
    Ok(())
}

fn in_patient_compartment(patient: &str, base: &str, rt: &str, resource: &Value) -> bool {
    if rt == "Patient" {
        return resource.get("id").and_then(Value::as_str) == Some(patient);
    }
    let relative = format!("Patient/{patient}");
    let absolute = format!("{base}/{relative}");
    let points_to_patient = |reference: &Value| {
        reference
            .get("reference")
            .and_then(Value::as_str)
            .is_some_and(|r| r == relative || r == absolute)
    };
    ["subject", "patient"]
        .into_iter()
        .filter_map(|name| resource.get(name))
        .any(|element| match element {
            Value::Array(items) => items.iter().any(points_to_patient),
            single => points_to_patient(single),
        })
}

/// Whether `resource` matches the token filter `param=value`.
fn filter_matches(param: &str, value: &str, resource: &Value) -> Result<bool, Miss> {
    let unchecked = || Miss::Unchecked(format!("{param}={value}"));
    if param.is_empty() || !param.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(unchecked());
    }
    let Some(element) = resource.get(param) else {
        return Ok(false);
    };
    let items: &[Value] = match element {
        Value::Array(items) => items,
        single => std::slice::from_ref(single),
    };
    let mut codings: Vec<(Option<&str>, Option<&str>)> = Vec::new();
    for item in items {
        match item {
            Value::String(code) => codings.push((None, Some(code))),
            Value::Object(map) if map.contains_key("coding") => {
                let Some(list) = map.get("coding").and_then(Value::as_array) else {
                    return Err(unchecked());
                };
                for coding in list {
                    codings.push(system_and_code(coding));
                }
            }
            Value::Object(map) if map.contains_key("code") || map.contains_key("system") => {
                codings.push(system_and_code(item));
            }
            // CodeableConcept with text only matches nothing; anything else is not a token.
            Value::Object(map) if map.keys().all(|k| k == "text" || k == "extension") => {}
            _ => return Err(unchecked()),
        }
    }
    Ok(value.split(',').any(|alternative| {
        let (system, code) = match alternative.split_once('|') {
            None => (None, Some(alternative)),
            Some(("", code)) => (Some(None), Some(code)),
            Some((system, "")) => (Some(Some(system)), None),
            Some((system, code)) => (Some(Some(system)), Some(code)),
        };
        codings.iter().any(|(s, c)| {
            let system_ok = match system {
                None => true,
                Some(None) => s.is_none(),
                Some(Some(wanted)) => *s == Some(wanted),
            };
            let code_ok = code.is_none_or(|wanted| *c == Some(wanted));
            system_ok && code_ok
        })
    }))
}

fn system_and_code(coding: &Value) -> (Option<&str>, Option<&str>) {
    (
        coding.get("system").and_then(Value::as_str),
        coding.get("code").and_then(Value::as_str),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BASE: &str = "http://h/tenant/t";

    fn restricted(patient: Option<&str>, filters: &[(&str, &str)]) -> Guard {
        Guard::new(vec![Access::Restricted(vec![Restriction {
            patient: patient.map(str::to_owned),
            filters: filters
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }])])
    }

    /// `Ok(true)`: admitted; `Ok(false)`: outside; `Err(())`: cannot be checked.
    fn check(guard: &Guard, rt: &str, resource: Value, expected: Result<bool, ()>) {
        let got = match guard.check(BASE, rt, &resource) {
            Ok(()) => Ok(true),
            Err(e) if e.issues[0].diagnostics.contains("cannot be checked") => Err(()),
            Err(_) => Ok(false),
        };
        assert_eq!(got, expected, "{guard:?} {resource}");
    }

    #[test]
    fn patient_compartment() {
        let g = restricted(Some("p1"), &[]);
        check(&g, "Patient", json!({"id": "p1"}), Ok(true));
        check(&g, "Patient", json!({"id": "p2"}), Ok(false));
        check(&g, "Patient", json!({}), Ok(false));
        let obs = |r: &str| json!({"resourceType": "Observation", "subject": {"reference": r}});
        check(&g, "Observation", obs("Patient/p1"), Ok(true));
        check(
            &g,
            "Observation",
            obs(&format!("{BASE}/Patient/p1")),
            Ok(true),
        );
        check(&g, "Observation", obs("Patient/p10"), Ok(false));
        check(&g, "Observation", obs("Group/p1"), Ok(false));
        check(
            &g,
            "Observation",
            obs("http://elsewhere/Patient/p1"),
            Ok(false),
        );
        check(
            &g,
            "AllergyIntolerance",
            json!({"patient": {"reference": "Patient/p1"}}),
            Ok(true),
        );
        check(&g, "Observation", json!({"status": "final"}), Ok(false));
        assert!(Guard::new(vec![Access::Full]).is_full());
        assert!(!g.is_full());
    }

    #[test]
    fn granular_filters() {
        let lab = json!({"category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}], "status": "final"});
        let sys = "http://terminology.hl7.org/CodeSystem/observation-category";
        for (filter, expected) in [
            (("category", "laboratory".to_owned()), Ok(true)),
            (("category", format!("{sys}|laboratory")), Ok(true)),
            (("category", format!("{sys}|")), Ok(true)),
            (("category", "|laboratory".to_owned()), Ok(false)),
            (("category", "vital-signs".to_owned()), Ok(false)),
            (("category", "vital-signs,laboratory".to_owned()), Ok(true)),
            (
                ("category", "http://other|laboratory".to_owned()),
                Ok(false),
            ),
            (("status", "final".to_owned()), Ok(true)),
            (("status", "|final".to_owned()), Ok(true)),
            (("status", "amended".to_owned()), Ok(false)),
            (("code", "x".to_owned()), Ok(false)),
            (("category:not", "laboratory".to_owned()), Err(())),
            (("_tag", "x".to_owned()), Err(())),
            (("value-quantity", "5".to_owned()), Err(())),
        ] {
            let g = restricted(None, &[(filter.0, &filter.1)]);
            check(&g, "Observation", lab.clone(), expected);
        }
        let coded =
            json!({"code": {"system": "s", "code": "c"}, "subject": {"reference": "Patient/p"}});
        check(
            &restricted(None, &[("code", "s|c")]),
            "X",
            coded.clone(),
            Ok(true),
        );
        check(
            &restricted(None, &[("subject", "Patient/p")]),
            "X",
            coded.clone(),
            Err(()),
        );
        check(
            &restricted(Some("p"), &[("code", "c")]),
            "X",
            coded.clone(),
            Ok(true),
        );
        check(
            &restricted(Some("q"), &[("code", "c")]),
            "X",
            coded,
            Ok(false),
        );
    }

    #[test]
    fn every_access_must_admit() {
        let g = Guard::new(vec![
            Access::Full,
            Access::Restricted(vec![
                Restriction {
                    patient: Some("a".into()),
                    filters: vec![],
                },
                Restriction {
                    patient: Some("b".into()),
                    filters: vec![],
                },
            ]),
        ]);
        check(&g, "Patient", json!({"id": "b"}), Ok(true));
        check(&g, "Patient", json!({"id": "c"}), Ok(false));
    }
}
