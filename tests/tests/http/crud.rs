//! Create, read, vread, update, delete and HEAD over a real socket, with versioning headers.

use hearth_tests::{TestServer, patient};
use serde_json::json;

#[tokio::test]
async fn create_read_update_delete_lifecycle() {
    let s = TestServer::start().await;
    let created = s.send("POST", "Patient", Some(&patient("Lee")), &[]).await;
    assert_eq!(created.status, 201);
    let location = created.header("location").unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{}/Patient/", s.base)) && location.ends_with("/_history/1"),
        "{location}"
    );
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    assert!(created.header("last-modified").is_some());
    let body = created.json();
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(body["meta"]["versionId"], "1");
    assert!(body["meta"]["lastUpdated"].as_str().unwrap().ends_with('Z'));

    // The read returns the client's content with server-set id and meta, member order kept.
    let read = s.send("GET", &format!("Patient/{id}"), None, &[]).await;
    assert_eq!(read.status, 200);
    let keys: Vec<String> = read.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        ["resourceType", "id", "meta", "name", "gender", "birthDate"]
    );
    assert_eq!(read.json()["name"], patient("Lee")["name"]);
    assert_eq!(read.header("etag"), Some("W/\"1\""));

    let mut changed = read.json();
    changed["gender"] = json!("male");
    let updated = s
        .send("PUT", &format!("Patient/{id}"), Some(&changed), &[])
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.header("etag"), Some("W/\"2\""));
    assert_eq!(updated.json()["meta"]["versionId"], "2");

    let v1 = s
        .send("GET", &format!("Patient/{id}/_history/1"), None, &[])
        .await;
    assert_eq!(
        (v1.status, v1.json()["gender"].clone()),
        (200, json!("female"))
    );
    let v2 = s
        .send("GET", &format!("Patient/{id}/_history/2"), None, &[])
        .await;
    assert_eq!(
        (v2.status, v2.json()["gender"].clone()),
        (200, json!("male"))
    );
    assert_eq!(
        s.send("GET", &format!("Patient/{id}/_history/3"), None, &[])
            .await
            .outcome(404),
        "not-found"
    );

    let deleted = s.send("DELETE", &format!("Patient/{id}"), None, &[]).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        s.send("GET", &format!("Patient/{id}"), None, &[])
            .await
            .outcome(410),
        "deleted"
    );
    assert_eq!(
        s.send("GET", &format!("Patient/{id}/_history/3"), None, &[])
            .await
            .outcome(410),
        "deleted"
    );
    assert_eq!(
        s.send("GET", &format!("Patient/{id}/_history/2"), None, &[])
            .await
            .status,
        200
    );
    // Deleting again is a successful no-op.
    assert_eq!(
        s.send("DELETE", &format!("Patient/{id}"), None, &[])
            .await
            .status,
        204
    );
    // Writing after a delete continues the version numbers.
    let mut again = patient("Lee");
    again["id"] = json!(id);
    let revived = s
        .send("PUT", &format!("Patient/{id}"), Some(&again), &[])
        .await;
    assert_eq!(revived.status, 201);
    assert_eq!(revived.header("etag"), Some("W/\"4\""));
}

#[tokio::test]
async fn update_as_create_with_client_id_and_server_ignores_id_on_create() {
    let s = TestServer::start().await;
    let mut p = patient("Kim");
    p["id"] = json!("kim-1");
    let put = s.send("PUT", "Patient/kim-1", Some(&p), &[]).await;
    assert_eq!(put.status, 201);
    assert!(
        put.header("location")
            .unwrap()
            .ends_with("/Patient/kim-1/_history/1")
    );
    let post = s.send("POST", "Patient", Some(&p), &[]).await;
    assert_eq!(post.status, 201);
    assert_ne!(post.json()["id"], "kim-1", "create assigns a new id");
}

#[tokio::test]
async fn versioning_headers_and_conditional_reads() {
    let s = TestServer::start().await;
    let created = s.send("POST", "Patient", Some(&patient("Ng")), &[]).await;
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let path = format!("Patient/{id}");
    let body = created.json();
    let last_modified = created.header("last-modified").unwrap().to_owned();
    // (headers, expected status)
    let cases: Vec<(Vec<(&str, &str)>, u16)> = vec![
        (vec![("if-none-match", "W/\"1\"")], 304),
        (vec![("if-none-match", "W/\"2\"")], 200),
        (vec![("if-none-match", "*")], 304),
        (vec![("if-modified-since", &last_modified)], 304),
        (
            vec![("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")],
            200,
        ),
        (vec![("if-modified-since", "yesterday")], 400),
    ];
    for (headers, status) in cases {
        let reply = s.send("GET", &path, None, &headers).await;
        assert_eq!(reply.status, status, "{headers:?}");
    }
    // If-Match on update and delete: a stale version is 412.
    let stale = s
        .send("PUT", &path, Some(&body), &[("if-match", "W/\"7\"")])
        .await;
    assert_eq!(stale.outcome(412), "conflict");
    let fresh = s
        .send("PUT", &path, Some(&body), &[("if-match", "W/\"1\"")])
        .await;
    assert_eq!(fresh.status, 200);
    assert_eq!(
        s.send("DELETE", &path, None, &[("if-match", "W/\"1\"")])
            .await
            .outcome(412),
        "conflict"
    );
    assert_eq!(
        s.send("DELETE", &path, None, &[("if-match", "W/\"2\"")])
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let s = TestServer::start().await;
    let id = s
        .send("POST", "Patient", Some(&patient("Ho")), &[])
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (path, status) in [
        (format!("Patient/{id}"), 200),
        (format!("Patient/{id}/_history/1"), 200),
        ("Patient/nope".to_owned(), 404),
    ] {
        let reply = s.send("HEAD", &path, None, &[]).await;
        assert_eq!(reply.status, status, "{path}");
        assert!(reply.bytes.is_empty(), "{path}");
    }
    let head = s.send("HEAD", &format!("Patient/{id}"), None, &[]).await;
    assert_eq!(head.header("etag"), Some("W/\"1\""));
}

#[tokio::test]
async fn prefer_return_shapes_the_answer() {
    let s = TestServer::start().await;
    let minimal = s
        .send(
            "POST",
            "Patient",
            Some(&patient("Ma")),
            &[("prefer", "return=minimal")],
        )
        .await;
    assert_eq!(minimal.status, 201);
    assert!(minimal.bytes.is_empty());
    assert!(minimal.header("location").is_some());
    let oo = s
        .send(
            "POST",
            "Patient",
            Some(&patient("Ma")),
            &[("prefer", "return=OperationOutcome")],
        )
        .await;
    assert_eq!(oo.status, 201);
    assert_eq!(oo.json()["resourceType"], "OperationOutcome");
    let rep = s
        .send(
            "POST",
            "Patient",
            Some(&patient("Ma")),
            &[("prefer", "return=representation")],
        )
        .await;
    assert_eq!(rep.json()["resourceType"], "Patient");
}

#[tokio::test]
async fn tenants_never_see_each_other() {
    let s = TestServer::start().await;
    let mut p = patient("Secret");
    p["id"] = json!("shared-id");
    assert_eq!(
        s.send("PUT", "Patient/shared-id", Some(&p), &[])
            .await
            .status,
        201
    );
    let other = s.tenant_base("other");
    let read = s
        .send("GET", &format!("{other}/Patient/shared-id"), None, &[])
        .await;
    assert_eq!(read.outcome(404), "not-found");
    let history = s.send("GET", &format!("{other}/_history"), None, &[]).await;
    assert_eq!(history.json()["total"], 0);
    // The same id in the other tenant is a different resource.
    p["name"][0]["family"] = json!("Other");
    assert_eq!(
        s.send("PUT", &format!("{other}/Patient/shared-id"), Some(&p), &[])
            .await
            .status,
        201
    );
    let mine = s.send("GET", "Patient/shared-id", None, &[]).await;
    assert_eq!(mine.json()["name"][0]["family"], "Secret");
    assert_eq!(mine.header("etag"), Some("W/\"1\""));
    // Unknown and malformed tenants are simply not found.
    for tenant in ["nobody", "Bad_Tenant", "-x"] {
        let reply = s
            .send(
                "GET",
                &format!("{}/Patient/shared-id", s.tenant_base(tenant)),
                None,
                &[],
            )
            .await;
        assert_eq!(reply.outcome(404), "not-found", "{tenant}");
    }
}
