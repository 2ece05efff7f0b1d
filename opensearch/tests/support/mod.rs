//! Helpers of the OpenSearch-backed tests: the emulator switch, fresh index prefixes and
//! tenants, and removing a run's indices from the shared node.

use hearth_opensearch::{OpenSearchConfig, OpenSearchIndex};
use hearth_tenancy::TenantId;
use opensearch::indices::IndicesDeleteParts;

/// The node's URL, or `None` (after saying so) when emulator tests are off.
pub fn opensearch_url(test: &str) -> Option<String> {
    match std::env::var("HEARTH_TEST_EMULATORS").as_deref() {
        Ok("1") => Some(
            std::env::var("HEARTH_TEST_OPENSEARCH_URL")
                .expect("HEARTH_TEST_EMULATORS=1 needs HEARTH_TEST_OPENSEARCH_URL"),
        ),
        _ => {
            eprintln!("{test}: skipped (set HEARTH_TEST_EMULATORS=1 to run against OpenSearch)");
            None
        }
    }
}

/// An index with a prefix no other run uses.
pub async fn fresh_index(url: &str) -> (OpenSearchIndex, String) {
    fresh_index_with(url, |_| {}).await
}

/// An index with a prefix no other run uses and `change` applied to its configuration.
pub async fn fresh_index_with(
    url: &str,
    change: impl FnOnce(&mut OpenSearchConfig),
) -> (OpenSearchIndex, String) {
    let prefix = format!("hearth-test-{}-", uuid::Uuid::new_v4().simple());
    let mut config = OpenSearchConfig::new(url);
    config.index_prefix = prefix.clone();
    config.replicas = Some(0);
    change(&mut config);
    let index = OpenSearchIndex::connect(config).await.expect("connect");
    (index, prefix)
}

/// Deletes every index of `prefix` (the node is shared between runs).
pub async fn cleanup(url: &str, prefix: &str) {
    let transport = opensearch::http::transport::Transport::single_node(url).unwrap();
    let client = opensearch::OpenSearch::new(transport);
    let pattern = format!("{prefix}*");
    let r = client
        .indices()
        .delete(IndicesDeleteParts::Index(&[&pattern]))
        .send()
        .await
        .unwrap();
    assert!(
        r.status_code().is_success(),
        "delete {pattern}: {}",
        r.status_code()
    );
}

pub fn tenant() -> TenantId {
    format!("os-{}", uuid::Uuid::new_v4().simple())
        .parse()
        .unwrap()
}
