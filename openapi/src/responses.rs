//! Responses: the error responses (an OperationOutcome for every 4xx) and response headers as
//! components, and helpers for the success responses of FHIR interactions.

use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::OperationBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};

use crate::schemas::schema_ref;

/// What FHIR responses are served as.
pub const FHIR_JSON: &str = "application/fhir+json";

/// Error responses: component name, status, description.
const ERRORS: &[(&str, &str, &str)] = &[
    (
        "BadRequest",
        "400",
        "The request is malformed: invalid id, parameter, header or JSON.",
    ),
    ("Unauthorized", "401", "No valid bearer token."),
    (
        "Forbidden",
        "403",
        "The token lacks the scope or tenant this request needs.",
    ),
    (
        "NotFound",
        "404",
        "No such tenant, resource type, resource or version.",
    ),
    (
        "MethodNotAllowed",
        "405",
        "The method is not allowed on this URL.",
    ),
    (
        "NotAcceptable",
        "406",
        "The requested format is not FHIR JSON.",
    ),
    ("Conflict", "409", "A concurrent or duplicate write."),
    ("Gone", "410", "The resource is deleted."),
    (
        "PreconditionFailed",
        "412",
        "If-Match does not hold, or conditional criteria match more than one resource.",
    ),
    (
        "PayloadTooLarge",
        "413",
        "The body is larger than the server accepts.",
    ),
    (
        "UnsupportedMediaType",
        "415",
        "The body is not in a supported media type.",
    ),
    (
        "Unprocessable",
        "422",
        "The resource is not valid R4 (OperationOutcome lists the issues).",
    ),
    ("ClientError", "4XX", "Any other client error."),
];

/// A `$ref` to the response component `name`.
pub fn response_ref(name: &str) -> RefOr<Response> {
    RefOr::Ref(Ref::new(format!("#/components/responses/{name}")))
}

fn header_ref(name: &str) -> Ref {
    Ref::new(format!("#/components/headers/{name}"))
}

fn outcome_content() -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(schema_ref("OperationOutcome")))
        .build()
}

/// The response components.
pub fn components() -> Vec<(String, RefOr<Response>)> {
    ERRORS
        .iter()
        .map(|&(name, _, description)| {
            let response = ResponseBuilder::new()
                .description(description)
                .content(FHIR_JSON, outcome_content())
                .build();
            (name.to_owned(), RefOr::T(response))
        })
        .collect()
}

/// The header components.
pub fn headers() -> Vec<(String, RefOr<Header>)> {
    let string = |pattern: Option<&str>| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(pattern)
    };
    [
        (
            "ETag",
            HeaderBuilder::new()
                .schema(Some(string(Some(r#"^W/"[1-9][0-9]*"$"#))))
                .description(Some("The version: `W/\"{versionId}\"`."))
                .build(),
        ),
        (
            "Last-Modified",
            HeaderBuilder::new()
                .schema(Some(string(None)))
                .description(Some("`meta.lastUpdated` as an HTTP date."))
                .build(),
        ),
        (
            "Location",
            HeaderBuilder::new()
                .schema(Some(string(None)))
                .description(Some(
                    "`{base}/{type}/{id}/_history/{vid}` of the version written.",
                ))
                .build(),
        ),
    ]
    .into_iter()
    .map(|(name, h)| (name.to_owned(), RefOr::T(h)))
    .collect()
}

/// Adds the error responses with these component names (and the 4XX catch-all).
pub fn errors(mut op: OperationBuilder, names: &[&str]) -> OperationBuilder {
    for &(name, status, _) in ERRORS {
        if names.contains(&name) || name == "ClientError" {
            op = op.response(status, response_ref(name));
        }
    }
    op
}

/// Which headers a success response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Headers {
    None,
    /// `ETag` and `Last-Modified`.
    Version,
    /// `ETag`, `Last-Modified` and `Location`.
    VersionAndLocation,
}

/// A FHIR JSON response with `schema`.
pub fn fhir(description: &str, schema: impl Into<RefOr<Schema>>, headers: Headers) -> Response {
    let mut response = ResponseBuilder::new().description(description).content(
        FHIR_JSON,
        ContentBuilder::new().schema(Some(schema)).build(),
    );
    if headers != Headers::None {
        response = response
            .header_ref("ETag", header_ref("ETag"))
            .header_ref("Last-Modified", header_ref("Last-Modified"));
    }
    if headers == Headers::VersionAndLocation {
        response = response.header_ref("Location", header_ref("Location"));
    }
    response.build()
}

/// The body of a write: the resource (`Prefer: return=representation`, the default), an
/// OperationOutcome (`return=OperationOutcome`) or nothing (`return=minimal`).
pub fn written(resource_type: &str) -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(schema_ref(resource_type))
        .item(schema_ref("OperationOutcome"))
        .into()
}

/// A response without a body.
pub fn empty(description: &str, headers: Headers) -> Response {
    let mut response = ResponseBuilder::new().description(description);
    if headers != Headers::None {
        response = response.header_ref("ETag", header_ref("ETag"));
    }
    if headers == Headers::Version || headers == Headers::VersionAndLocation {
        response = response.header_ref("Last-Modified", header_ref("Last-Modified"));
    }
    response.build()
}
