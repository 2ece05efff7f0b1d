//! The Patient compartment (R4 `CompartmentDefinition/patient`): which resources belong to
//! which patients, for Patient and Group `$export` and patient-context access.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::ResourceType;
use crate::generated::patient_compartment::PATIENT_COMPARTMENT;
use crate::search::extract::{IndexValue, ReferenceKind, extract_param};
use crate::search::registry::{ParamType, Registry};

/// The search parameters linking a resource of type `rt` to a patient, or `None` when the
/// type is not in the Patient compartment (Organization, Medication, ...).
pub fn patient_compartment_params(rt: ResourceType) -> Option<&'static [&'static str]> {
    PATIENT_COMPARTMENT
        .binary_search_by(|(code, _)| code.cmp(&rt.as_str()))
        .ok()
        .map(|i| PATIENT_COMPARTMENT[i].1)
}

/// Whether resources of type `rt` can be in a patient's compartment.
pub fn in_patient_compartment(rt: ResourceType) -> bool {
    patient_compartment_params(rt).is_some()
}

/// The ids of the patients in whose compartments `resource` is: the patients its compartment
/// parameters reference (relative references, and absolute ones when `base` is this server's
/// base URL), and a Patient's own id. Empty for types outside the compartment.
pub fn patients_of(registry: &Registry, resource: &Value, base: Option<&str>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Some(rt) = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<ResourceType>().ok())
    else {
        return out;
    };
    let params: Vec<&str> = match patient_compartment_params(rt) {
        Some(params) => params.to_vec(),
        None => return out,
    };
    if rt.as_str() == "Patient"
        && let Some(id) = resource.get("id").and_then(Value::as_str)
    {
        out.insert(id.to_owned());
    }
    collect_patients(registry, rt, resource, base, params.into_iter(), &mut out);
    out
}

/// The ids of the patients a resource of a type outside the compartment references through
/// any of its reference parameters (a Device's `patient`, a Group's members...); for a type in
/// the compartment, [`patients_of`].
pub fn patients_linked(
    registry: &Registry,
    resource: &Value,
    base: Option<&str>,
) -> BTreeSet<String> {
    let Some(rt) = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<ResourceType>().ok())
    else {
        return BTreeSet::new();
    };
    if in_patient_compartment(rt) {
        return patients_of(registry, resource, base);
    }
    let mut out = BTreeSet::new();
    let codes = registry
        .for_type(rt.as_str())
        .filter(|p| p.kind == ParamType::Reference)
        .map(|p| p.code.as_str());
    collect_patients(registry, rt, resource, base, codes, &mut out);
    out
}

fn collect_patients<'a>(
    registry: &Registry,
    rt: ResourceType,
    resource: &Value,
    base: Option<&str>,
    codes: impl Iterator<Item = &'a str>,
    out: &mut BTreeSet<String>,
) {
    for code in codes {
        let Some(param) = registry.get(rt.as_str(), code) else {
            continue;
        };
        // Values of an expression that fails to evaluate cannot link the resource.
        let Ok(values) = extract_param(registry, param, resource) else {
            continue;
        };
        for value in values {
            let IndexValue::Reference(r) = value else {
                continue;
            };
            let local = match r.kind {
                ReferenceKind::Relative => true,
                ReferenceKind::Absolute => base.is_some() && r.base_url.as_deref() == base,
                _ => false,
            };
            if local
                && r.resource_type.as_deref() == Some("Patient")
                && let Some(id) = r.id
            {
                out.insert(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn types_and_params() {
        let cases: &[(&str, Option<&[&str]>)] = &[
            ("Observation", Some(&["subject", "performer"])),
            ("Patient", Some(&["link"])),
            ("Organization", None),
            ("Medication", None),
        ];
        for (rt, params) in cases {
            let rt: ResourceType = rt.parse().unwrap();
            assert_eq!(patient_compartment_params(rt), *params, "{rt}");
        }
        let listed = ResourceType::all()
            .filter(|rt| in_patient_compartment(*rt))
            .count();
        assert_eq!(
            listed, 66,
            "every compartment type is a known resource type"
        );
    }

    #[test]
    fn patients_linked_outside_the_compartment() {
        let device = json!({"resourceType": "Device", "patient": {"reference": "Patient/d1"},
                            "owner": {"reference": "Organization/o"}});
        let got: Vec<String> = patients_linked(Registry::r4(), &device, None)
            .into_iter()
            .collect();
        assert_eq!(got, ["d1"]);
        assert!(
            patients_of(Registry::r4(), &device, None).is_empty(),
            "Device is not in the compartment"
        );
        let org = json!({"resourceType": "Organization", "name": "x"});
        assert!(patients_linked(Registry::r4(), &org, None).is_empty());
    }

    #[test]
    fn patients_of_resources() {
        let base = Some("http://h/tenant/t");
        let cases = [
            (
                json!({"resourceType": "Observation", "status": "final", "code": {},
                    "subject": {"reference": "Patient/p1"},
                    "performer": [{"reference": "Practitioner/d"},
                                  {"reference": "http://h/tenant/t/Patient/p2"},
                                  {"reference": "http://elsewhere/Patient/p3"}]}),
                vec!["p1", "p2"],
            ),
            (
                json!({"resourceType": "Patient", "id": "p9",
                    "link": [{"other": {"reference": "Patient/p8"}, "type": "seealso"}]}),
                vec!["p8", "p9"],
            ),
            (
                json!({"resourceType": "Encounter", "status": "finished", "class": {},
                    "subject": {"reference": "Group/g"}}),
                vec![],
            ),
            (json!({"resourceType": "Organization", "id": "o"}), vec![]),
            (
                json!({"resourceType": "Claim", "patient": {"reference": "Patient/c"}}),
                vec!["c"],
            ),
        ];
        for (resource, expected) in cases {
            let got: Vec<String> = patients_of(Registry::r4(), &resource, base)
                .into_iter()
                .collect();
            assert_eq!(got, expected, "{resource}");
        }
    }
}
