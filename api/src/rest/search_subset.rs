//! `_summary` and `_elements` on search results and on read/vread: the resource cut down to the
//! elements asked for, marked with the `SUBSETTED` tag.
//!
//! Every subset keeps `resourceType`, `id`, `meta` and the mandatory (min ≥ 1) top-level
//! elements. `_elements` adds the named top-level elements. `_summary=true` adds the top-level
//! elements marked `isSummary` in the R4 base definitions (`hearth_fhir::model::is_summary`,
//! from the flags `fhir/codegen/extract.py` copies out of the StructureDefinitions; choice
//! elements in every branch), never `text`. `_summary=text` keeps `text`; `_summary=data` drops
//! only `text`; `_summary=false` (and `count`, on a search) returns resources whole.
//! `_elements` wins over `_summary` when both are given. On read, `_summary=count` is a 400.

use hearth_fhir::ResourceType;
use hearth_fhir::model::is_summary;
use hearth_fhir::search::query::Summary;
use hearth_fhir::subset::{is_element, subset as subset_elements};
use serde_json::Value;

use crate::error::ApiError;

/// What to cut resources down to: `_summary` and `_elements`.
#[derive(Debug, Default)]
pub struct Subset {
    pub summary: Option<Summary>,
    pub elements: Vec<String>,
}

impl Subset {
    /// `_summary` and `_elements` among a read's parameters; the others are ignored.
    pub fn from_read_params(params: &[(String, String)]) -> Result<Subset, ApiError> {
        let mut out = Subset::default();
        for (name, value) in params {
            match name.as_str() {
                "_summary" => match Summary::parse(value) {
                    Some(Summary::Count) => {
                        return Err(ApiError::bad_request(
                            "_summary=count applies to searches only",
                        ));
                    }
                    Some(s) => out.summary = Some(s),
                    None => {
                        return Err(ApiError::bad_request(format!(
                            "_summary: invalid value '{value}'"
                        )));
                    }
                },
                "_elements" => {
                    out.elements = value
                        .split(',')
                        .map(str::trim)
                        .filter(|e| !e.is_empty())
                        .map(str::to_owned)
                        .collect();
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Whether resources are cut down at all.
    pub fn is_subsetted(&self) -> bool {
        !self.elements.is_empty()
            || matches!(self.summary, Some(s) if !matches!(s, Summary::False | Summary::Count))
    }

    /// Whether the top-level JSON member `key` of a `rt` resource is kept (besides those every
    /// subset keeps).
    fn keeps(&self, rt: ResourceType, key: &str) -> bool {
        if !self.elements.is_empty() {
            return self.elements.iter().any(|n| is_element(key, n));
        }
        match self.summary {
            Some(Summary::Text) => is_element(key, "text"),
            Some(Summary::Data) => !is_element(key, "text"),
            // `modifierExtension` is not flagged summary in R4, but a reader that never sees
            // a modifier may misread the rest (extensibility: modifiers must be checked), so
            // the summary keeps it.
            Some(Summary::True) => {
                is_element(key, "modifierExtension")
                    || (!is_element(key, "text") && is_summary(rt, key))
            }
            Some(Summary::Count | Summary::False) | None => true,
        }
    }

    /// The subsetted JSON of a stored resource.
    pub fn apply(&self, rt: ResourceType, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return Err(ApiError::internal("stored resource unreadable"));
        };
        let out = subset_elements(rt, map, |key| self.keeps(rt, key));
        serde_json::to_vec(&Value::Object(out)).map_err(|e| ApiError::internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The top-level members kept of `resource` under the read parameters `query`.
    fn check(query: &str, resource: Value, expected: &[&str]) {
        let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let subset = Subset::from_read_params(&params).unwrap();
        assert!(subset.is_subsetted(), "{query}");
        let rt: ResourceType = resource["resourceType"].as_str().unwrap().parse().unwrap();
        let out = subset
            .apply(rt, &serde_json::to_vec(&resource).unwrap())
            .unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        let mut keys: Vec<&str> = out
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = expected.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected, "{query}");
        assert_eq!(out["meta"]["tag"][0]["code"], "SUBSETTED", "{query}");
    }

    fn patient() -> Value {
        serde_json::json!({"resourceType": "Patient", "id": "p", "active": true,
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">p</div>"},
            "name": [{"family": "F"}], "gender": "female", "birthDate": "1970-01-01",
            "_birthDate": {"extension": []}, "deceasedBoolean": false, "multipleBirthInteger": 2,
            "contact": [{"name": {"family": "C"}}], "communication": [{"language": {"text": "fr"}}],
            "photo": [{"contentType": "image/png"}], "maritalStatus": {"text": "M"}})
    }

    fn observation() -> Value {
        serde_json::json!({"resourceType": "Observation", "id": "o", "status": "final",
            "category": [{"text": "lab"}], "code": {"text": "x"}, "subject": {"reference": "Patient/p"},
            "effectiveDateTime": "2020-01-01", "valueQuantity": {"value": 1}, "note": [{"text": "n"}],
            "interpretation": [{"text": "H"}]})
    }

    #[test]
    fn summary_and_elements() {
        let summary_patient = [
            "resourceType",
            "id",
            "meta",
            "active",
            "name",
            "gender",
            "birthDate",
            "_birthDate",
            "deceasedBoolean",
        ];
        check("_summary=true", patient(), &summary_patient);
        check("_summary=true&_summary=true", patient(), &summary_patient);
        check(
            "_summary=true",
            observation(),
            &[
                "resourceType",
                "id",
                "meta",
                "status",
                "code",
                "subject",
                "effectiveDateTime",
                "valueQuantity",
            ],
        );
        check(
            "_summary=text",
            patient(),
            &["resourceType", "id", "meta", "text"],
        );
        check(
            "_summary=text",
            observation(),
            &["resourceType", "id", "meta", "status", "code"],
        );
        check(
            "_elements=gender,contact",
            patient(),
            &["resourceType", "id", "meta", "gender", "contact"],
        );
        check(
            "_summary=true&_elements=note",
            observation(),
            &["resourceType", "id", "meta", "status", "code", "note"],
        );
        check(
            "_summary=data",
            patient(),
            &[
                "resourceType",
                "id",
                "meta",
                "active",
                "name",
                "gender",
                "birthDate",
                "_birthDate",
                "deceasedBoolean",
                "multipleBirthInteger",
                "contact",
                "communication",
                "photo",
                "maritalStatus",
            ],
        );
    }

    #[test]
    fn read_parameters() {
        let parse = |q: &str| {
            let params: Vec<(String, String)> =
                form_urlencoded::parse(q.as_bytes()).into_owned().collect();
            Subset::from_read_params(&params).map(|s| s.is_subsetted())
        };
        assert!(!parse("").unwrap());
        assert!(!parse("_summary=false").unwrap());
        assert!(!parse("other=1").unwrap());
        assert!(parse("_elements=name").unwrap());
        assert!(parse("_summary=count").is_err());
        assert!(parse("_summary=maybe").is_err());
    }
}
