//! Per-tenant rate limiting: 429 with an integer Retry-After once a tenant's burst is spent,
//! without touching other tenants.

use hearth_api::Limits;
use hearth_tests::TestServer;

#[tokio::test]
async fn a_tenant_over_its_rate_gets_429_and_others_do_not() {
    let limits = Limits {
        tenant_requests_per_second: 0.5,
        tenant_burst: 5.0,
        ..Limits::default()
    };
    let s = TestServer::with_limits(limits).await;
    for i in 0..5 {
        assert_eq!(
            s.send("GET", "metadata", None, &[]).await.status,
            200,
            "request {i} is within the burst"
        );
    }
    let throttled = s.send("GET", "Patient/x", None, &[]).await;
    assert_eq!(throttled.outcome(429), "throttled");
    let retry_after: u64 = throttled
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("integer seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let other = s
        .send(
            "GET",
            &format!("{}/metadata", s.tenant_base("other")),
            None,
            &[],
        )
        .await;
    assert_eq!(other.status, 200, "another tenant has its own bucket");
    let health = s
        .send("GET", &format!("http://{}/health", s.addr), None, &[])
        .await;
    assert_eq!(health.status, 200, "health is not limited");
}
