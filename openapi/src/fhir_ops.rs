//! Operations of the FHIR REST API under `/tenant/{tenantId}`: the type and instance
//! interactions of each resource type, and the whole-system ones.

use hearth_fhir::ResourceType;
use utoipa::openapi::path::{Operation, OperationBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Required};

use crate::catalog::Interaction as I;
use crate::params::{self, param_ref};
use crate::responses::{FHIR_JSON, Headers, empty, errors, fhir, written};
use crate::schemas::schema_ref;

// A write answers with its FHIR status (200 or 201) whatever `Prefer: return` asks for; with
// `return=minimal` that answer has no body, which OpenAPI cannot mark optional, so it is said.
const MINIMAL_CREATED: &str = "Created. No body with `Prefer: return=minimal`.";
const MINIMAL_UPDATED: &str = "Updated. No body with `Prefer: return=minimal`.";
const MINIMAL_PATCHED: &str = "Patched. No body with `Prefer: return=minimal`.";

/// The operation of a FHIR interaction; `rt` for type and instance interactions.
pub fn operation(interaction: I, rt: Option<ResourceType>) -> Option<Operation> {
    let name = rt.map_or("system", |rt| rt.as_str());
    let tag = rt.map_or("System", |rt| rt.as_str());
    let op = OperationBuilder::new()
        .tag(tag)
        .operation_id(Some(format!("{}-{name}", id_prefix(interaction)?)))
        .parameter_ref(param_ref("tenantId"));
    let op = match (interaction, rt) {
        (I::Metadata, None) => errors(
            op.summary(Some("CapabilityStatement of the tenant"))
                .parameter_ref(param_ref("_format"))
                .response("200", fhir("The CapabilityStatement.", schema_ref("CapabilityStatement"), Headers::None))
                .securities(Some([])),
            &["NotFound", "NotAcceptable"],
        ),
        (I::BatchTransaction, None) => errors(
            common(op.summary(Some("Batch or transaction")))
                .description(Some(
                    "A Bundle of type `batch` (entries processed one by one) or `transaction` \
                     (all entries or none, atomically). The response is a `batch-response` or \
                     `transaction-response` Bundle.",
                ))
                .request_body(Some(body("Bundle", "A batch or transaction Bundle.")))
                .response("200", fhir("The response Bundle.", schema_ref("Bundle"), Headers::None)),
            &["BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict", "PreconditionFailed", "PayloadTooLarge", "UnsupportedMediaType", "Unprocessable"],
        ),
        (I::HistorySystem, None) | (I::HistoryType, Some(_)) | (I::HistoryInstance, Some(_)) => {
            let level = match interaction {
                I::HistorySystem => "every resource of the tenant",
                I::HistoryType => "every resource of this type",
                _ => "this resource",
            };
            let mut op = op.summary(Some(format!("History of {level}")));
            if interaction == I::HistoryInstance {
                op = op.parameter_ref(param_ref("id"));
            }
            errors(
                common(op)
                    .description(Some("A `history` Bundle, newest version first, paged with `next` links."))
                    .parameter_ref(param_ref("_since"))
                    .parameter_ref(param_ref("_at"))
                    .parameter_ref(param_ref("_count"))
                    .parameter_ref(param_ref("_cursor"))
                    .response("200", fhir("A history Bundle.", schema_ref("Bundle"), Headers::None)),
                &["BadRequest", "Unauthorized", "Forbidden", "NotFound", "NotAcceptable"],
            )
        }
        (I::SearchSystem | I::SearchSystemPost, None) => search(op, None, interaction == I::SearchSystemPost),
        (I::SearchType | I::SearchTypePost, Some(rt)) => search(op, Some(rt), interaction == I::SearchTypePost),
        (I::Create, Some(rt)) => errors(
            common(op.summary(Some(format!("Create a {rt}"))))
                .description(Some("The server assigns the id. With `If-None-Exist`, a conditional create."))
                .parameter_ref(param_ref("If-None-Exist"))
                .parameter_ref(param_ref("Prefer"))
                .request_body(Some(write_body(rt)))
                .response("201", fhir(MINIMAL_CREATED, written(rt.as_str()), Headers::VersionAndLocation))
                .response("200", fhir("If-None-Exist matched an existing resource; nothing was created.", written(rt.as_str()), Headers::Version)),
            &["BadRequest", "Unauthorized", "Forbidden", "NotFound", "NotAcceptable", "PreconditionFailed", "PayloadTooLarge", "UnsupportedMediaType", "Unprocessable"],
        ),
        (I::Read, Some(rt)) => errors(
            common(op.summary(Some(format!("Read a {rt}"))).parameter_ref(param_ref("id")))
                .parameter_ref(param_ref("read_summary"))
                .parameter_ref(param_ref("read_elements"))
                .parameter_ref(param_ref("If-None-Match"))
                .parameter_ref(param_ref("If-Modified-Since"))
                .response("200", read_response(rt))
                .response("304", empty("Not modified since the version or date given.", Headers::Version)),
            &["BadRequest", "Unauthorized", "Forbidden", "NotFound", "NotAcceptable", "Gone"],
        ),
        (I::Vread, Some(rt)) => errors(
            common(op.summary(Some(format!("Read a version of a {rt}"))).parameter_ref(param_ref("id")))
                .parameter_ref(param_ref("vid"))
                .parameter_ref(param_ref("read_summary"))
                .parameter_ref(param_ref("read_elements"))
                .response("200", read_response(rt)),
            &["BadRequest", "Unauthorized", "Forbidden", "NotFound", "NotAcceptable", "Gone"],
        ),
        (I::Update, Some(rt)) => update(
            common(op.summary(Some(format!("Update (or create) a {rt}"))).parameter_ref(param_ref("id")))
                .description(Some("Update as create: an unknown id is created with 201. The body's `id` must equal the URL's.")),
            rt,
        ),
        (I::ConditionalUpdate, Some(rt)) => update(
            criteria(common(op.summary(Some(format!("Conditional update of a {rt}")))))
                .description(Some("Updates the one resource matching the criteria, or creates one when none matches; 412 when several match.")),
            rt,
        ),
        (I::Patch | I::ConditionalPatch, Some(rt)) => {
            let op = if interaction == I::Patch {
                op.summary(Some(format!("Patch a {rt}"))).parameter_ref(param_ref("id"))
            } else {
                criteria(op.summary(Some(format!("Conditional patch of a {rt}"))))
            };
            errors(
                common(op)
                    .description(Some("JSON Patch (`application/json-patch+json`) or FHIRPath Patch (a Parameters resource as `application/fhir+json`)."))
                    .parameter_ref(param_ref("If-Match"))
                    .parameter_ref(param_ref("Prefer"))
                    .request_body(Some(patch_body()))
                    .response("200", fhir(MINIMAL_PATCHED, written(rt.as_str()), Headers::Version)),
                &["BadRequest", "Unauthorized", "Forbidden", "NotFound", "NotAcceptable", "Conflict", "PreconditionFailed", "PayloadTooLarge", "UnsupportedMediaType", "Unprocessable"],
            )
        }
        (I::Delete | I::ConditionalDelete, Some(rt)) => {
            let op = if interaction == I::Delete {
                op.summary(Some(format!("Delete a {rt}")))
                    .parameter_ref(param_ref("id"))
                    .parameter_ref(param_ref("If-Match"))
            } else {
                criteria(op.summary(Some(format!("Conditional delete of a {rt}"))))
                    .description(Some("Deletes the one resource matching the criteria; 412 when several match."))
            };
            errors(
                common(op)
                    .parameter_ref(param_ref("Prefer"))
                    .response("204", empty("Deleted (or already gone).", Headers::None))
                    .response("200", fhir("Deleted; the OperationOutcome asked for with `Prefer`.", schema_ref("OperationOutcome"), Headers::None)),
                &["BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict", "PreconditionFailed"],
            )
        }
        _ => return None,
    };
    Some(op.build())
}

/// The operation id prefix of an interaction (`read-Patient`).
fn id_prefix(interaction: I) -> Option<&'static str> {
    Some(match interaction {
        I::Metadata => "capabilities",
        I::BatchTransaction => "batch",
        I::HistorySystem | I::HistoryType => "history",
        I::HistoryInstance => "history-instance",
        I::SearchSystem | I::SearchType => "search",
        I::SearchSystemPost | I::SearchTypePost => "search-post",
        I::Create => "create",
        I::Read => "read",
        I::Vread => "vread",
        I::Update => "update",
        I::ConditionalUpdate => "update-conditional",
        I::Patch => "patch",
        I::ConditionalPatch => "patch-conditional",
        I::Delete => "delete",
        I::ConditionalDelete => "delete-conditional",
        _ => return None,
    })
}

/// `_format` and `_pretty`, which every FHIR interaction takes.
fn common(op: OperationBuilder) -> OperationBuilder {
    op.parameter_ref(param_ref("_format"))
        .parameter_ref(param_ref("_pretty"))
}

fn criteria(mut op: OperationBuilder) -> OperationBuilder {
    for name in params::CRITERIA {
        op = op.parameter_ref(param_ref(name));
    }
    op
}

fn body(schema: &str, description: &str) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .description(Some(description))
        .required(Some(Required::True))
        .content(
            FHIR_JSON,
            ContentBuilder::new()
                .schema(Some(schema_ref(schema)))
                .build(),
        )
        .build()
}

/// What an update and a conditional update share: `If-Match`, `Prefer`, the body, and their
/// answers.
fn update(op: OperationBuilder, rt: ResourceType) -> OperationBuilder {
    errors(
        op.parameter_ref(param_ref("If-Match"))
            .parameter_ref(param_ref("Prefer"))
            .request_body(Some(write_body(rt)))
            .response(
                "200",
                fhir(MINIMAL_UPDATED, written(rt.as_str()), Headers::Version),
            )
            .response(
                "201",
                fhir(
                    MINIMAL_CREATED,
                    written(rt.as_str()),
                    Headers::VersionAndLocation,
                ),
            ),
        &[
            "BadRequest",
            "Unauthorized",
            "Forbidden",
            "NotFound",
            "NotAcceptable",
            "Conflict",
            "PreconditionFailed",
            "PayloadTooLarge",
            "UnsupportedMediaType",
            "Unprocessable",
        ],
    )
}

/// A resource to write; a Binary may also be sent as its raw content.
fn write_body(rt: ResourceType) -> utoipa::openapi::request_body::RequestBody {
    let mut body = RequestBodyBuilder::new()
        .description(Some(format!("The {rt} to write.")))
        .required(Some(Required::True))
        .content(
            FHIR_JSON,
            ContentBuilder::new()
                .schema(Some(schema_ref(rt.as_str())))
                .build(),
        );
    if rt.as_str() == "Binary" {
        body = body.content("*/*", raw_content());
    }
    body.build()
}

fn raw_content() -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .content_media_type("application/octet-stream"),
        ))
        .build()
}

fn read_response(rt: ResourceType) -> utoipa::openapi::response::Response {
    let mut response = fhir(
        &format!("The {rt}."),
        schema_ref(rt.as_str()),
        Headers::Version,
    );
    if rt.as_str() == "Binary" {
        // Without `Accept: application/fhir+json`, a Binary answers with its own content, in
        // its own media type and possibly empty: OpenAPI 3.1 describes such raw bytes by
        // omitting the schema (a `type: string` would be read as JSON or YAML text).
        response
            .content
            .insert("*/*".into(), ContentBuilder::new().build().into());
    }
    response
}

fn patch_body() -> utoipa::openapi::request_body::RequestBody {
    let operation = ObjectBuilder::new()
        .property(
            "op",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["add", "remove", "replace", "move", "copy", "test"])),
        )
        .property("path", ObjectBuilder::new().schema_type(Type::String))
        .property("from", ObjectBuilder::new().schema_type(Type::String))
        .property(
            "value",
            ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::AnyValue),
        )
        .required("op")
        .required("path");
    RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content(
            "application/json-patch+json",
            ContentBuilder::new()
                .schema(Some(ArrayBuilder::new().items(operation)))
                .build(),
        )
        .content(
            FHIR_JSON,
            ContentBuilder::new()
                .schema(Some(schema_ref("Parameters")))
                .build(),
        )
        .build()
}

fn search(op: OperationBuilder, rt: Option<ResourceType>, post: bool) -> OperationBuilder {
    let what = rt.map_or("every resource type".to_owned(), |rt| {
        format!("{rt} resources")
    });
    let mut op = common(op.summary(Some(format!("Search {what}"))))
        .description(Some(if post {
            "The same search with the parameters in an `application/x-www-form-urlencoded` body."
        } else {
            "A `searchset` Bundle. Parameters are listed with their FHIR search type (`x-fhir-type`)."
        }))
        .parameter_ref(param_ref("_count"));
    let list = params::search(rt.map(|rt| rt.as_str()));
    if post {
        let mut form = ObjectBuilder::new();
        for p in list {
            form = form.property(
                p.name,
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(p.description),
            );
        }
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .content(
                    "application/x-www-form-urlencoded",
                    ContentBuilder::new().schema(Some(form)).build(),
                )
                .build(),
        ));
    } else {
        op = op.parameters(Some(list));
    }
    errors(
        op.response(
            "200",
            fhir("A searchset Bundle.", schema_ref("Bundle"), Headers::None),
        ),
        &[
            "BadRequest",
            "Unauthorized",
            "Forbidden",
            "NotFound",
            "NotAcceptable",
        ],
    )
}
