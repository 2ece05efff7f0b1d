//! The CapabilityStatement, generated from what the server really supports.

use bytes::Bytes;
use hearth_fhir::ResourceType;
use hearth_fhir::search::registry::Registry;
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
            "documentation": "Token searches also take :in and :not-in (ValueSets by url[|version] or ValueSet/id) and :above and :below (CodeSystem hierarchies), resolved against the terminology stored in the tenant.",
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

/// The search parameters of `rt` with their types and definitions: those with an expression,
/// `_text` and `_content` (the server's own full text), and `_list`. `_query` (no expression)
/// is left out.
fn search_params(rt: ResourceType) -> Vec<Value> {
    let mut params: Vec<Value> = Registry::r4()
        .for_type(rt.as_str())
        .filter(|p| p.expression.is_some() || matches!(p.code.as_str(), "_text" | "_content"))
        .map(|p| {
            let mut param = json!({ "name": p.code, "definition": p.url, "type": p.kind.as_str() });
            if let Some(doc) = documentation(&p.code) {
                param["documentation"] = json!(doc);
            }
            param
        })
        .collect();
    params.push(json!({
        "name": "_list",
        "type": "special",
        "documentation": "The resources in entry.item of the current version of List/[id] of this tenant.",
    }));
    params.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    params
}

/// How the server matches parameters whose matching FHIR leaves open.
fn documentation(code: &str) -> Option<&'static str> {
    match code {
        "_text" => Some(
            "Case- and accent-insensitive substring of the narrative (text.div without markup), whitespace collapsed.",
        ),
        "_content" => Some(
            "Case- and accent-insensitive substring of the resource's string values (not narrative, meta or base64 data), whitespace collapsed.",
        ),
        "near" => Some(
            "latitude|longitude|distance|units: positions within the distance (default 10 km; units km, m, mi, [mi_i], [mi_us]).",
        ),
        _ => None,
    }
}
