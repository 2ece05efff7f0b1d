//! The fixture of the staged write tests: a store on a fresh table with one provisioned
//! tenant, op builders, and a scan for what staged writes may leave behind.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use hearth_aws::dynamo::{DynamoStore, IndexMode, create_table};
use hearth_store::embedded::LocalKeyService;
use hearth_store::{
    Envelope, HistoryQuery, HistoryScope, KeyService, Method, Precondition, ResourceKey,
    ResourceStore, WriteKind, WriteOp,
};
use hearth_tenancy::TenantId;
use serde_json::{Value, json};

pub fn endpoint(test: &str) -> Option<String> {
    match std::env::var("HEARTH_TEST_EMULATORS").as_deref() {
        Ok("1") => Some(
            std::env::var("HEARTH_TEST_AWS_ENDPOINT")
                .expect("HEARTH_TEST_EMULATORS=1 needs HEARTH_TEST_AWS_ENDPOINT"),
        ),
        _ => {
            eprintln!("{test}: skipped (set HEARTH_TEST_EMULATORS=1 to run)");
            None
        }
    }
}

/// A store on a fresh table with one provisioned tenant; the key folder goes on drop.
pub struct Fixture {
    pub client: Client,
    pub table: String,
    pub store: Arc<DynamoStore>,
    pub tenant: TenantId,
    keys: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.keys);
    }
}

pub async fn fixture(endpoint: &str, lock_timeout: Duration) -> Fixture {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let client = Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .build(),
    );
    let table = format!("hearth-staged-{unique}");
    create_table(&client, &table).await.expect("create table");
    let keys = std::env::temp_dir().join(format!("hearth-staged-keys-{unique}"));
    let service = LocalKeyService::open(&keys).expect("key folder");
    let tenant: TenantId = format!("t-{}", &unique[..12]).parse().unwrap();
    service.provision(&tenant).await.expect("provision tenant");
    let envelope = Arc::new(Envelope::new(Arc::new(service)));
    let store = DynamoStore::new(
        client.clone(),
        table.clone(),
        envelope,
        None,
        IndexMode::Stream,
    )
    .with_lock_timeout(lock_timeout);
    Fixture {
        client,
        table,
        store: Arc::new(store),
        tenant,
        keys,
    }
}

pub fn key(rt: &str, id: &str) -> ResourceKey {
    ResourceKey::new(rt.parse().unwrap(), id.parse().unwrap())
}

pub fn put(key: &ResourceKey, body: Value, precondition: Precondition) -> WriteOp {
    let Value::Object(body) = body else {
        panic!("not an object")
    };
    WriteOp {
        key: key.clone(),
        kind: WriteKind::Put {
            body,
            blob: None,
            method: Method::Put,
            index: Vec::new(),
        },
        precondition,
    }
}

pub fn obs(i: usize, precondition: Precondition) -> WriteOp {
    put(
        &key("Observation", &format!("o{i}")),
        json!({"resourceType": "Observation", "status": "final", "valueInteger": i}),
        precondition,
    )
}

pub fn marker(body: &Option<bytes::Bytes>) -> Value {
    let json: Value = serde_json::from_slice(body.as_ref().expect("a body")).unwrap();
    json["gender"].clone()
}

pub async fn history_total(f: &Fixture, scope: HistoryScope) -> u64 {
    let q = HistoryQuery {
        since: None,
        at: None,
        count: 1,
        cursor: None,
    };
    f.store.history(&f.tenant, &scope, &q).await.unwrap().total
}

/// Items of the tenant that belong to staged writes: locks, placeholders, records, staged ops.
pub async fn leftovers(f: &Fixture) -> Vec<String> {
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let out = f
            .client
            .scan()
            .table_name(&f.table)
            .filter_expression(
                "begins_with(pk, :t) AND (attribute_exists(txl) OR begins_with(pk, :tx) \
                 OR (sk = :cur AND attribute_not_exists(v)))",
            )
            .expression_attribute_values(":t", AttributeValue::S(format!("{}#", f.tenant)))
            .expression_attribute_values(":tx", AttributeValue::S(format!("{}#tx", f.tenant)))
            .expression_attribute_values(":cur", AttributeValue::S("cur".into()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in out.items() {
            if let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
                (item.get("pk"), item.get("sk"))
            {
                found.push(format!("{pk}/{sk}"));
            }
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            return found;
        }
    }
}

pub fn patient(id: &str, gender: &str, precondition: Precondition) -> WriteOp {
    put(
        &key("Patient", id),
        json!({"resourceType": "Patient", "gender": gender}),
        precondition,
    )
}
