//! Parsing of one scope string into a [`Scope`], with errors that say what is wrong.

use std::str::FromStr;

use super::{
    ContextKind, Interaction, Permissions, ResourceScope, ResourceSel, Scope, ScopeVersion,
};

/// A scope that looks like a SMART resource scope (`patient/`, `user/` or `system/`) but is
/// not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid scope '{scope}': {reason}")]
pub struct ScopeError {
    pub scope: String,
    pub reason: String,
}

fn err(scope: &str, reason: impl Into<String>) -> ScopeError {
    ScopeError {
        scope: scope.to_owned(),
        reason: reason.into(),
    }
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(s, "a scope is one non-empty word"));
        }
        let Some((context, rest)) = s.split_once('/') else {
            return Ok(Scope::Other(s.to_owned()));
        };
        let context = match context {
            "patient" => ContextKind::Patient,
            "user" => ContextKind::User,
            "system" => ContextKind::System,
            _ => return Ok(Scope::Other(s.to_owned())),
        };
        parse_resource_scope(s, context, rest).map(Scope::Resource)
    }
}

fn parse_resource_scope(
    s: &str,
    context: ContextKind,
    rest: &str,
) -> Result<ResourceScope, ScopeError> {
    let (body, query) = match rest.split_once('?') {
        Some((body, query)) => (body, Some(query)),
        None => (rest, None),
    };
    let Some((resource, perms)) = body.split_once('.') else {
        return Err(err(
            s,
            "expected '<Type or *>.<permissions>', e.g. 'patient/Observation.rs'",
        ));
    };
    let resource = if resource == "*" {
        ResourceSel::Any
    } else if is_resource_type(resource) {
        ResourceSel::Type(resource.to_owned())
    } else {
        return Err(err(
            s,
            format!("'{resource}' is neither '*' nor a resource type name"),
        ));
    };
    let (permissions, version) = match perms {
        "read" => (Permissions::READ_V1, ScopeVersion::V1),
        "write" => (Permissions::WRITE_V1, ScopeVersion::V1),
        "*" => (Permissions::ALL, ScopeVersion::V1),
        letters => (parse_letters(s, letters)?, ScopeVersion::V2),
    };
    let (filters, raw_query) = match query {
        None => (Vec::new(), None),
        Some(_) if version == ScopeVersion::V1 => {
            return Err(err(
                s,
                "granular '?' filters need v2 permissions ('.rs'), not v1 ('.read')",
            ));
        }
        Some(q) => (parse_filters(s, q)?, Some(q.to_owned())),
    };
    Ok(ResourceScope {
        context,
        resource,
        permissions,
        filters,
        version,
        raw_query,
    })
}

/// v2 letters: a non-empty subset of `cruds`, each at most once, in that order.
fn parse_letters(s: &str, letters: &str) -> Result<Permissions, ScopeError> {
    if letters.is_empty() {
        return Err(err(s, "no permissions after '.'"));
    }
    let mut permissions = Permissions::NONE;
    let mut last: Option<usize> = None;
    for c in letters.chars() {
        let Some(pos) = Interaction::ALL.iter().position(|i| i.letter() == c) else {
            return Err(err(
                s,
                format!(
                    "'{c}' is not a permission: use v2 letters from 'cruds' or v1 'read', 'write', '*'"
                ),
            ));
        };
        if last.is_some_and(|l| pos <= l) {
            return Err(err(
                s,
                format!("permissions '{letters}' must be written once each, in the order 'cruds'"),
            ));
        }
        last = Some(pos);
        permissions = permissions.with(Interaction::ALL[pos]);
    }
    Ok(permissions)
}

fn parse_filters(s: &str, query: &str) -> Result<Vec<(String, String)>, ScopeError> {
    if query.is_empty() {
        return Err(err(s, "empty filter after '?'"));
    }
    let mut filters = Vec::new();
    for part in query.split('&') {
        let Some((name, _)) = part.split_once('=') else {
            return Err(err(s, format!("filter '{part}' is not 'param=value'")));
        };
        if name.is_empty() {
            return Err(err(s, format!("filter '{part}' has no parameter name")));
        }
        let (name, value) = form_urlencoded::parse(part.as_bytes())
            .next()
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .unwrap_or_default();
        if value.is_empty() {
            return Err(err(s, format!("filter '{part}' has no value")));
        }
        filters.push((name, value));
    }
    Ok(filters)
}

fn is_resource_type(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphabetic())
        && s.len() <= 64
}
