//! Primitive formats: hand cases, and agreement with the regexes of the R4 definitions.

use serde_json::{Value, json};

use super::*;
use crate::model::type_definition;

fn check(primitive: Primitive, input: Value, ok: bool) {
    let actual = check_primitive(primitive, &input);
    assert_eq!(actual.is_ok(), ok, "{primitive:?} {input}: {actual:?}");
}

fn number(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn json_kinds_and_ranges() {
    use Primitive::*;
    for (p, input, ok) in [
        (Boolean, json!(true), true),
        (Boolean, json!("true"), false),
        (Boolean, json!(1), false),
        (Integer, json!(-5), true),
        (Integer, json!(2147483647), true),
        (Integer, json!(2147483648i64), false),
        (Integer, json!(-2147483648i64), true),
        (Integer, json!(-2147483649i64), false),
        (Integer, number("1.0"), false),
        (Integer, number("1e2"), false),
        (Integer, json!("1"), false),
        (PositiveInt, json!(1), true),
        (PositiveInt, json!(0), false),
        (UnsignedInt, json!(0), true),
        (UnsignedInt, json!(-1), false),
        (Decimal, number("1.50"), true),
        (Decimal, number("-0.0e-10"), true),
        (
            Decimal,
            number("123456789012345678901234567890.123456789"),
            true,
        ),
        (Decimal, json!("1.5"), false),
        (String, json!("x"), true),
        (String, json!(" padded\ttext\r\n"), true),
        (String, json!(""), false),
        (String, json!("a\u{000B}b"), false),
        (String, json!(5), false),
        (Markdown, json!("# title"), true),
        (Uri, json!("http://x/y"), true),
        (Uri, json!("http://x/ y"), false),
        (Url, json!(""), false),
        (Canonical, json!("http://x|1.0"), true),
        (Code, json!("a b"), true),
        (Code, json!("a  b"), false),
        (Code, json!(" a"), false),
        (Code, json!("a\n"), false),
        (Id, json!("a.b-C9"), true),
        (Id, json!("a_b"), false),
        (Id, Value::String("a".repeat(65)), false),
        (Oid, json!("urn:oid:1.2.840.10008"), true),
        (Oid, json!("urn:oid:1"), false),
        (Oid, json!("urn:oid:3.1"), false),
        (Oid, json!("urn:oid:1.02"), false),
        (
            Uuid,
            json!("urn:uuid:c757873d-ec9a-4326-a141-556f43239520"),
            true,
        ),
        (
            Uuid,
            json!("urn:uuid:C757873D-EC9A-4326-A141-556F43239520"),
            false,
        ),
        (Uuid, json!("c757873d-ec9a-4326-a141-556f43239520"), false),
        (Base64Binary, json!("aGVsbG8="), true),
        (Base64Binary, json!("aGVs bG8="), true),
        (Base64Binary, json!("aGVsbG8"), false),
        (Base64Binary, json!("aG=sbG8="), false),
        (Base64Binary, json!("aGV sbG8="), false),
        (Base64Binary, json!("aGVs!G8="), false),
        (Date, json!("2023-02-28"), true),
        (Date, json!("2023-02-30"), false),
        (DateTime, json!("2023-02-28T10:00:00Z"), true),
        (Instant, json!("2023-02-28"), false),
        (Time, json!("10:00:00"), true),
        (
            Xhtml,
            json!("<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"),
            true,
        ),
        (Xhtml, json!("<p>x</p>"), false),
        (Xhtml, json!("<divx></divx>"), false),
        (Xhtml, json!("<div>x</div>"), false),
        (
            Xhtml,
            json!("<div xmlns='http://www.w3.org/1999/xhtml'/>"),
            true,
        ),
    ] {
        check(p, input, ok);
    }
}

/// The R4 regex of a primitive, anchored, with `\s` read as Java reads it.
fn definition_regex(code: &str) -> regex::Regex {
    let raw = type_definition(code).and_then(|t| t.regex.clone()).unwrap();
    let java = raw
        .replace("\\s", "[ \\t\\n\\x0B\\x0C\\r]")
        .replace("\\S", "[^ \\t\\n\\x0B\\x0C\\r]");
    regex::Regex::new(&format!("^(?:{java})$")).unwrap()
}

#[test]
fn string_checks_agree_with_the_definition_regexes() {
    let samples = [
        "x",
        "a b",
        "a  b",
        " a",
        "a ",
        "a\tb",
        "abc-12.x",
        "a_b",
        "é",
        "2023",
        "2023-01",
        "2023-01-31",
        "2023-1-31",
        "0000",
        "2023-01-31T10:11:12Z",
        "2023-01-31T10:11:12.5+14:00",
        "2023-01-31T10:11:12+14:30",
        "2023-01-31T10:11",
        "10:11:12",
        "10:11:12.123",
        "25:00:00",
        "urn:oid:1.2.3",
        "urn:oid:1.",
        "urn:oid:4.1",
        "urn:uuid:c757873d-ec9a-4326-a141-556f43239520",
        "urn:uuid:c757873d",
        "aGVsbG8=",
        "aGVsbG8",
        "aGVs bG8=",
        " aGVsbG8= ",
        "http://a/b",
        "http://a b",
        "12",
        "-12",
        "+12",
        "012",
        "1.5",
        "1e5",
        "true",
    ];
    for code in [
        "code",
        "id",
        "oid",
        "uuid",
        "uri",
        "url",
        "canonical",
        "string",
        "markdown",
        "date",
        "dateTime",
        "instant",
        "time",
        "base64Binary",
    ] {
        let regex = definition_regex(code);
        let primitive = Primitive::from_code(code).unwrap();
        for s in samples {
            assert_eq!(
                check_string(primitive, s).is_ok(),
                regex.is_match(s),
                "{code} {s:?}"
            );
        }
    }
}
