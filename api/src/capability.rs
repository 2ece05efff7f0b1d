//! The CapabilityStatement, generated from what the server really supports.

use bytes::Bytes;
use hearth_fhir::ResourceType;
use serde_json::{Value, json};

/// The statement for every resource type; `implementation.url` is added per request.
pub fn capability_statement() -> Bytes {
    let interactions = [
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "history-instance",
        "history-type",
        "create",
    ];
    let resources: Vec<Value> = ResourceType::all()
        .map(|rt| {
            let mut resource = json!({
                "type": rt.as_str(),
                "profile": format!("http://hl7.org/fhir/StructureDefinition/{rt}"),
                "interaction": interactions.iter().map(|code| json!({ "code": code })).collect::<Vec<_>>(),
                "versioning": "versioned-update",
                "readHistory": true,
                "updateCreate": true,
                "conditionalCreate": true,
                "conditionalRead": "modified-since",
                "conditionalUpdate": true,
                "conditionalDelete": "single",
                "searchParam": [
                    { "name": "_id", "type": "token", "documentation": "In conditional interactions." },
                    { "name": "_lastUpdated", "type": "date", "documentation": "In conditional interactions." },
                ],
            });
            if has_identifier(rt)
                && let Some(params) = resource["searchParam"].as_array_mut()
            {
                params.push(json!({ "name": "identifier", "type": "token", "documentation": "In conditional interactions." }));
            }
            resource
        })
        .collect();
    let statement = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-27",
        "publisher": "Hearth",
        "kind": "instance",
        "software": { "name": "Hearth", "version": env!("CARGO_PKG_VERSION") },
        "implementation": { "description": "Hearth multi-tenant FHIR R4 server" },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "rest": [{
            "mode": "server",
            "resource": resources,
            "interaction": [
                { "code": "transaction" },
                { "code": "batch" },
                { "code": "history-system" },
            ],
        }],
    });
    Bytes::from(serde_json::to_vec(&statement).unwrap_or_default())
}

/// Whether resources of `rt` have a top-level `identifier` element.
fn has_identifier(rt: ResourceType) -> bool {
    hearth_fhir::model::resource_definition(rt)
        .elements()
        .element_named("identifier")
        .is_some()
}
