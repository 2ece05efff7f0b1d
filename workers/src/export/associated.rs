//! `includeAssociatedData`: Provenance resources that go with the exported resources.
//!
//! A Provenance is associated when one of its `target`s is a resource the export selects (a
//! live resource of an exported type and, for Patient and Group exports, linked to the export's
//! patients). `LatestProvenanceResources` keeps, per target, only the Provenance recorded last
//! (by a `target` search sorted on `-recorded`); `RelevantProvenanceResources` keeps them all.
//! Targets are judged by their current version, and `_typeFilter`/`_since` do not apply to them.

use std::collections::HashSet;

use hearth_fhir::ResourceType;
use hearth_fhir::compartment::patients_linked;
use hearth_fhir::search::query::{ParseOptions, Total, parse_search};
use hearth_fhir::search::registry::Registry;
use hearth_store::ResourceKey;
use hearth_tenancy::TenantId;
use serde_json::Value;

use super::context::ExportContext;
use super::runner::RunError;

/// What decides whether a Provenance goes with the export.
pub struct Association<'a> {
    /// The export's resource types (other than Provenance).
    pub types: &'a HashSet<String>,
    /// Patient and Group exports: targets must link to these patients (`None`: to any).
    pub patients: Option<&'a Option<HashSet<String>>>,
    pub latest_only: bool,
    pub base: &'a str,
}

/// `Type/id` of the targets of a Provenance that point into this server.
fn targets(provenance: &Value, base: &str) -> Vec<(String, String)> {
    let prefix = format!("{base}/");
    provenance
        .get("target")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("reference").and_then(Value::as_str))
        .filter_map(|r| {
            let local = r.strip_prefix(&prefix).unwrap_or(r);
            let (rt, id) = local.split_once('/')?;
            (!id.contains('/')).then(|| (rt.to_owned(), id.to_owned()))
        })
        .collect()
}

impl Association<'_> {
    /// Whether `provenance` (id `id`) is associated with the export.
    pub async fn selects(
        &self,
        ctx: &ExportContext,
        tenant: &TenantId,
        id: &str,
        provenance: &Value,
    ) -> Result<bool, RunError> {
        for (rt, target_id) in targets(provenance, self.base) {
            if !self.types.contains(&rt) {
                continue;
            }
            let (Ok(rt_parsed), Ok(tid)) = (rt.parse::<ResourceType>(), target_id.parse()) else {
                continue;
            };
            let Some(body) = ctx
                .resources
                .read(tenant, &ResourceKey::new(rt_parsed, tid))
                .await?
                .and_then(|v| v.body)
            else {
                continue;
            };
            if let Some(patients) = self.patients {
                let target: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let linked = patients_linked(Registry::r4(), &target, Some(self.base));
                let ok = match patients {
                    Some(members) => linked.iter().any(|p| members.contains(p)),
                    None => !linked.is_empty(),
                };
                if !ok {
                    continue;
                }
            }
            if !self.latest_only || self.is_latest(ctx, tenant, id, &rt, &target_id).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn is_latest(
        &self,
        ctx: &ExportContext,
        tenant: &TenantId,
        id: &str,
        rt: &str,
        target_id: &str,
    ) -> Result<bool, RunError> {
        let pairs = vec![
            ("target".to_owned(), format!("{rt}/{target_id}")),
            ("_sort".to_owned(), "-recorded".to_owned()),
            ("_count".to_owned(), "1".to_owned()),
        ];
        let options = ParseOptions {
            base: Some(self.base),
            strict: true,
            ..ParseOptions::default()
        };
        let provenance = "Provenance"
            .parse()
            .map_err(|_| RunError::Fatal("Provenance type".into()))?;
        let mut query = parse_search(Registry::r4(), Some(provenance), &pairs, &options)
            .map_err(|issue| RunError::Fatal(issue.diagnostics))?;
        query.total = Total::None;
        let page = ctx.resources.search(tenant, &query).await?;
        Ok(page
            .matches
            .first()
            .is_some_and(|v| v.key.id.as_str() == id))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn local_targets_only() {
        let p = json!({"resourceType": "Provenance", "target": [
            {"reference": "Observation/o1"},
            {"reference": "http://h/tenant/t/Patient/p1"},
            {"reference": "http://elsewhere/Patient/p2"},
            {"reference": "Observation/o1/_history/2"},
            {"display": "no reference"}]});
        assert_eq!(
            targets(&p, "http://h/tenant/t"),
            [
                ("Observation".to_owned(), "o1".to_owned()),
                ("Patient".to_owned(), "p1".to_owned())
            ]
        );
    }
}
