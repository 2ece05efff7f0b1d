//! A quick measurement (not a benchmark, no assertion on time) of search-value extraction for a
//! typical Observation and Patient, which runs on every write:
//! `cargo run --release -p hearth-fhir --example search_extract_cost`.

use std::time::Instant;

use hearth_fhir::search::extract::{extract, text};
use hearth_fhir::search::registry::Registry;
use serde_json::{Value, json};

fn median_micros(resource: &Value) -> (f64, usize) {
    let registry = Registry::r4();
    let values = extract(registry, resource)
        .params
        .iter()
        .map(|p| p.values.len())
        .sum();
    let mut samples: Vec<f64> = (0..2000)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(extract(registry, std::hint::black_box(resource)));
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    (samples[samples.len() / 2], values)
}

/// The part of an extraction that builds the `_text` and `_content` chunks.
fn median_text_micros(resource: &Value) -> f64 {
    let mut samples: Vec<f64> = (0..2000)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box((
                text::narrative(std::hint::black_box(resource)),
                text::content(resource),
            ));
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let observation = json!({
        "resourceType": "Observation", "id": "bp", "meta": {"versionId": "1", "lastUpdated": "2024-01-02T03:04:05.678Z"},
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:187e0c12-8dd2-67e2-99b2-bf273c878281"}],
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}], "text": "Blood pressure"},
        "subject": {"reference": "Patient/example"}, "encounter": {"reference": "Encounter/e1"},
        "effectiveDateTime": "2024-01-02T09:30:10+01:00", "performer": [{"reference": "Practitioner/example"}],
        "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "L"}]}],
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 107, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 60, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
        ]
    });
    let patient = json!({
        "resourceType": "Patient", "id": "example", "meta": {"versionId": "3", "lastUpdated": "2024-01-02T03:04:05.678Z"},
        "identifier": [{"use": "usual", "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}, "system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345"}],
        "active": true,
        "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"]}, {"use": "usual", "given": ["Jim"]}],
        "telecom": [{"system": "phone", "value": "(03) 5555 6473", "use": "work"}, {"system": "email", "value": "jim@example.org"}],
        "gender": "male", "birthDate": "1974-12-25",
        "address": [{"use": "home", "line": ["534 Erewhon St"], "city": "PleasantVille", "state": "Vic", "postalCode": "3999", "country": "AU"}],
        "generalPractitioner": [{"reference": "Practitioner/p1"}], "managingOrganization": {"reference": "Organization/1"}
    });
    let mut narrated = patient.clone();
    narrated["text"] = json!({"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><table><tbody><tr><td>Name</td><td>Peter James <b>Chalmers</b> (&quot;Jim&quot;)</td></tr><tr><td>Address</td><td>534 Erewhon, Pleasantville, Vic, 3999</td></tr><tr><td>Contacts</td><td>Home: unknown. Work: (03) 5555 6473</td></tr><tr><td>Id</td><td>MRN: 12345 (Acme Healthcare)</td></tr></tbody></table></div>"});
    for (name, resource) in [
        ("Observation", &observation),
        ("Patient", &patient),
        ("Patient with narrative", &narrated),
    ] {
        let (micros, values) = median_micros(resource);
        let text_micros = median_text_micros(resource);
        eprintln!(
            "{name}: median {micros:.1} µs per extraction ({text_micros:.1} µs of it `_text` and `_content`), {values} index values"
        );
    }
}
