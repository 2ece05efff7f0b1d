//! Driving a Bulk Data `$export` as a client does: kick-off with `Prefer: respond-async`, then
//! polling the status URL as the IG says (honouring Retry-After) until the manifest arrives.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Reply, TestServer};

/// The headers of a Bulk Data kick-off.
pub const KICKOFF: [(&str, &str); 2] = [
    ("accept", "application/fhir+json"),
    ("prefer", "respond-async"),
];

impl TestServer {
    /// Kicks off `path` (relative to the base, or absolute) once earlier writes have settled;
    /// asserts the 202 and returns the absolute status URL.
    pub async fn kickoff_export(&self, path: &str) -> String {
        self.settle().await;
        let reply = self.send("GET", path, None, &KICKOFF).await;
        assert_eq!(
            reply.status,
            202,
            "{path}: {}",
            String::from_utf8_lossy(&reply.bytes)
        );
        let location = reply
            .header("content-location")
            .expect("Content-Location")
            .to_owned();
        assert!(
            location.starts_with(&tenant_base(&self.base, path)),
            "absolute status URL of the kick-off's tenant: {location}"
        );
        location
    }

    /// Polls `status_url` until the manifest (within 60 s): 202 carries X-Progress and an
    /// integer Retry-After, a 429 for polling too often is waited out the same way, and the
    /// manifest carries Expires. Returns the manifest and its reply.
    pub async fn await_manifest(&self, status_url: &str) -> (Value, Reply) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let reply = self.send("GET", status_url, None, &[]).await;
            match reply.status {
                200 => {
                    assert!(reply.header("expires").is_some(), "Expires on the manifest");
                    return (reply.json(), reply);
                }
                202 | 429 => {
                    if reply.status == 202 {
                        assert!(reply.header("x-progress").is_some(), "X-Progress");
                    }
                    let secs: u64 = reply
                        .header("retry-after")
                        .expect("Retry-After")
                        .parse()
                        .expect("integer Retry-After");
                    assert!(Instant::now() < deadline, "export did not finish in 60 s");
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                }
                other => panic!("status {other}: {}", String::from_utf8_lossy(&reply.bytes)),
            }
        }
    }
}

/// The tenant base a kick-off `path` names: its own for an absolute URL, else `base`.
fn tenant_base(base: &str, path: &str) -> String {
    let Some(at) = path.find("/tenant/") else {
        return base.to_owned();
    };
    let rest = &path[at + "/tenant/".len()..];
    let tenant = rest.split('/').next().unwrap_or_default();
    format!("{}/tenant/{tenant}", &path[..at])
}
