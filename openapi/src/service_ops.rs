//! Operations outside the FHIR REST interactions: health, the document itself, the token
//! endpoint and SMART configuration, the admin API and bulk export.

use utoipa::openapi::path::{Operation, OperationBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Required};

use crate::catalog::Interaction as I;
use crate::params::param_ref;
use crate::responses::errors;

fn json_object() -> ObjectBuilder {
    ObjectBuilder::new().additional_properties(Some(AdditionalProperties::FreeForm(true)))
}

fn json(description: &str, schema: ObjectBuilder) -> utoipa::openapi::response::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

fn status(values: &[&str]) -> ObjectBuilder {
    json_object()
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(values.iter().copied())),
        )
        .required("status")
}

const EXPORT_KICKOFF: &str = "Kick-off (FHIR Bulk Data Access 2.0): send `Prefer: respond-async` and `Accept: application/fhir+json`, then poll the `Content-Location` status URL. `Prefer: handling=lenient` drops unsupported values and lists them in the manifest's `error` files instead of answering 400.";

/// The kick-off parameters of a GET (comma lists and repeats alike).
const EXPORT_PARAMS: [(&str, &str); 7] = [
    (
        "_outputFormat",
        "`application/fhir+ndjson` (default; also `application/ndjson`, `ndjson`) or `application/vnd.apache.parquet` (`parquet`).",
    ),
    (
        "_since",
        "Only resources changed at or after this instant; deletions go to the `deleted` files.",
    ),
    ("_until", "The state as of this instant (Bulk Data 3.0)."),
    (
        "_type",
        "Resource types to export (default: every type the level covers and the token may read).",
    ),
    (
        "_elements",
        "Elements to keep, `[type].[element]` or `[element]`; resources are tagged SUBSETTED.",
    ),
    (
        "_typeFilter",
        "`[type]?[search]`: only resources of that type matching the search (repeat to OR).",
    ),
    (
        "includeAssociatedData",
        "`LatestProvenanceResources` or `RelevantProvenanceResources`: also the Provenance of exported resources.",
    ),
];

fn query(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

/// The operation of a non-FHIR endpoint.
pub fn operation(interaction: I) -> Option<Operation> {
    let open = |op: OperationBuilder| op.securities(Some([]));
    let op = OperationBuilder::new();
    let op = match interaction {
        I::Health => open(op.tag("Service").operation_id(Some("health")))
            .summary(Some("Liveness: the process answers"))
            .response("200", json("Alive.", status(&["ok"]))),
        I::Ready => open(op.tag("Service").operation_id(Some("ready")))
            .summary(Some("Readiness: every backend answers"))
            .response("200", json("Ready.", status(&["ready"])))
            .response("503", json("A backend does not answer.", status(&["unavailable"]))),
        I::OpenApi => open(op.tag("Service").operation_id(Some("openapi")))
            .summary(Some("This document"))
            .response("200", json("The OpenAPI 3.1 document.", json_object())),
        I::Docs => open(op.tag("Service").operation_id(Some("docs")))
            .summary(Some("Interactive documentation (Swagger UI, served offline)"))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("An HTML page.")
                    .content("text/html", ContentBuilder::new().schema(Some(ObjectBuilder::new().schema_type(Type::String))).build())
                    .build(),
            ),
        I::Token => open(op.tag("Auth").operation_id(Some("token")))
            .summary(Some("SMART Backend Services token endpoint"))
            .description(Some("`client_credentials` with a `private_key_jwt` client assertion (RS384 or ES384)."))
            .request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        "application/x-www-form-urlencoded",
                        ContentBuilder::new()
                            .schema(Some(
                                ObjectBuilder::new()
                                    .property("grant_type", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["client_credentials"])))
                                    .property("client_assertion_type", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"])))
                                    .property("client_assertion", ObjectBuilder::new().schema_type(Type::String))
                                    .property("scope", ObjectBuilder::new().schema_type(Type::String))
                                    .required("grant_type")
                                    .required("client_assertion_type")
                                    .required("client_assertion")
                                    .required("scope"),
                            ))
                            .build(),
                    )
                    .build(),
            ))
            .response(
                "200",
                json(
                    "An access token.",
                    json_object()
                        .property("access_token", ObjectBuilder::new().schema_type(Type::String))
                        .property("token_type", ObjectBuilder::new().schema_type(Type::String))
                        .property("expires_in", ObjectBuilder::new().schema_type(Type::Integer))
                        .property("scope", ObjectBuilder::new().schema_type(Type::String))
                        .required("access_token")
                        .required("token_type"),
                ),
            )
            .response(
                "400",
                json(
                    "An RFC 6749 error.",
                    json_object()
                        .property("error", ObjectBuilder::new().schema_type(Type::String))
                        .property("error_description", ObjectBuilder::new().schema_type(Type::String))
                        .required("error"),
                ),
            ),
        I::SmartConfiguration => open(op.tag("Auth").operation_id(Some("smart-configuration")))
            .parameter_ref(param_ref("tenantId"))
            .summary(Some("SMART configuration of the tenant"))
            .response("200", json("SMART App Launch configuration.", json_object().property("token_endpoint", ObjectBuilder::new().schema_type(Type::String)))),
        I::AdminTenantList
        | I::AdminTenantCreate
        | I::AdminTenantRead
        | I::AdminTenantDelete
        | I::AdminTenantSuspend
        | I::AdminTenantResume => {
            let tenant = || json_object()
                .property("id", ObjectBuilder::new().schema_type(Type::String))
                .property("name", ObjectBuilder::new().schema_type(Type::String))
                .required("id");
            let op = op.tag("Admin").security(admin());
            match interaction {
                I::AdminTenantList => op
                    .operation_id(Some("admin-tenant-list"))
                    .summary(Some("List tenants"))
                    .response("200", json("The tenants.", json_object().property("tenants", ArrayBuilder::new().items(tenant())).required("tenants"))),
                I::AdminTenantCreate => op
                    .operation_id(Some("admin-tenant-create"))
                    .summary(Some("Create a tenant"))
                    .request_body(Some(RequestBodyBuilder::new().required(Some(Required::True)).content("application/json", ContentBuilder::new().schema(Some(tenant())).build()).build()))
                    .response("201", json("Created.", tenant())),
                I::AdminTenantSuspend | I::AdminTenantResume => {
                    let (id, summary) = if interaction == I::AdminTenantSuspend {
                        ("admin-tenant-suspend", "Suspend a tenant: its URLs answer 404 and its clients get no tokens; data stays")
                    } else {
                        ("admin-tenant-resume", "Resume a suspended tenant")
                    };
                    op.operation_id(Some(id))
                        .summary(Some(summary))
                        .parameter_ref(param_ref("adminTenant"))
                        .response("200", json("The tenant.", tenant()))
                }
                I::AdminTenantRead => op
                    .operation_id(Some("admin-tenant-read"))
                    .summary(Some("Read a tenant"))
                    .parameter_ref(param_ref("adminTenant"))
                    .response("200", json("The tenant.", tenant())),
                _ => op
                    .operation_id(Some("admin-tenant-delete"))
                    .summary(Some("Delete a tenant"))
                    .parameter_ref(param_ref("adminTenant"))
                    .response("204", ResponseBuilder::new().description("Deleted.").build()),
            }
        }
        I::AdminClientCreate | I::AdminClientList | I::AdminClientRead | I::AdminClientDelete => {
            let client = || json_object()
                .property("client_id", ObjectBuilder::new().schema_type(Type::String))
                .property("jwks", json_object())
                .property("jwks_uri", ObjectBuilder::new().schema_type(Type::String))
                .property("scope", ObjectBuilder::new().schema_type(Type::String))
                .required("client_id")
                .required("scope");
            let op = op.tag("Admin").security(admin()).parameter_ref(param_ref("adminTenant"));
            match interaction {
                I::AdminClientCreate => op
                    .operation_id(Some("admin-client-create"))
                    .summary(Some("Register a SMART Backend Services client"))
                    .request_body(Some(RequestBodyBuilder::new().required(Some(Required::True)).content("application/json", ContentBuilder::new().schema(Some(client())).build()).build()))
                    .response("201", json("Registered.", client())),
                I::AdminClientList => op
                    .operation_id(Some("admin-client-list"))
                    .summary(Some("List the clients of a tenant"))
                    .response("200", json("The clients.", json_object().property("clients", ArrayBuilder::new().items(client())).required("clients"))),
                I::AdminClientRead => op
                    .operation_id(Some("admin-client-read"))
                    .summary(Some("Read a client"))
                    .parameter_ref(param_ref("clientId"))
                    .response("200", json("The client.", client())),
                _ => op
                    .operation_id(Some("admin-client-delete"))
                    .summary(Some("Remove a client"))
                    .parameter_ref(param_ref("clientId"))
                    .response("204", ResponseBuilder::new().description("Removed.").build()),
            }
        }
        I::ExportSystem
        | I::ExportSystemPost
        | I::ExportPatient
        | I::ExportPatientPost
        | I::ExportGroup
        | I::ExportGroupPost => {
            let (id, summary) = match interaction {
                I::ExportSystem => ("export-system", "Bulk export of the whole tenant"),
                I::ExportSystemPost => ("export-system-post", "Bulk export of the whole tenant (Parameters body)"),
                I::ExportPatient => ("export-patient", "Bulk export of all patients' compartments"),
                I::ExportPatientPost => ("export-patient-post", "Bulk export of patients' compartments (Parameters body)"),
                I::ExportGroup => ("export-group", "Bulk export of a group's patients"),
                _ => ("export-group-post", "Bulk export of a group's patients (Parameters body)"),
            };
            let mut op = op
                .tag("Bulk Data")
                .operation_id(Some(id))
                .summary(Some(summary))
                .description(Some(EXPORT_KICKOFF))
                .parameter_ref(param_ref("tenantId"));
            if matches!(interaction, I::ExportGroup | I::ExportGroupPost) {
                op = op.parameter_ref(param_ref("id"));
            }
            let post = matches!(interaction, I::ExportSystemPost | I::ExportPatientPost | I::ExportGroupPost);
            if post {
                op = op.request_body(Some(
                    RequestBodyBuilder::new()
                        .description(Some("A Parameters resource with the kick-off parameters (and `patient` references)."))
                        .content("application/fhir+json", ContentBuilder::new().schema(Some(json_object())).build())
                        .build(),
                ));
            } else {
                for (name, description) in EXPORT_PARAMS {
                    op = op.parameter(query(name, description));
                }
            }
            op.response("202", ResponseBuilder::new().description("Accepted; `Content-Location` is the status URL.").build())
                .response("429", ResponseBuilder::new().description("The tenant runs its maximum of exports; see `Retry-After`.").build())
        }
        I::ExportStatus | I::ExportCancel | I::ExportFile => {
            let op = op.tag("Bulk Data").parameter_ref(param_ref("tenantId")).parameter_ref(param_ref("jobId"));
            match interaction {
                I::ExportStatus => op
                    .operation_id(Some("export-status"))
                    .summary(Some("Status of an export"))
                    .response("202", ResponseBuilder::new().description("In progress: `X-Progress` and `Retry-After` (seconds).").build())
                    .response("200", json("Complete: the manifest (`transactionTime`, `request`, `requiresAccessToken`, `output`, `deleted`, `error`); `Expires` says when it goes.", json_object()))
                    .response("429", ResponseBuilder::new().description("Polled sooner than `Retry-After` allowed.").build())
                    .response("500", ResponseBuilder::new().description("The export failed: an OperationOutcome says why.").build()),
                I::ExportCancel => op
                    .operation_id(Some("export-cancel"))
                    .summary(Some("Cancel an export"))
                    .response("202", ResponseBuilder::new().description("Cancelled.").build()),
                _ => op
                    .operation_id(Some("export-file"))
                    .summary(Some("One output file of an export"))
                    .parameter_ref(param_ref("file"))
                    .response("200", ResponseBuilder::new().description("The file: NDJSON, or Parquet for `_outputFormat=application/vnd.apache.parquet`; gzip with `Accept-Encoding: gzip`.").content("application/fhir+ndjson", ContentBuilder::new().schema(Some(ObjectBuilder::new().schema_type(Type::String))).build()).content("application/vnd.apache.parquet", ContentBuilder::new().schema(Some(ObjectBuilder::new().schema_type(Type::String).format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Binary))))).build()).build()),
            }
        }
        _ => return None,
    };
    let op = match interaction {
        I::Health | I::Ready | I::OpenApi | I::Docs | I::Token => op,
        _ => errors(op, &["BadRequest", "Unauthorized", "Forbidden", "NotFound"]),
    };
    Some(op.build())
}

fn admin() -> utoipa::openapi::security::SecurityRequirement {
    utoipa::openapi::security::SecurityRequirement::new("bearer", ["admin"])
}

/// Parameter components of these operations.
pub fn parameters() -> Vec<(
    String,
    utoipa::openapi::RefOr<utoipa::openapi::path::Parameter>,
)> {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    let path = |name: &str, description: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some(description))
            .build()
    };
    [
        ("adminTenant", path("id", "A tenant id.")),
        ("clientId", path("clientId", "A client id.")),
        ("jobId", path("jobId", "An export job id.")),
        ("file", path("file", "An output file name.")),
    ]
    .into_iter()
    .map(|(n, p)| (n.to_owned(), utoipa::openapi::RefOr::T(p)))
    .collect()
}
