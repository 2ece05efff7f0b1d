//! Parameters: the shared ones (path ids, `_format`, conditional headers...) as components, and
//! the search parameters of each resource type from the R4 registry.

use hearth_fhir::search::registry::{ParamType, Registry};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr, Required};

/// A `$ref` to the parameter component `name`.
pub fn param_ref(name: &str) -> Ref {
    Ref::new(format!("#/components/parameters/{name}"))
}

fn string(pattern: Option<&str>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(pattern)
}

fn enumerated(values: &[&str]) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
}

fn param(
    name: &str,
    location: ParameterIn,
    required: bool,
    schema: impl Into<RefOr<Schema>>,
    description: &str,
) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(location)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
        .schema(Some(schema))
        .description(Some(description))
        .build()
}

/// The shared parameter components, by component name.
pub fn components() -> Vec<(String, RefOr<Parameter>)> {
    use ParameterIn::{Header, Path, Query};
    let etag = r#"^W/"[1-9][0-9]{0,17}"$"#;
    let http_date = r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$";
    let instant = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$";
    let list = [
        (
            "tenantId",
            param(
                "tenantId",
                Path,
                true,
                string(Some("^[a-z0-9][a-z0-9-]{0,62}$")),
                "The tenant: its FHIR base URL is `/tenant/{tenantId}`.",
            ),
        ),
        (
            "id",
            param(
                "id",
                Path,
                true,
                string(Some(r"^[A-Za-z0-9\-\.]{1,64}$")),
                "The logical id of the resource.",
            ),
        ),
        (
            "vid",
            param(
                "vid",
                Path,
                true,
                string(Some("^[1-9][0-9]{0,17}$")),
                "A version id (`meta.versionId`): 1, 2, 3...",
            ),
        ),
        (
            "_format",
            param(
                "_format",
                Query,
                false,
                enumerated(&["json", "application/json", "application/fhir+json"]),
                "Overrides `Accept`. This server speaks FHIR JSON only: XML and Turtle answer 406.",
            ),
        ),
        (
            "_pretty",
            param(
                "_pretty",
                Query,
                false,
                enumerated(&["true", "false"]),
                "Indents the JSON response.",
            ),
        ),
        (
            "If-Match",
            param(
                "If-Match",
                Header,
                false,
                string(Some(etag)),
                "Version-aware write: fails with 412 unless the current version is this ETag.",
            ),
        ),
        (
            "If-None-Match",
            param(
                "If-None-Match",
                Header,
                false,
                string(Some(r#"^(\*|W/"[1-9][0-9]{0,17}")$"#)),
                "Conditional read: 304 when the current version has this ETag (or for `*`).",
            ),
        ),
        (
            "If-Modified-Since",
            param(
                "If-Modified-Since",
                Header,
                false,
                string(Some(http_date)),
                "Conditional read: 304 when the resource has not changed since this HTTP date.",
            ),
        ),
        (
            "If-None-Exist",
            param(
                "If-None-Exist",
                Header,
                false,
                string(Some("^[^?]+=.*$")),
                "Conditional create: search criteria (`identifier=system|value`, `_id`, `_lastUpdated`); \
                 when one resource matches it is returned with 200 and nothing is created, when \
                 several match the answer is 412.",
            ),
        ),
        (
            "Prefer",
            param(
                "Prefer",
                Header,
                false,
                enumerated(&[
                    "return=minimal",
                    "return=representation",
                    "return=OperationOutcome",
                ]),
                "What a write returns: nothing, the resource (default) or an OperationOutcome.",
            ),
        ),
        (
            "_since",
            param(
                "_since",
                Query,
                false,
                string(Some(instant)),
                "Only versions created at or after this instant.",
            ),
        ),
        (
            "_at",
            param(
                "_at",
                Query,
                false,
                string(None),
                "Only versions current at some point within this date or dateTime.",
            ),
        ),
        (
            "_count",
            param(
                "_count",
                Query,
                false,
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(10_000)),
                "Page size; capped by the server's maximum.",
            ),
        ),
        (
            "_cursor",
            param(
                "_cursor",
                Query,
                false,
                string(None),
                "Opaque page cursor from a `next` link.",
            ),
        ),
        (
            "read_summary",
            param(
                "_summary",
                Query,
                false,
                enumerated(&["true", "text", "data", "false"]),
                "Returns a subset, tagged `SUBSETTED`: `true` the elements marked summary in the R4 \
                 definition, `text` the narrative, `data` all but the narrative; `id`, `meta` and \
                 mandatory elements always.",
            ),
        ),
        (
            "read_elements",
            param(
                "_elements",
                Query,
                false,
                string(None),
                "Comma-separated top-level element names to return (plus `id`, `meta` and \
                 mandatory elements), tagged `SUBSETTED`.",
            ),
        ),
        (
            "crit_id",
            param(
                "_id",
                Query,
                false,
                string(None),
                "Conditional criterion: logical ids, comma-separated (OR).",
            ),
        ),
        (
            "crit_identifier",
            param(
                "identifier",
                Query,
                false,
                string(None),
                "Conditional criterion: `[system|]value` tokens, comma-separated (OR).",
            ),
        ),
        (
            "crit_lastUpdated",
            param(
                "_lastUpdated",
                Query,
                false,
                string(None),
                "Conditional criterion: `[prefix]date` (eq, ne, gt, lt, ge, le, sa, eb, ap).",
            ),
        ),
    ];
    list.into_iter()
        .map(|(name, p)| (name.to_owned(), RefOr::T(p)))
        .collect()
}

/// The criteria parameters of conditional update, patch and delete.
pub const CRITERIA: [&str; 3] = ["crit_id", "crit_identifier", "crit_lastUpdated"];

/// The search result parameters every search takes.
const RESULT_PARAMS: [(&str, &str); 7] = [
    ("_count", "Page size."),
    (
        "_list",
        "Only resources in `entry.item` of this tenant's `List/[id]` (current version).",
    ),
    (
        "_sort",
        "Sort order: comma-separated parameter names, `-` for descending.",
    ),
    (
        "_include",
        "Also return resources this one references: `Type:param[:target]`.",
    ),
    (
        "_revinclude",
        "Also return resources that reference this one: `Type:param[:target]`.",
    ),
    ("_summary", "`true`, `text`, `data`, `count` or `false`."),
    ("_elements", "Comma-separated element names to return."),
];

/// How a value of a search parameter type is written, for its description.
fn syntax(kind: ParamType) -> &'static str {
    match kind {
        ParamType::Number => "[prefix]number, e.g. `gt5`",
        ParamType::Date => "[prefix]date, e.g. `ge2020-01-01`",
        ParamType::String => "text; `:exact`, `:contains`",
        ParamType::Token => {
            "`[system|]code`; `:not`, `:text`, `:of-type`, `:missing`, `:in`, `:not-in`, `:above`, `:below`"
        }
        ParamType::Reference => "`[Type/]id` or an absolute URL; chains with `.`",
        ParamType::Composite => "component values joined by `$`",
        ParamType::Quantity => "`[prefix]number|system|code`",
        ParamType::Uri => "a URI; `:below`, `:above`",
        ParamType::Special => "`near`: `latitude|longitude|distance|units`",
    }
}

/// The query parameters of a search on `resource_type` (or of a system search for `None`):
/// every registry parameter that applies, with its FHIR type, plus the result parameters.
pub fn search(resource_type: Option<&str>) -> Vec<Parameter> {
    let registry = Registry::r4();
    let defs: Vec<_> = match resource_type {
        Some(rt) => registry.for_type(rt).collect(),
        None => registry
            .all()
            .filter(|p| p.base.iter().any(|b| b == "Resource"))
            .collect(),
    };
    let mut params: Vec<Parameter> = defs
        .into_iter()
        .map(|def| {
            let mut description = format!("{} ({}).", def.kind.as_str(), syntax(def.kind));
            if !def.target.is_empty() && def.target.len() <= 8 {
                description.push_str(&format!(" Targets: {}.", def.target.join(", ")));
            }
            let mut p = param(
                &def.code,
                ParameterIn::Query,
                false,
                string(None),
                &description,
            );
            p.extensions = Some(
                utoipa::openapi::extensions::ExtensionsBuilder::new()
                    .add("x-fhir-type", def.kind.as_str())
                    .build(),
            );
            p
        })
        .collect();
    params.sort_by(|a, b| a.name.cmp(&b.name));
    for (name, description) in RESULT_PARAMS {
        if name == "_count" {
            continue;
        }
        params.push(param(
            name,
            ParameterIn::Query,
            false,
            string(None),
            description,
        ));
    }
    params
}
