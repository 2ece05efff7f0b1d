//! Parsing query pairs into a [`SearchQuery`]: parameter names with modifiers, chains and
//! `_has`, OR values, and the result parameters. Unknown or unsupported parameters become
//! warnings (errors when strict); malformed values are always errors.

use super::value;
use super::{Filter, Include, SearchQuery, SortKey, Summary, Test, Total, ValueTest};
use crate::ResourceType;
use crate::outcome::{Issue, IssueCode};
use crate::search::criteria::split_or;
use crate::search::registry::{ParamType, Registry, SearchParamDef};

/// How to parse.
#[derive(Debug, Clone)]
pub struct ParseOptions<'a> {
    /// This tenant's base URL: absolute references under it are local.
    pub base: Option<&'a str>,
    /// `Prefer: handling=strict`: unknown or unsupported parameters are errors.
    pub strict: bool,
    pub default_count: usize,
    pub max_count: usize,
}

impl Default for ParseOptions<'_> {
    fn default() -> Self {
        ParseOptions {
            base: None,
            strict: false,
            default_count: 20,
            max_count: 1000,
        }
    }
}

/// Deepest chain or `_has` nesting accepted.
const MAX_DEPTH: usize = 8;

/// Why a parameter is not applied.
enum Problem {
    /// Unknown parameter or unsupported modifier: a warning, or an error when strict.
    Unsupported(String),
    /// A malformed value: always an error.
    Invalid(Issue),
}

impl From<Issue> for Problem {
    fn from(issue: Issue) -> Problem {
        Problem::Invalid(issue)
    }
}

fn invalid(msg: impl Into<String>) -> Issue {
    Issue::error(IssueCode::Invalid, msg)
}

/// Splits on an unescaped `sep` (`\` escapes).
pub(super) fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            c if c == sep && !escaped => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => escaped = false,
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Parses a search of `rt` (or a system search when `None`) from its query pairs (without
/// `_format` and `_pretty`).
pub fn parse_search(
    registry: &Registry,
    rt: Option<ResourceType>,
    pairs: &[(String, String)],
    options: &ParseOptions<'_>,
) -> Result<SearchQuery, Issue> {
    let mut query = SearchQuery {
        types: rt.into_iter().collect(),
        filters: Vec::new(),
        sort: Vec::new(),
        count: options.default_count.min(options.max_count),
        total: Total::Estimate,
        summary: None,
        elements: Vec::new(),
        include: Vec::new(),
        revinclude: Vec::new(),
        cursor: None,
        applied: Vec::new(),
        warnings: Vec::new(),
    };
    if rt.is_none() {
        for (name, value) in pairs.iter().filter(|(n, _)| n == "_type") {
            for t in split_or(value).into_iter().filter(|t| !t.is_empty()) {
                let ty = t
                    .parse::<ResourceType>()
                    .map_err(|_| invalid(format!("_type: unknown resource type '{t}'")))?;
                if !query.types.contains(&ty) {
                    query.types.push(ty);
                }
            }
            query.applied.push((name.clone(), value.clone()));
        }
    }
    let context: Vec<&str> = if query.types.is_empty() {
        vec!["Resource"]
    } else {
        query.types.iter().map(ResourceType::as_str).collect()
    };
    for (name, value) in pairs {
        let result = match name.as_str() {
            "_type" if rt.is_none() => continue,
            "_cursor" => {
                query.cursor = Some(value.clone());
                continue;
            }
            _ if value.is_empty() => continue,
            "_count" => {
                let n: usize = value
                    .parse()
                    .map_err(|_| invalid(format!("_count: not a number '{value}'")))?;
                query.count = n.min(options.max_count);
                query.applied.push((name.clone(), query.count.to_string()));
                continue;
            }
            "_total" => {
                query.total = match value.as_str() {
                    "none" => Total::None,
                    "estimate" => Total::Estimate,
                    "accurate" => Total::Accurate,
                    _ => return Err(invalid(format!("_total: invalid value '{value}'"))),
                };
                Ok(())
            }
            "_summary" => {
                let Some(summary) = Summary::parse(value) else {
                    return Err(invalid(format!("_summary: invalid value '{value}'")));
                };
                if summary == Summary::Count {
                    query.count = 0;
                }
                query.summary = Some(summary);
                Ok(())
            }
            "_elements" => {
                query.elements = split_or(value)
                    .into_iter()
                    .map(|e| e.trim().to_owned())
                    .filter(|e| !e.is_empty())
                    .collect();
                Ok(())
            }
            "_sort" => parse_sort(registry, &context, value).map(|keys| query.sort = keys),
            "_include" | "_include:iterate" | "_revinclude" | "_revinclude:iterate" => {
                let iterate = name.ends_with(":iterate");
                parse_include(registry, value, iterate).map(|inc| {
                    if name.starts_with("_include") {
                        query.include.push(inc);
                    } else {
                        query.revinclude.push(inc);
                    }
                })
            }
            "_list" => parse_list(value).map(|f| query.filters.push(f)),
            _ => parse_filter_all(registry, &context, name, value, options.base)
                .map(|f| query.filters.push(f)),
        };
        match result {
            Ok(()) => query.applied.push((name.clone(), value.clone())),
            Err(Problem::Invalid(issue)) => return Err(issue),
            Err(Problem::Unsupported(why)) if options.strict => {
                return Err(Issue::error(IssueCode::NotSupported, why));
            }
            Err(Problem::Unsupported(why)) => query
                .warnings
                .push(Issue::warning(IssueCode::NotSupported, why)),
        }
    }
    if query.summary == Some(Summary::Count) {
        // The count is the whole answer: it is made exactly (unless `_total=none`).
        query.count = 0;
        if query.total == Total::Estimate {
            query.total = Total::Accurate;
        }
    }
    Ok(query)
}

/// Parses a filter for every type of a system search; they must agree.
fn parse_filter_all(
    registry: &Registry,
    context: &[&str],
    name: &str,
    value: &str,
    base: Option<&str>,
) -> Result<Filter, Problem> {
    let mut first: Option<Filter> = None;
    for ty in context {
        let f = parse_filter(registry, ty, name, value, base, 0)?;
        match &first {
            Some(a) if a.kind != f.kind || a.code != f.code => {
                return Err(Problem::Unsupported(format!(
                    "search parameter '{name}' differs between the types searched"
                )));
            }
            Some(_) => {}
            None => first = Some(f),
        }
    }
    first.ok_or_else(|| Problem::Unsupported(format!("unknown search parameter '{name}'")))
}

fn lookup<'r>(registry: &'r Registry, ty: &str, code: &str) -> Result<&'r SearchParamDef, Problem> {
    registry
        .get(ty, code)
        .ok_or_else(|| Problem::Unsupported(format!("unknown search parameter '{code}' on {ty}")))
}

fn parse_filter(
    registry: &Registry,
    ty: &str,
    name: &str,
    value: &str,
    base: Option<&str>,
    depth: usize,
) -> Result<Filter, Problem> {
    if depth > MAX_DEPTH {
        return Err(invalid(format!("'{name}': chains nest at most {MAX_DEPTH} deep")).into());
    }
    if let Some(rest) = name.strip_prefix("_has:") {
        let mut parts = rest.splitn(3, ':');
        let (Some(source), Some(reference), Some(inner)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(
                invalid(format!("'{name}': expected _has:Type:reference:parameter")).into(),
            );
        };
        let source: ResourceType = source
            .parse()
            .map_err(|_| invalid(format!("'{name}': unknown resource type '{source}'")))?;
        let param = lookup(registry, source.as_str(), reference)?;
        if param.kind != ParamType::Reference {
            return Err(invalid(format!(
                "'{name}': '{reference}' is not a reference parameter"
            ))
            .into());
        }
        let filter = parse_filter(registry, source.as_str(), inner, value, base, depth + 1)?;
        return Ok(Filter {
            code: "_has".to_owned(),
            kind: ParamType::Reference,
            test: Test::Has {
                source,
                reference: reference.to_owned(),
                filter: Box::new(filter),
            },
        });
    }
    if let Some((head, tail)) = name.split_once('.') {
        let (code, modifier) = match head.split_once(':') {
            Some((c, m)) => (c, Some(m)),
            None => (head, None),
        };
        let param = lookup(registry, ty, code)?;
        if param.kind != ParamType::Reference {
            return Err(invalid(format!("'{name}': '{code}' is not a reference parameter")).into());
        }
        let targets: Vec<ResourceType> = match modifier {
            Some(m) => vec![
                m.parse()
                    .map_err(|_| invalid(format!("'{name}': unknown resource type '{m}'")))?,
            ],
            None => param.target.iter().filter_map(|t| t.parse().ok()).collect(),
        };
        let next_code = tail.split(['.', ':']).next().unwrap_or(tail);
        let mut branches = Vec::new();
        for target in targets {
            if next_code != "_has" && registry.get(target.as_str(), next_code).is_none() {
                continue;
            }
            let f = parse_filter(registry, target.as_str(), tail, value, base, depth + 1)?;
            branches.push((target, f));
        }
        if branches.is_empty() {
            return Err(Problem::Unsupported(format!(
                "'{name}': no type that '{code}' references has a parameter '{next_code}'"
            )));
        }
        return Ok(Filter {
            code: code.to_owned(),
            kind: ParamType::Reference,
            test: Test::Chain(branches),
        });
    }
    let (code, modifier) = match name.split_once(':') {
        Some((c, m)) => (c, Some(m)),
        None => (name, None),
    };
    let mut param = lookup(registry, ty, code)?;
    let mut code = code;
    // Phonetic parameters are indexed as `name` (see `search::index`).
    if param.xpath_usage.as_deref() == Some("phonetic")
        && let Some(name) = registry.get(ty, "name")
        && name.expression.as_ref().map(|e| e.source())
            == param.expression.as_ref().map(|e| e.source())
    {
        param = name;
        code = "name";
    }
    let kind = param.kind;
    let filter = |test| Filter {
        code: code.to_owned(),
        kind,
        test,
    };
    if modifier == Some("missing") {
        return match value {
            "true" => Ok(filter(Test::Missing(true))),
            "false" => Ok(filter(Test::Missing(false))),
            _ => Err(invalid(format!("'{name}': :missing takes true or false")).into()),
        };
    }
    let unsupported = || {
        Problem::Unsupported(format!(
            "modifier ':{}' is not supported on search parameter '{code}' ({})",
            modifier.unwrap_or_default(),
            kind.as_str()
        ))
    };
    let not = kind == ParamType::Token && matches!(modifier, Some("not" | "not-in"));
    let mut values = Vec::new();
    for v in split_or(value) {
        if v.is_empty() {
            return Err(invalid(format!("'{name}': empty value in '{value}'")).into());
        }
        let test = match kind {
            ParamType::String if is_text_search(code) => match modifier {
                None | Some("contains") => value::text_search(v),
                Some(_) => return Err(unsupported()),
            },
            ParamType::String => value::string(modifier, v).ok_or_else(unsupported)?,
            ParamType::Token => match modifier {
                None | Some("not" | "text" | "of-type") => value::token(name, modifier, v)?,
                Some(m @ ("in" | "not-in" | "above" | "below")) => value::terminology(name, m, v)?,
                _ => return Err(unsupported()),
            },
            ParamType::Date | ParamType::Number | ParamType::Quantity if modifier.is_some() => {
                return Err(unsupported());
            }
            ParamType::Date => value::date(name, v)?,
            ParamType::Number => value::number(name, v)?,
            ParamType::Quantity => value::quantity(name, v)?,
            ParamType::Reference => match modifier {
                Some("identifier") => value::reference_identifier(name, v)?,
                None => value::reference(name, None, v, base)?,
                Some(m) => match m.parse::<ResourceType>() {
                    Ok(t) => value::reference(name, Some(t), v, base)?,
                    Err(_) => return Err(unsupported()),
                },
            },
            ParamType::Uri => value::uri(modifier, v).ok_or_else(unsupported)?,
            ParamType::Composite if modifier.is_none() => {
                composite(registry, param, name, v, base)?
            }
            ParamType::Special if modifier.is_none() && code == "near" => value::near(name, v)?,
            ParamType::Composite | ParamType::Special => return Err(unsupported()),
        };
        values.push(test);
    }
    Ok(filter(Test::Any { not, values }))
}

fn composite(
    registry: &Registry,
    param: &SearchParamDef,
    name: &str,
    value: &str,
    base: Option<&str>,
) -> Result<ValueTest, Problem> {
    let parts = split_unescaped(value, '$');
    if parts.len() != param.component.len() {
        return Err(invalid(format!(
            "'{name}': expected {} components separated by '$' in '{value}'",
            param.component.len()
        ))
        .into());
    }
    let mut tests = Vec::new();
    for (component, part) in param.component.iter().zip(parts) {
        let kind = registry
            .by_url(&component.definition)
            .map_or(ParamType::Token, |p| p.kind);
        tests.push(match kind {
            ParamType::String => value::string(None, part).ok_or_else(|| invalid("string"))?,
            ParamType::Token => value::token(name, None, part)?,
            ParamType::Date => value::date(name, part)?,
            ParamType::Number => value::number(name, part)?,
            ParamType::Quantity => value::quantity(name, part)?,
            ParamType::Reference => value::reference(name, None, part, base)?,
            ParamType::Uri => value::uri(None, part).ok_or_else(|| invalid("uri"))?,
            ParamType::Composite | ParamType::Special => {
                return Err(Problem::Unsupported(format!(
                    "'{name}': component of type {} not supported",
                    kind.as_str()
                )));
            }
        });
    }
    Ok(ValueTest::Composite(tests))
}

fn parse_sort(registry: &Registry, context: &[&str], value: &str) -> Result<Vec<SortKey>, Problem> {
    let mut keys = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (code, descending) = match part.strip_prefix('-') {
            Some(c) => (c, true),
            None => (part, false),
        };
        let mut kind = None;
        for ty in context {
            let p = lookup(registry, ty, code)?;
            if matches!(p.kind, ParamType::Composite | ParamType::Special) {
                return Err(Problem::Unsupported(format!("cannot sort on '{code}'")));
            }
            kind = Some(p.kind);
        }
        if let Some(kind) = kind {
            keys.push(SortKey {
                code: code.to_owned(),
                kind,
                descending,
            });
        }
    }
    Ok(keys)
}

fn parse_include(registry: &Registry, value: &str, iterate: bool) -> Result<Include, Problem> {
    let bad = || {
        invalid(format!(
            "_include/_revinclude: expected Type:parameter[:target], got '{value}'"
        ))
    };
    let parts: Vec<&str> = value.split(':').collect();
    let (source, param, target) = match parts.as_slice() {
        [s, p] => (*s, *p, None),
        [s, p, t] => (*s, *p, Some(*t)),
        _ => return Err(bad().into()),
    };
    let source: ResourceType = source.parse().map_err(|_| bad())?;
    let target = target
        .map(|t| t.parse::<ResourceType>().map_err(|_| bad()))
        .transpose()?;
    let param = if param == "*" {
        None
    } else {
        let def = lookup(registry, source.as_str(), param)?;
        if def.kind != ParamType::Reference {
            return Err(
                invalid(format!("_include: '{param}' is not a reference parameter")).into(),
            );
        }
        Some(param.to_owned())
    };
    Ok(Include {
        source,
        param,
        target,
        iterate,
    })
}

/// Whether `code` is one of the full-text parameters the server indexes itself.
fn is_text_search(code: &str) -> bool {
    matches!(code, "_text" | "_content")
}

/// `_list=id[,id]`: the resources a `List` of this server has in `entry.item`, the same as
/// `_has:List:item:_id=id` (the List's current version; a missing List matches nothing).
fn parse_list(value: &str) -> Result<Filter, Problem> {
    let mut values = Vec::new();
    for id in split_or(value) {
        if id.starts_with('$') {
            return Err(Problem::Unsupported(format!(
                "_list: functional list '{id}' is not supported"
            )));
        }
        let id = id.strip_prefix("List/").unwrap_or(id);
        if id.parse::<crate::ResourceId>().is_err() {
            return Err(invalid(format!("_list: invalid List id '{id}'")).into());
        }
        values.push(ValueTest::Token {
            system: None,
            code: Some(id.to_owned()),
        });
    }
    Ok(Filter {
        code: "_has".to_owned(),
        kind: ParamType::Reference,
        test: Test::Has {
            source: "List".parse().map_err(|_| invalid("_list: no List type"))?,
            reference: "item".to_owned(),
            filter: Box::new(Filter {
                code: "_id".to_owned(),
                kind: ParamType::Token,
                test: Test::Any { not: false, values },
            }),
        },
    })
}
