//! Golden test: `model::is_summary` answers, for every top-level element of every resource type,
//! what the official StructureDefinitions say, as listed by `fhir/codegen/summary_golden.py` in
//! `golden/summary-elements.txt` (read straight from the definitions, not from `model.json`).

use std::collections::{BTreeMap, BTreeSet};

use hearth_fhir::ResourceType;
use hearth_fhir::generated::resource_types::RESOURCE_TYPES;
use hearth_fhir::model::{is_summary, resource_definition};

const GOLDEN: &str = include_str!("golden/summary-elements.txt");

/// Resource type → its summary elements, from the golden file.
fn golden() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    GOLDEN
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut words = l.split_whitespace();
            let rt = words.next().unwrap_or_default();
            (rt, words.collect())
        })
        .collect()
}

#[test]
fn every_resource_type_is_listed() {
    let listed: BTreeSet<&str> = golden().keys().copied().collect();
    let known: BTreeSet<&str> = RESOURCE_TYPES.iter().copied().collect();
    assert_eq!(listed, known);
}

#[test]
fn model_summary_flags_match_the_definitions() {
    let mut wrong = Vec::new();
    for (name, expected) in golden() {
        let rt: ResourceType = name.parse().expect("golden type parses");
        let elements: BTreeSet<&str> = resource_definition(rt)
            .elements()
            .elements()
            .map(|e| e.name.as_str())
            .collect();
        for missing in expected.difference(&elements) {
            wrong.push(format!(
                "{name}.{missing}: in the golden list, not in the model"
            ));
        }
        for element in elements {
            let want = expected.contains(element);
            if is_summary(rt, element) != want {
                wrong.push(format!("{name}.{element}: expected summary={want}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// JSON member names resolve to their element: choice branches and `_` primitive extensions.
#[test]
fn json_names() {
    let cases = [
        ("Observation", "value[x]", true),
        ("Observation", "valueQuantity", true),
        ("Observation", "valueString", true),
        ("Observation", "_valueString", true),
        ("Observation", "effectiveDateTime", true),
        ("Observation", "category", false),
        ("Observation", "note", false),
        ("Patient", "birthDate", true),
        ("Patient", "_birthDate", true),
        ("Patient", "deceasedBoolean", true),
        ("Patient", "multipleBirthInteger", false),
        ("Patient", "contact", false),
        ("Patient", "text", false),
        ("Patient", "resourceType", false),
        ("Patient", "valueQuantity", false),
        ("Patient", "nonsense", false),
    ];
    for (rt, name, expected) in cases {
        let rt: ResourceType = rt.parse().expect("type parses");
        assert_eq!(is_summary(rt, name), expected, "{rt}.{name}");
    }
}
