//! The CapabilityStatement and the health endpoints.

use hearth_tests::TestServer;

#[tokio::test]
async fn capability_statement_lists_every_type() {
    let s = TestServer::start().await;
    let reply = s.send("GET", "metadata", None, &[]).await;
    assert_eq!(reply.status, 200);
    let cs = reply.json();
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "4.0.1");
    assert_eq!(cs["implementation"]["url"], s.base);
    let resources = cs["rest"][0]["resource"].as_array().unwrap();
    assert_eq!(resources.len(), 146);
    let patient = resources.iter().find(|r| r["type"] == "Patient").unwrap();
    assert_eq!(patient["versioning"], "versioned-update");
    let codes: Vec<&str> = patient["interaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    for code in [
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "history-instance",
        "history-type",
        "create",
    ] {
        assert!(codes.contains(&code), "{code}");
    }
    // Search is declared with the parameters the engine serves.
    assert!(codes.contains(&"search-type"));
    let params: Vec<&str> = patient["searchParam"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "name",
        "birthdate",
        "identifier",
        "_id",
        "_lastUpdated",
        "general-practitioner",
    ] {
        assert!(params.contains(&name), "{name}");
    }
    for name in ["_text", "_content", "_list"] {
        assert!(params.contains(&name), "{name}");
    }
    assert!(
        !params.contains(&"_query"),
        "unsupported parameters are not declared"
    );

    let health = s
        .send("GET", &format!("http://{}/health", s.addr), None, &[])
        .await;
    assert_eq!(health.status, 200);
    let ready = s
        .send("GET", &format!("http://{}/ready", s.addr), None, &[])
        .await;
    assert_eq!(ready.status, 200);
}
