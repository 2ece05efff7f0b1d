//! Times search-value extraction and index-entry conversion of a small Patient (a rough
//! figure for tuning; run with `cargo run --release -p hearth-fhir --example extract_speed`).

#![allow(
    clippy::print_stdout,
    reason = "a measuring tool whose output is its figures"
)]

use std::time::Instant;

use hearth_fhir::search::extract::extract;
use hearth_fhir::search::index::index_entries;
use hearth_fhir::search::registry::Registry;

fn main() {
    let patient = serde_json::json!({"resourceType": "Patient", "active": true,
        "identifier": [{"system": "http://example.org/mrn", "value": "mrn-1"}],
        "name": [{"family": "Doe", "given": ["Jane", "Q"]}], "gender": "female", "birthDate": "1970-01-01"});
    let registry = Registry::r4();
    let n = 20_000;
    let mut rows = 0;
    let started = Instant::now();
    for _ in 0..n {
        rows += extract(registry, &patient).params.len();
    }
    let extract_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let extraction = extract(registry, &patient);
    let started = Instant::now();
    for _ in 0..n {
        rows += index_entries(&extraction, None).len();
    }
    let convert_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!(
        "extract {extract_us:.1} µs, index entries {convert_us:.1} µs per Patient ({} params, {} entries, {rows})",
        extraction.params.len(),
        index_entries(&extraction, None).len()
    );
    for p in registry.for_type("Patient") {
        let one = Instant::now();
        for _ in 0..1000 {
            let _ = hearth_fhir::search::extract::extract_param(registry, p, &patient);
        }
        let us = one.elapsed().as_secs_f64() * 1e3;
        if us > 2.0 {
            println!("  {:<30} {us:.1} µs", p.code);
        }
    }
}
