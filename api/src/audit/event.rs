//! An [`AuditRecord`] as an R4 AuditEvent (`type` rest, `subtype` the restful interaction).

use base64::Engine;
use chrono::SecondsFormat;
use serde_json::{Value, json};

use super::record::{AuditRecord, outcome_code};

const AUDIT_EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const RESTFUL_INTERACTION: &str = "http://hl7.org/fhir/restful-interaction";
const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
/// The identifier system of export jobs (their ids, as in `$export-status/{id}`).
const EXPORT_JOB: &str = "urn:hearth:export-job";

/// The AuditEvent of `record`, observed by `observer` (e.g. `hearth` and the node's name);
/// `None` when the record has no interaction (nothing FHIR happened).
pub fn audit_event(record: &AuditRecord, observer: &str) -> Option<Value> {
    let interaction = record.interaction?;
    let mut subtype = json!({ "system": RESTFUL_INTERACTION, "code": interaction.code() });
    if interaction.code() == "operation" {
        subtype["display"] = interaction.label().into();
    }
    let mut event = json!({
        "resourceType": "AuditEvent",
        "type": { "system": AUDIT_EVENT_TYPE, "code": "rest", "display": "RESTful Operation" },
        "subtype": [subtype],
        "action": interaction.action(),
        "recorded": record.recorded.to_rfc3339_opts(SecondsFormat::Millis, true),
        "outcome": outcome_code(record.status),
        "agent": agents(record),
        "source": {
            "observer": { "display": observer },
            "type": [{ "system": SOURCE_TYPE, "code": "3", "display": "Web Server" }],
        },
    });
    if record.status >= 400 {
        let desc = match record.issue_code {
            Some(code) => format!("{} {code}", record.status),
            None => record.status.to_string(),
        };
        event["outcomeDesc"] = desc.into();
    }
    let mut entities: Vec<Value> = record
        .entities
        .iter()
        .map(|reference| {
            json!({
                "what": { "reference": reference },
                "type": { "system": ENTITY_TYPE, "code": "2", "display": "System Object" },
            })
        })
        .collect();
    if let Some(query) = &record.query {
        entities.push(json!({
            "type": { "system": ENTITY_TYPE, "code": "2", "display": "System Object" },
            "query": base64::engine::general_purpose::STANDARD.encode(query),
        }));
    }
    if let Some(job) = &record.job {
        entities.push(json!({
            "what": {
                "identifier": { "system": EXPORT_JOB, "value": job },
                "display": "bulk export job",
            },
            "type": { "system": ENTITY_TYPE, "code": "2", "display": "System Object" },
        }));
    }
    if record.entity_count > record.entities.len() {
        entities.push(json!({
            "description": format!(
                "{} resources touched; the first {} are listed",
                record.entity_count,
                record.entities.len()
            ),
        }));
    }
    if !entities.is_empty() {
        event["entity"] = entities.into();
    }
    Some(event)
}

/// The requestor (the token's subject, with the source address) and the client it used.
fn agents(record: &AuditRecord) -> Value {
    let subject = record.subject.as_deref().unwrap_or("anonymous");
    let mut requestor = json!({
        "type": { "coding": [{ "system": DICOM, "code": "110153", "display": "Source Role ID" }] },
        "who": { "identifier": { "value": subject } },
        "altId": subject,
        "requestor": true,
    });
    if let Some(address) = &record.source {
        requestor["network"] = json!({ "address": address, "type": "2" });
    }
    let mut agents = vec![requestor];
    if let Some(client) = &record.client_id {
        agents.push(json!({
            "type": { "coding": [{ "system": DICOM, "code": "110150", "display": "Application" }] },
            "who": { "identifier": { "value": client }, "display": client },
            "requestor": false,
        }));
    }
    agents.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{Interaction, MAX_ENTITIES};

    fn record(interaction: Interaction, status: u16) -> AuditRecord {
        AuditRecord {
            tenant: Some("a".parse().unwrap()),
            interaction: Some(interaction),
            subject: Some("alice".into()),
            client_id: Some("app".into()),
            source: Some("127.0.0.1".into()),
            request_id: "r".into(),
            entities: vec!["Patient/1".into(), "Patient/1/_history/2".into()],
            entity_count: MAX_ENTITIES + 5,
            query: interaction
                .is_search()
                .then(|| "name=x&_count=2".to_owned()),
            job: matches!(interaction, Interaction::Operation(_)).then(|| "j1".to_owned()),
            status,
            issue_code: (status >= 400).then_some("not-found"),
            recorded: chrono::Utc::now(),
        }
    }

    /// Every interaction's event, successful or failed, is a valid R4 AuditEvent.
    #[test]
    fn events_are_valid_r4() {
        use Interaction as I;
        for interaction in [
            I::Read,
            I::Vread,
            I::Update,
            I::Patch,
            I::Delete,
            I::HistoryInstance,
            I::HistoryType,
            I::HistorySystem,
            I::Create,
            I::SearchType,
            I::SearchSystem,
            I::Batch,
            I::Transaction,
            I::Capabilities,
            I::Operation("$export"),
        ] {
            for status in [200, 404, 500] {
                let event = audit_event(&record(interaction, status), "hearth test").unwrap();
                hearth_fhir::validate::validate_resource(&event)
                    .unwrap_or_else(|e| panic!("{interaction:?} {status}: {e:?}\n{event:#}"));
                assert_eq!(event["subtype"][0]["code"], interaction.code());
                assert_eq!(event["action"], interaction.action());
                assert_eq!(event["outcome"], outcome_code(status));
            }
        }
    }

    #[test]
    fn search_query_is_base64() {
        let event = audit_event(&record(Interaction::SearchType, 200), "hearth").unwrap();
        let entities = event["entity"].as_array().unwrap();
        assert_eq!(entities[0]["what"]["reference"], "Patient/1");
        assert_eq!(entities[2]["query"], "bmFtZT14Jl9jb3VudD0y");
        assert!(entities[3]["description"].as_str().unwrap().contains("55"));
        assert_eq!(event["agent"][0]["who"]["identifier"]["value"], "alice");
        assert_eq!(event["agent"][0]["network"]["address"], "127.0.0.1");
        assert_eq!(event["agent"][1]["who"]["display"], "app");
    }

    #[test]
    fn no_interaction_no_event() {
        let mut r = record(Interaction::Read, 200);
        r.interaction = None;
        assert!(audit_event(&r, "hearth").is_none());
    }
}
