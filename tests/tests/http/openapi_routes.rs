//! The OpenAPI document and the router cannot drift: every endpoint of the catalog
//! (`hearth_openapi::ENDPOINTS`, from which the document is built) is sent to a running server,
//! and a `Served` entry must be routed while a `Planned` one must not be. Adding a route means
//! flipping (or adding) its catalog entry; the document follows. Also: `/openapi.json` and
//! `/docs` are open and serve what `hearth_openapi` builds.

use hearth_openapi::{ENDPOINTS, Endpoint, Status};
use hearth_tests::TestServer;
use serde_json::{Value, json};

/// The concrete URL path of a catalog entry: the tenant `default` (`other` in the admin API,
/// which may delete it), the type `Basic` (or the type the path names), ids that exist.
fn concrete(endpoint: &Endpoint) -> String {
    let id = if endpoint.path.starts_with("/admin/") {
        "other"
    } else if endpoint.path.contains("/Group/") {
        "g1"
    } else {
        "b1"
    };
    endpoint
        .path
        .replace("{tenantId}", "default")
        .replace("{type}", "Basic")
        .replace("{id}", id)
        .replace("{vid}", "1")
        .replace("{clientId}", "no-such-client")
        .replace("{jobId}", "job1")
        .replace("{file}", "file1")
}

/// Whether a response shows that the router has no handler for the request: the fallback's
/// 404 or 405, the 501 of an unbuilt interaction, or a literal path segment (`$export`,
/// `_search`) taken for a resource type or id by a broader route.
fn unrouted(status: u16, body: &Value) -> bool {
    let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap_or_default();
    match status {
        405 | 501 => true,
        404 => {
            diagnostics == "no such endpoint" || diagnostics.starts_with("unknown resource type")
        }
        400 => diagnostics.starts_with("invalid resource id"),
        _ => false,
    }
}

#[tokio::test]
async fn every_served_endpoint_is_routed_and_no_planned_one_is() {
    let server = TestServer::start().await;
    for (path, body) in [
        (
            "Basic/b1",
            json!({"resourceType": "Basic", "id": "b1", "code": {"text": "x"}}),
        ),
        (
            "Group/g1",
            json!({"resourceType": "Group", "id": "g1", "type": "person", "actual": true}),
        ),
    ] {
        let reply = server.send("PUT", path, Some(&body), &[]).await;
        assert!(reply.status < 300, "{path}: {}", reply.status);
    }
    let admin = server.admin_token();
    let mut wrong = Vec::new();
    for endpoint in ENDPOINTS {
        let url = server.root(&concrete(endpoint));
        let token = if endpoint.path.starts_with("/admin/") {
            admin.clone()
        } else {
            server.token("default", hearth_tests::FULL_ACCESS)
        };
        let body = match endpoint.method.as_str() {
            "POST" | "PUT" | "PATCH" => Some(json!({})),
            _ => None,
        };
        let reply = server
            .send_as(
                Some(&token),
                endpoint.method.as_str(),
                &url,
                body.as_ref(),
                &[],
            )
            .await;
        let value: Value = serde_json::from_slice(&reply.bytes).unwrap_or(Value::Null);
        let routed = !unrouted(reply.status, &value);
        if routed != (endpoint.status == Status::Served) {
            wrong.push(format!(
                "{} {} ({:?}): catalog says {:?}, server answered {} {}",
                endpoint.method.as_str(),
                endpoint.path,
                endpoint.interaction,
                endpoint.status,
                reply.status,
                String::from_utf8_lossy(&reply.bytes)
                    .chars()
                    .take(200)
                    .collect::<String>(),
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "catalog and router disagree (update openapi/src/catalog.rs):\n{}",
        wrong.join("\n")
    );
}

#[tokio::test]
async fn document_and_docs_are_served_without_a_token() {
    let server = TestServer::start().await;
    let reply = server
        .send_as(None, "GET", &server.root("/openapi.json"), None, &[])
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.bytes, hearth_openapi::document_json());
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    let doc: Value = serde_json::from_slice(&reply.bytes).expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, content_type) in [
        ("/docs", "text/html"),
        ("/docs/", "text/html"),
        ("/docs/swagger-ui-bundle.js", "text/javascript"),
        ("/docs/swagger-initializer.js", "text/javascript"),
        ("/docs/swagger-ui.css", "text/css"),
    ] {
        let reply = server
            .send_as(None, "GET", &server.root(path), None, &[])
            .await;
        assert_eq!(reply.status, 200, "{path}");
        let ct = reply.header("content-type").unwrap_or_default();
        assert!(ct.starts_with(content_type), "{path}: {ct}");
    }
    let page = server
        .send_as(None, "GET", &server.root("/docs"), None, &[])
        .await;
    let html = String::from_utf8_lossy(&page.bytes);
    assert!(html.contains("/docs/swagger-ui-bundle.js") && !html.contains("https://"));
    let missing = server
        .send_as(None, "GET", &server.root("/docs/nope.js"), None, &[])
        .await;
    assert_eq!(missing.status, 404);
}
