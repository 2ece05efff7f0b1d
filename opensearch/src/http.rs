//! The connection to OpenSearch and the mapping of its answers: a reply is its status and
//! JSON body; an unreachable cluster, a timeout, 429 and 5xx are `Busy` (callers retry), a
//! request OpenSearch rejects is `Internal` unless the caller knows better.

use std::time::Duration;

use hearth_store::StoreError;
use opensearch::OpenSearch;
use opensearch::auth::Credentials;
use opensearch::http::Url;
use opensearch::http::response::Response;
use opensearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use serde_json::Value;

use crate::config::OpenSearchConfig;

/// Longest wait for one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for `config`: plain, or signing with SigV4 using `aws` (region and credentials).
pub(crate) fn client(
    config: &OpenSearchConfig,
    aws: Option<&aws_config::SdkConfig>,
) -> Result<OpenSearch, StoreError> {
    let url = Url::parse(&config.url)
        .map_err(|e| StoreError::Invalid(format!("OpenSearch URL '{}': {e}", config.url)))?;
    let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url))
        .timeout(REQUEST_TIMEOUT)
        .disable_proxy();
    if let (Some(signing), Some(sdk)) = (&config.aws, aws) {
        let credentials = Credentials::try_from(sdk)
            .map_err(|e| StoreError::internal("configure SigV4 signing", e))?;
        builder = builder.auth(credentials).service_name(&signing.service);
    }
    let transport = builder
        .build()
        .map_err(|e| StoreError::internal("build the OpenSearch client", e))?;
    Ok(OpenSearch::new(transport))
}

/// A status and JSON body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl Reply {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The `error.type` of an error reply (`index_not_found_exception`).
    pub(crate) fn error_type(&self) -> Option<&str> {
        self.body.pointer("/error/type").and_then(Value::as_str)
    }

    /// The reply as an error for `context`: `Busy` when retrying may help.
    pub(crate) fn into_error(self, context: &str) -> StoreError {
        let reason = self
            .body
            .pointer("/error/reason")
            .or_else(|| self.body.pointer("/message"))
            .and_then(Value::as_str)
            .map_or_else(|| self.body.to_string(), str::to_owned);
        let message = match self.status {
            // A domain refusing our SigV4 signature (or the node its basic auth) says so in a
            // reply that does not look like OpenSearch's: name the likely cause.
            401 | 403 => format!(
                "status {}: OpenSearch refused the request's authentication (check the SigV4 \
                 service, region and credentials): {reason}",
                self.status
            ),
            status => format!("status {status}: {reason}"),
        };
        if retryable(self.status) {
            StoreError::Busy(format!("{context}: {message}"))
        } else {
            StoreError::internal(context, message)
        }
    }

    /// The body of a successful reply, any other as an error.
    pub(crate) fn ok(self, context: &str) -> Result<Value, StoreError> {
        if self.is_success() {
            Ok(self.body)
        } else {
            Err(self.into_error(context))
        }
    }
}

/// Whether a status means "try again later".
pub(crate) fn retryable(status: u16) -> bool {
    status == 429 || status >= 500
}

/// Reads the reply of a sent request.
pub(crate) async fn reply(
    context: &str,
    sent: Result<Response, opensearch::Error>,
) -> Result<Reply, StoreError> {
    let response = sent.map_err(|e| transport_error(context, &e))?;
    let status = response.status_code().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| transport_error(context, &e))?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        match serde_json::from_str(&text) {
            Ok(v) => v,
            // Proxies and gateways answer overload with HTML.
            Err(_) if retryable(status) => Value::String(text),
            Err(e) => {
                return Err(StoreError::internal(
                    context,
                    format!("status {status}, body is not JSON: {e}"),
                ));
            }
        }
    };
    Ok(Reply { status, body })
}

/// A request that got no reply: the network or the cluster is down (`Busy`), or the client
/// could not build it (`Internal`).
fn transport_error(context: &str, e: &opensearch::Error) -> StoreError {
    let reached_network = std::error::Error::source(e).is_some() && !e.is_json();
    if reached_network || e.is_timeout() {
        StoreError::Busy(format!("{context}: OpenSearch unreachable: {e}"))
    } else {
        StoreError::internal(context, e)
    }
}

#[cfg(test)]
mod tests {
    use hearth_store::ErrorKind;
    use opensearch::cat::CatIndicesParts;
    use opensearch::indices::{IndicesDeleteParts, IndicesRefreshParts};
    use opensearch::params::Refresh;
    use opensearch::{IndexParts, SearchParts};
    use serde_json::json;

    use crate::config::AwsSigning;

    use super::*;

    #[test]
    fn statuses_map_to_kinds() {
        let check = |status: u16, kind: ErrorKind| {
            let reply = Reply {
                status,
                body: json!({"error": {"type": "x", "reason": "why"}}),
            };
            assert_eq!(reply.into_error("search").kind(), kind, "{status}");
        };
        check(429, ErrorKind::Unavailable);
        check(500, ErrorKind::Unavailable);
        check(503, ErrorKind::Unavailable);
        check(400, ErrorKind::Internal);
        check(404, ErrorKind::Internal);
        check(403, ErrorKind::Internal);
    }

    #[test]
    fn a_refused_signature_is_named() {
        let reply = Reply {
            status: 403,
            body: json!({"message": "The request signature we calculated does not match"}),
        };
        let text = reply.into_error("search").to_string();
        assert!(
            text.contains("refused the request's authentication"),
            "{text}"
        );
        assert!(text.contains("signature we calculated"), "{text}");
    }

    /// With `HEARTH_TEST_SIGV4_PROXY` (the URL of `tests/aws/sigv4_proxy.py`, which checks
    /// every signature with botocore for credentials `testing`/`testing`, region `eu-west-1`,
    /// service `es`; `tests/aws/sigv4.sh` sets it): paths and queries with characters that
    /// SigV4 canonicalizes specially are signed as AWS expects, and a wrong key is refused.
    #[tokio::test]
    async fn special_characters_are_signed_as_aws_canonicalizes_them() {
        let Ok(proxy) = std::env::var("HEARTH_TEST_SIGV4_PROXY") else {
            return;
        };
        let config = OpenSearchConfig {
            aws: Some(AwsSigning {
                service: "es".into(),
                region: Some("eu-west-1".into()),
            }),
            ..OpenSearchConfig::new(proxy)
        };
        let os = client(&config, Some(&signing("testing").await)).unwrap();
        let index = format!("sigv4-{}", uuid::Uuid::new_v4().simple());
        let other = format!("{index}-b");
        let pattern = format!("{index}*");
        // A document id with a space, '/', '+', '%', '*', ',', ':' and non-ASCII.
        let sent = os
            .index(IndexParts::IndexId(&index, "a b/c+d%e*f,g:h\u{e9}"))
            .refresh(Refresh::True)
            .body(json!({"name": "a b", "note": "x+y=z & 100%"}))
            .send()
            .await;
        let mut replies = vec![("index a document", reply("index", sent).await.unwrap())];
        // Several indices ('%2C' in the path) and a flag in the query.
        let sent = os
            .indices()
            .refresh(IndicesRefreshParts::Index(&[&index, &other]))
            .ignore_unavailable(true)
            .send()
            .await;
        replies.push(("refresh two", reply("refresh", sent).await.unwrap()));
        // A wildcard in the path, commas in the query.
        let sent = os
            .cat()
            .indices(CatIndicesParts::Index(&[&pattern]))
            .format("json")
            .h(&["index", "health"])
            .send()
            .await;
        replies.push(("cat a pattern", reply("cat", sent).await.unwrap()));
        // A query value with spaces, quotes, '*', ':', '+', '=', '&' and '%'.
        let sent = os
            .search(SearchParts::Index(&[&pattern]))
            .q("name:a* AND note:\"x+y=z & 100%\"")
            .send()
            .await;
        let found = reply("search", sent).await.unwrap();
        assert_eq!(
            found.body.pointer("/hits/total/value"),
            Some(&json!(1)),
            "{found:?}"
        );
        replies.push(("search", found));
        for (what, reply) in &replies {
            assert!(reply.is_success(), "{what}: {reply:?}");
        }
        let sent = os
            .indices()
            .delete(IndicesDeleteParts::Index(&[&index]))
            .send()
            .await;
        reply("delete", sent).await.unwrap();

        // The oracle does check: the same kind of request under another secret is refused.
        let wrong = client(&config, Some(&signing("not-the-secret").await)).unwrap();
        let sent = wrong.cat().indices(CatIndicesParts::None).send().await;
        let refused = reply("cat", sent).await.unwrap();
        assert_eq!(refused.status, 403, "{refused:?}");
        let text = refused.into_error("cat").to_string();
        assert!(
            text.contains("refused the request's authentication"),
            "{text}"
        );
    }

    /// An SDK configuration with static credentials (`testing`, `secret`) in `eu-west-1`.
    // The replacement of these aliases lives in `aws-runtime`, not a dependency of this crate.
    #[allow(deprecated)]
    async fn signing(secret: &str) -> aws_config::SdkConfig {
        use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
        let profile =
            format!("[default]\naws_access_key_id = testing\naws_secret_access_key = {secret}\n");
        let files = ProfileFiles::builder()
            .with_contents(ProfileFileKind::Credentials, profile)
            .build();
        let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .profile_files(files)
            .build();
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .credentials_provider(provider)
            .region(aws_config::Region::new("eu-west-1"))
            .load()
            .await
    }

    #[tokio::test]
    async fn an_unreachable_cluster_is_busy() {
        // Port 9 (discard) on loopback: nothing listens there in a test environment.
        let client = client(&OpenSearchConfig::new("http://127.0.0.1:9"), None).unwrap();
        let sent = client.ping().send().await;
        let err = reply("ping", sent).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
    }
}
