//! Data-driven validation tests: good resources pass, each bad one yields exactly the expected
//! issues (code and expression).

use serde_json::Value;

use super::*;
use crate::outcome::Severity;

/// `expected`: `(code, expression)` of every issue, in order; empty for a valid resource.
pub(super) fn check(input: Value, expected: &[(IssueCode, &str)]) {
    let actual: Vec<(IssueCode, String)> = match validate_resource(&input) {
        Ok(rt) => {
            assert_eq!(Some(rt.as_str()), input["resourceType"].as_str());
            Vec::new()
        }
        Err(issues) => {
            assert!(issues.iter().all(|i| i.severity == Severity::Error));
            issues
                .into_iter()
                .map(|i| (i.code, i.expression.unwrap_or_default()))
                .collect()
        }
    };
    let expected: Vec<(IssueCode, String)> = expected
        .iter()
        .map(|(c, e)| (*c, (*e).to_owned()))
        .collect();
    assert_eq!(actual, expected, "{input}");
}

mod structure;
mod values;
