//! Filling columns straight from JSON text (the path of [`crate::BatchEncoder::push_json`]):
//! a serde visitor per column, so no `Value` tree is built and no string is copied twice.
//!
//! Same results as the `Value` walk in `value.rs`; a test checks both on the spec examples.

use std::fmt;

use hearth_fhir::ResourceType;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::column::{Column, Number, Scratch, StructColumn};
use crate::error::Error;

/// With `arbitrary_precision` (on in this workspace), serde_json hands a number that is not a
/// 64-bit integer to `visit_map` as a one-entry map under this key, with the number's text as
/// value. A test (`a_number_where_an_object_belongs_is_null`) notices if that ever changes.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Adds the resource in `json` as one row of `root`; on any error the row is taken out again.
pub(crate) fn push_text(
    root: &mut StructColumn,
    rt: ResourceType,
    json: &str,
    scratch: &mut Scratch,
) -> Result<(), Error> {
    let start = root.len();
    let mut rejection = None;
    let mut de = serde_json::Deserializer::from_str(json);
    let result = RootSeed {
        root: &mut *root,
        rt,
        scratch,
        rejection: &mut rejection,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    let Err(error) = result else {
        return Ok(());
    };
    root.truncate(start);
    Err(match rejection {
        Some(reason) => Error::NotAResource {
            expected: rt,
            reason,
        },
        None => Error::Json(error),
    })
}

/// The resource object: checks `resourceType` and fills the root's columns.
struct RootSeed<'a> {
    root: &'a mut StructColumn,
    rt: ResourceType,
    scratch: &'a mut Scratch,
    rejection: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl RootSeed<'_> {
    fn reject<E: de::Error>(self, reason: String) -> Result<(), E> {
        let error = E::custom(&reason);
        *self.rejection = Some(reason);
        Err(error)
    }
}

impl<'de> Visitor<'de> for RootSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a resource (a JSON object)")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.reject("expected a JSON object".into())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.reject("expected a JSON object".into())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.reject("expected a JSON object".into())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.reject("expected a JSON object".into())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.reject("expected a JSON object".into())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.reject("expected a JSON object".into())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.reject("expected a JSON object".into())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut typed = false;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.as_str() == "resourceType" {
                match map.next_value::<Value>()? {
                    Value::String(s) if s == self.rt.as_str() => typed = true,
                    Value::String(s) => return self.reject(format!("resourceType is {s}")),
                    _ => return self.reject("resourceType is not a string".into()),
                }
            } else if key.as_str() == NUMBER_TOKEN {
                return self.reject("expected a JSON object".into());
            } else if let Some(child) = self.root.child_for(key.as_str()) {
                map.next_value_seed(Seed {
                    column: child,
                    scratch: self.scratch,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !typed {
            return self.reject("missing resourceType".into());
        }
        self.root.close_value();
        Ok(())
    }
}

/// One value of an element into its column.
struct Seed<'a> {
    column: &'a mut Column,
    scratch: &'a mut Scratch,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.column.append_nulls(1);
        Ok(())
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.column.append_bool(v);
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.column.append_number(Number::U64(v), self.scratch);
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.column.append_number(Number::I64(v), self.scratch);
        Ok(())
    }

    /// Not produced by serde_json with `arbitrary_precision` (see [`NUMBER_TOKEN`]).
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.column
            .append_number(Number::Text(&v.to_string()), self.scratch);
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.column.append_str(v, self.scratch);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Seed { column, scratch } = self;
        match column {
            Column::List(list) => {
                while seq
                    .next_element_seed(Seed {
                        column: &mut list.values,
                        scratch: &mut *scratch,
                    })?
                    .is_some()
                {}
                list.close_list();
            }
            other => {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                other.append_nulls(1);
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Seed { column, scratch } = self;
        let first = map.next_key::<Key<'de>>()?;
        if let Some(key) = &first
            && key.as_str() == NUMBER_TOKEN
        {
            let text = map.next_value::<Key<'de>>()?;
            column.append_number(Number::Text(text.as_str()), scratch);
            return Ok(());
        }
        match column {
            Column::Struct(s) => {
                let mut key = first;
                while let Some(k) = key {
                    match s.child_for(k.as_str()) {
                        Some(child) => map.next_value_seed(Seed {
                            column: child,
                            scratch: &mut *scratch,
                        })?,
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    key = map.next_key()?;
                }
                s.close_value();
            }
            Column::Json(_) => {
                let mut obj = Map::new();
                if let Some(k) = first {
                    obj.insert(k.into_string(), map.next_value()?);
                }
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    obj.insert(k, v);
                }
                column.append_value(&Value::Object(obj), scratch);
            }
            other => {
                if first.is_some() {
                    map.next_value::<IgnoredAny>()?;
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                }
                other.append_nulls(1);
            }
        }
        Ok(())
    }
}

/// A member name or string, borrowed from the input when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }

    fn into_string(self) -> String {
        match self {
            Key::Borrowed(s) => s.to_owned(),
            Key::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key::Owned(v))
    }
}
