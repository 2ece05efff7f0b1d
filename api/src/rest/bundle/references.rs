//! Rewriting references inside a transaction: `fullUrl`s of entries become `Type/id`, and
//! conditional references (`Type?criteria`) become the one resource they match.

use std::collections::HashMap;

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
    for pointer in conditional {
        let Some(Value::String(reference)) = resource.pointer(&pointer) else {
            continue;
        };
        let resolved = resolve(ctx, reference).await?;
        if let Some(slot) = resource.pointer_mut(&pointer) {
            *slot = Value::String(resolved);
        }
    }
    Ok(())
}

fn rewrite(
    value: &mut Value,
    identities: &HashMap<String, String>,
    conditional: &mut Vec<String>,
    in_reference: bool,
) {
    rewrite_at(value, identities, conditional, String::new(), in_reference);
}

fn rewrite_at(
    value: &mut Value,
    identities: &HashMap<String, String>,
    conditional: &mut Vec<String>,
    pointer: String,
    is_reference: bool,
) {
    match value {
        Value::String(s) => {
            if let Some(target) = identities.get(s.as_str()) {
                *s = target.clone();
            } else if is_reference && is_conditional_reference(s) {
                conditional.push(pointer);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                rewrite_at(
                    item,
                    identities,
                    conditional,
                    format!("{pointer}/{i}"),
                    is_reference,
                );
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if key == "div"
                    && !identities.is_empty()
                    && let Value::String(div) = item
                {
                    for (from, to) in identities {
                        let quoted = format!("\"{from}\"");
                        if div.contains(&quoted) {
                            *div = div.replace(&quoted, &format!("\"{to}\""));
                        }
                    }
                    continue;
                }
                let escaped = key.replace('~', "~0").replace('/', "~1");
                rewrite_at(
                    item,
                    identities,
                    conditional,
                    format!("{pointer}/{escaped}"),
                    key == "reference",
                );
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
        assert_eq!(conditional, vec!["/performer/0/reference".to_owned()]);
    }
}
