//! Resources written to Parquet read back with the same values: ids, nested structs, lists,
//! choice branches, numbers, extensions, `contained` and `resource_json`.

mod common;

use anyhow::Context;
use common::{example_package, examples, roundtrip};
use hearth_columnar::{
    BatchEncoder, Compression, DecimalAs, Options, RESOURCE_JSON, ResourceWriter,
};
use hearth_fhir::ResourceType;
use serde_json::{Value, json};

const PATIENT: &str = r##"{
  "resourceType": "Patient",
  "id": "p1",
  "meta": {"versionId": "3", "lastUpdated": "2024-01-02T03:04:05.678Z", "profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
  "contained": [{"resourceType": "Organization", "id": "org", "name": "Springfield \"General\""}],
  "extension": [
    {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension": [
      {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3", "display": "White"}},
      {"url": "text", "valueString": "White"}]},
    {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", "valueCode": "F"},
    {"url": "http://synthetichealth.github.io/synthea/quality-adjusted-life-years", "valueDecimal": 52.850}
  ],
  "identifier": [{"system": "urn:mrn", "value": "12345", "assigner": {"reference": "#org", "display": "Springfield"}}],
  "active": true,
  "name": [
    {"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
    {"use": "usual", "given": ["Jim"]}
  ],
  "gender": "male",
  "birthDate": "1974-12-25",
  "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "1974-12-25T14:35:45-05:00"}]},
  "deceasedBoolean": false,
  "address": [{"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/geolocation"}], "line": ["534 Erewhon St"], "city": "PleasantVille", "postalCode": "3999"}],
  "multipleBirthInteger": 2,
  "managingOrganization": {"reference": "#org"}
}"##;

#[test]
fn patient_values_read_back() -> anyhow::Result<()> {
    let rows = roundtrip("Patient", &Options::default(), &[PATIENT])?;
    let mut row = rows.into_iter().next().unwrap_or_default();
    let json = row.as_object_mut().and_then(|o| o.remove(RESOURCE_JSON));
    assert_eq!(json.as_ref().and_then(Value::as_str), Some(PATIENT));
    assert_eq!(
        row,
        json!({
            "id": "p1",
            "meta": {"versionId": "3", "lastUpdated": "2024-01-02T03:04:05.678Z", "profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
            "contained": [r#"{"resourceType":"Organization","id":"org","name":"Springfield \"General\""}"#],
            "extension": [
                {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension": [
                    {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3", "display": "White"}},
                    {"url": "text", "valueString": "White"}]},
                {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", "valueCode": "F"},
                // Decimals keep their text: the trailing zero is precision.
                {"url": "http://synthetichealth.github.io/synthea/quality-adjusted-life-years", "valueDecimal": "52.850"}
            ],
            "identifier": [{"system": "urn:mrn", "value": "12345", "assigner": {"reference": "#org", "display": "Springfield"}}],
            "active": true,
            "name": [
                {"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
                {"use": "usual", "given": ["Jim"]}
            ],
            "gender": "male",
            // `_birthDate` has no column.
            "birthDate": "1974-12-25",
            "deceasedBoolean": false,
            // Extensions of datatypes have no column.
            "address": [{"line": ["534 Erewhon St"], "city": "PleasantVille", "postalCode": "3999"}],
            "multipleBirthInteger": 2,
            "managingOrganization": {"reference": "#org"}
        })
    );
    Ok(())
}

#[test]
fn contained_resources_round_trip_as_json_text() -> anyhow::Result<()> {
    let rows = roundtrip("Patient", &Options::default(), &[PATIENT])?;
    let contained: Vec<Value> = rows[0]["contained"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|text| serde_json::from_str(text.as_str().unwrap_or_default()))
        .collect::<Result<_, _>>()?;
    let input: Value = serde_json::from_str(PATIENT)?;
    assert_eq!(Some(&contained), input["contained"].as_array());
    Ok(())
}

const OBSERVATIONS: [&str; 3] = [
    r#"{"resourceType": "Observation", "id": "bp", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}], "text": "Blood pressure"},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2012-09-17",
        "component": [
          {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 107, "unit": "mmHg"}},
          {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 60.50, "unit": "mmHg", "comparator": "<"}}
        ]}"#,
    r#"{"resourceType": "Observation", "id": "count", "status": "final", "code": {"text": "count"},
        "valueInteger": -12, "effectivePeriod": {"start": "2020", "end": "2021-02"}}"#,
    r#"{"resourceType": "Observation", "id": "big", "status": "final", "code": {"text": "big"},
        "valueQuantity": {"value": 1.0e-3}, "issued": "2020-01-01T00:00:00Z",
        "referenceRange": [{"low": {"value": 0.0000000000000000000012345678901234567890}}]}"#,
];

#[test]
fn choice_values_and_numbers_read_back() -> anyhow::Result<()> {
    let options = Options {
        keep_json: false,
        ..Options::default()
    };
    let rows = roundtrip("Observation", &options, &OBSERVATIONS)?;
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0]["component"],
        json!([
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": "107", "unit": "mmHg"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": "60.50", "unit": "mmHg", "comparator": "<"}}
        ])
    );
    assert_eq!(rows[0]["effectiveDateTime"], "2012-09-17");
    assert_eq!(rows[0]["subject"], json!({"reference": "Patient/p1"}));
    assert_eq!(rows[1]["valueInteger"], -12);
    assert_eq!(
        rows[1]["effectivePeriod"],
        json!({"start": "2020", "end": "2021-02"})
    );
    assert_eq!(rows[1].get("valueQuantity"), None);
    assert_eq!(rows[2]["valueQuantity"], json!({"value": "1.0e-3"}));
    assert_eq!(
        rows[2]["referenceRange"],
        json!([{"low": {"value": "0.0000000000000000000012345678901234567890"}}])
    );
    assert!(rows[0].get(RESOURCE_JSON).is_none());

    let floats = Options {
        decimal: DecimalAs::Float64,
        ..options
    };
    let rows = roundtrip("Observation", &floats, &OBSERVATIONS)?;
    assert_eq!(rows[0]["component"][1]["valueQuantity"]["value"], 60.5);
    assert_eq!(rows[0]["component"][0]["valueQuantity"]["value"], 107.0);
    assert_eq!(rows[2]["valueQuantity"]["value"], 0.001);
    Ok(())
}

#[test]
fn nested_items_are_kept_to_the_recursion_depth() -> anyhow::Result<()> {
    let questionnaire = r#"{"resourceType": "Questionnaire", "id": "q", "status": "active",
      "item": [{"linkId": "1", "type": "group", "item": [{"linkId": "1.1", "type": "group",
        "item": [{"linkId": "1.1.1", "type": "group", "enableWhen": [{"question": "1.1", "operator": "exists", "answerBoolean": true}],
          "item": [{"linkId": "1.1.1.1", "type": "string"}]}]}]}]}"#;
    let rows = roundtrip("Questionnaire", &Options::default(), &[questionnaire])?;
    assert_eq!(
        rows[0]["item"],
        json!([{"linkId": "1", "type": "group", "item": [{"linkId": "1.1", "type": "group",
            "item": [{"linkId": "1.1.1", "type": "group", "enableWhen": [{"question": "1.1", "operator": "exists", "answerBoolean": true}]}]}]}])
    );
    // Cut from the typed columns, not from the file.
    assert_eq!(rows[0][RESOURCE_JSON], questionnaire);
    Ok(())
}

#[test]
fn many_rows_cross_batches_and_row_groups() -> anyhow::Result<()> {
    let options = Options {
        batch_rows: 7,
        row_group_rows: 500,
        ..Options::default()
    };
    let mut writer = ResourceWriter::new(Vec::new(), "Patient".parse()?, &options)?;
    let mut sizes = Vec::new();
    for i in 0..2000 {
        let patient = json!({"resourceType": "Patient", "id": format!("p{i}"), "name": [{"family": format!("F{i}"), "given": ["A", "A", "A"]}], "multipleBirthInteger": i});
        if i % 2 == 0 {
            writer.write(&patient)?;
        } else {
            writer.write_json(&patient.to_string())?;
        }
        if i % 500 == 0 {
            sizes.push(writer.estimated_size());
        }
    }
    assert_eq!(writer.rows(), 2000);
    assert!(
        writer.bytes_written() > 0,
        "full row groups are written out"
    );
    assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{sizes:?}");
    let finished = writer.finish()?;
    let metadata = parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(&bytes::Bytes::from(finished.out.clone()))?;
    assert_eq!(metadata.num_row_groups(), 4);
    let (_, rows) = common::read(finished.out)?;
    assert_eq!(rows.len(), 2000);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["id"], format!("p{i}"));
        assert_eq!(row["name"][0]["family"], format!("F{i}"));
        assert_eq!(row["name"][0]["given"], json!(["A", "A", "A"]));
        assert_eq!(row["multipleBirthInteger"], i);
    }
    Ok(())
}

/// `push` (a parsed value) and `push_json` (text, streamed) give identical batches.
fn check_paths_agree(rt: ResourceType, resources: &[(&str, &Value)]) -> anyhow::Result<()> {
    let options = Options::default();
    let mut from_values = BatchEncoder::new(rt, &options)?;
    let mut from_text = BatchEncoder::new(rt, &options)?;
    for (text, value) in resources {
        from_values.push(value)?;
        from_text.push_json(text)?;
    }
    let (a, b) = (from_values.finish_batch()?, from_text.finish_batch()?);
    // resource_json differs in whitespace only: compare the typed columns.
    let typed = a.num_columns() - 1;
    for i in 0..typed {
        let name = a.schema().field(i).name().clone();
        assert_eq!(a.column(i), b.column(i), "{rt}.{name}");
    }
    Ok(())
}

#[test]
fn both_input_paths_agree() -> anyhow::Result<()> {
    let patient: Value = serde_json::from_str(PATIENT)?;
    check_paths_agree("Patient".parse()?, &[(PATIENT, &patient)])?;
    let observations: Vec<Value> = OBSERVATIONS
        .iter()
        .map(|t| serde_json::from_str(t))
        .collect::<Result<_, _>>()?;
    let pairs: Vec<(&str, &Value)> = OBSERVATIONS.iter().copied().zip(&observations).collect();
    check_paths_agree("Observation".parse()?, &pairs)
}

/// The R4 spec examples (when `HEARTH_FHIR_PACKAGE` is set): every one is written, read back
/// with its id and JSON, and gives the same columns through both input paths.
#[test]
fn spec_examples_round_trip() -> anyhow::Result<()> {
    let Some(dir) = example_package() else {
        eprintln!("HEARTH_FHIR_PACKAGE is not set: skipping the R4 example corpus");
        return Ok(());
    };
    let examples = examples(&dir)?;
    let mut by_type: std::collections::BTreeMap<ResourceType, Vec<(&str, &Value)>> =
        Default::default();
    for (_, text, value) in &examples {
        if let Some(rt) = value["resourceType"].as_str().and_then(|s| s.parse().ok()) {
            by_type.entry(rt).or_default().push((text, value));
        }
    }
    assert!(by_type.len() >= 135, "{} types", by_type.len());
    let options = Options {
        compression: Compression::Snappy,
        ..Options::default()
    };
    for (rt, resources) in &by_type {
        let texts: Vec<&str> = resources.iter().map(|(t, _)| *t).collect();
        let rows = roundtrip(rt.as_str(), &options, &texts)?;
        assert_eq!(rows.len(), resources.len(), "{rt}");
        for (row, (text, value)) in rows.iter().zip(resources) {
            assert_eq!(row.get("id"), value.get("id"), "{rt}");
            assert_eq!(row[RESOURCE_JSON], *text, "{rt}");
        }
        check_paths_agree(*rt, resources)?;
    }

    let example = by_type
        .get(&"Patient".parse()?)
        .and_then(|all| all.iter().find(|(_, v)| v["id"] == "example"))
        .map(|(text, _)| *text)
        .context("the Patient example")?;
    let rows = roundtrip("Patient", &options, &[example])?;
    assert_eq!(rows[0]["name"][0]["family"], "Chalmers");
    assert_eq!(rows[0]["name"][0]["given"], json!(["Peter", "James"]));
    assert_eq!(rows[0]["deceasedBoolean"], false);
    assert_eq!(
        rows[0]["contact"][0]["relationship"][0]["coding"][0]["code"],
        "N"
    );
    Ok(())
}
