//! Schema components from the R4 element model: one per primitive, datatype and resource type,
//! one per backbone element (`Patient_Contact`), and `Resource`, the union of the 146 types.
//!
//! The schemas say what the server's validator accepts (`hearth_fhir::validate`): unknown
//! elements, empty objects, empty arrays and `null` outside aligned primitive arrays are
//! rejected, so objects carry `additionalProperties: false`, `minProperties: 1` and arrays
//! `minItems: 1`. A choice element `value[x]` becomes one property per branch (`valueQuantity`),
//! a primitive element `birthDate` also gets its `_birthDate` sibling (an `Element`).

use std::collections::HashSet;

use hearth_fhir::ResourceType;
use hearth_fhir::model::{
    ElementDef, ElementType, Group, Max, Primitive, TypeKind, TypeTarget, model,
};
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, ArrayBuilder, Discriminator, ObjectBuilder,
    OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};

/// A `$ref` to the schema component `name`.
pub fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// The component name of a backbone element group: `Patient.contact` → `Patient_Contact`,
/// `Questionnaire.item` → `Questionnaire_Item` (as in the official `fhir.schema.json`).
pub fn backbone_name(path: &str) -> String {
    let mut segments = path.split('.');
    let mut name = segments.next().unwrap_or_default().to_owned();
    for segment in segments {
        name.push('_');
        name.push_str(&upper_first(segment));
    }
    name
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// One example per resource type from the official R4 examples, chosen and trimmed by
/// `openapi/codegen/examples.py`.
static EXAMPLES: std::sync::LazyLock<serde_json::Map<String, serde_json::Value>> =
    std::sync::LazyLock::new(|| {
        serde_json::from_str(include_str!("generated/examples.json")).unwrap_or_default()
    });

/// The example of a resource type, if the spec has one.
pub fn example(resource_type: &str) -> Option<serde_json::Value> {
    EXAMPLES.get(resource_type).cloned()
}

/// Every schema component, in a stable order: primitives, datatypes, resources, then backbone
/// elements in the order they are first met.
pub fn components() -> Vec<(String, RefOr<Schema>)> {
    let mut builder = Builder::default();
    for ty in model().types() {
        match ty.kind {
            TypeKind::Primitive => {
                if let Some(p) = ty.primitive {
                    builder
                        .out
                        .push((ty.name.clone(), primitive(p, ty.regex.as_deref())));
                }
            }
            TypeKind::Complex => {
                let schema = builder.group(ty.elements(), None);
                builder.out.push((ty.name.clone(), schema));
            }
            TypeKind::Resource if !ty.is_abstract => {
                let schema = builder.group(ty.elements(), Some(&ty.name));
                builder.out.push((ty.name.clone(), schema));
            }
            TypeKind::Resource => {}
        }
    }
    while let Some(group) = builder.pending.pop() {
        let schema = builder.group(group, None);
        builder.out.push((backbone_name(&group.path), schema));
    }
    builder.out.push(("Resource".into(), any_resource()));
    builder.out
}

#[derive(Default)]
struct Builder {
    out: Vec<(String, RefOr<Schema>)>,
    /// Backbone groups already named (by path).
    seen: HashSet<&'static str>,
    pending: Vec<&'static Group>,
}

impl Builder {
    /// The object schema of a type root or backbone element.
    fn group(&mut self, group: &'static Group, resource_type: Option<&str>) -> RefOr<Schema> {
        let mut object = ObjectBuilder::new()
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .min_properties(Some(1));
        if let Some(rt) = resource_type {
            object = object
                .property(
                    "resourceType",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([rt])),
                )
                .required("resourceType");
        }
        let mut one_of_required = Vec::new();
        for element in group.elements() {
            if element.max == Max::Limit(0) {
                continue;
            }
            let base = element.name.trim_end_matches("[x]");
            let mut names = Vec::new();
            for ty in element.types() {
                let name = if element.is_choice() {
                    format!("{base}{}", upper_first(&ty.code))
                } else {
                    base.to_owned()
                };
                let is_primitive = matches!(ty.target, TypeTarget::Primitive(_));
                object = object.property(&name, self.property(element, ty));
                if is_primitive {
                    object = object.property(format!("_{name}"), primitive_extension(element));
                }
                names.push(name);
            }
            if element.min > 0 {
                if names.len() == 1 {
                    object = object.required(&names[0]);
                } else {
                    one_of_required.push(names);
                }
            }
        }
        let example = resource_type.and_then(example);
        if one_of_required.is_empty() {
            return object.examples(example).into();
        }
        // A required choice element: exactly one of its branches must be present.
        let mut all_of = AllOfBuilder::new().item(object);
        for names in one_of_required {
            let mut one_of = OneOfBuilder::new();
            for name in names {
                one_of = one_of.item(
                    ObjectBuilder::new()
                        .schema_type(SchemaType::AnyValue)
                        .required(name),
                );
            }
            all_of = all_of.item(one_of);
        }
        all_of.examples(example).into()
    }

    /// The schema of one property: a single value or, for a repeating element, an array.
    fn property(
        &mut self,
        element: &'static ElementDef,
        ty: &'static ElementType,
    ) -> RefOr<Schema> {
        let value = self.value(element, ty);
        if !element.is_repeating() {
            return value;
        }
        let items = if matches!(ty.target, TypeTarget::Primitive(_)) {
            // `null` holds the place of a value that only has an `_name` entry.
            nullable(value)
        } else {
            value
        };
        array(items, element).into()
    }

    fn value(&mut self, element: &'static ElementDef, ty: &'static ElementType) -> RefOr<Schema> {
        match ty.target {
            TypeTarget::Primitive(p) => match element.required_codes() {
                Some(codes) if p == Primitive::Code => ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(codes.codes()))
                    .into(),
                _ => schema_ref(p.code()),
            },
            TypeTarget::Complex(t) => schema_ref(&model().type_def(t).name),
            TypeTarget::Backbone(g) => {
                let group = model().group(g);
                if self.seen.insert(group.path.as_str()) {
                    self.pending.insert(0, group);
                }
                schema_ref(&backbone_name(&group.path))
            }
            TypeTarget::AnyResource => schema_ref("Resource"),
        }
    }
}

fn array(items: RefOr<Schema>, element: &ElementDef) -> ArrayBuilder {
    let mut array = ArrayBuilder::new()
        .items(items)
        .min_items(Some(element.min.max(1) as usize));
    if let Max::Limit(max) = element.max {
        array = array.max_items(Some(max as usize));
    }
    array
}

fn nullable(schema: RefOr<Schema>) -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(schema)
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// The `_name` sibling of a primitive element: an `Element` (`id`, `extension`), or an array
/// aligned with the values.
fn primitive_extension(element: &ElementDef) -> RefOr<Schema> {
    if element.is_repeating() {
        array(nullable(schema_ref("Element")), element).into()
    } else {
        schema_ref("Element")
    }
}

/// ASCII whitespace as the validator sees it (space, tab, LF, VT, FF, CR).
const SPACE: &str = r"[ \t\n\x0B\x0C\r]";
const NOT_SPACE: &str = r"[^ \t\n\x0B\x0C\r]";

/// The JSON schema of a primitive: what `hearth_fhir::validate` accepts, with the R4 regex in
/// the description where the check is hand-written.
fn primitive(p: Primitive, regex: Option<&str>) -> RefOr<Schema> {
    let int = |min: i64| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min))
            .maximum(Some(i64::from(i32::MAX)))
    };
    let string = |pattern: String| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(pattern))
    };
    let anchored = |r: &str| format!("^(?:{r})$");
    let builder = match p {
        Primitive::Boolean => ObjectBuilder::new().schema_type(Type::Boolean),
        Primitive::Integer => int(i64::from(i32::MIN)),
        Primitive::PositiveInt => int(1),
        Primitive::UnsignedInt => int(0),
        Primitive::Decimal => ObjectBuilder::new().schema_type(Type::Number),
        Primitive::String | Primitive::Markdown => {
            string(r"^[^\x0B\x0C]+$".into()).max_length(Some(1024 * 1024))
        }
        Primitive::Uri | Primitive::Url | Primitive::Canonical => string(format!("^{NOT_SPACE}+$")),
        Primitive::Code => string(format!("^{NOT_SPACE}+({SPACE}{NOT_SPACE}+)*$")),
        Primitive::Id => string(r"^[A-Za-z0-9\-\.]{1,64}$".into()),
        Primitive::Oid => string(r"^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$".into()),
        Primitive::Uuid => string(
            r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$".into(),
        ),
        Primitive::Base64Binary => string(format!("^{SPACE}*([0-9a-zA-Z+/=]{{4}}{SPACE}*)+$")),
        Primitive::Date | Primitive::DateTime | Primitive::Instant | Primitive::Time => {
            string(regex.map(anchored).unwrap_or_else(|| "^.+$".into()))
        }
        Primitive::Xhtml => ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1)),
    };
    let description = match regex {
        Some(r) => format!("FHIR `{}`; R4 regex `{r}`", p.code()),
        None => format!("FHIR `{}`", p.code()),
    };
    builder.description(Some(description)).into()
}

/// `Resource`: any of the 146 concrete resource types, told apart by `resourceType`.
fn any_resource() -> RefOr<Schema> {
    let mut one_of = OneOfBuilder::new()
        .description(Some("Any FHIR R4 resource, by its `resourceType`."))
        .discriminator(Some(Discriminator::new("resourceType")));
    for rt in ResourceType::all() {
        one_of = one_of.item(schema_ref(rt.as_str()));
    }
    one_of.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backbone_names() {
        for (path, expected) in [
            ("Patient.contact", "Patient_Contact"),
            ("Questionnaire.item", "Questionnaire_Item"),
            ("Timing.repeat", "Timing_Repeat"),
            (
                "ExplanationOfBenefit.item.detail.subDetail",
                "ExplanationOfBenefit_Item_Detail_SubDetail",
            ),
        ] {
            assert_eq!(backbone_name(path), expected);
        }
    }

    #[test]
    fn every_type_has_a_component_and_names_are_unique() {
        let components = components();
        let names: HashSet<&str> = components.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), components.len(), "duplicate component names");
        for rt in ResourceType::all() {
            assert!(names.contains(rt.as_str()), "{rt}");
        }
        for name in [
            "string",
            "dateTime",
            "HumanName",
            "Element",
            "Extension",
            "Resource",
        ] {
            assert!(names.contains(name), "{name}");
        }
    }
}
