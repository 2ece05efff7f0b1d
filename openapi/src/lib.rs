//! The OpenAPI 3.1 document of Hearth, built with utoipa's programmatic builders from three
//! sources: the endpoint catalog ([`catalog::ENDPOINTS`], held to the router by a drift test),
//! the R4 element model (a schema component per primitive, datatype, resource and backbone
//! element) and the R4 search-parameter registry (the parameters of each type's search).
//!
//! Built once, on first use, and kept as JSON bytes ([`document_json`]) for `GET /openapi.json`
//! and `hearth openapi`. No I/O and no HTTP server types here: `api` serves the bytes and the
//! docs UI assets ([`docs_ui::asset`]).

pub mod catalog;
pub mod docs_ui;
mod fhir_ops;
mod params;
mod responses;
mod schemas;
mod service_ops;

use std::sync::LazyLock;

use hearth_fhir::ResourceType;
use utoipa::openapi::path::{HttpMethod, Operation, PathItem, PathsBuilder};
use utoipa::openapi::security::{
    ClientCredentials, Flow, Http, HttpAuthScheme, OAuth2, Scopes, SecurityRequirement,
    SecurityScheme,
};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder};

pub use catalog::{ENDPOINTS, Endpoint, Interaction, Method, Status};
pub use utoipa;

static DOCUMENT: LazyLock<Vec<u8>> = LazyLock::new(|| {
    serde_json::to_vec(&build(catalog::served()))
        .unwrap_or_else(|e| unreachable!("the OpenAPI document serializes: {e}"))
});

/// The document of the served endpoints as compact JSON, built on first call.
pub fn document_json() -> &'static [u8] {
    &DOCUMENT
}

/// The document describing `endpoints` (e.g. [`catalog::served`], or all of [`ENDPOINTS`] to
/// see planned ones too).
pub fn build<'a>(endpoints: impl IntoIterator<Item = &'a Endpoint>) -> OpenApi {
    let mut paths = PathsBuilder::new();
    for endpoint in endpoints {
        if endpoint.per_type() {
            for rt in ResourceType::all() {
                if let Some(op) = fhir_ops::operation(endpoint.interaction, Some(rt)) {
                    let path = endpoint.path.replace("{type}", rt.as_str());
                    paths = paths.path(path, PathItem::new(method(endpoint.method), op));
                }
            }
        } else if let Some(op) = operation(endpoint) {
            paths = paths.path(endpoint.path, PathItem::new(method(endpoint.method), op));
        }
    }
    let mut parameters = params::components();
    parameters.extend(service_ops::parameters());
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas::components())
        .responses_from_iter(responses::components())
        .security_scheme("bearer", bearer())
        .security_scheme("smart", smart());
    let mut components = components.build();
    components.parameters.extend(parameters);
    components.headers.extend(responses::headers());
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Hearth FHIR R4 API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(DESCRIPTION))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .security(Some([
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("smart", Vec::<String>::new()),
        ]))
        .build()
}

const DESCRIPTION: &str = "A multi-tenant FHIR R4 (4.0.1) server. Each tenant's FHIR base URL \
is `/tenant/{tenantId}`. Requests and responses are FHIR JSON (`application/fhir+json`; \
`application/json` is accepted too). Every path under a tenant needs a bearer token whose \
tenant is the URL's, except `metadata` and `.well-known/smart-configuration`. Errors are \
OperationOutcome resources. Schemas are generated from the R4 StructureDefinitions: choice \
elements appear as one property per type (`valueQuantity`, `valueString`...), primitive \
elements have an `_element` sibling for `id` and extensions.";

/// The operation of an endpoint that is not expanded per resource type.
fn operation(endpoint: &Endpoint) -> Option<Operation> {
    fhir_ops::operation(endpoint.interaction, None)
        .or_else(|| service_ops::operation(endpoint.interaction))
}

fn method(method: Method) -> HttpMethod {
    match method {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
        Method::Put => HttpMethod::Put,
        Method::Patch => HttpMethod::Patch,
        Method::Delete => HttpMethod::Delete,
    }
}

fn bearer() -> SecurityScheme {
    let mut http = Http::new(HttpAuthScheme::Bearer);
    http.bearer_format = Some("JWT".into());
    http.description = Some(
        "A JWT from `hearth token`, `/auth/token` or a configured OIDC issuer; its `tenant` \
         claim must match the URL's tenant and its SMART scopes (v1 or v2) must allow the \
         interaction."
            .into(),
    );
    SecurityScheme::Http(http)
}

fn smart() -> SecurityScheme {
    let scopes = Scopes::from_iter([
        ("system/*.read", "Read every resource type (SMART v1)."),
        ("system/*.write", "Write every resource type (SMART v1)."),
        (
            "system/*.cruds",
            "Every interaction on every resource type (SMART v2).",
        ),
        (
            "system/*.rs",
            "Read and search every resource type (SMART v2).",
        ),
    ]);
    SecurityScheme::OAuth2(OAuth2::with_description(
        [Flow::ClientCredentials(ClientCredentials::new(
            "/auth/token",
            scopes,
        ))],
        "SMART Backend Services: a registered client exchanges a signed JWT assertion \
         (`private_key_jwt`, RS384 or ES384) for an access token at `/auth/token`.",
    ))
}

#[cfg(test)]
mod tests;
