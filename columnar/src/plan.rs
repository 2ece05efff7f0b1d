//! The schema rules: the columns of a resource type, derived from the R4 element model.
//!
//! One struct field per element, one per type branch of a choice element (named with its JSON
//! name, `valueQuantity`), a list for repeating elements and a leaf per primitive type. Nested
//! resources are JSON text. Recursive types and extensions are cut at the depths set by
//! [`crate::Options`]; the cut elements have no column.

use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef, Fields};
use hearth_fhir::ResourceType;
use hearth_fhir::model::{FastMap, Group, Max, Primitive, TypeTarget, model, resource_definition};

use crate::options::{DecimalAs, SchemaKey};

/// How a leaf value is read from JSON and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leaf {
    /// JSON `true` / `false` → `Boolean`.
    Boolean,
    /// A JSON integer within 32 bits → `Int32`.
    Integer,
    /// A JSON number → `Utf8`, exactly as written.
    NumberText,
    /// A JSON number → `Float64`.
    Float,
    /// A JSON string → `Utf8`.
    String,
    /// Any JSON value → `Utf8` JSON text (nested resources).
    Json,
}

impl Leaf {
    fn data_type(self) -> DataType {
        match self {
            Leaf::Boolean => DataType::Boolean,
            Leaf::Integer => DataType::Int32,
            Leaf::Float => DataType::Float64,
            Leaf::NumberText | Leaf::String | Leaf::Json => DataType::Utf8,
        }
    }
}

/// What one column holds per value.
#[derive(Debug)]
pub(crate) enum Shape {
    Leaf(Leaf),
    Struct(Arc<StructPlan>),
}

impl Shape {
    pub fn data_type(&self) -> DataType {
        match self {
            Shape::Leaf(leaf) => leaf.data_type(),
            Shape::Struct(plan) => DataType::Struct(plan.fields.clone()),
        }
    }

    /// The item field of a list of these values (nullable: JSON arrays of primitives may hold
    /// `null` where only the `_name` sibling has content).
    pub fn item_field(&self) -> FieldRef {
        Arc::new(Field::new_list_field(self.data_type(), true))
    }
}

/// One field of a struct (or of the resource root).
#[derive(Debug)]
pub(crate) struct ColumnPlan {
    pub shape: Shape,
    /// A list of values (the element repeats).
    pub repeated: bool,
}

/// The fields of a resource root, datatype or backbone element at one place in the tree.
#[derive(Debug)]
pub(crate) struct StructPlan {
    pub fields: Fields,
    pub columns: Vec<ColumnPlan>,
    /// JSON property name → index into `columns`.
    by_json_name: FastMap<usize>,
}

impl StructPlan {
    /// The column of a JSON property, if it has one.
    #[inline]
    pub fn column(&self, json_name: &str) -> Option<usize> {
        self.by_json_name.get(json_name).copied()
    }
}

/// The columns of a resource type (without `resource_json`).
pub(crate) fn resource_plan(rt: ResourceType, key: &SchemaKey) -> StructPlan {
    let root = resource_definition(rt).elements();
    let mut rules = Rules {
        key,
        path: vec![root],
        extensions: 0,
    };
    rules.group(root, Place::Resource)
}

/// Where a group sits, which decides whether its `extension` elements get columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Resource,
    Extension,
    Element,
}

struct Rules<'k> {
    key: &'k SchemaKey,
    /// The groups (types, backbone elements) from the root to the current one.
    path: Vec<&'static Group>,
    /// `Extension` structs on the path.
    extensions: usize,
}

impl Rules<'_> {
    fn group(&mut self, group: &'static Group, place: Place) -> StructPlan {
        let mut fields = Vec::with_capacity(group.len());
        let mut columns = Vec::with_capacity(group.len());
        let mut by_json_name = FastMap::default();
        let open_type_count = open_type_count();
        for element in group.elements() {
            if element.max == Max::Limit(0)
                || (element.name == "id" && place != Place::Resource && !self.key.element_ids)
            {
                continue;
            }
            let prefix = element.name.strip_suffix("[x]");
            let open = prefix.is_some() && element.types().len() >= open_type_count;
            for ty in element.types() {
                if open && !self.key.open_types.contains(&ty.code) {
                    continue;
                }
                let Some(shape) = self.shape(ty.target, place) else {
                    continue;
                };
                let name = match prefix {
                    Some(prefix) => choice_name(prefix, &ty.code),
                    None => element.name.clone(),
                };
                let repeated = element.is_repeating();
                let data_type = if repeated {
                    DataType::List(shape.item_field())
                } else {
                    shape.data_type()
                };
                by_json_name.insert(name.as_str().into(), columns.len());
                fields.push(Field::new(name, data_type, true));
                columns.push(ColumnPlan { shape, repeated });
            }
        }
        StructPlan {
            fields: fields.into(),
            columns,
            by_json_name,
        }
    }

    fn shape(&mut self, target: TypeTarget, place: Place) -> Option<Shape> {
        match target {
            TypeTarget::Primitive(primitive) => Some(Shape::Leaf(self.leaf(primitive))),
            TypeTarget::AnyResource => Some(Shape::Leaf(Leaf::Json)),
            TypeTarget::Complex(ty) => {
                let def = model().type_def(ty);
                if std::ptr::eq(def, model().extension_type()) {
                    self.extension(place)
                } else {
                    self.nested(def.elements(), self.key.max_datatype_recursion)
                }
            }
            TypeTarget::Backbone(group) => {
                self.nested(model().group(group), self.key.max_recursion)
            }
        }
    }

    fn leaf(&self, primitive: Primitive) -> Leaf {
        match primitive {
            Primitive::Boolean => Leaf::Boolean,
            Primitive::Integer | Primitive::PositiveInt | Primitive::UnsignedInt => Leaf::Integer,
            Primitive::Decimal => match self.key.decimal {
                DecimalAs::Text => Leaf::NumberText,
                DecimalAs::Float64 => Leaf::Float,
            },
            _ => Leaf::String,
        }
    }

    /// An `Extension` struct, if extensions are typed here and the depth allows another level.
    fn extension(&mut self, place: Place) -> Option<Shape> {
        if place == Place::Element || self.extensions >= self.key.extension_depth {
            return None;
        }
        self.extensions += 1;
        let plan = self.group(model().extension_type().elements(), Place::Extension);
        self.extensions -= 1;
        non_empty(plan)
    }

    /// A datatype or backbone element, unless it is already on the path more than
    /// `max_repeats` times.
    fn nested(&mut self, group: &'static Group, max_repeats: usize) -> Option<Shape> {
        let seen = self
            .path
            .iter()
            .filter(|g| std::ptr::eq(**g, group))
            .count();
        if seen > max_repeats {
            return None;
        }
        self.path.push(group);
        let plan = self.group(group, Place::Element);
        self.path.pop();
        non_empty(plan)
    }
}

/// The number of types of an open choice element (type `*` in the specification): as many as
/// `Extension.value[x]` allows.
fn open_type_count() -> usize {
    model()
        .extension_type()
        .elements()
        .element_named("value[x]")
        .map_or(usize::MAX, |e| e.types().len())
}

/// Parquet cannot store a struct without fields: such an element has no column.
fn non_empty(plan: StructPlan) -> Option<Shape> {
    (!plan.columns.is_empty()).then(|| Shape::Struct(Arc::new(plan)))
}

/// `value` + `dateTime` → `valueDateTime`, the JSON name of a choice branch.
fn choice_name(prefix: &str, code: &str) -> String {
    let mut name = String::with_capacity(prefix.len() + code.len());
    name.push_str(prefix);
    let mut chars = code.chars();
    if let Some(first) = chars.next() {
        name.extend(first.to_uppercase());
        name.push_str(chars.as_str());
    }
    name
}
