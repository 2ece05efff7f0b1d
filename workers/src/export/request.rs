//! The kick-off parameters of `$export` (Bulk Data Access IG 2.0.0, with the 3.0.0 `_until`),
//! parsed once into an [`ExportRequest`] that the job record keeps.
//!
//! Comma lists and repeated parameters are treated alike. Invalid or unsupported values are
//! errors; with `Prefer: handling=lenient` the ones that can be left out are dropped and
//! reported as warnings (the manifest's `error` file) instead.

use chrono::{DateTime, Utc};
use hearth_fhir::ResourceType;
use hearth_fhir::search::query::{ParseOptions, parse_search};
use hearth_fhir::search::registry::Registry;
use serde::{Deserialize, Serialize};

/// Which data the export covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Level {
    /// `[base]/$export`: every resource.
    System,
    /// `[base]/Patient/$export`: the compartments of all patients (or of `patient`).
    Patient,
    /// `[base]/Group/[id]/$export`: the compartments of the group's members.
    Group(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    Ndjson,
    Parquet,
}

impl Format {
    /// The `_outputFormat` echoed in the manifest's `request` and the file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Parquet => "parquet",
        }
    }
}

/// `includeAssociatedData` values this server honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Associated {
    /// The latest Provenance resources whose targets are exported resources.
    LatestProvenance,
    /// Every Provenance resource whose targets are exported resources.
    RelevantProvenance,
}

/// One `_typeFilter`: a search on `rt` that exported resources of that type must match
/// (filters of one type are ORed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeFilter {
    pub rt: String,
    /// The query string after `?`, as given.
    pub query: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub level: Level,
    pub format: Format,
    /// `_type`, in the order given; empty means every type the level covers (for Patient and
    /// Group exports, the Patient compartment's types; other types given here export the
    /// resources that reference the patients).
    pub types: Vec<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// `_elements`: `(type, element)`, the type `None` when the element applies to all.
    pub elements: Vec<(Option<String>, String)>,
    /// `patient` (POST): ids of the patients whose data is exported.
    pub patients: Vec<String>,
    pub type_filters: Vec<TypeFilter>,
    pub associated: Vec<Associated>,
}

/// A kick-off that cannot start: the message for the 400 OperationOutcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RequestError(pub String);

/// Parameters a kick-off accepts; anything else is unsupported.
const KNOWN: [&str; 9] = [
    "_outputFormat",
    "_since",
    "_until",
    "_type",
    "_elements",
    "patient",
    "_typeFilter",
    "includeAssociatedData",
    "allowPartialManifests",
];

/// Values of a parameter, split at commas (except `_typeFilter`, whose values hold queries).
fn values<'a>(params: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    params
        .iter()
        .filter(|(n, _)| n == name)
        .flat_map(|(_, v)| {
            if name == "_typeFilter" {
                vec![v.as_str()]
            } else {
                v.split(',').collect()
            }
        })
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

fn instant(name: &str, value: &str) -> Result<DateTime<Utc>, RequestError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            RequestError(format!(
                "{name} must be a FHIR instant with a time zone (such as 2024-01-01T00:00:00Z), got '{value}'"
            ))
        })
}

fn format(params: &[(String, String)]) -> Result<Format, RequestError> {
    let given = values(params, "_outputFormat");
    let mut format = None;
    for value in given {
        let this = match value {
            "application/fhir+ndjson" | "application/ndjson" | "ndjson" => Format::Ndjson,
            "application/vnd.apache.parquet" | "parquet" => Format::Parquet,
            other => {
                return Err(RequestError(format!(
                    "_outputFormat '{other}' is not supported; use application/fhir+ndjson or application/vnd.apache.parquet"
                )));
            }
        };
        if format.is_some_and(|f| f != this) {
            return Err(RequestError(
                "_outputFormat is given twice with different values".into(),
            ));
        }
        format = Some(this);
    }
    Ok(format.unwrap_or(Format::Ndjson))
}

/// Collects a problem: an error, or with `lenient` a warning when the value can be dropped.
struct Problems<'a> {
    lenient: bool,
    warnings: &'a mut Vec<String>,
}

impl Problems<'_> {
    fn droppable(&mut self, message: String) -> Result<(), RequestError> {
        if self.lenient {
            self.warnings.push(message);
            Ok(())
        } else {
            Err(RequestError(message))
        }
    }
}

fn resource_type(name: &str) -> Option<ResourceType> {
    name.parse::<ResourceType>().ok()
}

fn types(
    params: &[(String, String)],
    problems: &mut Problems<'_>,
) -> Result<Vec<String>, RequestError> {
    let mut out: Vec<String> = Vec::new();
    for name in values(params, "_type") {
        match resource_type(name) {
            None => problems.droppable(format!("_type '{name}' is not a FHIR R4 resource type"))?,
            Some(_) if out.iter().any(|t| t == name) => {}
            Some(_) => out.push(name.to_owned()),
        }
    }
    Ok(out)
}

fn elements(
    params: &[(String, String)],
    problems: &mut Problems<'_>,
) -> Result<Vec<(Option<String>, String)>, RequestError> {
    let mut out = Vec::new();
    let is_name = |s: &str| {
        !s.is_empty()
            && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'[' || b == b']')
    };
    for value in values(params, "_elements") {
        let entry = match value.split_once('.') {
            Some((rt, element)) if resource_type(rt).is_some() && is_name(element) => {
                (Some(rt.to_owned()), element.to_owned())
            }
            None if is_name(value) => (None, value.to_owned()),
            _ => {
                problems.droppable(format!(
                    "_elements '{value}' is not an element name or [type].[element]"
                ))?;
                continue;
            }
        };
        out.push(entry);
    }
    Ok(out)
}

fn patients(level: &Level, params: &[(String, String)]) -> Result<Vec<String>, RequestError> {
    let given = values(params, "patient");
    if !given.is_empty() && *level == Level::System {
        return Err(RequestError(
            "patient applies to Patient and Group exports only".into(),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for value in given {
        let id = value.strip_prefix("Patient/").unwrap_or(value);
        if id.is_empty() || id.contains('/') || !hearth_fhir::ResourceId::is_valid(id) {
            return Err(RequestError(format!(
                "patient '{value}' is not a reference to a Patient (Patient/[id])"
            )));
        }
        if !out.iter().any(|p| p == id) {
            out.push(id.to_owned());
        }
    }
    Ok(out)
}

fn type_filters(
    params: &[(String, String)],
    problems: &mut Problems<'_>,
) -> Result<Vec<TypeFilter>, RequestError> {
    let mut out = Vec::new();
    for value in values(params, "_typeFilter") {
        let Some((rt_name, query)) = value.split_once('?') else {
            problems.droppable(format!("_typeFilter '{value}' is not [type]?[query]"))?;
            continue;
        };
        let Some(rt) = resource_type(rt_name) else {
            problems.droppable(format!(
                "_typeFilter '{value}': '{rt_name}' is not a FHIR R4 resource type"
            ))?;
            continue;
        };
        let pairs: Vec<(String, String)> = form_pairs(query);
        let options = ParseOptions {
            strict: true,
            ..ParseOptions::default()
        };
        match parse_search(Registry::r4(), Some(rt), &pairs, &options) {
            Err(issue) => {
                problems.droppable(format!("_typeFilter '{value}': {}", issue.diagnostics))?
            }
            Ok(q) if !q.include.is_empty() || !q.revinclude.is_empty() || !q.sort.is_empty() => {
                problems.droppable(format!(
                    "_typeFilter '{value}': _include, _revinclude and _sort do not apply to export"
                ))?
            }
            Ok(_) => out.push(TypeFilter {
                rt: rt_name.to_owned(),
                query: query.to_owned(),
            }),
        }
    }
    Ok(out)
}

/// The `name=value` pairs of a query string, percent-decoded.
pub fn form_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn associated(
    params: &[(String, String)],
    problems: &mut Problems<'_>,
) -> Result<Vec<Associated>, RequestError> {
    let mut out = Vec::new();
    for value in values(params, "includeAssociatedData") {
        let this = match value {
            "LatestProvenanceResources" => Associated::LatestProvenance,
            "RelevantProvenanceResources" => Associated::RelevantProvenance,
            other => {
                problems.droppable(format!("includeAssociatedData '{other}' is not supported"))?;
                continue;
            }
        };
        if !out.contains(&this) {
            out.push(this);
        }
    }
    Ok(out)
}

/// Parses the kick-off parameters; returns the request and the warnings of a lenient parse.
pub fn parse_request(
    level: Level,
    params: &[(String, String)],
    lenient: bool,
) -> Result<(ExportRequest, Vec<String>), RequestError> {
    let mut warnings = Vec::new();
    let mut problems = Problems {
        lenient,
        warnings: &mut warnings,
    };
    for (name, _) in params {
        if !KNOWN.contains(&name.as_str()) {
            problems.droppable(format!("parameter '{name}' is not supported by $export"))?;
        }
    }
    let since = values(params, "_since")
        .last()
        .map(|v| instant("_since", v))
        .transpose()?;
    let until = values(params, "_until")
        .last()
        .map(|v| instant("_until", v))
        .transpose()?;
    if let (Some(since), Some(until)) = (since, until)
        && until < since
    {
        return Err(RequestError("_until is before _since".into()));
    }
    let request = ExportRequest {
        format: format(params)?,
        types: types(params, &mut problems)?,
        since,
        until,
        elements: elements(params, &mut problems)?,
        patients: patients(&level, params)?,
        type_filters: type_filters(params, &mut problems)?,
        associated: associated(params, &mut problems)?,
        level,
    };
    Ok((request, warnings))
}

#[cfg(test)]
mod tests;
