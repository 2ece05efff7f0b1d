//! Rewriting references inside a transaction: `fullUrl`s of entries become `Type/id`, and
//! conditional references (`Type?criteria`) become the one resource they match.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use hearth_fhir::ResourceType;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::interaction::resolve_conditional;

/// Rewrites, anywhere in `resource`: every string equal to a known fullUrl (references, and
/// uri elements holding them), `"fullUrl"` occurrences in the narrative's attributes, and
/// every `reference` that is a conditional reference.
pub async fn rewrite_references(
    ctx: &Ctx,
    resource: &mut Value,
    identities: &HashMap<String, String>,
) -> Result<(), ApiError> {
    let mut conditional = Vec::new();
    rewrite(resource, identities, &mut conditional, false);
    if conditional.is_empty() {
        return Ok(());
    }
    let mut resolved = HashMap::with_capacity(conditional.len());
    for reference in conditional {
        if let Entry::Vacant(slot) = resolved.entry(reference) {
            let target = resolve(ctx, slot.key()).await?;
            slot.insert(target);
        }
    }
    replace_references(resource, &resolved, false);
    Ok(())
}

/// One walk over the resource, allocating only where something is rewritten; conditional
/// references are collected to be resolved afterwards.
fn rewrite(
    value: &mut Value,
    identities: &HashMap<String, String>,
    conditional: &mut Vec<String>,
    is_reference: bool,
) {
    match value {
        Value::String(s) => {
            if let Some(target) = identities.get(s.as_str()) {
                s.clone_from(target);
            } else if is_reference && is_conditional_reference(s) {
                conditional.push(s.clone());
            }
        }
        Value::Array(items) => {
            for item in items {
                rewrite(item, identities, conditional, is_reference);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if key == "div"
                    && !identities.is_empty()
                    && let Value::String(div) = item
                {
                    rewrite_narrative(div, identities);
                    continue;
                }
                rewrite(item, identities, conditional, key == "reference");
            }
        }
        _ => {}
    }
}

/// Narrative links (`href="urn:uuid:…"`, `src="…"`) follow the rewritten identities: every
/// double-quoted attribute value equal to a rewritten fullUrl is replaced.
fn rewrite_narrative(div: &mut String, identities: &HashMap<String, String>) {
    let pieces: Vec<&str> = div.split('"').collect();
    let hit = pieces
        .iter()
        .skip(1)
        .step_by(2)
        .any(|p| identities.contains_key(*p));
    if !hit {
        return;
    }
    let rewritten: Vec<&str> = pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 1 {
                identities.get(*p).map_or(*p, String::as_str)
            } else {
                *p
            }
        })
        .collect();
    *div = rewritten.join("\"");
}

/// Replaces resolved conditional references in `reference` elements.
fn replace_references(value: &mut Value, resolved: &HashMap<String, String>, is_reference: bool) {
    match value {
        Value::String(s) if is_reference => {
            if let Some(target) = resolved.get(s.as_str()) {
                s.clone_from(target);
            }
        }
        Value::Array(items) => {
            for item in items {
                replace_references(item, resolved, is_reference);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                replace_references(item, resolved, key == "reference");
            }
        }
        _ => {}
    }
}

fn is_conditional_reference(s: &str) -> bool {
    s.split_once('?')
        .is_some_and(|(rt, _)| rt.parse::<ResourceType>().is_ok())
}

async fn resolve(ctx: &Ctx, reference: &str) -> Result<String, ApiError> {
    let Some((rt, query)) = reference.split_once('?') else {
        return Ok(reference.to_owned());
    };
    let rt: ResourceType = rt.parse()?;
    let matches = resolve_conditional(ctx, rt, query).await?;
    match matches.as_slice() {
        [one] => Ok(format!("{rt}/{}", one.id)),
        [] => Err(ApiError::precondition_failed(format!(
            "the conditional reference '{reference}' matches nothing"
        ))),
        _ => Err(ApiError::precondition_failed(format!(
            "the conditional reference '{reference}' matches more than one resource"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rewrites_full_urls_everywhere_and_finds_conditional_references() {
        let identities = HashMap::from([("urn:uuid:1".to_owned(), "Patient/abc".to_owned())]);
        let mut resource = json!({
            "resourceType": "Observation",
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"urn:uuid:1\">p</a></div>"},
            "subject": {"reference": "urn:uuid:1"},
            "performer": [{"reference": "Practitioner?identifier=http://x|1"}, {"reference": "urn:uuid:2"}],
            "derivedFrom": [{"reference": "urn:uuid:1"}],
        });
        let mut conditional = Vec::new();
        rewrite(&mut resource, &identities, &mut conditional, false);
        assert_eq!(resource["subject"]["reference"], "Patient/abc");
        assert_eq!(resource["derivedFrom"][0]["reference"], "Patient/abc");
        assert_eq!(resource["performer"][1]["reference"], "urn:uuid:2");
        assert!(
            resource["text"]["div"]
                .as_str()
                .unwrap()
                .contains("href=\"Patient/abc\"")
        );
        assert_eq!(
            conditional,
            vec!["Practitioner?identifier=http://x|1".to_owned()]
        );
    }
}
