//! Encoding speed: Synthea-like resources (Patient, Encounter, Observation, Condition, Claim,
//! ExplanationOfBenefit... roughly in Synthea's proportions) written as Parquet, one file per
//! type, from their JSON text, the way the export worker does it. Prints resources/s per type
//! and overall. The synthetic resources repeat a lot, so the file sizes are optimistic.
//!
//! `cargo run -p hearth-columnar --example parquet_speed -- [patients] [snappy|zstd|none]`
//! (default 2000 patients, zstd). With `HEARTH_FHIR_PACKAGE` set, also encodes every spec
//! example resource. Measure in release mode; numbers in debug builds are far lower.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hearth_columnar::{BatchEncoder, Compression, Options, ResourceWriter};
use hearth_fhir::ResourceType;
use serde_json::{Value, json};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let patients: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2000);
    let compression = match args.next().as_deref() {
        None | Some("zstd") => Compression::Zstd(1),
        Some("snappy") => Compression::Snappy,
        Some("none") => Compression::Uncompressed,
        Some(other) => anyhow::bail!("unknown compression {other}"),
    };
    let options = Options {
        compression,
        ..Options::default()
    };
    let corpus = synthea_like(patients);
    println!("synthetic Synthea-like corpus, {patients} patients, {compression:?}:");
    run(&corpus, &options)?;
    if let Some(dir) = std::env::var_os("HEARTH_FHIR_PACKAGE") {
        println!("\nR4 spec examples ({}):", dir.to_string_lossy());
        run(&spec_examples(std::path::Path::new(&dir))?, &options)?;
    }
    Ok(())
}

/// Encodes each type's resources into one in-memory file; prints the rate per type and overall.
fn run(corpus: &BTreeMap<ResourceType, Vec<String>>, options: &Options) -> anyhow::Result<()> {
    let (mut total_rows, mut total_time, mut total_bytes, mut total_json) =
        (0u64, Duration::ZERO, 0u64, 0usize);
    for &rt in corpus.keys() {
        hearth_columnar::schema(rt, options)?; // built once per type, outside the timing
    }
    let mut encode_time = Duration::ZERO;
    for (&rt, texts) in corpus {
        let start = Instant::now();
        let mut encoder = BatchEncoder::new(rt, options)?;
        for text in texts {
            encoder.push_json(text)?;
            if encoder.rows() >= options.batch_rows {
                std::hint::black_box(encoder.finish_batch()?);
            }
        }
        std::hint::black_box(encoder.finish_batch()?);
        encode_time += start.elapsed();
    }
    for (&rt, texts) in corpus {
        let start = Instant::now();
        let mut writer = ResourceWriter::new(Vec::new(), rt, options)?;
        for text in texts {
            writer.write_json(text)?;
        }
        let finished = writer.finish()?;
        let elapsed = start.elapsed();
        let json_bytes: usize = texts.iter().map(String::len).sum();
        if texts.len() >= 100 {
            println!(
                "  {:<28} {:>7} rows {:>9.0} rows/s  json {:>6.1} MB  parquet {:>6.1} MB",
                rt.as_str(),
                finished.rows,
                finished.rows as f64 / elapsed.as_secs_f64(),
                json_bytes as f64 / 1e6,
                finished.bytes as f64 / 1e6,
            );
        }
        total_rows += finished.rows;
        total_time += elapsed;
        total_bytes += finished.bytes;
        total_json += json_bytes;
    }
    println!(
        "  all {} types: {total_rows} resources in {:.2} s = {:.0} resources/s on one thread \
         (json {:.1} MB, parquet {:.1} MB; \
         {:.0}% of it parsing into Arrow arrays, the rest Parquet encoding and compression)",
        corpus.len(),
        total_time.as_secs_f64(),
        total_rows as f64 / total_time.as_secs_f64(),
        total_json as f64 / 1e6,
        total_bytes as f64 / 1e6,
        100.0 * encode_time.as_secs_f64() / total_time.as_secs_f64(),
    );
    Ok(())
}

fn spec_examples(dir: &std::path::Path) -> anyhow::Result<BTreeMap<ResourceType, Vec<String>>> {
    let mut corpus: BTreeMap<ResourceType, Vec<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let Some(rt) = value
            .get("resourceType")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<ResourceType>().ok())
        else {
            continue;
        };
        corpus.entry(rt).or_default().push(text);
    }
    Ok(corpus)
}

/// Per patient, roughly what Synthea writes for a few years of history.
fn synthea_like(patients: usize) -> BTreeMap<ResourceType, Vec<String>> {
    let mut corpus: BTreeMap<ResourceType, Vec<String>> = BTreeMap::new();
    let mut add = |value: Value| {
        if let Some(rt) = value["resourceType"].as_str().and_then(|s| s.parse().ok()) {
            corpus.entry(rt).or_default().push(value.to_string());
        }
    };
    for p in 0..patients {
        let patient = format!("urn:uuid:{p:08x}-0000-4000-8000-000000000000");
        add(patient_json(p));
        for e in 0..8 {
            let n = p * 100 + e;
            let encounter = format!("urn:uuid:{n:08x}-1111-4000-8000-000000000000");
            add(encounter_json(n, &patient));
            add(condition_json(n, &patient, &encounter));
            for (k, (code, display, value, unit)) in VITALS.iter().enumerate() {
                add(observation_json(
                    n * 10 + k,
                    &patient,
                    &encounter,
                    code,
                    display,
                    value + (n % 7) as f64,
                    unit,
                ));
            }
            add(blood_pressure_json(n, &patient, &encounter));
            add(claim_json(n, &patient, &encounter));
            add(eob_json(n, &patient, &encounter));
            add(procedure_json(n, &patient, &encounter));
            add(medication_request_json(n, &patient, &encounter));
            add(immunization_json(n, &patient, &encounter));
        }
    }
    corpus
}

const VITALS: [(&str, &str, f64, &str); 6] = [
    ("8302-2", "Body Height", 172.4, "cm"),
    ("29463-7", "Body Weight", 71.3, "kg"),
    ("39156-5", "Body mass index (BMI) [Ratio]", 24.01, "kg/m2"),
    ("8867-4", "Heart rate", 72.0, "/min"),
    ("9279-1", "Respiratory rate", 14.0, "/min"),
    ("72166-2", "Tobacco smoking status", 0.0, "1"),
];

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({"coding": [{"system": system, "code": code, "display": display}], "text": display})
}

fn patient_json(p: usize) -> Value {
    json!({
        "resourceType": "Patient",
        "id": format!("{p:08x}-0000-4000-8000-000000000000"),
        "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Generated by <a href=\"https://github.com/synthetichealth/synthea\">Synthea</a>.</div>"},
        "extension": [
            {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension": [
                {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3", "display": "White"}},
                {"url": "text", "valueString": "White"}]},
            {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity", "extension": [
                {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2186-5", "display": "Not Hispanic or Latino"}},
                {"url": "text", "valueString": "Not Hispanic or Latino"}]},
            {"url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName", "valueString": format!("Maria{p} Lopez")},
            {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", "valueCode": if p.is_multiple_of(2) { "M" } else { "F" }},
            {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace", "valueAddress": {"city": "Springfield", "state": "Massachusetts", "country": "US"}},
            {"url": "http://synthetichealth.github.io/synthea/disability-adjusted-life-years", "valueDecimal": 0.15},
            {"url": "http://synthetichealth.github.io/synthea/quality-adjusted-life-years", "valueDecimal": 52.85}],
        "identifier": [
            {"system": "https://github.com/synthetichealth/synthea", "value": format!("{p:08x}-aaaa")},
            {"type": coding("http://terminology.hl7.org/CodeSystem/v2-0203", "MR", "Medical Record Number"), "system": "http://hospital.smarthealthit.org", "value": format!("{p:08x}-bbbb")},
            {"type": coding("http://terminology.hl7.org/CodeSystem/v2-0203", "SS", "Social Security Number"), "system": "http://hl7.org/fhir/sid/us-ssn", "value": format!("999-{:02}-{:04}", p % 100, p % 10000)},
            {"type": coding("http://terminology.hl7.org/CodeSystem/v2-0203", "DL", "Driver's License"), "system": "urn:oid:2.16.840.1.113883.4.3.25", "value": format!("S{p:08}")}],
        "name": [{"use": "official", "family": format!("Family{p}"), "given": ["Given", format!("Middle{p}")], "prefix": ["Mr."]}],
        "telecom": [{"system": "phone", "value": format!("555-{:03}-{:04}", p % 1000, p % 10000), "use": "home"}],
        "gender": if p.is_multiple_of(2) { "male" } else { "female" },
        "birthDate": format!("19{:02}-0{}-1{}", p % 100, 1 + p % 9, p % 10),
        "address": [{
            "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/geolocation", "extension": [
                {"url": "latitude", "valueDecimal": 42.36}, {"url": "longitude", "valueDecimal": -71.05}]}],
            "line": [format!("{} Main Street", p % 999)], "city": "Boston", "state": "MA", "postalCode": "02101", "country": "US"}],
        "maritalStatus": coding("http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "M", "M"),
        "multipleBirthBoolean": false,
        "communication": [{"language": coding("urn:ietf:bcp:47", "en-US", "English")}]
    })
}

fn encounter_json(n: usize, patient: &str) -> Value {
    json!({
        "resourceType": "Encounter",
        "id": format!("{n:08x}-1111-4000-8000-000000000000"),
        "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-encounter"]},
        "identifier": [{"use": "official", "system": "https://github.com/synthetichealth/synthea", "value": format!("{n:08x}")}],
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [coding("http://snomed.info/sct", "185349003", "Encounter for check up (procedure)")],
        "subject": {"reference": patient, "display": "Mr. Given Family"},
        "participant": [{
            "type": [coding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PPRF", "primary performer")],
            "period": {"start": "2015-06-01T10:00:00-04:00", "end": "2015-06-01T10:15:00-04:00"},
            "individual": {"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999999929", "display": "Dr. Jane Doe"}}],
        "period": {"start": "2015-06-01T10:00:00-04:00", "end": "2015-06-01T10:15:00-04:00"},
        "location": [{"location": {"reference": "Location?identifier=https://github.com/synthetichealth/synthea|loc-1", "display": "SPRINGFIELD CLINIC"}}],
        "serviceProvider": {"reference": "Organization?identifier=https://github.com/synthetichealth/synthea|org-1", "display": "SPRINGFIELD CLINIC"}
    })
}

fn condition_json(n: usize, patient: &str, encounter: &str) -> Value {
    json!({
        "resourceType": "Condition",
        "id": format!("{n:08x}-2222-4000-8000-000000000000"),
        "clinicalStatus": coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "active"),
        "verificationStatus": coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "confirmed"),
        "category": [coding("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis", "Encounter Diagnosis")],
        "code": coding("http://snomed.info/sct", "444814009", "Viral sinusitis (disorder)"),
        "subject": {"reference": patient},
        "encounter": {"reference": encounter},
        "onsetDateTime": "2015-06-01T10:00:00-04:00",
        "recordedDate": "2015-06-01T10:00:00-04:00"
    })
}

fn observation_json(
    n: usize,
    patient: &str,
    encounter: &str,
    code: &str,
    display: &str,
    value: f64,
    unit: &str,
) -> Value {
    json!({
        "resourceType": "Observation",
        "id": format!("{n:08x}-3333-4000-8000-000000000000"),
        "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},
        "status": "final",
        "category": [coding("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "vital-signs")],
        "code": coding("http://loinc.org", code, display),
        "subject": {"reference": patient},
        "encounter": {"reference": encounter},
        "effectiveDateTime": "2015-06-01T10:00:00-04:00",
        "issued": "2015-06-01T10:00:00.123-04:00",
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
    })
}

fn blood_pressure_json(n: usize, patient: &str, encounter: &str) -> Value {
    let component = |code: &str, display: &str, value: usize| {
        json!({
            "code": coding("http://loinc.org", code, display),
            "valueQuantity": {"value": value, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
        })
    };
    json!({
        "resourceType": "Observation",
        "id": format!("{n:08x}-4444-4000-8000-000000000000"),
        "status": "final",
        "category": [coding("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "vital-signs")],
        "code": coding("http://loinc.org", "85354-9", "Blood pressure panel with all children optional"),
        "subject": {"reference": patient},
        "encounter": {"reference": encounter},
        "effectiveDateTime": "2015-06-01T10:00:00-04:00",
        "issued": "2015-06-01T10:00:00.123-04:00",
        "component": [component("8462-4", "Diastolic Blood Pressure", 70 + n % 20), component("8480-6", "Systolic Blood Pressure", 110 + n % 30)]
    })
}

fn claim_json(n: usize, patient: &str, encounter: &str) -> Value {
    json!({
        "resourceType": "Claim",
        "id": format!("{n:08x}-5555-4000-8000-000000000000"),
        "status": "active",
        "type": coding("http://terminology.hl7.org/CodeSystem/claim-type", "professional", "professional"),
        "use": "claim",
        "patient": {"reference": patient, "display": "Given Family"},
        "billablePeriod": {"start": "2015-06-01T10:00:00-04:00", "end": "2015-06-01T10:15:00-04:00"},
        "created": "2015-06-01T10:15:00-04:00",
        "provider": {"reference": "Organization?identifier=https://github.com/synthetichealth/synthea|org-1", "display": "SPRINGFIELD CLINIC"},
        "priority": coding("http://terminology.hl7.org/CodeSystem/processpriority", "normal", "normal"),
        "facility": {"reference": "Location?identifier=https://github.com/synthetichealth/synthea|loc-1", "display": "SPRINGFIELD CLINIC"},
        "diagnosis": [{"sequence": 1, "diagnosisReference": {"reference": format!("urn:uuid:{n:08x}-2222-4000-8000-000000000000")}}],
        "insurance": [{"sequence": 1, "focal": true, "coverage": {"display": "Medicaid"}}],
        "item": [
            {"sequence": 1, "productOrService": coding("http://snomed.info/sct", "185349003", "Encounter for check up (procedure)"), "encounter": [{"reference": encounter}]},
            {"sequence": 2, "diagnosisSequence": [1], "productOrService": coding("http://snomed.info/sct", "444814009", "Viral sinusitis (disorder)")},
            {"sequence": 3, "procedureSequence": [1], "productOrService": coding("http://snomed.info/sct", "430193006", "Medication reconciliation (procedure)"), "net": {"value": 363.83, "currency": "USD"}}],
        "total": {"value": 493.83, "currency": "USD"}
    })
}

fn eob_json(n: usize, patient: &str, encounter: &str) -> Value {
    let adjudication = |code: &str, value: f64| {
        json!({
            "category": coding("https://bluebutton.cms.gov/resources/codesystem/adjudication", code, code),
            "amount": {"value": value, "currency": "USD"}
        })
    };
    json!({
        "resourceType": "ExplanationOfBenefit",
        "id": format!("{n:08x}-6666-4000-8000-000000000000"),
        "contained": [
            {"resourceType": "ServiceRequest", "id": "referral", "status": "completed", "intent": "order", "subject": {"reference": patient}, "requester": {"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999999929"}, "performer": [{"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999999929"}]},
            {"resourceType": "Coverage", "id": "coverage", "status": "active", "type": {"text": "Medicaid"}, "beneficiary": {"reference": patient}, "payor": [{"display": "Medicaid"}]}],
        "identifier": [{"system": "https://bluebutton.cms.gov/resources/variables/clm_id", "value": format!("{n:08x}")}],
        "status": "active",
        "type": coding("http://terminology.hl7.org/CodeSystem/claim-type", "professional", "professional"),
        "use": "claim",
        "patient": {"reference": patient},
        "billablePeriod": {"start": "2015-06-01T10:15:00-04:00", "end": "2016-06-01T10:15:00-04:00"},
        "created": "2015-06-01T10:15:00-04:00",
        "insurer": {"display": "Medicaid"},
        "provider": {"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999999929"},
        "referral": {"reference": "#referral"},
        "claim": {"reference": format!("urn:uuid:{n:08x}-5555-4000-8000-000000000000")},
        "outcome": "complete",
        "careTeam": [{"sequence": 1, "provider": {"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999999929"}, "role": coding("http://terminology.hl7.org/CodeSystem/claimcareteamrole", "primary", "Primary Care Practitioner")}],
        "insurance": [{"focal": true, "coverage": {"reference": "#coverage", "display": "Medicaid"}}],
        "item": [{
            "sequence": 1,
            "category": coding("https://bluebutton.cms.gov/resources/variables/line_cms_type_srvc_cd", "1", "Medical care"),
            "productOrService": coding("http://snomed.info/sct", "185349003", "Encounter for check up (procedure)"),
            "servicedPeriod": {"start": "2015-06-01T10:00:00-04:00", "end": "2015-06-01T10:15:00-04:00"},
            "locationCodeableConcept": coding("http://terminology.hl7.org/CodeSystem/ex-serviceplace", "19", "Off Campus-Outpatient Hospital"),
            "encounter": [{"reference": encounter}],
            "adjudication": [adjudication("https://bluebutton.cms.gov/resources/variables/line_coinsrnc_amt", 26.3), adjudication("https://bluebutton.cms.gov/resources/variables/line_prvdr_pmt_amt", 105.2)]}],
        "total": [{"category": coding("http://terminology.hl7.org/CodeSystem/adjudication", "submitted", "Submitted Amount"), "amount": {"value": 129.16, "currency": "USD"}}],
        "payment": {"amount": {"value": 105.2, "currency": "USD"}}
    })
}

fn procedure_json(n: usize, patient: &str, encounter: &str) -> Value {
    json!({
        "resourceType": "Procedure",
        "id": format!("{n:08x}-7777-4000-8000-000000000000"),
        "status": "completed",
        "code": coding("http://snomed.info/sct", "430193006", "Medication reconciliation (procedure)"),
        "subject": {"reference": patient},
        "encounter": {"reference": encounter},
        "performedPeriod": {"start": "2015-06-01T10:00:00-04:00", "end": "2015-06-01T10:15:00-04:00"},
        "location": {"reference": "Location?identifier=https://github.com/synthetichealth/synthea|loc-1", "display": "SPRINGFIELD CLINIC"}
    })
}

fn medication_request_json(n: usize, patient: &str, encounter: &str) -> Value {
    json!({
        "resourceType": "MedicationRequest",
        "id": format!("{n:08x}-8888-4000-8000-000000000000"),
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": coding("http://www.nlm.nih.gov/research/umls/rxnorm", "313782", "Acetaminophen 325 MG Oral Tablet"),
        "subject": {"reference": patient},
        "encounter": {"reference": encounter},
        "authoredOn": "2015-06-01T10:15:00-04:00",
        "requester": {"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999999929", "display": "Dr. Jane Doe"},
        "dosageInstruction": [{"sequence": 1, "timing": {"repeat": {"frequency": 4, "period": 1.0, "periodUnit": "d"}}, "asNeededBoolean": false,
            "doseAndRate": [{"type": coding("http://terminology.hl7.org/CodeSystem/dose-rate-type", "ordered", "Ordered"), "doseQuantity": {"value": 1.0}}]}]
    })
}

fn immunization_json(n: usize, patient: &str, encounter: &str) -> Value {
    json!({
        "resourceType": "Immunization",
        "id": format!("{n:08x}-9999-4000-8000-000000000000"),
        "status": "completed",
        "vaccineCode": coding("http://hl7.org/fhir/sid/cvx", "140", "Influenza, seasonal, injectable, preservative free"),
        "patient": {"reference": patient},
        "encounter": {"reference": encounter},
        "occurrenceDateTime": "2015-06-01T10:00:00-04:00",
        "primarySource": true
    })
}
