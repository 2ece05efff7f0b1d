//! Column builders mirroring a plan: values go straight into Arrow buffers.
//!
//! Absent values cost nothing while rows are added: the children of a struct may lag behind
//! it, and are padded with nulls only when a later value (or the end of the batch) needs them.
//! Every column can be truncated, so a row that fails half-way is taken out again. The walks
//! that fill them are in `value.rs` (a parsed `serde_json::Value`) and `stream.rs` (JSON text).

use std::sync::Arc;

use arrow_array::builder::{BooleanBufferBuilder, NullBufferBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, ListArray, StringArray, StructArray,
};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, FieldRef};

use crate::plan::{ColumnPlan, Leaf, Shape, StructPlan};

/// State shared by the columns of one encoder while a row is added.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// Bytes of text added since the batch started (bounds a batch's memory).
    pub text_bytes: usize,
    /// Reused buffer for JSON text and formatted numbers.
    pub buf: Vec<u8>,
}

/// A JSON number as the walks meet it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Number<'a> {
    U64(u64),
    I64(i64),
    /// The number's text as written.
    Text(&'a str),
}

#[derive(Debug)]
pub(crate) enum Column {
    Boolean(Booleans),
    Integer(Primitives<i32>),
    Float(Primitives<f64>),
    /// JSON strings.
    String(Texts),
    /// JSON numbers as written.
    NumberText(Texts),
    /// Nested resources as JSON text.
    Json(Texts),
    Struct(StructColumn),
    List(ListColumn),
}

impl Column {
    pub fn new(plan: &ColumnPlan) -> Column {
        let value = match &plan.shape {
            Shape::Leaf(leaf) => match leaf {
                Leaf::Boolean => Column::Boolean(Booleans::default()),
                Leaf::Integer => Column::Integer(Primitives::default()),
                Leaf::Float => Column::Float(Primitives::default()),
                Leaf::String => Column::String(Texts::default()),
                Leaf::NumberText => Column::NumberText(Texts::default()),
                Leaf::Json => Column::Json(Texts::default()),
            },
            Shape::Struct(plan) => Column::Struct(StructColumn::new(plan.clone())),
        };
        if plan.repeated {
            Column::List(ListColumn {
                item: plan.shape.item_field(),
                offsets: vec![0],
                validity: NullBufferBuilder::new(0),
                values: Box::new(value),
            })
        } else {
            value
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Column::Boolean(c) => c.validity.len(),
            Column::Integer(c) => c.values.len(),
            Column::Float(c) => c.values.len(),
            Column::String(c) | Column::NumberText(c) | Column::Json(c) => c.len(),
            Column::Struct(c) => c.len,
            Column::List(c) => c.len(),
        }
    }

    pub fn append_nulls(&mut self, n: usize) {
        match self {
            Column::Boolean(c) => {
                c.values.append_n(n, false);
                c.validity.append_n_nulls(n);
            }
            Column::Integer(c) => c.append_nulls(n),
            Column::Float(c) => c.append_nulls(n),
            Column::String(c) | Column::NumberText(c) | Column::Json(c) => c.append_nulls(n),
            Column::Struct(c) => {
                c.validity.append_n_nulls(n);
                c.len += n;
            }
            Column::List(c) => {
                let last = c.offsets.last().copied().unwrap_or(0);
                c.offsets.resize(c.offsets.len() + n, last);
                c.validity.append_n_nulls(n);
            }
        }
    }

    /// Nulls up to `len` values (the rows a parent struct had without this child).
    #[inline]
    pub fn pad_to(&mut self, len: usize) {
        let have = self.len();
        if have < len {
            self.append_nulls(len - have);
        }
    }

    /// Drops values beyond `len` (no effect on a shorter column).
    pub fn truncate(&mut self, len: usize) {
        match self {
            Column::Boolean(c) => {
                if c.validity.len() > len {
                    c.values.truncate(len);
                    c.validity.truncate(len);
                }
            }
            Column::Integer(c) => c.truncate(len),
            Column::Float(c) => c.truncate(len),
            Column::String(c) | Column::NumberText(c) | Column::Json(c) => c.truncate(len),
            Column::Struct(c) => c.truncate(len),
            Column::List(c) => {
                if c.len() > len {
                    c.offsets.truncate(len + 1);
                    c.validity.truncate(len);
                }
                let end = c.offsets.last().map_or(0, |&o| o as usize);
                c.values.truncate(end);
            }
        }
    }

    pub fn append_bool(&mut self, value: bool) {
        match self {
            Column::Boolean(c) => {
                c.values.append(value);
                c.validity.append_non_null();
            }
            other => other.append_nulls(1),
        }
    }

    /// A number: kept in number columns when it fits, null elsewhere.
    pub fn append_number(&mut self, number: Number<'_>, scratch: &mut Scratch) {
        match self {
            Column::Integer(c) => c.append(match number {
                Number::U64(n) => i32::try_from(n).ok(),
                Number::I64(n) => i32::try_from(n).ok(),
                Number::Text(t) => t.parse::<i64>().ok().and_then(|n| i32::try_from(n).ok()),
            }),
            Column::Float(c) => c.append(match number {
                Number::U64(n) => Some(n as f64),
                Number::I64(n) => Some(n as f64),
                Number::Text(t) => t.parse::<f64>().ok().filter(|f| f.is_finite()),
            }),
            Column::NumberText(c) => {
                let text = match number {
                    Number::Text(t) => t,
                    Number::U64(n) => format_into(&mut scratch.buf, n),
                    Number::I64(n) => format_into(&mut scratch.buf, n),
                };
                scratch.text_bytes += text.len();
                c.append(text);
            }
            other => other.append_nulls(1),
        }
    }

    /// A string: kept in string columns, null elsewhere.
    pub fn append_str(&mut self, value: &str, scratch: &mut Scratch) {
        match self {
            Column::String(c) => {
                scratch.text_bytes += value.len();
                c.append(value);
            }
            other => other.append_nulls(1),
        }
    }

    /// JSON text of a nested resource (only `Json` columns take it).
    pub fn append_json(&mut self, text: &str, scratch: &mut Scratch) {
        match self {
            Column::Json(c) => {
                scratch.text_bytes += text.len();
                c.append(text);
            }
            other => other.append_nulls(1),
        }
    }

    pub fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        Ok(match self {
            Column::Boolean(c) => Arc::new(c.finish()?),
            Column::Integer(c) => {
                let nulls = c.validity.finish();
                let values = ScalarBuffer::from(std::mem::take(&mut c.values));
                Arc::new(Int32Array::try_new(values, nulls)?)
            }
            Column::Float(c) => {
                let nulls = c.validity.finish();
                let values = ScalarBuffer::from(std::mem::take(&mut c.values));
                Arc::new(Float64Array::try_new(values, nulls)?)
            }
            Column::String(c) | Column::NumberText(c) | Column::Json(c) => Arc::new(c.finish()?),
            Column::Struct(c) => Arc::new(c.finish()?),
            Column::List(c) => Arc::new(c.finish()?),
        })
    }
}

fn format_into(buf: &mut Vec<u8>, n: impl std::fmt::Display) -> &str {
    use std::io::Write as _;
    buf.clear();
    // Writing to a Vec cannot fail, and integer text is ASCII.
    let _ = write!(buf, "{n}");
    std::str::from_utf8(buf).unwrap_or_default()
}

/// A boolean leaf.
#[derive(Debug)]
pub(crate) struct Booleans {
    values: BooleanBufferBuilder,
    validity: NullBufferBuilder,
}

impl Default for Booleans {
    fn default() -> Self {
        Booleans {
            values: BooleanBufferBuilder::new(0),
            validity: NullBufferBuilder::new(0),
        }
    }
}

impl Booleans {
    fn finish(&mut self) -> Result<BooleanArray, ArrowError> {
        let values = self.values.finish();
        let nulls = self.validity.finish();
        if nulls.as_ref().is_some_and(|n| n.len() != values.len()) {
            return Err(ArrowError::InvalidArgumentError(
                "boolean values and validity differ in length".into(),
            ));
        }
        Ok(BooleanArray::new(values, nulls))
    }
}

/// An `Int32` or `Float64` leaf.
#[derive(Debug)]
pub(crate) struct Primitives<T> {
    values: Vec<T>,
    validity: NullBufferBuilder,
}

impl<T> Default for Primitives<T> {
    fn default() -> Self {
        Primitives {
            values: Vec::new(),
            validity: NullBufferBuilder::new(0),
        }
    }
}

impl<T: Copy + Default> Primitives<T> {
    fn append(&mut self, value: Option<T>) {
        self.values.push(value.unwrap_or_default());
        self.validity.append(value.is_some());
    }

    fn append_nulls(&mut self, n: usize) {
        self.values.resize(self.values.len() + n, T::default());
        self.validity.append_n_nulls(n);
    }

    fn truncate(&mut self, len: usize) {
        if self.values.len() > len {
            self.values.truncate(len);
            self.validity.truncate(len);
        }
    }
}

/// A `Utf8` leaf.
#[derive(Debug)]
pub(crate) struct Texts {
    /// Starts with 0; one more entry per value.
    offsets: Vec<i32>,
    data: Vec<u8>,
    validity: NullBufferBuilder,
}

impl Default for Texts {
    fn default() -> Self {
        Texts {
            offsets: vec![0],
            data: Vec::new(),
            validity: NullBufferBuilder::new(0),
        }
    }
}

impl Texts {
    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Appends `value`, or null if the batch's text would pass the 2 GiB offset limit (batches
    /// are cut long before, at [`crate::Options::batch_bytes`]).
    pub fn append(&mut self, value: &str) {
        match i32::try_from(self.data.len() + value.len()) {
            Ok(end) => {
                self.data.extend_from_slice(value.as_bytes());
                self.offsets.push(end);
                self.validity.append_non_null();
            }
            Err(_) => self.append_nulls(1),
        }
    }

    fn append_nulls(&mut self, n: usize) {
        let last = self.offsets.last().copied().unwrap_or(0);
        self.offsets.resize(self.offsets.len() + n, last);
        self.validity.append_n_nulls(n);
    }

    fn truncate(&mut self, len: usize) {
        if self.len() > len {
            self.offsets.truncate(len + 1);
            self.data
                .truncate(self.offsets.last().map_or(0, |&o| o as usize));
            self.validity.truncate(len);
        }
    }

    pub fn finish(&mut self) -> Result<StringArray, ArrowError> {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        let data = Buffer::from_vec(std::mem::take(&mut self.data));
        StringArray::try_new(offsets, data, self.validity.finish())
    }
}

/// A struct (datatype, backbone element, or the resource itself).
#[derive(Debug)]
pub(crate) struct StructColumn {
    pub plan: Arc<StructPlan>,
    pub children: Vec<Column>,
    validity: NullBufferBuilder,
    len: usize,
}

impl StructColumn {
    pub fn new(plan: Arc<StructPlan>) -> StructColumn {
        StructColumn {
            children: plan.columns.iter().map(Column::new).collect(),
            plan,
            validity: NullBufferBuilder::new(0),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The column of a JSON member, ready for this row's value: padded to the rows before it,
    /// and emptied of an earlier value of the same row (a duplicate key: the last one wins).
    #[inline]
    pub fn child_for(&mut self, json_name: &str) -> Option<&mut Column> {
        let len = self.len;
        let child = self.children.get_mut(self.plan.column(json_name)?)?;
        if child.len() > len {
            child.truncate(len);
        }
        child.pad_to(len);
        Some(child)
    }

    /// Ends a non-null value whose members went through [`Self::child_for`].
    pub fn close_value(&mut self) {
        self.validity.append_non_null();
        self.len += 1;
    }

    pub fn truncate(&mut self, len: usize) {
        if self.len > len {
            self.len = len;
            self.validity.truncate(len);
        }
        for child in &mut self.children {
            child.truncate(len);
        }
    }

    /// The child arrays, each `len` long; starts a new batch.
    pub fn finish_children(&mut self) -> Result<Vec<ArrayRef>, ArrowError> {
        let len = self.len;
        self.len = 0;
        self.children
            .iter_mut()
            .map(|child| {
                child.pad_to(len);
                child.finish()
            })
            .collect()
    }

    fn finish(&mut self) -> Result<StructArray, ArrowError> {
        let len = self.len;
        let arrays = self.finish_children()?;
        let nulls = self.validity.finish();
        StructArray::try_new_with_length(self.plan.fields.clone(), arrays, nulls, len)
    }
}

/// A repeating element.
#[derive(Debug)]
pub(crate) struct ListColumn {
    item: FieldRef,
    /// Starts with 0; one more entry per list.
    offsets: Vec<i32>,
    validity: NullBufferBuilder,
    pub values: Box<Column>,
}

impl ListColumn {
    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Ends a list whose items were appended to [`Self::values`].
    pub fn close_list(&mut self) {
        // A batch is cut long before 2^31 items; saturating keeps the offsets monotonic.
        let end = i32::try_from(self.values.len()).unwrap_or(i32::MAX);
        self.offsets.push(end);
        self.validity.append_non_null();
    }

    fn finish(&mut self) -> Result<ListArray, ArrowError> {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        let values = self.values.finish()?;
        let nulls = self.validity.finish();
        ListArray::try_new(self.item.clone(), offsets, values, nulls)
    }
}
