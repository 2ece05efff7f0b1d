//! OperationOutcome issues: the one shape every error and warning takes on the way out.

use serde_json::{Map, Value, json};

/// `OperationOutcome.issue.severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Fatal,
    Error,
    Warning,
    Information,
}

impl Severity {
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

/// `OperationOutcome.issue.code` (value set `issue-type`), the subset the server emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueCode {
    Invalid,
    Structure,
    Required,
    Value,
    Invariant,
    Security,
    Login,
    Forbidden,
    Processing,
    NotSupported,
    Duplicate,
    MultipleMatches,
    NotFound,
    Deleted,
    TooLong,
    CodeInvalid,
    Conflict,
    Transient,
    Throttled,
    TooCostly,
    Exception,
    Informational,
}

impl IssueCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            IssueCode::Invalid => "invalid",
            IssueCode::Structure => "structure",
            IssueCode::Required => "required",
            IssueCode::Value => "value",
            IssueCode::Invariant => "invariant",
            IssueCode::Security => "security",
            IssueCode::Login => "login",
            IssueCode::Forbidden => "forbidden",
            IssueCode::Processing => "processing",
            IssueCode::NotSupported => "not-supported",
            IssueCode::Duplicate => "duplicate",
            IssueCode::MultipleMatches => "multiple-matches",
            IssueCode::NotFound => "not-found",
            IssueCode::Deleted => "deleted",
            IssueCode::TooLong => "too-long",
            IssueCode::CodeInvalid => "code-invalid",
            IssueCode::Conflict => "conflict",
            IssueCode::Transient => "transient",
            IssueCode::Throttled => "throttled",
            IssueCode::TooCostly => "too-costly",
            IssueCode::Exception => "exception",
            IssueCode::Informational => "informational",
        }
    }
}

/// One issue of an OperationOutcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub severity: Severity,
    pub code: IssueCode,
    pub diagnostics: String,
    /// FHIRPath of the element the issue is about, e.g. `Patient.birthDate`.
    pub expression: Option<String>,
}

impl Issue {
    pub fn error(code: IssueCode, diagnostics: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Error,
            code,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    pub fn warning(code: IssueCode, diagnostics: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Warning,
            code,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    pub fn information(diagnostics: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Information,
            code: IssueCode::Informational,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    pub fn at(mut self, expression: impl Into<String>) -> Issue {
        self.expression = Some(expression.into());
        self
    }

    pub fn to_json(&self) -> Value {
        let mut issue = Map::new();
        issue.insert("severity".into(), self.severity.as_str().into());
        issue.insert("code".into(), self.code.as_str().into());
        if !self.diagnostics.is_empty() {
            issue.insert("diagnostics".into(), fhir_string(&self.diagnostics).into());
        }
        if let Some(expression) = self.expression.as_deref().filter(|e| !e.is_empty()) {
            issue.insert("expression".into(), json!([fhir_string(expression)]));
        }
        Value::Object(issue)
    }
}

/// `text` as a valid FHIR `string` (`[ \r\n\t\S]+`): diagnostics often quote what the client
/// sent, and the vertical tab and form feed it may hold are escaped rather than echoed.
fn fhir_string(text: &str) -> String {
    text.replace('\u{b}', "\\u000b").replace('\u{c}', "\\u000c")
}

/// An OperationOutcome resource holding `issues` (at least one, as the spec requires).
pub fn operation_outcome(issues: &[Issue]) -> Value {
    let issues: Vec<Value> = if issues.is_empty() {
        vec![Issue::information("All OK").to_json()]
    } else {
        issues.iter().map(Issue::to_json).collect()
    };
    json!({ "resourceType": "OperationOutcome", "issue": issues })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_stay_valid_fhir_strings() {
        let oo = operation_outcome(&[
            Issue::error(IssueCode::Invalid, "invalid date '\u{b}x\u{c}'"),
            Issue::error(IssueCode::Invalid, ""),
        ]);
        assert_eq!(
            oo["issue"][0]["diagnostics"],
            "invalid date '\\u000bx\\u000c'"
        );
        assert!(oo["issue"][1].get("diagnostics").is_none());
    }

    #[test]
    fn outcome_names_the_element() {
        let oo =
            operation_outcome(
                &[Issue::error(IssueCode::Value, "bad date").at("Patient.birthDate")],
            );
        assert_eq!(
            oo,
            json!({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "value", "diagnostics": "bad date", "expression": ["Patient.birthDate"]}
            ]})
        );
    }

    #[test]
    fn empty_outcome_still_has_an_issue() {
        assert_eq!(operation_outcome(&[])["issue"][0]["code"], "informational");
    }
}
