//! Snapshots of the document (a subset: every path with its methods, the Patient paths and the
//! Patient schemas) and structural checks over the whole of it.
//! `UPDATE_EXPECT=1 cargo test -p hearth-openapi` rewrites the snapshots.

use std::time::Instant;

use expect_test::expect_file;
use serde_json::Value;

use super::*;

fn document() -> Value {
    serde_json::from_slice(document_json()).expect("document is JSON")
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("serialize") + "\n"
}

#[test]
fn snapshot_paths() {
    let doc = document();
    let mut lines = String::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let methods: Vec<_> = item
            .as_object()
            .expect("path item")
            .keys()
            .filter(|k| k.as_str() != "parameters")
            .map(|k| k.to_uppercase())
            .collect();
        lines.push_str(&format!("{path} {}\n", methods.join(" ")));
    }
    expect_file!["../snapshots/paths.txt"].assert_eq(&lines);
}

#[test]
fn snapshot_patient() {
    let doc = document();
    let mut patient = serde_json::Map::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if path.starts_with("/tenant/{tenantId}/Patient") {
            patient.insert(path.clone(), item.clone());
        }
    }
    let schemas = &doc["components"]["schemas"];
    let mut components = serde_json::Map::new();
    for name in [
        "Patient",
        "Patient_Contact",
        "Patient_Communication",
        "Patient_Link",
        "HumanName",
        "Element",
        "date",
        "Resource",
    ] {
        components.insert(name.into(), schemas[name].clone());
    }
    let snapshot = serde_json::json!({
        "openapi": doc["openapi"],
        "security": doc["security"],
        "paths": patient,
        "components": {
            "schemas": components,
            "parameters": doc["components"]["parameters"],
            "responses": doc["components"]["responses"],
            "headers": doc["components"]["headers"],
            "securitySchemes": doc["components"]["securitySchemes"],
        },
    });
    expect_file!["../snapshots/patient.json"].assert_eq(&pretty(&snapshot));
}

#[test]
fn snapshot_planned_search() {
    let all = serde_json::to_value(build(ENDPOINTS)).expect("serialize");
    let search = &all["paths"]["/tenant/{tenantId}/Observation"]["get"];
    expect_file!["../snapshots/observation-search.json"].assert_eq(&pretty(search));
}

/// Every `$ref` in the document points at a component that exists.
fn check_refs(value: &Value, doc: &Value, missing: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let pointer = r.trim_start_matches('#');
                if doc.pointer(pointer).is_none() {
                    missing.push(r.clone());
                }
            }
            map.values().for_each(|v| check_refs(v, doc, missing));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(v, doc, missing)),
        _ => {}
    }
}

#[test]
fn whole_document_is_consistent() {
    let started = Instant::now();
    let doc = serde_json::to_value(build(ENDPOINTS)).expect("serialize");
    let elapsed = started.elapsed();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut missing = Vec::new();
    check_refs(&doc, &doc, &mut missing);
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), "dangling refs: {missing:?}");
    let paths = doc["paths"].as_object().expect("paths");
    for rt in hearth_fhir::ResourceType::all() {
        for suffix in [
            "",
            "/{id}",
            "/{id}/_history",
            "/{id}/_history/{vid}",
            "/_history",
        ] {
            let path = format!("/tenant/{{tenantId}}/{rt}{suffix}");
            assert!(paths.contains_key(&path), "{path}");
        }
    }
    let mut ids = std::collections::HashSet::new();
    for item in paths.values() {
        for op in item.as_object().expect("item").values() {
            if let Some(id) = op["operationId"].as_str() {
                assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            }
        }
    }
    let size = document_json().len();
    eprintln!("document: {size} bytes served, all endpoints built in {elapsed:?}");
}

#[test]
fn schemas_follow_the_model() {
    let doc = document();
    let s = &doc["components"]["schemas"];
    // choice branches, `_element` siblings, cardinality, required, bindings
    let obs = &s["Observation"];
    assert_eq!(
        obs["properties"]["valueQuantity"]["$ref"],
        "#/components/schemas/Quantity"
    );
    assert_eq!(
        obs["properties"]["_valueString"]["$ref"],
        "#/components/schemas/Element"
    );
    assert_eq!(
        obs["properties"]["component"]["items"]["$ref"],
        "#/components/schemas/Observation_Component"
    );
    assert_eq!(obs["additionalProperties"], false);
    let required: Vec<_> = obs["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required, ["resourceType", "status", "code"]);
    assert!(
        obs["properties"]["status"]["enum"]
            .as_array()
            .is_some_and(|e| e.iter().any(|c| c == "final"))
    );
    // a required choice: one branch of medication[x]
    let mr = &s["MedicationRequest"];
    assert_eq!(
        mr["allOf"][1]["oneOf"][0]["required"][0],
        "medicationCodeableConcept"
    );
    // recursion through content references
    assert_eq!(
        s["Questionnaire_Item"]["properties"]["item"]["items"]["$ref"],
        "#/components/schemas/Questionnaire_Item"
    );
    assert_eq!(
        s["Bundle_Entry"]["properties"]["resource"]["$ref"],
        "#/components/schemas/Resource"
    );
    assert_eq!(s["Resource"]["oneOf"].as_array().map(Vec::len), Some(146));
}

#[test]
fn examples_are_valid_resources_of_their_type() {
    let mut with_example = 0;
    for rt in hearth_fhir::ResourceType::all() {
        let Some(example) = crate::schemas::example(rt.as_str()) else {
            continue;
        };
        with_example += 1;
        if let Err(issues) = hearth_fhir::validate::validate_resource_as(&example, rt) {
            panic!("the {rt} example is not valid: {issues:?}");
        }
    }
    assert!(
        with_example >= 120,
        "examples for most types ({with_example})"
    );
}
