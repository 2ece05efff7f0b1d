//! Kick-off parameters: every parameter, lists and repeats, errors and lenient warnings.

use super::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parse(level: Level, list: &[(&str, &str)]) -> Result<ExportRequest, String> {
    parse_request(level, &pairs(list), false)
        .map(|(r, w)| {
            assert!(w.is_empty(), "no warnings when strict");
            r
        })
        .map_err(|e| e.0)
}

#[test]
fn defaults() {
    let r = parse(Level::System, &[]).unwrap();
    assert_eq!(r.format, Format::Ndjson);
    assert!(r.types.is_empty() && r.since.is_none() && r.elements.is_empty());
}

#[test]
fn output_formats() {
    let cases = [
        ("application/fhir+ndjson", Ok(Format::Ndjson)),
        ("application/ndjson", Ok(Format::Ndjson)),
        ("ndjson", Ok(Format::Ndjson)),
        ("application/vnd.apache.parquet", Ok(Format::Parquet)),
        ("parquet", Ok(Format::Parquet)),
        ("text/csv", Err(())),
    ];
    for (value, expected) in cases {
        let got = parse(Level::System, &[("_outputFormat", value)]).map(|r| r.format);
        assert_eq!(got.map_err(|_| ()), expected, "{value}");
    }
}

#[test]
fn types_lists_and_repeats_alike() {
    let a = parse(Level::System, &[("_type", "Patient,Observation")]).unwrap();
    let b = parse(
        Level::System,
        &[("_type", "Patient"), ("_type", "Observation,Patient")],
    )
    .unwrap();
    assert_eq!(a.types, ["Patient", "Observation"]);
    assert_eq!(a.types, b.types);
}

/// Level, parameters, and a part of the expected error message.
type Case = (Level, &'static [(&'static str, &'static str)], &'static str);

#[test]
fn errors() {
    let cases: &[Case] = &[
        (
            Level::System,
            &[("_type", "Patiant")],
            "not a FHIR R4 resource type",
        ),
        (Level::System, &[("_since", "2024-01-01")], "FHIR instant"),
        (Level::System, &[("_since", "yesterday")], "FHIR instant"),
        (
            Level::System,
            &[
                ("_since", "2024-02-01T00:00:00Z"),
                ("_until", "2024-01-01T00:00:00Z"),
            ],
            "before _since",
        ),
        (
            Level::System,
            &[("patient", "Patient/1")],
            "Patient and Group exports only",
        ),
        (
            Level::Patient,
            &[("patient", "Observation/1")],
            "not a reference to a Patient",
        ),
        (
            Level::System,
            &[("_elements", "Patient.9x")],
            "not an element name",
        ),
        (
            Level::System,
            &[("_typeFilter", "Observation")],
            "[type]?[query]",
        ),
        (
            Level::System,
            &[("_typeFilter", "Observation?nonsense=1")],
            "_typeFilter",
        ),
        (
            Level::System,
            &[("_typeFilter", "Observation?_sort=date")],
            "_sort",
        ),
        (
            Level::System,
            &[("includeAssociatedData", "_custom")],
            "not supported",
        ),
        (
            Level::System,
            &[("_count", "10")],
            "not supported by $export",
        ),
        (
            Level::System,
            &[("_outputFormat", "ndjson"), ("_outputFormat", "parquet")],
            "twice",
        ),
    ];
    for (level, list, expected) in cases {
        let err = parse(level.clone(), list).expect_err(&format!("{list:?} must fail"));
        assert!(err.contains(expected), "{list:?}: {err}");
    }
}

#[test]
fn lenient_drops_what_it_can_and_warns() {
    let (r, warnings) = parse_request(
        Level::System,
        &pairs(&[
            ("_type", "Patient,Patiant"),
            ("_count", "1"),
            ("_elements", "Patient.name,9"),
        ]),
        true,
    )
    .unwrap();
    assert_eq!(r.types, ["Patient"]);
    assert_eq!(
        r.elements,
        [(Some("Patient".to_owned()), "name".to_owned())]
    );
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    let hard = parse_request(Level::System, &pairs(&[("_since", "nope")]), true);
    assert!(
        hard.is_err(),
        "an unusable _since is an error even when lenient"
    );
}

#[test]
fn every_parameter() {
    let r = parse(
        Level::Group("g1".into()),
        &[
            ("_outputFormat", "parquet"),
            ("_since", "2024-01-01T00:00:00+02:00"),
            ("_until", "2025-01-01T00:00:00Z"),
            ("_type", "Observation,Patient"),
            ("_elements", "Observation.status,id"),
            ("patient", "Patient/p1,p2"),
            (
                "_typeFilter",
                "Observation?status=final&code=http://loinc.org%7C1234-5",
            ),
            ("_typeFilter", "Observation?category=laboratory"),
            ("includeAssociatedData", "LatestProvenanceResources"),
        ],
    )
    .unwrap();
    assert_eq!(r.format, Format::Parquet);
    assert_eq!(r.since.unwrap().to_rfc3339(), "2023-12-31T22:00:00+00:00");
    assert!(r.until.is_some());
    assert_eq!(
        r.elements,
        [
            (Some("Observation".into()), "status".into()),
            (None, "id".into())
        ]
    );
    assert_eq!(r.patients, ["p1", "p2"]);
    assert_eq!(r.type_filters.len(), 2);
    assert_eq!(
        r.type_filters[0].query,
        "status=final&code=http://loinc.org%7C1234-5"
    );
    assert_eq!(r.associated, [Associated::LatestProvenance]);
}
