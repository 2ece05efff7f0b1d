//! Helpers shared by the integration tests: write resources to an in-memory Parquet file, read
//! it back, and turn Arrow rows into JSON for readable comparisons.

#![allow(dead_code)]

use anyhow::Context;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Fields, SchemaRef};
use hearth_columnar::{Options, ResourceWriter};
use hearth_fhir::ResourceType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Map, Value};

/// Writes the resources (JSON text) to a Parquet file and reads every row back as JSON.
pub fn roundtrip(rt: &str, options: &Options, resources: &[&str]) -> anyhow::Result<Vec<Value>> {
    let rt: ResourceType = rt.parse()?;
    let mut writer = ResourceWriter::new(Vec::new(), rt, options)?;
    for json in resources {
        writer.write_json(json)?;
    }
    let finished = writer.finish()?;
    anyhow::ensure!(finished.rows == resources.len() as u64, "rows counted");
    anyhow::ensure!(finished.bytes == finished.out.len() as u64, "bytes counted");
    Ok(read(finished.out)?.1)
}

/// The Arrow schema stored in a Parquet file and its rows as JSON.
pub fn read(file: Vec<u8>) -> anyhow::Result<(SchemaRef, Vec<Value>)> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file))?;
    let schema = builder.schema().clone();
    let reader = builder.build()?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch?;
        rows.extend((0..batch.num_rows()).map(|i| row(&batch, i)));
    }
    Ok((schema, rows))
}

/// Row `i` as a JSON object: structs as objects, lists as arrays, nulls left out.
pub fn row(batch: &RecordBatch, i: usize) -> Value {
    let mut obj = Map::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if let Some(v) = value(column.as_ref(), i) {
            obj.insert(field.name().clone(), v);
        }
    }
    Value::Object(obj)
}

/// Value `i` of an array as JSON (`None` for null).
pub fn value(array: &dyn Array, i: usize) -> Option<Value> {
    if array.is_null(i) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Boolean => Value::Bool(array.as_boolean().value(i)),
        DataType::Int32 => Value::from(array.as_primitive::<Int32Type>().value(i)),
        DataType::Float64 => Value::from(array.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8 => Value::String(array.as_string::<i32>().value(i).to_owned()),
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(i);
            Value::Array(
                (0..items.len())
                    .map(|j| value(items.as_ref(), j).unwrap_or(Value::Null))
                    .collect(),
            )
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut obj = Map::new();
            for (field, column) in fields.iter().zip(s.columns()) {
                if let Some(v) = value(column.as_ref(), i) {
                    obj.insert(field.name().clone(), v);
                }
            }
            Value::Object(obj)
        }
        other => panic!("unexpected type {other}"),
    })
}

/// Leaf columns below `fields` (one Parquet column chunk each).
pub fn leaves(fields: &Fields) -> usize {
    fields.iter().map(|f| leaves_of(f.data_type())).sum()
}

fn leaves_of(data_type: &DataType) -> usize {
    match data_type {
        DataType::Struct(fields) => leaves(fields),
        DataType::List(item) => leaves_of(item.data_type()),
        _ => 1,
    }
}

/// A compact rendering of a type: `List<Struct<family: Utf8, given: List<Utf8>>>`.
pub fn render(data_type: &DataType) -> String {
    match data_type {
        DataType::List(item) => format!("List<{}>", render(item.data_type())),
        DataType::Struct(fields) => format!(
            "Struct<{}>",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.name(), render(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// The type at a dotted path through structs and lists (`name.given`).
pub fn type_at(fields: &Fields, path: &str) -> Option<DataType> {
    let mut fields = fields.clone();
    let mut found = None;
    for name in path.split('.') {
        let field = fields.iter().find(|f| f.name() == name)?.clone();
        let mut data_type = field.data_type().clone();
        found = Some(data_type.clone());
        while let DataType::List(item) = data_type {
            data_type = item.data_type().clone();
        }
        if let DataType::Struct(children) = data_type {
            fields = children;
        } else {
            fields = Fields::empty();
        }
    }
    found
}

/// The R4 example package directory, if `HEARTH_FHIR_PACKAGE` names one.
pub fn example_package() -> Option<std::path::PathBuf> {
    std::env::var_os("HEARTH_FHIR_PACKAGE").map(std::path::PathBuf::from)
}

/// Every example resource of the package: (file name, JSON text, parsed value).
pub fn examples(dir: &std::path::Path) -> anyhow::Result<Vec<(String, String, Value)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).context("read the example package")? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if !name.ends_with(".json") || name == "package.json" || name.starts_with('.') {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let value: Value = serde_json::from_str(&text)?;
        if value.get("resourceType").and_then(Value::as_str).is_some() {
            out.push((name, text, value));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
