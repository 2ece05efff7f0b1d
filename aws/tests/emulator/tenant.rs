//! The AWS `TenantPartitions` against the AWS stand-in: after a destroy nothing of the
//! tenant remains in the resource table, the bucket or the jobs table, its key is gone, its
//! search index was dropped, an item put back cannot be decrypted and is removed by the next
//! destroy, and another tenant keeps everything.

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use chrono::Utc;
use futures::StreamExt;
use hearth_aws::AwsConfig;
use hearth_aws::backend::AwsBackend;
use hearth_aws::dynamo::IndexMode;
use hearth_aws::tenant::AwsTenantPartitions;
use hearth_fhir::search::query::SearchQuery;
use hearth_store::{
    BlobKey, BlobStore, ErrorKind, IndexDoc, JobId, JobRecord, JobState, JobStore, KeyIndex,
    KeyPage, KeyService, Method, Precondition, ResourceKey, ResourceStore, StoreError,
    TenantPartitions, WriteKind, WriteOp,
};
use hearth_tenancy::TenantId;
use serde_json::{Value, json};

type Item = HashMap<String, AttributeValue>;

/// A search index that records which tenants were dropped.
#[derive(Default)]
pub(crate) struct RecordingIndex {
    dropped: Mutex<Vec<TenantId>>,
}

#[async_trait]
impl KeyIndex for RecordingIndex {
    async fn apply(&self, _: &TenantId, _: &[IndexDoc]) -> Result<(), StoreError> {
        Ok(())
    }

    async fn refresh(&self, _: &TenantId) -> Result<(), StoreError> {
        Ok(())
    }

    async fn search_keys(&self, _: &TenantId, _: &SearchQuery) -> Result<KeyPage, StoreError> {
        Err(StoreError::Invalid("no search in this test".into()))
    }

    async fn drop_tenant(&self, tenant: &TenantId) -> Result<(), StoreError> {
        self.dropped.lock().unwrap().push(tenant.clone());
        Ok(())
    }

    async fn ready(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

fn tenant() -> TenantId {
    format!("t-{}", uuid::Uuid::new_v4().simple())
        .parse()
        .expect("tenant id")
}

fn key(id: &str) -> ResourceKey {
    ResourceKey::new("Patient".parse().unwrap(), id.parse().unwrap())
}

fn op(id: &str, kind: WriteKind) -> WriteOp {
    WriteOp {
        key: key(id),
        kind,
        precondition: Precondition::None,
    }
}

fn put(id: &str, body: Value) -> WriteOp {
    let Value::Object(body) = body else {
        panic!("not an object")
    };
    op(
        id,
        WriteKind::Put {
            body,
            blob: None,
            method: Method::Put,
            index: Vec::new(),
        },
    )
}

/// Twelve patients (spread over the index shards), one updated, one deleted, one whose body
/// is stored in chunk items; a blob; an active job.
async fn write_tenant(backend: &AwsBackend, t: &TenantId) -> JobId {
    let patients = (0..12).map(|i| put(&format!("p{i}"), json!({"resourceType": "Patient"})));
    backend
        .store
        .write(t, patients.collect())
        .await
        .expect("write patients");
    let updated = put("p0", json!({"resourceType": "Patient", "active": true}));
    backend
        .store
        .write(t, vec![updated, op("p1", WriteKind::Delete)])
        .await
        .expect("update");
    let text: String = (0..400_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let big = put(
        "big",
        json!({"resourceType": "Patient", "text": {"div": text}}),
    );
    backend
        .store
        .write(t, vec![big])
        .await
        .expect("write a large patient");

    let blob = BlobKey::new("exports/job1/Patient.ndjson").unwrap();
    let body = futures::stream::iter([Ok(Bytes::from_static(b"{\"resourceType\":\"Patient\"}\n"))]);
    backend
        .blobs
        .put(t, &blob, Box::pin(body), 1 << 20)
        .await
        .expect("put blob");

    let job = JobRecord {
        id: JobId::random(),
        state: JobState::Active,
        expires: Utc::now() + chrono::Duration::days(1),
        doc: "{}".into(),
        revision: 1,
    };
    assert!(backend.jobs.create(t, &job, 5).await.expect("create job"));
    job.id
}

/// Every item of the tenant in the resource table. (A scan: the test checks what the
/// destroy found without one.)
async fn resource_items(backend: &AwsBackend, t: &TenantId) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = backend
            .clients
            .dynamodb
            .scan()
            .table_name(backend.config.resources_table_name())
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(":p", AttributeValue::S(format!("{t}#")))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan resources");
        items.extend(page.items().iter().cloned());
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

/// Items of the tenant's history index partitions.
async fn indexed_items(backend: &AwsBackend, t: &TenantId) -> usize {
    let mut total = 0;
    for shard in 0..8 {
        let page = backend
            .clients
            .dynamodb
            .query()
            .table_name(backend.config.resources_table_name())
            .index_name("by_tenant")
            .key_condition_expression("ga = :p")
            .expression_attribute_values(":p", AttributeValue::S(format!("{t}#{shard}")))
            .send()
            .await
            .expect("query by_tenant");
        total += page.items().len();
    }
    total
}

async fn blob_keys(backend: &AwsBackend, t: &TenantId) -> Vec<String> {
    let page = backend
        .clients
        .s3
        .list_objects_v2()
        .bucket(backend.config.bucket_name())
        .prefix(format!("tenants/{t}/"))
        .send()
        .await
        .expect("list blobs");
    page.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

async fn job_items(backend: &AwsBackend, t: &TenantId) -> usize {
    let page = backend
        .clients
        .dynamodb
        .query()
        .table_name(backend.config.jobs_table_name())
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", AttributeValue::S(t.to_string()))
        .consistent_read(true)
        .send()
        .await
        .expect("query jobs");
    page.items().len()
}

async fn connect(config: &AwsConfig, index: Arc<RecordingIndex>) -> AwsBackend {
    AwsBackend::connect(config, index, IndexMode::Stream).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_removes_every_partition_of_the_tenant_only() {
    let Some(config) =
        common::emulator_config("destroy_removes_every_partition_of_the_tenant_only")
    else {
        return;
    };
    let index = Arc::new(RecordingIndex::default());
    let backend = connect(&config, index.clone()).await;
    backend
        .provision()
        .await
        .expect("provision shared resources");
    let partitions = AwsTenantPartitions::for_backend(&backend, index.clone());
    let (gone, kept) = (tenant(), tenant());
    for t in [&gone, &kept, &gone] {
        partitions.provision(t).await.expect("provision tenant");
    }
    let gone_job = write_tenant(&backend, &gone).await;
    let kept_job = write_tenant(&backend, &kept).await;
    let written = resource_items(&backend, &gone).await;
    // 12 + 1 big current items, 15 versions, a chunk or more.
    assert!(written.len() >= 29, "{} items", written.len());
    let kept_items = resource_items(&backend, &kept).await.len();
    assert_eq!(kept_items, written.len());

    let steps = Mutex::new(Vec::new());
    let progress = |step: &str| steps.lock().unwrap().push(step.to_owned());
    partitions.destroy(&gone, &progress).await.expect("destroy");
    assert_eq!(
        *steps.lock().unwrap(),
        [
            "tenant key scheduled for deletion".to_owned(),
            format!("{} resource items deleted", written.len()),
            "1 blobs deleted".to_owned(),
            "2 job items deleted".to_owned(),
            "search index dropped".to_owned(),
        ]
    );

    assert!(resource_items(&backend, &gone).await.is_empty());
    assert_eq!(indexed_items(&backend, &gone).await, 0);
    assert!(blob_keys(&backend, &gone).await.is_empty());
    assert_eq!(job_items(&backend, &gone).await, 0);
    assert_eq!(
        backend.jobs.get(&gone, &gone_job).await.expect("get job"),
        None
    );
    assert!(
        backend
            .store
            .read(&gone, &key("p2"))
            .await
            .expect("read")
            .is_none()
    );
    assert_eq!(*index.dropped.lock().unwrap(), std::slice::from_ref(&gone));
    let err = backend.keys.generate(&gone).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");

    // The other tenant keeps everything, readable.
    assert_eq!(resource_items(&backend, &kept).await.len(), kept_items);
    let fresh = connect(&config, index.clone()).await;
    let patient = fresh
        .store
        .read(&kept, &key("p0"))
        .await
        .expect("read")
        .expect("kept");
    let body: Value = serde_json::from_slice(patient.body.as_ref().expect("body")).unwrap();
    assert_eq!(body["active"], json!(true));
    assert!(
        fresh
            .store
            .read(&kept, &key("big"))
            .await
            .expect("read big")
            .is_some()
    );
    assert_eq!(blob_keys(&backend, &kept).await.len(), 1);
    let (_, mut stream) = fresh
        .blobs
        .get(&kept, &BlobKey::new("exports/job1/Patient.ndjson").unwrap())
        .await
        .expect("blob");
    assert!(stream.next().await.is_some());
    assert!(
        fresh
            .jobs
            .get(&kept, &kept_job)
            .await
            .expect("get job")
            .is_some()
    );

    // A second destroy finds nothing and is Ok.
    partitions
        .destroy(&gone, &|_| {})
        .await
        .expect("a second destroy");
}

/// Items left by a destroy cut short cannot be read, through this process or another, and
/// the next destroy removes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftovers_cannot_be_decrypted_and_go_on_the_next_destroy() {
    let Some(config) =
        common::emulator_config("leftovers_cannot_be_decrypted_and_go_on_the_next_destroy")
    else {
        return;
    };
    let index = Arc::new(RecordingIndex::default());
    let backend = connect(&config, index.clone()).await;
    backend
        .provision()
        .await
        .expect("provision shared resources");
    let partitions = AwsTenantPartitions::for_backend(&backend, index.clone());
    let t = tenant();
    partitions.provision(&t).await.expect("provision tenant");
    backend
        .store
        .write(&t, vec![put("p0", json!({"resourceType": "Patient"}))])
        .await
        .expect("write");
    // Read once, so that this process caches the data key.
    assert!(
        backend
            .store
            .read(&t, &key("p0"))
            .await
            .expect("read")
            .is_some()
    );
    let items = resource_items(&backend, &t).await;
    assert_eq!(items.len(), 2, "current and version item");

    partitions.destroy(&t, &|_| {}).await.expect("destroy");
    let table = backend.config.resources_table_name();
    for item in &items {
        let put = backend.clients.dynamodb.put_item().table_name(&table);
        put.set_item(Some(item.clone()))
            .send()
            .await
            .expect("put an item back");
    }
    let other_process = connect(&config, index.clone()).await;
    for reader in [&backend, &other_process] {
        let err = reader.store.read(&t, &key("p0")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    }

    partitions
        .destroy(&t, &|_| {})
        .await
        .expect("destroy again");
    assert!(resource_items(&backend, &t).await.is_empty());
}
