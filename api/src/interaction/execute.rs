//! Running one planned write on its own (a single request, or one entry of a batch), and the
//! check of a planned write against restricted scopes.

use hearth_store::WriteKind;
use serde_json::Value;

use super::outcome::Done;
use super::plan::{Planned, finish};
use crate::auth::Guard;
use crate::context::Ctx;
use crate::error::ApiError;

/// Writes `planned` and finishes it; a blob uploaded for a write that failed is removed.
pub async fn execute(ctx: &Ctx, planned: Planned) -> Result<Done, ApiError> {
    let (kind, op, new_blob) = match planned {
        Planned::Done(done) => return Ok(done),
        Planned::Write { kind, op, new_blob } => (kind, op, new_blob),
    };
    let result = ctx.state.store.write(&ctx.tenant, vec![op]).await;
    match result {
        Ok(mut outcomes) => match outcomes.pop() {
            Some(outcome) => Ok(finish(kind, outcome)),
            None => Err(ApiError::internal("the store returned no outcome")),
        },
        Err(err) => {
            if let Some(key) = new_blob
                && let Err(cleanup) = ctx.state.blobs.delete(&ctx.tenant, &key).await
            {
                tracing::warn!(error = %cleanup, "remove blob of a failed write");
            }
            Err(err.into())
        }
    }
}

/// Checks a planned write against `guard` (restricted scopes): the resource as it will be
/// stored, and the current version it replaces or deletes, must both be within reach; a
/// conditional create that matched must have matched one within reach.
pub async fn check_planned(ctx: &Ctx, guard: &Guard, planned: &Planned) -> Result<(), ApiError> {
    if guard.is_full() {
        return Ok(());
    }
    let op = match planned {
        Planned::Done(done) => {
            return match &done.version {
                Some(version) => guard.check_stored(&ctx.base, version),
                None => Ok(()),
            };
        }
        Planned::Write { op, .. } => op,
    };
    if let WriteKind::Put { body, .. } = &op.kind {
        let mut resource = body.clone();
        // The id the store will give it, not one the client may have sent.
        resource.insert("id".into(), Value::String(op.key.id.to_string()));
        guard.check(&ctx.base, op.key.rt.as_str(), &Value::Object(resource))?;
    }
    if let Some(current) = ctx.state.store.read(&ctx.tenant, &op.key).await?
        && !current.is_deleted()
    {
        guard.check_stored(&ctx.base, &current)?;
    }
    Ok(())
}

/// [`check_planned`], then [`execute`]; a blob uploaded for a refused write is removed.
pub async fn execute_guarded(ctx: &Ctx, guard: &Guard, planned: Planned) -> Result<Done, ApiError> {
    if let Err(err) = check_planned(ctx, guard, &planned).await {
        if let Planned::Write {
            new_blob: Some(key),
            ..
        } = &planned
            && let Err(cleanup) = ctx.state.blobs.delete(&ctx.tenant, key).await
        {
            tracing::warn!(error = %cleanup, "remove blob of a refused write");
        }
        return Err(err);
    }
    execute(ctx, planned).await
}
