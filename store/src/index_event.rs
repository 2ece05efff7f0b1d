//! The index queue's message: the changed item's keys as the stream carries them,
//! `{"pk": "{tenant}#{type}#{id}", "sk": "cur", "event": "MODIFY"}` (the EventBridge Pipe's
//! input template and the local stream pump produce the same shape).

use crate::ResourceKey;
use hearth_tenancy::TenantId;
use serde::{Deserialize, Serialize};

/// The queue the index events travel on (FIFO on SQS: `{prefix}-index.fifo`, as the
/// deployment template names it).
pub const INDEX_QUEUE: &str = "index.fifo";

/// The sort key of a resource's current item; events of other items are not index events.
const CURRENT: &str = "cur";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEvent {
    pub pk: String,
    pub sk: String,
    /// `INSERT`, `MODIFY` or `REMOVE`; informative only.
    #[serde(default)]
    pub event: String,
}

impl IndexEvent {
    /// The event of a change to `key`'s current item.
    pub fn of(tenant: &TenantId, key: &ResourceKey, event: &str) -> IndexEvent {
        IndexEvent {
            pk: format!("{tenant}#{}#{}", key.rt, key.id),
            sk: CURRENT.to_owned(),
            event: event.to_owned(),
        }
    }

    /// The resource this event is about; `None` for another kind of item or a malformed key.
    pub fn resource(&self) -> Option<(TenantId, ResourceKey)> {
        if self.sk != CURRENT {
            return None;
        }
        let mut parts = self.pk.splitn(3, '#');
        let tenant = parts.next()?.parse().ok()?;
        let rt = parts.next()?.parse().ok()?;
        let id = parts.next()?.parse().ok()?;
        Some((tenant, ResourceKey::new(rt, id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_their_resource() {
        let cases = [
            (
                r#"{"pk":"acme#Patient#p1","sk":"cur","event":"MODIFY"}"#,
                Some("acme Patient/p1"),
            ),
            (
                r#"{"pk":"acme#Patient#p1","sk":"cur"}"#,
                Some("acme Patient/p1"),
            ),
            (r#"{"pk":"acme#Patient#p1","sk":"v#000000000001"}"#, None),
            (r#"{"pk":"acme#Nope#p1","sk":"cur"}"#, None),
            (r#"{"pk":"ACME#Patient#p1","sk":"cur"}"#, None),
            (r#"{"pk":"acme#Patient","sk":"cur"}"#, None),
            (r#"{"pk":"acme#Patient#a#b","sk":"cur"}"#, None),
        ];
        for (body, expected) in cases {
            let event: IndexEvent = serde_json::from_str(body).unwrap();
            let got = event
                .resource()
                .map(|(t, k)| format!("{t} {}/{}", k.rt, k.id));
            assert_eq!(got.as_deref(), expected, "{body}");
        }
        let tenant: TenantId = "acme".parse().unwrap();
        let key = ResourceKey::new("Patient".parse().unwrap(), "p1".parse().unwrap());
        let event = IndexEvent::of(&tenant, &key, "INSERT");
        assert_eq!(event.resource(), Some((tenant, key)));
    }
}
