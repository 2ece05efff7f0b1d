//! Items of a FHIRPath collection: a JSON value with its FHIR type from the element model, and
//! navigation to children (choice elements, `_name` siblings of primitives, nested resources).

use std::borrow::Cow;

use serde_json::Value;

use crate::model::{Group, TypeDef, TypeKind, TypeTarget, model, type_definition};
use crate::patch::fhirpath::capitalise;

/// The type of a [`Node`].
#[derive(Debug, Clone, Copy)]
pub enum NodeType {
    /// A FHIR primitive, datatype or resource.
    Fhir(&'static TypeDef),
    /// A backbone element, navigated through its own group of children.
    Backbone(&'static Group),
    /// A System type: literals and function results.
    System(SystemType),
    /// Not known to the model (an element the model does not define): navigated as raw JSON.
    Unknown,
}

/// The FHIRPath System types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemType {
    Boolean,
    String,
    Integer,
    Decimal,
    Date,
    DateTime,
    Time,
}

impl SystemType {
    fn name(self) -> &'static str {
        match self {
            SystemType::Boolean => "Boolean",
            SystemType::String => "String",
            SystemType::Integer => "Integer",
            SystemType::Decimal => "Decimal",
            SystemType::Date => "Date",
            SystemType::DateTime => "DateTime",
            SystemType::Time => "Time",
        }
    }

    /// The System type a FHIR primitive's value is.
    fn of_primitive(name: &str) -> SystemType {
        match name {
            "boolean" => SystemType::Boolean,
            "integer" | "positiveInt" | "unsignedInt" => SystemType::Integer,
            "decimal" => SystemType::Decimal,
            "date" => SystemType::Date,
            "dateTime" | "instant" => SystemType::DateTime,
            "time" => SystemType::Time,
            _ => SystemType::String,
        }
    }
}

/// One item of a collection.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    /// The JSON value; `Null` for a primitive that only has its `_name` sibling.
    pub value: Cow<'a, Value>,
    /// For a primitive, its `_name` sibling (`id`, `extension`).
    pub element: Option<Cow<'a, Value>>,
    pub ty: NodeType,
}

fn child<'a>(parent: &Cow<'a, Value>, key: &str) -> Option<Cow<'a, Value>> {
    match parent {
        Cow::Borrowed(v) => v.get(key).map(Cow::Borrowed),
        Cow::Owned(v) => v.get(key).cloned().map(Cow::Owned),
    }
}

fn items<'a>(value: Option<Cow<'a, Value>>) -> Vec<Cow<'a, Value>> {
    match value {
        None => Vec::new(),
        Some(Cow::Borrowed(Value::Array(a))) => a.iter().map(Cow::Borrowed).collect(),
        Some(Cow::Owned(Value::Array(a))) => a.into_iter().map(Cow::Owned).collect(),
        Some(v) => vec![v],
    }
}

impl<'a> Node<'a> {
    /// A resource (or any JSON object with a `resourceType`) as the root of an evaluation.
    pub fn resource(value: &'a Value) -> Node<'a> {
        Node {
            ty: resource_type_of(value),
            value: Cow::Borrowed(value),
            element: None,
        }
    }

    pub fn system(value: Value, ty: SystemType) -> Node<'a> {
        Node {
            value: Cow::Owned(value),
            element: None,
            ty: NodeType::System(ty),
        }
    }

    /// The FHIR type name (`Quantity`, `dateTime`, `Patient`), `BackboneElement`, or the System
    /// type name.
    pub fn type_name(&self) -> &'static str {
        match self.ty {
            NodeType::Fhir(t) => &t.name,
            NodeType::Backbone(_) => "BackboneElement",
            NodeType::System(s) => s.name(),
            NodeType::Unknown => "",
        }
    }

    /// Whether this is a FHIR primitive (or a System value).
    pub fn is_primitive(&self) -> bool {
        match self.ty {
            NodeType::Fhir(t) => t.kind == TypeKind::Primitive,
            NodeType::System(_) => true,
            _ => !self.value.is_object() && !self.value.is_array(),
        }
    }

    /// `x is T`: the type or one of its ancestors is named `T`. A System type name also matches
    /// the FHIR primitives whose values are of that type (`DateTime` matches `dateTime`), which
    /// is what official expressions such as `value.as(DateTime)` mean.
    pub fn is_type(&self, namespace: Option<&str>, name: &str) -> bool {
        match self.ty {
            NodeType::System(s) => namespace != Some("FHIR") && s.name() == name,
            NodeType::Fhir(t) => {
                if namespace != Some("System") {
                    let mut current = Some(t);
                    while let Some(td) = current {
                        if td.name == name {
                            return true;
                        }
                        current = td.base.as_deref().and_then(type_definition);
                    }
                }
                namespace != Some("FHIR")
                    && t.kind == TypeKind::Primitive
                    && SystemType::of_primitive(&t.name).name() == name
            }
            NodeType::Backbone(_) => matches!(name, "BackboneElement" | "Element"),
            NodeType::Unknown => false,
        }
    }

    /// The children named `name`: a member, all branches of a choice element `name[x]`, or for
    /// a primitive its `id` / `extension` held in the `_name` sibling.
    pub fn children(&self, name: &str, out: &mut Vec<Node<'a>>) {
        let group = match self.ty {
            NodeType::Fhir(t) if t.kind == TypeKind::Primitive => {
                if let Some(element) = &self.element {
                    let holder = Node {
                        value: element.clone(),
                        element: None,
                        ty: NodeType::Fhir(model().element_type()),
                    };
                    holder.children(name, out);
                }
                return;
            }
            NodeType::Fhir(t) => t.elements(),
            NodeType::Backbone(g) => g,
            NodeType::System(_) => return,
            NodeType::Unknown => {
                self.push_raw(name, out);
                return;
            }
        };
        if !self.value.is_object() {
            return;
        }
        if let Some(c) = group.child(name)
            && !c.element.is_choice()
        {
            self.push_typed(name, &c.ty.code, c.ty.target, out);
            return;
        }
        if let Some(e) = group.element_named(&format!("{name}[x]")) {
            for ty in e.types() {
                let key = format!("{name}{}", capitalise(&ty.code));
                self.push_typed(&key, &ty.code, ty.target, out);
            }
        }
    }

    fn push_typed(&self, key: &str, code: &str, target: TypeTarget, out: &mut Vec<Node<'a>>) {
        let ty = match target {
            TypeTarget::Primitive(_) => {
                type_definition(code).map_or(NodeType::System(SystemType::String), NodeType::Fhir)
            }
            TypeTarget::Complex(id) => NodeType::Fhir(model().type_def(id)),
            TypeTarget::Backbone(g) => NodeType::Backbone(model().group(g)),
            TypeTarget::AnyResource => NodeType::Unknown,
        };
        let values = items(child(&self.value, key));
        let is_primitive = matches!(target, TypeTarget::Primitive(_));
        let elements = if is_primitive {
            items(child(&self.value, &format!("_{key}")))
        } else {
            Vec::new()
        };
        let count = values.len().max(elements.len());
        for i in 0..count {
            let value = values.get(i).cloned().unwrap_or(Cow::Owned(Value::Null));
            let element = elements.get(i).filter(|e| !e.is_null()).cloned();
            if value.is_null() && element.is_none() {
                continue;
            }
            let ty = match target {
                TypeTarget::AnyResource => resource_type_of(&value),
                _ => ty,
            };
            out.push(Node { value, element, ty });
        }
    }

    fn push_raw(&self, key: &str, out: &mut Vec<Node<'a>>) {
        for value in items(child(&self.value, key)) {
            let ty = if value.get("resourceType").is_some() {
                resource_type_of(&value)
            } else {
                NodeType::Unknown
            };
            out.push(Node {
                value,
                element: None,
                ty,
            });
        }
    }

    /// The primitive value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        self.value.as_str()
    }
}

fn resource_type_of(value: &Value) -> NodeType {
    value
        .get("resourceType")
        .and_then(Value::as_str)
        .and_then(type_definition)
        .filter(|t| t.kind == TypeKind::Resource)
        .map_or(NodeType::Unknown, NodeType::Fhir)
}
