//! Corpus test: every example resource of the official R4 4.0.1 package validates, except the
//! ones listed (with a reason) in `known-invalid-examples.txt`, which must still be rejected.
//!
//! The package directory comes from `HEARTH_FHIR_PACKAGE` (the unpacked `package/` of
//! `npm pack hl7.fhir.r4.examples@4.0.1`); without it the test notes that and passes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use hearth_fhir::validate::validate_resource;

const KNOWN_INVALID: &str = include_str!("known-invalid-examples.txt");

/// File name → reason, from lines `File-name.json  reason...` (`#` starts a comment line).
fn known_invalid() -> BTreeMap<&'static str, &'static str> {
    KNOWN_INVALID
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.split_once(char::is_whitespace)
                .map_or((l, ""), |(f, r)| (f, r.trim()))
        })
        .collect()
}

#[test]
fn every_example_resource_validates() -> anyhow::Result<()> {
    let Some(dir) = std::env::var_os("HEARTH_FHIR_PACKAGE") else {
        eprintln!("HEARTH_FHIR_PACKAGE is not set: skipping the R4 example corpus");
        return Ok(());
    };
    let known = known_invalid();
    let mut files: Vec<_> = std::fs::read_dir(Path::new(&dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".json") && name != "package.json" && !name.starts_with('.')
        })
        .collect();
    files.sort();

    let (mut accepted, mut rejected, mut elapsed) = (0usize, 0usize, Duration::ZERO);
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path)?;
        let value: serde_json::Value = serde_json::from_str(&text)?;
        if value.get("resourceType").is_none() {
            continue; // not a resource (package metadata)
        }
        let start = Instant::now();
        let result = validate_resource(&value);
        elapsed += start.elapsed();
        match (result, known.contains_key(name)) {
            (Ok(_), false) => accepted += 1,
            (Err(_), true) => rejected += 1,
            (Ok(_), true) => failures.push(format!("{name}: listed as invalid but validates")),
            (Err(issues), false) => {
                let shown: Vec<String> = issues
                    .iter()
                    .take(5)
                    .map(|i| {
                        format!(
                            "{} {}: {}",
                            i.code.as_str(),
                            i.expression.as_deref().unwrap_or(""),
                            i.diagnostics
                        )
                    })
                    .collect();
                failures.push(format!(
                    "{name}: {} issue(s)\n    {}",
                    issues.len(),
                    shown.join("\n    ")
                ));
            }
        }
    }
    eprintln!(
        "R4 examples: {accepted} accepted, {rejected} rejected as listed, {} unexpected; validation took {elapsed:?} in total",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} unexpected result(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(())
}
