//! Golden test: the search values the Rust extractor yields for every example resource of the
//! R4 package equal what fhirpath.js (the HL7 reference engine) yields, after the normalization
//! described in `fhir/codegen/sp_golden.py` (which writes `golden/search-values.jsonl.gz`).
//!
//! The package directory comes from `HEARTH_FHIR_PACKAGE`; without it the test notes that and
//! passes, unless `CI` is set. Known, reasoned differences are listed in
//! `search-golden-exceptions.txt` as `param-code file-or-* reason`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use hearth_fhir::search::extract::{IndexValue, SpecialValue, extract};
use hearth_fhir::search::registry::Registry;
use serde_json::Value;

const GOLDEN: &[u8] = include_bytes!("golden/search-values.jsonl.gz");
const EXCEPTIONS: &str = include_str!("search-golden-exceptions.txt");

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

/// As an IEEE double, the way fhirpath.js sees numbers: `1.50` → `1.5`, `1e2` → `100`,
/// `66.899999999999991` → `66.89999999999999`.
fn decimal(s: &str) -> String {
    s.parse::<f64>()
        .map_or_else(|_| s.to_string(), |f| f.to_string())
}

/// One index value as the golden file writes it (see `sp_golden.py`); `None` when the
/// golden normalization drops such values.
fn normalize(v: &IndexValue) -> Option<String> {
    Some(match v {
        IndexValue::String(s) => s.original.clone(),
        IndexValue::Token(t) => {
            if t.system.is_none() && t.code.is_none() {
                return None;
            }
            format!("{}|{}", opt(&t.system), opt(&t.code))
        }
        IndexValue::Date(d) => d.original.clone(),
        IndexValue::Number(n) => decimal(&n.original),
        IndexValue::Quantity(q) => {
            let number = match q.number.original.split_once("..") {
                Some((lo, hi)) => format!("{}..{}", decimal(lo), decimal(hi)),
                None => decimal(&q.number.original),
            };
            format!("{number}|{}|{}", opt(&q.system), opt(&q.code))
        }
        IndexValue::Reference(r) => match (&r.reference, &r.identifier) {
            (Some(reference), _) => reference.clone(),
            (None, Some((system, value))) => format!("identifier:{}|{}", opt(system), opt(value)),
            (None, None) => return None,
        },
        IndexValue::Uri(u) => u.clone(),
        IndexValue::Composite(c) => {
            let parts: Option<Vec<String>> = c.components.iter().map(normalize).collect();
            parts?.join("$")
        }
        IndexValue::Special(SpecialValue::Position {
            latitude,
            longitude,
        }) => format!("{latitude},{longitude}"),
    })
}

struct Exceptions(Vec<(String, String, String)>);

impl Exceptions {
    fn load() -> Exceptions {
        Exceptions(
            EXCEPTIONS
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .filter_map(|l| {
                    let (code, rest) = l.split_once(char::is_whitespace)?;
                    let rest = rest.trim_start();
                    let (file, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                    Some((
                        code.to_string(),
                        file.to_string(),
                        reason.trim().to_string(),
                    ))
                })
                .collect(),
        )
    }

    fn find(&self, code: &str, file: &str) -> Option<usize> {
        self.0
            .iter()
            .position(|(c, f, _)| c == code && (f == "*" || f == file))
    }
}

#[test]
fn extracted_values_match_fhirpath_js() -> anyhow::Result<()> {
    let Some(dir) = std::env::var_os("HEARTH_FHIR_PACKAGE") else {
        if std::env::var_os("CI").is_some() {
            anyhow::bail!("HEARTH_FHIR_PACKAGE must be set in CI");
        }
        eprintln!("HEARTH_FHIR_PACKAGE is not set: skipping the search-value golden test");
        return Ok(());
    };
    let mut text = String::new();
    flate2::read::GzDecoder::new(GOLDEN).read_to_string(&mut text)?;
    let exceptions = Exceptions::load();
    let mut used = vec![0usize; exceptions.0.len()];
    let registry = Registry::r4();

    let (mut compared, mut passed, mut excepted, mut skipped) = (0usize, 0usize, 0usize, 0usize);
    let (mut elapsed, mut resources) = (Duration::ZERO, 0usize);
    let mut failures = Vec::new();
    for line in text.lines() {
        let entry: Value = serde_json::from_str(line)?;
        let file = entry["file"].as_str().unwrap_or_default();
        let resource: Value =
            serde_json::from_str(&std::fs::read_to_string(Path::new(&dir).join(file))?)?;
        let start = Instant::now();
        let extraction = extract(registry, &resource);
        elapsed += start.elapsed();
        resources += 1;

        let mut actual: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for p in &extraction.params {
            if p.param.expression.is_none() {
                // `_text` and `_content`: the server's own text, not a FHIRPath result.
                continue;
            }
            let set: BTreeSet<String> = p.values.iter().filter_map(normalize).collect();
            if !set.is_empty() {
                actual.insert(&p.param.code, set);
            }
        }
        let mut expected: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for (code, values) in entry["values"].as_object().into_iter().flatten() {
            let set = values
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            expected.insert(code, set);
        }
        let errors: BTreeSet<&str> = entry["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let codes: BTreeSet<&str> = actual.keys().chain(expected.keys()).copied().collect();
        for code in codes {
            if errors.contains(code) {
                skipped += 1;
                continue;
            }
            compared += 1;
            let empty = BTreeSet::new();
            let (a, e) = (
                actual.get(code).unwrap_or(&empty),
                expected.get(code).unwrap_or(&empty),
            );
            if a == e {
                passed += 1;
            } else if let Some(i) = exceptions.find(code, file) {
                used[i] += 1;
                excepted += 1;
            } else {
                let missing: Vec<_> = e.difference(a).collect();
                let extra: Vec<_> = a.difference(e).collect();
                failures.push(format!(
                    "{file} {code}: missing {missing:?}, extra {extra:?}"
                ));
            }
        }
        for e in &extraction.errors {
            if !errors.contains(e.param.code.as_str()) {
                failures.push(format!("{file} {}: error {}", e.param.code, e.error));
            }
        }
    }
    eprintln!(
        "search golden: {resources} resources, {compared} parameter value sets compared, \
         {passed} equal ({:.2}%), {excepted} listed exceptions, {} failures; \
         {skipped} not compared (fhirpath.js failed); extraction {:?} in total, {:?} per resource",
        100.0 * passed as f64 / compared.max(1) as f64,
        failures.len(),
        elapsed,
        elapsed / resources.max(1) as u32,
    );
    for (i, (code, file, _)) in exceptions.0.iter().enumerate() {
        if used[i] == 0 {
            eprintln!("exception no longer needed: {code} {file}");
        }
    }
    for f in failures.iter().take(60) {
        eprintln!("{f}");
    }
    anyhow::ensure!(failures.is_empty(), "{} mismatches", failures.len());
    Ok(())
}
