//! Input that does not fit the schema: values of the wrong JSON type become nulls (the row is
//! kept), non-resources and broken JSON are rejected without leaving half a row behind.

mod common;

use arrow_array::RecordBatch;
use common::row;
use hearth_columnar::{BatchEncoder, Error, Options};
use serde_json::{Value, json};

fn options() -> Options {
    Options {
        keep_json: false,
        ..Options::default()
    }
}

fn first_row(batch: &RecordBatch) -> Value {
    let mut value = row(batch, 0);
    if let Some(obj) = value.as_object_mut() {
        obj.remove("id");
    }
    value
}

/// A Patient with `members` (JSON text after `"id"`) encodes, through both input paths, to a
/// row whose columns other than `id` are `expected`.
fn check(members: &str, expected: Value) {
    let text = format!(r#"{{"resourceType": "Patient", "id": "p", {members}}}"#);
    let value: Value = serde_json::from_str(&text).expect("test input parses");
    let rt = "Patient".parse().expect("type");

    let mut from_text = BatchEncoder::new(rt, &options()).expect("encoder");
    from_text.push_json(&text).expect("push_json");
    let batch = from_text.finish_batch().expect("batch");
    assert_eq!(first_row(&batch), expected, "push_json: {members}");

    let mut from_value = BatchEncoder::new(rt, &options()).expect("encoder");
    from_value.push(&value).expect("push");
    let batch = from_value.finish_batch().expect("batch");
    assert_eq!(first_row(&batch), expected, "push: {members}");
}

#[test]
fn values_of_the_wrong_type_are_null() {
    check(r#""name": "Smith""#, json!({}));
    check(r#""name": {"family": "Smith"}"#, json!({}));
    check(
        r#""name": [null, {"family": "X"}, 42]"#,
        json!({"name": [null, {"family": "X"}, null]}),
    );
    check(
        r#""name": [{"given": "Peter", "family": ["X"]}]"#,
        json!({"name": [{}]}),
    );
    check(
        r#""name": [{"given": ["a", 1, null, "b"]}]"#,
        json!({"name": [{"given": ["a", null, null, "b"]}]}),
    );
    check(r#""birthDate": 19741225"#, json!({}));
    check(r#""active": "true""#, json!({}));
    check(r#""active": null"#, json!({}));
    check(r#""multipleBirthInteger": 1.5"#, json!({}));
    check(r#""multipleBirthInteger": 3000000000"#, json!({}));
    check(r#""multipleBirthInteger": "2""#, json!({}));
    check(
        r#""multipleBirthInteger": -2147483648"#,
        json!({"multipleBirthInteger": -2147483648}),
    );
    check(r#""maritalStatus": 5"#, json!({}));
    check(r#""maritalStatus": ["M"]"#, json!({}));
    check(r#""gender": {"code": "male"}"#, json!({}));
    check(r#""gender": ["male"]"#, json!({}));
    check(
        r#""extension": [{"url": 5, "valueDecimal": "1.5", "valueBoolean": 1}]"#,
        json!({"extension": [{}]}),
    );
    // Beyond f64 is still a decimal; serde_json spells exponents `e+`/`e-`.
    check(
        r#""extension": [{"url": "u", "valueDecimal": 1E400}]"#,
        json!({"extension": [{"url": "u", "valueDecimal": "1e+400"}]}),
    );
    check(
        r#""contained": [{"resourceType": "Basic", "id": "b"}, "text", 3, [1]]"#,
        json!({"contained": [r#"{"resourceType":"Basic","id":"b"}"#, null, null, null]}),
    );
    check(r#""contained": {"resourceType": "Basic"}"#, json!({}));
    check(
        r#""unknown": {"deep": [1, {"x": null}]}, "_gender": {"id": "g"}"#,
        json!({}),
    );
}

/// With `arbitrary_precision`, serde_json passes a number that is not a 64-bit integer as a
/// map under a private key; the streaming walk must not take it for an (empty) object.
#[test]
fn a_number_where_an_object_belongs_is_null() {
    check(r#""maritalStatus": 5.5"#, json!({}));
    check(
        r#""name": [1.25, {"family": "X"}]"#,
        json!({"name": [null, {"family": "X"}]}),
    );
    check(r#""contained": [2.5]"#, json!({"contained": [null]}));
    check(r#""active": 0.5, "birthDate": -0"#, json!({}));
}

#[test]
fn duplicate_members_keep_the_last_value() {
    check(
        r#""gender": "male", "gender": "female""#,
        json!({"gender": "female"}),
    );
    check(
        r#""name": [{"family": "A", "given": ["x"], "family": "B", "given": ["y", "z"]}]"#,
        json!({"name": [{"family": "B", "given": ["y", "z"]}]}),
    );
    check(
        r#""maritalStatus": {"text": "a"}, "maritalStatus": {"coding": [{"code": "M"}]}"#,
        json!({"maritalStatus": {"coding": [{"code": "M"}]}}),
    );
}

#[test]
fn non_resources_are_rejected_and_leave_nothing_behind() -> anyhow::Result<()> {
    let mut encoder = BatchEncoder::new("Patient".parse()?, &Options::default())?;
    let deep = format!(
        r#"{{"resourceType": "Patient", "id": "deep", "name": [{{"family": "D"}}], "x": {}{}}}"#,
        "[".repeat(300),
        "]".repeat(300)
    );
    for (input, expected) in [
        (r#"[]"#, "not a Patient resource: expected a JSON object"),
        (
            r#""Patient""#,
            "not a Patient resource: expected a JSON object",
        ),
        (r#"12.5"#, "not a Patient resource: expected a JSON object"),
        (
            r#"{"resourceType": "Observation", "id": "o"}"#,
            "not a Patient resource: resourceType is Observation",
        ),
        (
            r#"{"id": "x", "name": [{"family": "Late"}], "resourceType": "Observation"}"#,
            "not a Patient resource: resourceType is Observation",
        ),
        (
            r#"{"id": "x", "gender": "male"}"#,
            "not a Patient resource: missing resourceType",
        ),
        (
            r#"{"resourceType": 7, "id": "x"}"#,
            "not a Patient resource: resourceType is not a string",
        ),
        (
            r#"{"resourceType": "Patient", "id": "cut", "name": [{"family": "Cut""#,
            "parse resource JSON",
        ),
        (
            r#"{"resourceType": "Patient", "id": "t"} trailing"#,
            "parse resource JSON",
        ),
        (
            r#"{"resourceType": "Patient", "id": "t", "name": [{"family": "Bad\x"}]}"#,
            "parse resource JSON",
        ),
    ] {
        let err = encoder.push_json(input).map(|()| "accepted".to_owned());
        let message = match err {
            Err(e @ (Error::NotAResource { .. } | Error::Json(_))) => e.to_string(),
            other => format!("{other:?}"),
        };
        assert!(message.starts_with(expected), "{input}: {message}");
        let value: Result<Value, _> = serde_json::from_str(input);
        if let Ok(value) = value {
            let err = encoder.push(&value).map(|()| "accepted".to_owned());
            let message = err.map_err(|e| e.to_string());
            assert!(
                matches!(&message, Err(m) if m.starts_with(expected)),
                "{input}: {message:?}"
            );
        }
    }
    assert_eq!(encoder.rows(), 0);
    encoder.push_json(r#"{"resourceType": "Patient", "id": "ok", "gender": "other"}"#)?;
    // Unknown members are skipped without recursing into them, however deep.
    encoder.push_json(&deep)?;
    let batch = encoder.finish_batch()?;
    assert_eq!(batch.num_rows(), 2);
    let ok = row(&batch, 0);
    assert_eq!(
        (ok.get("id"), ok.get("gender"), ok.get("name")),
        (Some(&json!("ok")), Some(&json!("other")), None)
    );
    assert_eq!(row(&batch, 1)["name"], json!([{"family": "D"}]));
    Ok(())
}

#[test]
fn odd_rows_still_make_a_valid_parquet_file() -> anyhow::Result<()> {
    let rows = common::roundtrip(
        "Patient",
        &Options::default(),
        &[
            r#"{"resourceType": "Patient", "id": "a", "name": "x", "birthDate": 1, "contained": [5]}"#,
            r#"{"resourceType": "Patient", "id": "b", "name": [{"given": [null, "g"]}]}"#,
            r#"{"resourceType": "Patient"}"#,
        ],
    )?;
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["contained"], json!([null]));
    assert_eq!(rows[1]["name"], json!([{"given": [null, "g"]}]));
    assert_eq!(rows[2].get("id"), None);
    Ok(())
}
