//! Bulk Data `$export`: kick-off (system, Patient, Group; GET or POST with a Parameters body),
//! status polling, cancel and token-guarded file downloads. The work itself is in
//! `hearth_workers::export`; this file maps it to HTTP as the Bulk Data Access IG describes.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use hearth_auth::Interaction;
use hearth_fhir::compartment::in_patient_compartment;
use hearth_fhir::{Issue, IssueCode, ResourceId, ResourceType};
use hearth_store::{JobId, ResourceKey};
use hearth_workers::export::{
    ExportService, Format, JobStatus, KickoffError, Level, Owner, parse_request,
};
use serde_json::Value;

use crate::auth::Caller;
use crate::body::{parse_json, read_limited};
use crate::context::Ctx;
use crate::error::ApiError;
use crate::headers::{http_date, prefers};
use crate::state::AppState;

fn service(ctx: &Ctx) -> Result<&ExportService, ApiError> {
    ctx.state
        .export
        .as_deref()
        .ok_or_else(|| ApiError::internal("bulk export is not configured on this server"))
}

fn owner(ctx: &Ctx) -> Result<Owner, ApiError> {
    let principal = ctx
        .caller()
        .ok_or_else(|| ApiError::unauthenticated("a bearer token is required"))?;
    Ok(Owner {
        subject: principal.subject.clone(),
        client_id: principal.client_id.clone(),
    })
}

/// The value of one `Parameters.parameter` as a kick-off parameter string.
fn parameter_value(p: &Value) -> Option<String> {
    let map = p.as_object()?;
    map.iter().find_map(|(k, v)| {
        let k = k.strip_prefix("value")?;
        match (k, v) {
            ("Reference", v) => v.get("reference")?.as_str().map(str::to_owned),
            (_, Value::String(s)) => Some(s.clone()),
            (_, Value::Bool(b)) => Some(b.to_string()),
            (_, Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    })
}

/// Kick-off parameters from a POSTed Parameters resource.
fn from_parameters(body: &Value) -> Result<Vec<(String, String)>, ApiError> {
    if body.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err(ApiError::bad_request(
            "a POST kick-off takes a Parameters resource",
        ));
    }
    let mut out = Vec::new();
    for p in body
        .get("parameter")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
        let value = parameter_value(p).ok_or_else(|| {
            ApiError::bad_request(format!("parameter '{name}' has no usable value[x]"))
        })?;
        out.push((name.to_owned(), value));
    }
    Ok(out)
}

/// The types the caller may export: all the level covers, or `_type`, each needing read and
/// search access without patient context or filters.
fn authorize_types(ctx: &Ctx, level: &Level, requested: &mut Vec<String>) -> Result<(), ApiError> {
    let full = |rt: &str| {
        ctx.allow(&[Interaction::Read, Interaction::Search], rt)
            .is_ok_and(|guard| guard.is_full())
    };
    if requested.is_empty() {
        let all: Vec<String> = ResourceType::all()
            .filter(|rt| *level == Level::System || in_patient_compartment(*rt))
            .map(|rt| rt.as_str().to_owned())
            .collect();
        if all.iter().all(|rt| full(rt)) {
            return Ok(());
        }
        *requested = all.into_iter().filter(|rt| full(rt)).collect();
        if requested.is_empty() {
            return Err(ApiError::forbidden(
                "the token may not read any resource type without restriction, so it cannot export",
            ));
        }
        return Ok(());
    }
    match requested.iter().find(|rt| !full(rt)) {
        Some(rt) => Err(ApiError::forbidden(format!(
            "the token may not read and search every {rt} (export needs system/ or user/ scopes without filters)"
        ))),
        None => Ok(()),
    }
}

async fn kickoff(
    ctx: Ctx,
    level: Level,
    path: &str,
    query: Option<String>,
    headers: &HeaderMap,
    body: Option<Body>,
) -> Result<Response, ApiError> {
    let mut params = hearth_workers::export::form_pairs(query.as_deref().unwrap_or_default());
    if let Some(body) = body {
        let bytes = read_limited(body, ctx.state.limits.max_body_bytes).await?;
        if !bytes.is_empty() {
            let value = parse_json(&bytes, ctx.state.limits.max_json_depth)?;
            params.extend(from_parameters(&value)?);
        }
    } else if params.iter().any(|(name, _)| name == "patient") {
        return Err(ApiError::bad_request(
            "patient is a POST-only parameter of $export",
        ));
    }
    let lenient = prefers(headers, "handling=lenient");
    let (mut request, warnings) =
        parse_request(level, &params, lenient).map_err(|e| ApiError::bad_request(e.0))?;
    authorize_types(&ctx, &request.level, &mut request.types)?;
    if let Level::Group(group_id) = &request.level {
        let key = ResourceKey::new("Group".parse()?, group_id.parse::<ResourceId>()?);
        let live = ctx
            .state
            .store
            .read(&ctx.tenant, &key)
            .await?
            .is_some_and(|v| !v.is_deleted());
        if !live {
            return Err(ApiError::not_found(format!(
                "Group/{group_id} does not exist"
            )));
        }
    }
    let request_url = match &query {
        Some(q) if !q.is_empty() => format!("{}/{path}?{q}", ctx.base),
        _ => format!("{}/{path}", ctx.base),
    };
    let service = service(&ctx)?;
    let id = match service
        .kickoff(
            &ctx.tenant,
            owner(&ctx)?,
            request,
            warnings,
            request_url,
            ctx.base.clone(),
        )
        .await
    {
        Ok(id) => id,
        Err(KickoffError::TooMany(n)) => {
            return Ok(ApiError::throttled(
                format!("this tenant already runs {n} exports; retry when one finishes"),
                30,
            ));
        }
        Err(KickoffError::Store(e)) => return Err(e.into()),
    };
    crate::audit::note_job(&id.to_string());
    let location = format!("{}/$export-status/{id}", ctx.base);
    let outcome = hearth_fhir::outcome::operation_outcome(&[Issue::information(format!(
        "export accepted; poll {location}"
    ))]);
    let mut response = crate::rest::render_json(
        StatusCode::ACCEPTED,
        bytes::Bytes::from(outcome.to_string()),
        false,
    )?;
    response.headers_mut().insert(
        header::CONTENT_LOCATION,
        HeaderValue::from_str(&location).map_err(|e| ApiError::internal(e.to_string()))?,
    );
    Ok(response)
}

/// What every kick-off handler takes: the tenant's context from the `tenant` path parameter and
/// the token, the query string, the headers, and (for a POST) the body.
pub struct KickOff {
    ctx: Ctx,
    query: Option<String>,
    headers: HeaderMap,
    body: Option<Body>,
}

impl axum::extract::FromRequest<AppState> for KickOff {
    type Rejection = ApiError;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<KickOff, ApiError> {
        use axum::extract::FromRequestParts;
        let (mut parts, body) = request.into_parts();
        let Path(params) = Path::<std::collections::HashMap<String, String>>::from_request_parts(
            &mut parts, state,
        )
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let caller = Caller::from_request_parts(&mut parts, state).await?;
        let tenant = params.get("tenant").map(String::as_str).unwrap_or_default();
        let ctx = Ctx::new(state, tenant, &parts.headers, caller).await?;
        let body = (parts.method == axum::http::Method::POST).then_some(body);
        Ok(KickOff {
            ctx,
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers,
            body,
        })
    }
}

/// `GET|POST /$export`.
pub async fn export_system(k: KickOff) -> Result<Response, ApiError> {
    kickoff(k.ctx, Level::System, "$export", k.query, &k.headers, k.body).await
}

/// `GET|POST /Patient/$export`.
pub async fn export_patient(k: KickOff) -> Result<Response, ApiError> {
    kickoff(
        k.ctx,
        Level::Patient,
        "Patient/$export",
        k.query,
        &k.headers,
        k.body,
    )
    .await
}

/// `GET|POST /Group/{id}/$export`.
pub async fn export_group(
    Path((_, group)): Path<(String, String)>,
    k: KickOff,
) -> Result<Response, ApiError> {
    group.parse::<ResourceId>()?;
    let path = format!("Group/{group}/$export");
    kickoff(
        k.ctx,
        Level::Group(group),
        &path,
        k.query,
        &k.headers,
        k.body,
    )
    .await
}

fn job_id(job: &str) -> Result<JobId, ApiError> {
    job.parse()
        .map_err(|_| ApiError::not_found(format!("no export job '{job}'")))
}

fn no_job(job: &JobId) -> ApiError {
    ApiError::not_found(format!("no export job '{job}'"))
}

fn seconds(d: std::time::Duration) -> HeaderValue {
    HeaderValue::from(d.as_secs().max(1))
}

/// `GET /$export-status/{job}`.
pub async fn export_status(
    State(state): State<AppState>,
    Path((tenant, job)): Path<(String, String)>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&state, &tenant, &headers, caller).await?;
    let id = job_id(&job)?;
    let status = service(&ctx)?
        .status(&ctx.tenant, &owner(&ctx)?, &id)
        .await?
        .ok_or_else(|| no_job(&id))?;
    match status {
        JobStatus::InProgress {
            progress,
            retry_after,
        } => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::ACCEPTED;
            let h = response.headers_mut();
            h.insert(header::RETRY_AFTER, seconds(retry_after));
            if let Ok(v) = HeaderValue::from_str(&progress) {
                h.insert("x-progress", v);
            }
            Ok(response)
        }
        JobStatus::TooSoon { retry_after } => Ok(ApiError::throttled(
            "polling faster than Retry-After allows",
            retry_after.as_secs(),
        )),
        JobStatus::Completed {
            mut manifest,
            expires,
        } => {
            if let Some(signer) = &ctx.state.url_signer {
                sign_manifest(
                    signer,
                    &ctx.tenant.to_string(),
                    &id,
                    &mut manifest,
                    expires.timestamp(),
                );
            }
            let mut response = Response::new(Body::from(manifest.to_string()));
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Ok(v) = HeaderValue::from_str(&http_date(expires)) {
                h.insert(header::EXPIRES, v);
            }
            Ok(response)
        }
        JobStatus::Failed { message } => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Issue::error(
                IssueCode::Exception,
                format!("the export failed: {message}"),
            ),
        )),
    }
}

/// `DELETE /$export-status/{job}`.
pub async fn export_cancel(
    State(state): State<AppState>,
    Path((tenant, job)): Path<(String, String)>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&state, &tenant, &headers, caller).await?;
    let id = job_id(&job)?;
    if !service(&ctx)?
        .cancel(&ctx.tenant, &owner(&ctx)?, &id)
        .await?
    {
        return Err(no_job(&id));
    }
    let outcome = hearth_fhir::outcome::operation_outcome(&[Issue::information(
        "export cancelled; its files are removed",
    )]);
    crate::rest::render_json(
        StatusCode::ACCEPTED,
        bytes::Bytes::from(outcome.to_string()),
        false,
    )
}

/// What a signed file URL covers.
fn signed_resource(tenant: &str, job: &JobId, file: &str) -> String {
    format!("{tenant}/{job}/{file}")
}

/// Signed mode: every file URL gets `expires` and `signature`, valid until the export expires,
/// and the manifest says no token is needed.
fn sign_manifest(
    signer: &hearth_auth::UrlSigner,
    tenant: &str,
    job: &JobId,
    manifest: &mut Value,
    expires: i64,
) {
    manifest["requiresAccessToken"] = Value::Bool(false);
    for section in ["output", "deleted", "error"] {
        for entry in manifest[section].as_array_mut().into_iter().flatten() {
            let Some(url) = entry["url"].as_str() else {
                continue;
            };
            let file = url.rsplit('/').next().unwrap_or_default();
            let signature = signer.sign(&signed_resource(tenant, job, file), expires);
            entry["url"] = Value::String(format!("{url}?expires={expires}&signature={signature}"));
        }
    }
}

/// `GET /$export-file/{job}/{file}`: with the bearer token of the client that started the
/// export, or (signed mode) with a valid `expires` + `signature` query.
pub async fn export_file(
    State(state): State<AppState>,
    Path((tenant, job, file)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (mut parts, _) = request.into_parts();
    let pairs = hearth_workers::export::form_pairs(q.as_deref().unwrap_or_default());
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let id = job_id(&job)?;
    let signed = match (&state.url_signer, param("signature")) {
        (Some(signer), Some(signature)) => {
            let expires: i64 = param("expires")
                .and_then(|e| e.parse().ok())
                .ok_or_else(|| ApiError::unauthenticated("a signed URL needs expires"))?;
            let now = chrono::Utc::now().timestamp();
            if !signer.verify(
                &signed_resource(&tenant, &id, &file),
                expires,
                signature,
                now,
            ) {
                return Err(ApiError::unauthenticated(
                    "the signed URL is not valid or has expired",
                ));
            }
            true
        }
        _ => false,
    };
    let (ctx, owner) = if signed {
        (Ctx::open(&state, &tenant, &parts.headers).await?, None)
    } else {
        let caller = <Caller as axum::extract::FromRequestParts<AppState>>::from_request_parts(
            &mut parts, &state,
        )
        .await?;
        let ctx = Ctx::new(&state, &tenant, &parts.headers, caller).await?;
        let owner = owner(&ctx)?;
        (ctx, Some(owner))
    };
    let (record, size, stream) = service(&ctx)?
        .file(&ctx.tenant, owner.as_ref(), &id, &file)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no file '{file}' in export '{id}'")))?;
    let content_type = if record.name.ends_with(Format::Parquet.extension()) {
        "application/vnd.apache.parquet"
    } else {
        "application/fhir+ndjson"
    };
    let mut response = Response::new(Body::from_stream(stream));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    Ok(response)
}
