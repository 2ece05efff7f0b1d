//! Running one planned write on its own (a single request, or one entry of a batch).

use super::outcome::Done;
use super::plan::{Planned, finish};
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
