//! Authentication and authorization of FHIR requests: 401 without a valid token, 403 for
//! another tenant's token or a missing scope letter, SMART v1 and v2 scopes per interaction,
//! batch/transaction per entry, patient context and granular filters.

use hearth_auth::LocalSigner;
use hearth_tests::{FULL_ACCESS, TestServer, patient};
use serde_json::{Value, json};

/// Asserts `status` and, for errors, the OperationOutcome's code.
fn expect(reply: &hearth_tests::Reply, status: u16, what: &str) {
    assert_eq!(
        reply.status,
        status,
        "{what}: {}",
        String::from_utf8_lossy(&reply.bytes)
    );
    let code = match status {
        401 => "login",
        403 => "forbidden",
        _ => return,
    };
    assert_eq!(reply.outcome(status), code, "{what}");
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let s = TestServer::start().await;
    let foreign = LocalSigner::generate().unwrap();
    let foreign_token = foreign
        .mint(&hearth_auth::AccessClaims::for_tenant(
            "hearth",
            "hearth",
            "x",
            &"default".parse().unwrap(),
            FULL_ACCESS,
            std::time::SystemTime::now(),
            60,
        ))
        .unwrap();
    let expired = s.token_with("default", FULL_ACCESS, |c| c.exp -= 7200);
    let wrong_audience = s.token_with("default", FULL_ACCESS, |c| c.aud = "other".into());
    let wrong_issuer = s.token_with("default", FULL_ACCESS, |c| c.iss = "evil".into());
    let other_tenant = s.token("other", FULL_ACCESS);
    let admin = s.admin_token();
    // (token, expected status)
    let cases: Vec<(Option<&str>, u16)> = vec![
        (None, 401),
        (Some("garbage"), 401),
        (Some("a.b.c"), 401),
        (Some(&foreign_token), 401),
        (Some(&expired), 401),
        (Some(&wrong_audience), 401),
        (Some(&wrong_issuer), 401),
        (Some(&other_tenant), 403),
        (Some(&admin), 403),
    ];
    for (token, status) in cases {
        for (method, path) in [
            ("GET", "Patient/x"),
            ("GET", "_history"),
            ("POST", "Patient"),
        ] {
            let body = (method == "POST").then(|| patient("T"));
            let reply = s.send_as(token, method, path, body.as_ref(), &[]).await;
            expect(&reply, status, &format!("{method} {path} with {token:?}"));
            if status == 401 {
                assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
            }
        }
    }
    // A token for another tenant says nothing about whether the URL's tenant exists.
    let reply = s
        .send_as(
            Some(&other_tenant),
            "GET",
            &format!("{}/Patient/x", s.tenant_base("nobody")),
            None,
            &[],
        )
        .await;
    expect(&reply, 403, "unknown tenant");
    // Open without a token.
    for (url, status) in [
        (s.root("/health"), 200),
        (s.root("/ready"), 200),
        (s.url("metadata"), 200),
        (s.url(".well-known/smart-configuration"), 200),
        (s.tenant_base("nobody") + "/metadata", 404),
    ] {
        let reply = s.send_as(None, "GET", &url, None, &[]).await;
        assert_eq!(reply.status, status, "{url}");
    }
    let config = s
        .send_as(None, "GET", ".well-known/smart-configuration", None, &[])
        .await
        .json();
    assert_eq!(config["token_endpoint"], s.root("/auth/token"));
    assert_eq!(
        config["token_endpoint_auth_signing_alg_values_supported"],
        json!(["RS384", "ES384"])
    );
}

fn fhirpath_patch() -> Value {
    json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"},
        {"name": "path", "valueString": "Patient.gender"},
        {"name": "value", "valueCode": "male"}]}]})
}

fn with_id(mut resource: Value, id: &str) -> Value {
    resource["id"] = json!(id);
    resource
}

/// (scope, method, path, body, extra header, expected status)
type Case<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<&'a Value>,
    Option<(&'a str, &'a str)>,
    u16,
);

#[tokio::test]
async fn scope_letters_per_interaction() {
    let s = TestServer::start().await;
    for id in ["p1", "p2"] {
        let reply = s
            .send(
                "PUT",
                &format!("Patient/{id}"),
                Some(&with_id(patient("S"), id)),
                &[],
            )
            .await;
        assert_eq!(reply.status, 201);
    }
    let p1 = with_id(patient("S"), "p1");
    let patch = fhirpath_patch();
    // (scope, method, path, body, extra header, expected status)
    let cases: Vec<Case> = vec![
        // v2 letters
        ("system/Patient.r", "GET", "Patient/p1", None, None, 200),
        ("system/Patient.r", "HEAD", "Patient/p1", None, None, 200),
        (
            "system/Patient.r",
            "GET",
            "Patient/p1/_history/1",
            None,
            None,
            200,
        ),
        (
            "system/Patient.r",
            "GET",
            "Patient/p1/_history",
            None,
            None,
            200,
        ),
        (
            "system/Patient.r",
            "GET",
            "Patient/_history",
            None,
            None,
            403,
        ),
        ("system/Patient.r", "POST", "Patient", Some(&p1), None, 403),
        (
            "system/Patient.r",
            "PUT",
            "Patient/p1",
            Some(&p1),
            None,
            403,
        ),
        ("system/Patient.r", "DELETE", "Patient/p2", None, None, 403),
        (
            "system/Patient.s",
            "GET",
            "Patient/_history",
            None,
            None,
            200,
        ),
        ("system/Patient.s", "GET", "Patient/p1", None, None, 403),
        ("system/Patient.s", "GET", "Patient", None, None, 200),
        ("system/Patient.r", "GET", "Patient", None, None, 403),
        ("system/Patient.c", "POST", "Patient", Some(&p1), None, 201),
        (
            "system/Patient.c",
            "PUT",
            "Patient/p1",
            Some(&p1),
            None,
            403,
        ),
        (
            "system/Patient.u",
            "PUT",
            "Patient/p1",
            Some(&p1),
            None,
            200,
        ),
        (
            "system/Patient.u",
            "PATCH",
            "Patient/p1",
            Some(&patch),
            None,
            200,
        ),
        (
            "system/Patient.c",
            "PATCH",
            "Patient/p1",
            Some(&patch),
            None,
            403,
        ),
        ("system/Patient.u", "DELETE", "Patient/p2", None, None, 403),
        ("system/Patient.d", "DELETE", "Patient/p2", None, None, 204),
        (
            "system/Observation.cruds",
            "GET",
            "Patient/p1",
            None,
            None,
            403,
        ),
        // system-level interactions need a wildcard type
        ("system/*.s", "GET", "_history", None, None, 200),
        ("system/Patient.s", "GET", "_history", None, None, 403),
        // conditional interactions need the search letter too
        (
            "system/Patient.u",
            "PUT",
            "Patient?_id=p1",
            Some(&p1),
            None,
            403,
        ),
        (
            "system/Patient.us",
            "PUT",
            "Patient?_id=p1",
            Some(&p1),
            None,
            200,
        ),
        (
            "system/Patient.c",
            "POST",
            "Patient",
            Some(&p1),
            Some(("if-none-exist", "_id=p1")),
            403,
        ),
        (
            "system/Patient.cs",
            "POST",
            "Patient",
            Some(&p1),
            Some(("if-none-exist", "_id=p1")),
            200,
        ),
        (
            "system/Patient.d",
            "DELETE",
            "Patient?_id=nope",
            None,
            None,
            403,
        ),
        (
            "system/Patient.ds",
            "DELETE",
            "Patient?_id=nope",
            None,
            None,
            204,
        ),
        // v1 forms
        ("system/Patient.read", "GET", "Patient/p1", None, None, 200),
        (
            "system/Patient.read",
            "GET",
            "Patient/_history",
            None,
            None,
            200,
        ),
        (
            "system/Patient.read",
            "POST",
            "Patient",
            Some(&p1),
            None,
            403,
        ),
        (
            "system/Patient.write",
            "POST",
            "Patient",
            Some(&p1),
            None,
            201,
        ),
        ("system/Patient.write", "GET", "Patient/p1", None, None, 403),
        ("system/*.*", "PUT", "Patient/p1", Some(&p1), None, 200),
        ("user/Patient.read", "GET", "Patient/p1", None, None, 200),
        ("user/*.write", "GET", "Patient/p1", None, None, 403),
        // no resource scope at all
        ("openid profile", "GET", "Patient/p1", None, None, 403),
    ];
    for (scope, method, path, body, header, status) in cases {
        let token = s.token("default", scope);
        let headers: Vec<(&str, &str)> = header.into_iter().collect();
        let reply = s.send_as(Some(&token), method, path, body, &headers).await;
        expect(&reply, status, &format!("{scope}: {method} {path}"));
    }
}

fn entry(method: &str, url: &str, resource: Option<Value>) -> Value {
    let mut e = json!({"request": {"method": method, "url": url}});
    if let Some(r) = resource {
        e["resource"] = r;
    }
    e
}

fn observation(subject: &str, category: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": category}]}],
        "code": {"text": "test"},
        "subject": {"reference": subject}
    })
}

#[tokio::test]
async fn bundles_are_authorized_per_entry() {
    let s = TestServer::start().await;
    let token = s.token("default", "system/Patient.cr");
    let entries = vec![
        entry("POST", "Patient", Some(patient("Tx"))),
        entry(
            "POST",
            "Observation",
            Some(observation("Patient/x", "laboratory")),
        ),
    ];
    let bundle = |ty: &str| json!({"resourceType": "Bundle", "type": ty, "entry": entries.clone()});
    // A transaction fails as a whole; nothing is written.
    let reply = s
        .send_as(Some(&token), "POST", "", Some(&bundle("transaction")), &[])
        .await;
    expect(&reply, 403, "transaction");
    let history = s.send("GET", "_history", None, &[]).await.json();
    assert_eq!(history["total"], 0);
    // A batch answers the refused entry alone.
    let reply = s
        .send_as(Some(&token), "POST", "", Some(&bundle("batch")), &[])
        .await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["entry"][0]["response"]["status"], "201 Created");
    assert_eq!(body["entry"][1]["response"]["status"], "403 Forbidden");
    assert_eq!(
        body["entry"][1]["response"]["outcome"]["issue"][0]["code"],
        "forbidden"
    );
    // Reads inside a bundle need `r`.
    let id = body["entry"][0]["response"]["location"]
        .as_str()
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .to_owned();
    let read = json!({"resourceType": "Bundle", "type": "transaction",
        "entry": [entry("GET", &format!("Patient/{id}"), None)]});
    let create_only = s.token("default", "system/Patient.c");
    expect(
        &s.send_as(Some(&create_only), "POST", "", Some(&read), &[])
            .await,
        403,
        "read entry without r",
    );
    let reply = s.send_as(Some(&token), "POST", "", Some(&read), &[]).await;
    assert_eq!(reply.json()["entry"][0]["response"]["status"], "200 OK");
}

#[tokio::test]
async fn patient_context_confines_to_the_compartment() {
    let s = TestServer::start().await;
    for id in ["p1", "p2"] {
        let reply = s
            .send(
                "PUT",
                &format!("Patient/{id}"),
                Some(&with_id(patient("C"), id)),
                &[],
            )
            .await;
        assert_eq!(reply.status, 201);
    }
    for (id, subject) in [("o1", "Patient/p1"), ("o2", "Patient/p2")] {
        let o = with_id(observation(subject, "laboratory"), id);
        let reply = s
            .send("PUT", &format!("Observation/{id}"), Some(&o), &[])
            .await;
        assert_eq!(reply.status, 201);
    }
    let token = s.token_with("default", "patient/*.cruds", |c| {
        c.patient = Some("p1".into())
    });
    let absolute = observation(&format!("{}/Patient/p1", s.base), "laboratory");
    let moved = with_id(observation("Patient/p1", "laboratory"), "o2");
    let own = with_id(observation("Patient/p1", "vital-signs"), "o1");
    // (method, path, body, expected status)
    let cases: Vec<(&str, &str, Option<Value>, u16)> = vec![
        ("GET", "Patient/p1", None, 200),
        ("GET", "Patient/p2", None, 403),
        ("GET", "Patient/p1/_history/1", None, 200),
        ("GET", "Patient/p2/_history/1", None, 403),
        ("GET", "Patient/p1/_history", None, 200),
        ("GET", "Patient/p2/_history", None, 403),
        ("GET", "Observation/o1", None, 200),
        ("GET", "Observation/o2", None, 403),
        ("GET", "Observation/_history", None, 403),
        ("GET", "_history", None, 403),
        (
            "POST",
            "Observation",
            Some(observation("Patient/p1", "laboratory")),
            201,
        ),
        ("POST", "Observation", Some(absolute), 201),
        (
            "POST",
            "Observation",
            Some(observation("Patient/p2", "laboratory")),
            403,
        ),
        ("POST", "Patient", Some(patient("New")), 403),
        // the stored version is out of reach, whatever the new content says
        ("PUT", "Observation/o2", Some(moved), 403),
        ("PUT", "Observation/o1", Some(own), 200),
        ("DELETE", "Observation/o2", None, 403),
        // conditional matching would look beyond the compartment
        ("DELETE", "Observation?_id=o1", None, 403),
    ];
    for (method, path, body, status) in cases {
        let reply = s
            .send_as(Some(&token), method, path, body.as_ref(), &[])
            .await;
        expect(&reply, status, &format!("{method} {path}"));
    }
    // The other patient's data is untouched.
    assert_eq!(s.send("GET", "Observation/o2", None, &[]).await.status, 200);
    // patient/ scopes without a patient in context reach nothing.
    let no_patient = s.token("default", "patient/*.cruds");
    let reply = s
        .send_as(Some(&no_patient), "GET", "Patient/p1", None, &[])
        .await;
    expect(&reply, 403, "no patient claim");
}

#[tokio::test]
async fn granular_scope_filters() {
    let s = TestServer::start().await;
    for (id, category) in [("lab", "laboratory"), ("vital", "vital-signs")] {
        let o = with_id(observation("Patient/p", category), id);
        let reply = s
            .send("PUT", &format!("Observation/{id}"), Some(&o), &[])
            .await;
        assert_eq!(reply.status, 201);
    }
    let sys = "http://terminology.hl7.org/CodeSystem/observation-category";
    let lab_scope = format!("system/Observation.rs?category={sys}|laboratory");
    // (scope, path, expected status)
    let cases: Vec<(&str, &str, u16)> = vec![
        (
            "system/Observation.rs?category=laboratory",
            "Observation/lab",
            200,
        ),
        (
            "system/Observation.rs?category=laboratory",
            "Observation/vital",
            403,
        ),
        (&lab_scope, "Observation/lab", 200),
        (&lab_scope, "Observation/vital", 403),
        (
            "system/Observation.rs?status=final",
            "Observation/vital",
            200,
        ),
        (
            "system/Observation.rs?status=amended",
            "Observation/vital",
            403,
        ),
        // alternatives: any grant admits
        (
            "system/Observation.rs?category=laboratory system/Observation.rs?category=vital-signs",
            "Observation/vital",
            200,
        ),
        // filters that cannot be checked on one resource are refused
        (
            "system/Observation.rs?value-quantity=5",
            "Observation/lab",
            403,
        ),
        (
            "system/Observation.rs?subject=Patient/p",
            "Observation/lab",
            403,
        ),
    ];
    for (scope, path, status) in cases {
        let token = s.token("default", scope);
        let reply = s.send_as(Some(&token), "GET", path, None, &[]).await;
        expect(&reply, status, &format!("{scope}: {path}"));
    }
}
