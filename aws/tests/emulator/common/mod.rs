//! Shared helpers of the emulator-backed tests: the one switch, fresh resource names and
//! connected clients.
#![allow(dead_code)]

pub mod scripted;

use hearth_aws::{AwsClients, AwsConfig};

/// The configuration of a run against the AWS stand-in with fresh resource names, or `None`
/// (after saying so on stderr) when emulator tests are off.
///
/// `HEARTH_TEST_EMULATORS=1` turns them on, and then `HEARTH_TEST_AWS_ENDPOINT` (the moto
/// URL) must be set.
pub fn emulator_config(test: &str) -> Option<AwsConfig> {
    if std::env::var("HEARTH_TEST_EMULATORS").as_deref() != Ok("1") {
        eprintln!("{test}: skipped (set HEARTH_TEST_EMULATORS=1 to run against emulators)");
        return None;
    }
    let endpoint = std::env::var("HEARTH_TEST_AWS_ENDPOINT")
        .expect("HEARTH_TEST_EMULATORS=1 needs HEARTH_TEST_AWS_ENDPOINT (the moto URL)");
    // Short, so that queue names stay within SQS's 80 characters.
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let mut config = AwsConfig::with_prefix(&format!("t{}", &unique[..12]));
    config.endpoint_url = Some(endpoint);
    Some(config)
}

/// Clients for `config`, with the shared resources (bucket, jobs table, queues) created.
pub async fn provisioned(config: &AwsConfig) -> AwsClients {
    let clients = AwsClients::connect(config).await;
    hearth_aws::provision_shared(&clients, config)
        .await
        .expect("provision shared resources");
    clients
}
