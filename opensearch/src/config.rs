//! Where the search index lives and how requests are authenticated.

use hearth_store::StoreError;

/// How to reach OpenSearch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSearchConfig {
    /// Base URL of the cluster (`http://127.0.0.1:9200`, or the domain's https endpoint).
    pub url: String,
    /// Index names are `{index_prefix}{tenant}`; lowercase, as OpenSearch requires.
    pub index_prefix: String,
    /// Replicas of each tenant index; `None` leaves the cluster default.
    pub replicas: Option<u32>,
    /// Sign requests with SigV4 (Amazon OpenSearch Service); `None` for a plain endpoint.
    pub aws: Option<AwsSigning>,
    /// Most resources a chain or `_has` may reach before the search is refused as too broad
    /// (at most [`MAX_INNER_LIMIT`]).
    pub inner_limit: usize,
}

/// SigV4 signing of every request with the AWS SDK's default credentials chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSigning {
    /// `es` for a managed domain, `aoss` for OpenSearch Serverless.
    pub service: String,
    /// The region; `None` takes the SDK's default (environment, profile).
    pub region: Option<String>,
}

/// The default index name prefix.
pub const DEFAULT_PREFIX: &str = "hearth-";

/// The largest `inner_limit`: OpenSearch's default result window.
pub const MAX_INNER_LIMIT: usize = 10_000;

impl OpenSearchConfig {
    /// A plain-HTTP configuration with the default prefix.
    pub fn new(url: impl Into<String>) -> OpenSearchConfig {
        OpenSearchConfig {
            url: url.into(),
            index_prefix: DEFAULT_PREFIX.to_owned(),
            replicas: None,
            aws: None,
            inner_limit: MAX_INNER_LIMIT,
        }
    }

    /// Checks the prefix can start an index name and the limits are in range.
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        if !(1..=MAX_INNER_LIMIT).contains(&self.inner_limit) {
            return Err(StoreError::Invalid(format!(
                "OpenSearch inner_limit {} is not within 1..={MAX_INNER_LIMIT}",
                self.inner_limit
            )));
        }
        let p = &self.index_prefix;
        let ok = !p.starts_with(['_', '-', '+'])
            && p.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')
            });
        if ok {
            Ok(())
        } else {
            Err(StoreError::Invalid(format!(
                "OpenSearch index prefix '{p}': use lowercase letters, digits, '-', '_' or '.'"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let check = |prefix: &str, ok: bool| {
            let mut c = OpenSearchConfig::new("http://127.0.0.1:9200");
            c.index_prefix = prefix.to_owned();
            assert_eq!(c.validate().is_ok(), ok, "{prefix}");
        };
        check("hearth-", true);
        check("", true);
        check("prod.hearth_", true);
        check("Hearth-", false);
        check("_hearth", false);
        check("a b", false);
        let mut c = OpenSearchConfig::new("http://127.0.0.1:9200");
        c.inner_limit = MAX_INNER_LIMIT + 1;
        assert!(c.validate().is_err());
    }
}
