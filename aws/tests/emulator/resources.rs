//! The DynamoDB `ResourceStore` against the emulator: the conformance suite (no search),
//! large bodies (chunk items, and objects beyond one transaction), the write limits, and that
//! stored bodies are sealed.
//!
//! Runs when `HEARTH_TEST_EMULATORS=1`, against the DynamoDB endpoint in
//! `HEARTH_TEST_AWS_ENDPOINT`; each test makes its own table.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use hearth_aws::S3BlobStore;
use hearth_aws::dynamo::{DynamoStore, IndexMode, MAX_STAGED_OPS, create_table};
use hearth_fhir::VersionId;
use hearth_store::conformance::ProvisionOnUse;
use hearth_store::embedded::LocalKeyService;
use hearth_store::{
    Envelope, HistoryQuery, HistoryScope, KeyIndex, Method, Precondition, ResourceKey,
    ResourceStore, StoreError, WriteKind, WriteOp, WriteOutcome,
};
use hearth_tenancy::TenantId;
use serde_json::{Value, json};

/// The DynamoDB endpoint, or `None` (after saying so) when emulator tests are off.
fn endpoint(test: &str) -> Option<String> {
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

fn client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .build();
    Client::from_conf(config)
}

/// A store on a fresh table, and the folder of its keys (removed on drop).
struct Fixture {
    client: Client,
    table: String,
    store: Arc<DynamoStore>,
    keys: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.keys);
    }
}

/// Envelope encryption with local tenant keys in `keys`, provisioned on first use.
fn envelope_in(keys: &Path) -> Arc<Envelope> {
    let service = LocalKeyService::open(keys).expect("key folder");
    Arc::new(Envelope::new(Arc::new(ProvisionOnUse::new(Arc::new(
        service,
    )))))
}

async fn fixture(endpoint: &str) -> Fixture {
    fixture_with(endpoint, None, IndexMode::Stream).await
}

async fn fixture_with(
    endpoint: &str,
    index: Option<Arc<dyn KeyIndex>>,
    mode: IndexMode,
) -> Fixture {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let client = client(endpoint);
    let table = format!("hearth-resources-{unique}");
    create_table(&client, &table).await.expect("create table");
    create_table(&client, &table)
        .await
        .expect("create_table is idempotent");
    let keys = std::env::temp_dir().join(format!("hearth-dynamo-keys-{unique}"));
    let store = Arc::new(DynamoStore::new(
        client.clone(),
        table.clone(),
        envelope_in(&keys),
        index,
        mode,
    ));
    store.ready().await.expect("table answers");
    Fixture {
        client,
        table,
        store,
        keys,
    }
}

fn tenant() -> TenantId {
    format!("t-{}", uuid::Uuid::new_v4().simple())
        .parse()
        .unwrap()
}

fn key(rt: &str, id: &str) -> ResourceKey {
    ResourceKey::new(rt.parse().unwrap(), id.parse().unwrap())
}

fn put(key: &ResourceKey, body: Value) -> WriteOp {
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
        precondition: Precondition::None,
    }
}

fn json_of(body: &Option<bytes::Bytes>) -> Value {
    serde_json::from_slice(body.as_ref().expect("a body")).expect("JSON body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_without_search() {
    let Some(endpoint) = endpoint("conformance_without_search") else {
        return;
    };
    let f = fixture(&endpoint).await;
    let store: Arc<dyn ResourceStore> = f.store.clone();
    hearth_store::conformance::resource_core_suite(store, None).await;
}

#[tokio::test]
async fn a_500_kb_body_round_trips() {
    let Some(endpoint) = endpoint("a_500_kb_body_round_trips") else {
        return;
    };
    let f = fixture(&endpoint).await;
    let t = tenant();
    let k = key("DocumentReference", "big");
    let text: String = (0..500_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let body = json!({"resourceType": "DocumentReference", "status": "current",
        "description": text});
    let outcomes = f
        .store
        .write(&t, vec![put(&k, body.clone())])
        .await
        .unwrap();
    let WriteOutcome::Written {
        version: written, ..
    } = &outcomes[0]
    else {
        panic!("written")
    };
    let read = f.store.read(&t, &k).await.unwrap().expect("read back");
    assert_eq!(&read, written);
    assert_eq!(json_of(&read.body)["description"], body["description"]);
    // A second version keeps the first readable.
    f.store.write(&t, vec![put(&k, body)]).await.unwrap();
    let first = f
        .store
        .vread(&t, &k, VersionId::FIRST)
        .await
        .unwrap()
        .expect("version 1");
    assert_eq!(&first, written);
    let history = f
        .store
        .history(
            &t,
            &HistoryScope::Type(k.rt),
            &HistoryQuery {
                since: None,
                at: None,
                count: 10,
                cursor: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(history.total, 2);
    assert_eq!(history.entries[1], first);
}

/// Writes over one transaction's 100 items and 4 MB are staged; over the op limit, or a
/// resource over what one transaction holds, are refused whole.
#[tokio::test]
async fn writes_beyond_one_transaction() {
    let Some(endpoint) = endpoint("writes_beyond_one_transaction") else {
        return;
    };
    let f = fixture(&endpoint).await;
    let t = tenant();
    let small = |i: usize| {
        put(
            &key("Patient", &format!("p{i}")),
            json!({"resourceType": "Patient"}),
        )
    };
    let too_many: Vec<_> = (0..=MAX_STAGED_OPS).map(small).collect();
    match f.store.write(&t, too_many).await {
        Err(StoreError::Invalid(message)) => assert!(
            message.contains(&format!("at most {MAX_STAGED_OPS} entries")),
            "{message}"
        ),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(f.store.read(&t, &key("Patient", "p0")).await.unwrap(), None);
    // Nine 500 KB bodies are over the 4 MB a transaction holds: staged, all written.
    let big = "x".repeat(500_000);
    let binary = |i: usize, data: &str| {
        put(
            &key("Binary", &format!("b{i}")),
            json!({"resourceType": "Binary", "contentType": "text/plain", "data": data}),
        )
    };
    let outcomes = f
        .store
        .write(&t, (0..9).map(|i| binary(i, &big)).collect())
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 9);
    for i in [0, 8] {
        let read = f.store.read(&t, &key("Binary", &format!("b{i}"))).await;
        let read = read.unwrap().expect("staged body written");
        assert_eq!(
            json_of(&read.body)["data"].as_str().map(str::len),
            Some(500_000)
        );
    }
    // One resource over 3.9 MB is refused, with the write it is in.
    let huge = "y".repeat(4_000_000);
    let ops = vec![binary(100, "small"), binary(101, &huge)];
    match f.store.write(&t, ops).await {
        Err(StoreError::Invalid(message)) => assert!(message.contains("3.9 MB"), "{message}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(
        f.store.read(&t, &key("Binary", "b100")).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn stored_bodies_are_sealed() {
    let Some(endpoint) = endpoint("stored_bodies_are_sealed") else {
        return;
    };
    let f = fixture(&endpoint).await;
    let t = tenant();
    let k = key("Patient", "secret");
    let name = "Zebulon-Quxworthy";
    let body = json!({"resourceType": "Patient", "name": [{"family": name}]});
    let registry = hearth_fhir::search::registry::Registry::r4();
    let entries = hearth_fhir::search::index::index_entries(
        &hearth_fhir::search::extract::extract(registry, &body),
        None,
    );
    assert!(
        serde_json::to_string(&entries).unwrap().contains(name),
        "the index entries hold the name in the clear before sealing"
    );
    let mut op = put(&k, body);
    if let WriteKind::Put { index, .. } = &mut op.kind {
        *index = entries.clone();
    }
    f.store.write(&t, vec![op]).await.unwrap();
    let pk = format!("{t}#Patient#secret");
    for sk in ["cur", "v#000000000001"] {
        let item = f
            .client
            .get_item()
            .table_name(&f.table)
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S(sk.into()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_else(|| panic!("item {sk}"));
        assert!(item.contains_key("b"), "{sk} holds a body");
        for (attr, value) in &item {
            let bytes: &[u8] = match value {
                AttributeValue::B(b) => b.as_ref(),
                AttributeValue::S(s) => s.as_bytes(),
                _ => continue,
            };
            for clear in [name, "\"resourceType\""] {
                assert!(
                    !bytes.windows(clear.len()).any(|w| w == clear.as_bytes()),
                    "{sk}.{attr} holds {clear} in the clear"
                );
            }
        }
    }
    // The store opens what it sealed, and the index documents carry the entries.
    let read = f.store.read(&t, &k).await.unwrap().unwrap();
    assert_eq!(json_of(&read.body)["name"][0]["family"], name);
    let docs = f
        .store
        .index_docs(&t, std::slice::from_ref(&k))
        .await
        .unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].entries.as_ref(), Some(&entries));
    f.store
        .write(
            &t,
            vec![WriteOp {
                key: k.clone(),
                kind: WriteKind::Delete,
                precondition: Precondition::None,
            }],
        )
        .await
        .unwrap();
    let docs = f
        .store
        .index_docs(&t, &[k, key("Patient", "never")])
        .await
        .unwrap();
    assert_eq!(
        (docs.len(), docs[0].version, docs[0].entries.is_none()),
        (1, 2, true),
        "a deleted resource gives a delete document; an absent one none"
    );
}

/// The whole suite, search included, with an OpenSearch index updated inline (so search reads
/// its writes): the AWS backend's resource store and search together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conforms_with_opensearch_search() {
    let Some(endpoint) = endpoint("conforms_with_opensearch_search") else {
        return;
    };
    let url = std::env::var("HEARTH_TEST_OPENSEARCH_URL")
        .expect("HEARTH_TEST_EMULATORS=1 needs HEARTH_TEST_OPENSEARCH_URL");
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let index = hearth_opensearch::OpenSearchIndex::connect(hearth_opensearch::OpenSearchConfig {
        index_prefix: format!("hearth-conf-{}-", &unique[..12]),
        replicas: Some(0),
        ..hearth_opensearch::OpenSearchConfig::new(url)
    })
    .await
    .expect("OpenSearch index");
    let f = fixture_with(&endpoint, Some(Arc::new(index)), IndexMode::Inline).await;
    hearth_store::conformance::resource_search_suite(f.store.as_ref()).await;
}

/// With a blob store for bodies, a resource larger than one transaction holds is stored: its
/// sealed body goes to an object under the tenant's prefix, the items hold only its name, and
/// every read path (read, vread, history) opens it.
#[tokio::test]
async fn bodies_over_one_transaction_go_to_objects() {
    let Some(config) = crate::common::emulator_config("bodies_over_one_transaction_go_to_objects")
    else {
        return;
    };
    let clients = crate::common::provisioned(&config).await;
    let blobs = Arc::new(S3BlobStore::new(&clients, &config));
    let f = fixture(config.endpoint_url.as_deref().expect("endpoint")).await;
    let store = Arc::new(
        DynamoStore::new(
            f.client.clone(),
            f.table.clone(),
            envelope_in(&f.keys),
            None,
            IndexMode::Stream,
        )
        .with_body_objects(blobs),
    );
    let t = tenant();
    let marker = "Qz-large-body-marker";
    let huge = format!("{marker}{}", "y".repeat(6_000_000));
    let k = key("Binary", "huge");
    let binary = |data: &str| {
        put(
            &k,
            json!({"resourceType": "Binary", "contentType": "text/plain", "data": data}),
        )
    };
    // In a write with a small resource, and then as a second version.
    let small = put(&key("Patient", "small"), json!({"resourceType": "Patient"}));
    store.write(&t, vec![small, binary(&huge)]).await.unwrap();
    store.write(&t, vec![binary(&huge[1..])]).await.unwrap();
    let read = store.read(&t, &k).await.unwrap().expect("read back");
    assert_eq!(json_of(&read.body)["data"].as_str(), Some(&huge[1..]));
    let first = store.vread(&t, &k, VersionId::FIRST).await.unwrap();
    assert_eq!(
        json_of(&first.expect("version 1").body)["data"].as_str(),
        Some(huge.as_str())
    );
    let history = store
        .history(
            &t,
            &HistoryScope::Instance(k.clone()),
            &HistoryQuery {
                since: None,
                at: None,
                count: 10,
                cursor: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(history.entries.len(), 2);

    // The items are small; the objects are sealed and under the tenant's prefix.
    let items = f
        .client
        .query()
        .table_name(&f.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("{t}#Binary#huge")))
        .send()
        .await
        .expect("query the resource's items");
    for item in items.items() {
        let size: usize = item.values().map(|v| format!("{v:?}").len()).sum();
        assert!(size < 50_000, "an item of {size} bytes");
    }
    let objects = clients
        .s3
        .list_objects_v2()
        .bucket(config.bucket_name())
        .prefix(format!("tenants/{t}/bodies/Binary/huge/"))
        .send()
        .await
        .expect("list body objects");
    assert_eq!(objects.contents().len(), 2, "one object per version");
    for object in objects.contents() {
        let got = clients
            .s3
            .get_object()
            .bucket(config.bucket_name())
            .key(object.key().expect("key"))
            .send()
            .await
            .expect("get object");
        let bytes = got.body.collect().await.expect("object body").into_bytes();
        assert!(bytes.len() > 6_000_000);
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "the object is sealed"
        );
    }
}
