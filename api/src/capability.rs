//! The CapabilityStatement, generated from what the server really supports.

use bytes::Bytes;
use hearth_fhir::ResourceType;
use hearth_fhir::search::registry::{ParamType, Registry};
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
        "search-type",
    ];
    let resources: Vec<Value> = ResourceType::all()
        .map(|rt| {
            json!({
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
                "searchParam": search_params(rt),
                "searchInclude": ["*"],
                "searchRevInclude": ["*"],
            })
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
                { "code": "search-system" },
                { "code": "batch" },
                { "code": "history-system" },
            ],
        }],
    });
    Bytes::from(serde_json::to_vec(&statement).unwrap_or_default())
}

/// The search parameters of `rt` with their types and definitions. Parameters the engine
/// reports as unsupported (no expression: `_text`, `_content`, `_query`; `near`) are left out.
fn search_params(rt: ResourceType) -> Vec<Value> {
    let mut params: Vec<Value> = Registry::r4()
        .for_type(rt.as_str())
        .filter(|p| p.expression.is_some() && p.kind != ParamType::Special)
        .map(|p| json!({ "name": p.code, "definition": p.url, "type": p.kind.as_str() }))
        .collect();
    params.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    params
}
