//! The R4 element model: every resource type and datatype with its elements, generated from the
//! official StructureDefinitions (`generated/model.json`, see `fhir/codegen/extract.py`).
//!
//! Loaded once, on first use, into index-based tables. Lookups by JSON property name are one hash
//! probe: a choice element `value[x]` is reachable as `valueQuantity`, `valueString`, ...
//! (the element name without `[x]` followed by the type code with its first letter capitalised).

mod hash;
mod load;
mod primitive;

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::ids::ResourceType;

pub use hash::FastMap;
pub use primitive::Primitive;

/// The embedded extract; parsed once by [`model`].
const EXTRACT: &str = include_str!("../generated/model.json");

static MODEL: LazyLock<Model> = LazyLock::new(|| load::build(EXTRACT));

/// The whole model. Everything it hands out lives for `'static`.
pub fn model() -> &'static Model {
    &MODEL
}

/// The definition of a concrete resource type (always present: the 146 types are generated from
/// the same extract).
pub fn resource_definition(resource_type: ResourceType) -> &'static TypeDef {
    model()
        .type_named(resource_type.as_str())
        .unwrap_or_else(|| unreachable!("resource type {resource_type} missing from the model"))
}

/// The definition of any type by its code: `Patient`, `HumanName`, `dateTime`, `Element`...
pub fn type_definition(code: &str) -> Option<&'static TypeDef> {
    model().type_named(code)
}

/// An element of a resource or datatype by its dotted path from the type root, e.g.
/// `element("Patient", "contact.name")` or `element("Observation", "value[x]")`.
/// Content references are followed (`Questionnaire`, `item.item.text`).
pub fn element(type_code: &str, path: &str) -> Option<&'static ElementDef> {
    let mut group = type_definition(type_code)?.elements();
    let mut found = None;
    for name in path.split('.') {
        let element = group.element_named(name)?;
        found = Some(element);
        if let Some(children) = element.children() {
            group = children;
        } else if let Some(ty) = element.types().first()
            && let TypeTarget::Complex(t) = ty.target
        {
            group = model().type_def(t).elements();
        }
    }
    found
}

/// Whether the top-level element `name` of a resource type is marked `isSummary` in the R4
/// base definition. `name` is either the element's defined name (`value[x]`, `birthDate`) or a
/// JSON member naming it (`valueQuantity`, `_birthDate`); unknown names are not summary.
pub fn is_summary(resource_type: ResourceType, name: &str) -> bool {
    let elements = resource_definition(resource_type).elements();
    if let Some(e) = elements.element_named(name) {
        return e.summary;
    }
    let json_name = name.strip_prefix('_').unwrap_or(name);
    elements.child(json_name).is_some_and(|c| c.element.summary)
}

/// Index of a type in [`Model`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeId(pub(crate) u32);

/// Index of an element group (the children of a type root or backbone element).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupId(pub(crate) u32);

/// Index of an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ElementId(pub(crate) u32);

/// Index of a required value set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValueSetId(pub(crate) u32);

/// The model tables.
#[derive(Debug)]
pub struct Model {
    pub(crate) types: Vec<TypeDef>,
    pub(crate) type_index: FastMap<TypeId>,
    pub(crate) groups: Vec<Group>,
    pub(crate) elements: Vec<ElementDef>,
    pub(crate) value_sets: Vec<ValueSet>,
    pub(crate) value_set_index: HashMap<String, ValueSetId>,
    pub(crate) skipped_value_sets: Vec<(String, String)>,
    pub(crate) element_type: TypeId,
    pub(crate) extension_type: TypeId,
}

impl Model {
    pub fn types(&self) -> &[TypeDef] {
        &self.types
    }

    pub fn type_named(&self, code: &str) -> Option<&TypeDef> {
        self.type_index.get(code).map(|&id| self.type_def(id))
    }

    pub fn type_def(&self, id: TypeId) -> &TypeDef {
        &self.types[id.0 as usize]
    }

    pub fn group(&self, id: GroupId) -> &Group {
        &self.groups[id.0 as usize]
    }

    pub fn element(&self, id: ElementId) -> &ElementDef {
        &self.elements[id.0 as usize]
    }

    pub fn value_set(&self, id: ValueSetId) -> &ValueSet {
        &self.value_sets[id.0 as usize]
    }

    /// A required value set by canonical URL (without version), if it was enumerable.
    pub fn value_set_by_url(&self, url: &str) -> Option<&ValueSet> {
        self.value_set_index.get(url).map(|&id| self.value_set(id))
    }

    /// Required bindings whose value set could not be enumerated (URL, reason); not checked.
    pub fn skipped_value_sets(&self) -> &[(String, String)] {
        &self.skipped_value_sets
    }

    /// The `Element` datatype: what a primitive's `_name` sibling holds (`id`, `extension`).
    pub fn element_type(&self) -> &TypeDef {
        self.type_def(self.element_type)
    }

    /// The `Extension` datatype.
    pub fn extension_type(&self) -> &TypeDef {
        self.type_def(self.extension_type)
    }
}

/// What a type is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    Primitive,
    Complex,
    Resource,
}

/// A resource type or datatype.
#[derive(Debug)]
pub struct TypeDef {
    pub name: String,
    pub kind: TypeKind,
    pub is_abstract: bool,
    /// The type it specialises (`DomainResource`, `Element`, `BackboneElement`...).
    pub base: Option<String>,
    /// For primitive types, the format the validator checks.
    pub primitive: Option<Primitive>,
    /// For primitive types, the R4 regex of the value (documentation; checks are hand-written).
    pub regex: Option<String>,
    pub(crate) root: GroupId,
}

impl TypeDef {
    /// The top-level elements of the type.
    pub fn elements(&self) -> &'static Group {
        model().group(self.root)
    }

    pub fn is_resource(&self) -> bool {
        self.kind == TypeKind::Resource
    }
}

/// The children of a type root or of a backbone element.
#[derive(Debug)]
pub struct Group {
    /// Path of the owner: `Patient`, `Patient.contact`.
    pub path: String,
    pub(crate) elements: Vec<ElementId>,
    /// JSON property name (choice branches expanded) → (element, index into its types).
    pub(crate) by_json_name: FastMap<(ElementId, u8)>,
    pub(crate) required: Vec<ElementId>,
}

/// A JSON property resolved against a [`Group`].
#[derive(Debug, Clone, Copy)]
pub struct Child {
    pub element: &'static ElementDef,
    /// The type this property carries (for a choice, the one named by the suffix).
    pub ty: &'static ElementType,
    /// Index of `ty` in the element's types (distinguishes choice branches).
    pub branch: u8,
}

impl Group {
    /// The element that the JSON property `json_name` (without a leading `_`) denotes.
    pub fn child(&self, json_name: &str) -> Option<Child> {
        let &(element, ty) = self.by_json_name.get(json_name)?;
        let element = model().element(element);
        Some(Child {
            element,
            ty: &element.types[ty as usize],
            branch: ty,
        })
    }

    /// The element named as in its definition (`value[x]`, `gender`).
    pub fn element_named(&self, name: &str) -> Option<&'static ElementDef> {
        self.elements().find(|e| e.name == name)
    }

    pub fn elements(&self) -> impl Iterator<Item = &'static ElementDef> + '_ {
        self.elements.iter().map(|&id| model().element(id))
    }

    /// Elements with `min > 0`.
    pub fn required(&self) -> impl Iterator<Item = &'static ElementDef> + '_ {
        self.required.iter().map(|&id| model().element(id))
    }

    pub fn len(&self) -> usize {
        self.elements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }
}

/// Maximum cardinality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Max {
    /// `*`.
    Many,
    /// A number: `1` (a single value, never an array, in JSON), `0` (prohibited), or more.
    Limit(u32),
}

/// One element definition.
#[derive(Debug)]
pub struct ElementDef {
    /// Full path, `Patient.contact.name`, `Observation.value[x]`.
    pub path: String,
    /// Last path segment as defined, `value[x]`.
    pub name: String,
    pub min: u32,
    pub max: Max,
    /// `#Questionnaire.item` for `Questionnaire.item.item`.
    pub content_reference: Option<String>,
    /// `isSummary` in the base definition: part of what `_summary=true` returns (for a
    /// top-level element of a resource).
    pub summary: bool,
    pub(crate) types: Vec<ElementType>,
    pub(crate) children: Option<GroupId>,
    pub(crate) binding: Option<ValueSetId>,
    /// Position in the owning group (< 128).
    pub(crate) slot: u8,
}

impl ElementDef {
    pub fn is_choice(&self) -> bool {
        self.name.ends_with("[x]")
    }

    /// `true` when the JSON form is an array.
    pub fn is_repeating(&self) -> bool {
        !matches!(self.max, Max::Limit(0 | 1))
    }

    pub fn types(&self) -> &[ElementType] {
        &self.types
    }

    /// Own children: of a backbone element, or of the element a content reference points to.
    pub fn children(&self) -> Option<&'static Group> {
        self.children.map(|g| model().group(g))
    }

    /// For `code` elements with a required binding to an enumerable value set, its codes.
    pub fn required_codes(&self) -> Option<&'static ValueSet> {
        self.binding.map(|v| model().value_set(v))
    }
}

/// One allowed type of an element.
#[derive(Debug)]
pub struct ElementType {
    /// The type code as in the definition (`Quantity`, `string`, `BackboneElement`).
    pub code: String,
    pub target: TypeTarget,
}

/// How values of an element type are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeTarget {
    Primitive(Primitive),
    /// A complex datatype, validated against its own elements.
    Complex(TypeId),
    /// A backbone element (or content reference) with its own children.
    Backbone(GroupId),
    /// `Resource`: any resource, validated by its own `resourceType`.
    AnyResource,
}

/// The codes of a required value set, sorted.
#[derive(Debug)]
pub struct ValueSet {
    pub url: String,
    pub(crate) codes: Vec<Box<str>>,
}

impl ValueSet {
    pub fn contains(&self, code: &str) -> bool {
        self.codes.binary_search_by(|c| (**c).cmp(code)).is_ok()
    }

    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.codes.iter().map(|c| &**c)
    }
}

#[cfg(test)]
mod tests;
