//! Filling columns from a parsed `serde_json::Value` (the path of [`crate::BatchEncoder::push`]).
//!
//! Same results as the streaming walk in `stream.rs`; a test checks both on the spec examples.

use serde_json::{Map, Value};

use crate::column::{Column, Number, Scratch, StructColumn};

impl Column {
    /// One value of the element (for a repeating element, the whole JSON array); a value of
    /// the wrong JSON type is stored as null.
    pub fn append_value(&mut self, value: &Value, scratch: &mut Scratch) {
        match value {
            Value::Null => self.append_nulls(1),
            Value::Bool(b) => self.append_bool(*b),
            Value::Number(n) => self.append_number(Number::Text(n.as_str()), scratch),
            Value::String(s) => self.append_str(s, scratch),
            Value::Array(items) => match self {
                Column::List(list) => {
                    for item in items {
                        list.values.append_value(item, scratch);
                    }
                    list.close_list();
                }
                other => other.append_nulls(1),
            },
            Value::Object(obj) => match self {
                Column::Struct(s) => s.append_object(obj, scratch),
                Column::Json(_) => {
                    let mut buf = std::mem::take(&mut scratch.buf);
                    buf.clear();
                    match serde_json::to_writer(&mut buf, value) {
                        Ok(()) => self.append_json(&String::from_utf8_lossy(&buf), scratch),
                        Err(_) => self.append_nulls(1),
                    }
                    scratch.buf = buf;
                }
                other => other.append_nulls(1),
            },
        }
    }
}

impl StructColumn {
    /// One non-null value: members with a column are stored, the others skipped (`_name`
    /// primitive extensions, `resourceType`, elements cut from the schema).
    pub fn append_object(&mut self, obj: &Map<String, Value>, scratch: &mut Scratch) {
        for (key, value) in obj {
            if let Some(child) = self.child_for(key) {
                child.append_value(value, scratch);
            }
        }
        self.close_value();
    }
}
