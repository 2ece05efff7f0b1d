//! The Patient compartment (R4 `CompartmentDefinition/patient`): which resources belong to
//! which patients, for Patient and Group `$export` and patient-context access.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::ResourceType;
use crate::generated::patient_compartment::PATIENT_COMPARTMENT;
use crate::search::extract::{IndexValue, ReferenceKind, extract_param};
use crate::search::registry::Registry;

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
    let Some(params) = patient_compartment_params(rt) else {
        return out;
    };
    if rt.as_str() == "Patient"
        && let Some(id) = resource.get("id").and_then(Value::as_str)
    {
        out.insert(id.to_owned());
    }
    for code in params {
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
    out
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
