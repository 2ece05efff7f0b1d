//! [`BatchEncoder`]: resources of one type in, Arrow record batches out.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use hearth_fhir::ResourceType;
use serde_json::{Map, Value};

use crate::column::{Scratch, StructColumn, Texts};
use crate::error::Error;
use crate::options::Options;
use crate::schema::{Plan, plan};
use crate::stream::push_text;

/// Buffers resources of one type as Arrow columns and hands them out as record batches of
/// the type's [`crate::schema`].
///
/// Values go straight into Arrow buffers as the JSON is read; nothing is serialized and parsed
/// again (except nested resources such as `contained`, stored as JSON text). A value of the
/// wrong JSON type for its element (a string where an object belongs, an array for a single
/// value, a fractional `integer`) is stored as null and the row kept: input was validated when
/// it was written, and `resource_json` keeps it whole. A member that appears twice in JSON
/// text counts once, with its last value.
#[derive(Debug)]
pub struct BatchEncoder {
    rt: ResourceType,
    plan: Arc<Plan>,
    root: StructColumn,
    json: Option<Texts>,
    scratch: Scratch,
}

impl BatchEncoder {
    pub fn new(rt: ResourceType, options: &Options) -> Result<BatchEncoder, Error> {
        let plan = plan(rt, options)?;
        Ok(BatchEncoder {
            rt,
            root: StructColumn::new(plan.root.clone()),
            json: plan.keep_json.then(Texts::default),
            plan,
            scratch: Scratch::default(),
        })
    }

    pub fn resource_type(&self) -> ResourceType {
        self.rt
    }

    pub fn schema(&self) -> SchemaRef {
        self.plan.schema.clone()
    }

    /// Adds one resource; its `resource_json` (if kept) is the value serialized compactly.
    ///
    /// Fails, adding nothing, if the value is not an object with this encoder's `resourceType`.
    pub fn push(&mut self, resource: &Value) -> Result<(), Error> {
        let obj = self.check(resource)?;
        if let Some(json) = &mut self.json {
            self.scratch.buf.clear();
            serde_json::to_writer(&mut self.scratch.buf, resource)?;
            let text = String::from_utf8_lossy(&self.scratch.buf);
            self.scratch.text_bytes += text.len();
            json.append(&text);
        }
        self.root.append_object(obj, &mut self.scratch);
        Ok(())
    }

    /// Adds one resource from its JSON text, parsed straight into the columns (no `Value` tree
    /// is built); its `resource_json` (if kept) is `json` as given, so stored JSON is copied,
    /// never re-serialized. The fast path.
    ///
    /// Fails, adding nothing, if `json` does not parse or is not a resource of this type.
    pub fn push_json(&mut self, json: &str) -> Result<(), Error> {
        push_text(&mut self.root, self.rt, json, &mut self.scratch)?;
        if let Some(builder) = &mut self.json {
            self.scratch.text_bytes += json.len();
            builder.append(json);
        }
        Ok(())
    }

    /// Rows added since the last batch.
    pub fn rows(&self) -> usize {
        self.root.len()
    }

    /// Bytes of text (strings, numbers as text, JSON) added since the last batch: a lower
    /// bound of the batch's memory, to cut batches of large resources early.
    pub fn buffered_bytes(&self) -> usize {
        self.scratch.text_bytes
    }

    /// The rows added since the last batch, as a record batch of [`Self::schema`] (possibly
    /// empty); the encoder starts a new batch.
    pub fn finish_batch(&mut self) -> Result<RecordBatch, Error> {
        self.scratch.text_bytes = 0;
        let mut columns: Vec<ArrayRef> = self.root.finish_children()?;
        if let Some(json) = &mut self.json {
            columns.push(Arc::new(json.finish()?));
        }
        Ok(RecordBatch::try_new(self.plan.schema.clone(), columns)?)
    }

    fn check<'v>(&self, resource: &'v Value) -> Result<&'v Map<String, Value>, Error> {
        let not_a_resource = |reason: String| Error::NotAResource {
            expected: self.rt,
            reason,
        };
        let Value::Object(obj) = resource else {
            return Err(not_a_resource("expected a JSON object".into()));
        };
        match obj.get("resourceType") {
            Some(Value::String(found)) if found == self.rt.as_str() => Ok(obj),
            Some(Value::String(found)) => Err(not_a_resource(format!("resourceType is {found}"))),
            Some(_) => Err(not_a_resource("resourceType is not a string".into())),
            None => Err(not_a_resource("missing resourceType".into())),
        }
    }
}
