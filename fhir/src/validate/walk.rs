//! The validating walk over a JSON resource: every property is resolved against the model, every
//! value checked for shape (object / array / primitive), cardinality, format and required codes.

use serde_json::{Map, Value};

use super::invariants;
use super::path::{Location, Segment};
use super::primitive::check_primitive;
use crate::ids::ResourceType;
use crate::model::{Child, Group, Max, TypeTarget, model, resource_definition};
use crate::outcome::{Issue, IssueCode};

/// Issues reported before the walk stops collecting.
pub const MAX_ISSUES: usize = 100;

/// Deeper locations are not walked (serde_json itself stops parsing at 128 levels).
const MAX_DEPTH: usize = 512;

/// Distinct choice elements tracked per object for the one-branch rule.
const MAX_CHOICES: usize = 16;

pub(super) struct Walker<'v> {
    location: Location<'v>,
    pub(super) issues: Vec<Issue>,
}

impl<'v> Walker<'v> {
    pub(super) fn new() -> Walker<'v> {
        Walker {
            location: Location::default(),
            issues: Vec::new(),
        }
    }

    fn report(
        &mut self,
        code: IssueCode,
        extra: Option<&str>,
        diagnostics: impl FnOnce() -> String,
    ) {
        if self.issues.len() < MAX_ISSUES {
            self.issues
                .push(Issue::error(code, diagnostics()).at(self.location.render(extra)));
        }
    }

    /// A resource at the top of a document; returns its type if `resourceType` is valid.
    pub(super) fn root(&mut self, value: &'v Value) -> Option<ResourceType> {
        let Value::Object(obj) = value else {
            self.report(IssueCode::Structure, Some("resourceType"), || {
                "a resource must be a JSON object".into()
            });
            return None;
        };
        let rt = self.resource_type(obj)?;
        self.location.push(Segment::Name(rt.as_str()));
        self.object(obj, resource_definition(rt).elements(), true);
        self.contained_referenced(obj);
        self.location.pop();
        Some(rt)
    }

    /// A value of a datatype (or backbone group) at the top of a document.
    pub(super) fn datatype(&mut self, value: &'v Value, name: &'static str, group: &'static Group) {
        self.location.push(Segment::Name(name));
        match value {
            Value::Object(obj) => self.object(obj, group, false),
            _ => self.report(IssueCode::Structure, None, || {
                format!("expected a JSON object ({name})")
            }),
        }
        self.location.pop();
    }

    fn resource_type(&mut self, obj: &Map<String, Value>) -> Option<ResourceType> {
        match obj.get("resourceType") {
            Some(Value::String(s)) => match s.parse() {
                Ok(rt) => Some(rt),
                Err(_) => {
                    self.report(IssueCode::Invalid, Some("resourceType"), || {
                        format!("unknown resource type '{s}'")
                    });
                    None
                }
            },
            Some(_) => {
                self.report(IssueCode::Structure, Some("resourceType"), || {
                    "resourceType must be a string".into()
                });
                None
            }
            None => {
                self.report(IssueCode::Structure, Some("resourceType"), || {
                    "a resource needs a resourceType".into()
                });
                None
            }
        }
    }

    fn object(&mut self, obj: &'v Map<String, Value>, group: &'static Group, resource_root: bool) {
        if self.location.depth() > MAX_DEPTH {
            self.report(IssueCode::Structure, None, || "nested too deeply".into());
            return;
        }
        if obj.is_empty() {
            self.report(IssueCode::Structure, None, || {
                "empty objects are not allowed".into()
            });
            return;
        }
        let mut seen: u128 = 0;
        let mut choices = [(0u8, 0u8); MAX_CHOICES];
        let mut choice_count = 0;
        for (key, value) in obj {
            if resource_root && key == "resourceType" {
                continue;
            }
            let (extension, name) = match key.strip_prefix('_') {
                Some(name) => (true, name),
                None => (false, key.as_str()),
            };
            let Some(child) = group.child(name) else {
                self.unknown(key);
                continue;
            };
            let element = child.element;
            if element.is_choice() {
                match choices[..choice_count].iter().find(|c| c.0 == element.slot) {
                    Some(&(_, branch)) if branch != child.branch => {
                        self.report(IssueCode::Structure, Some(key), || {
                            format!("only one type of {} is allowed", element.name)
                        });
                        continue;
                    }
                    Some(_) => {}
                    None if choice_count < MAX_CHOICES => {
                        choices[choice_count] = (element.slot, child.branch);
                        choice_count += 1;
                    }
                    None => {}
                }
            }
            seen |= 1u128 << element.slot;
            self.location.push(Segment::Name(key));
            if extension {
                self.primitive_extension(obj, name, value, child);
            } else {
                self.element(obj, key, value, child);
            }
            self.location.pop();
        }
        if std::ptr::eq(group, model().extension_type().elements())
            && invariants::extension_has_value_and_extensions(obj)
        {
            self.report(IssueCode::Invariant, None, || {
                "an extension has either a value[x] or nested extensions, not both (ext-1)".into()
            });
        }
        for element in group.required() {
            if seen & (1u128 << element.slot) == 0 {
                self.report(IssueCode::Required, Some(&element.name), || {
                    format!("missing required element '{}'", element.name)
                });
            }
        }
    }

    fn unknown(&mut self, key: &str) {
        self.report(IssueCode::Structure, Some(key), || match key {
            "resourceType" => "resourceType is only allowed at the root of a resource".into(),
            "fhir_comments" => "fhir_comments is not allowed".into(),
            _ => format!("unknown element '{key}'"),
        });
    }

    /// The value of property `key` (not `_key`).
    fn element(&mut self, obj: &'v Map<String, Value>, key: &str, value: &'v Value, child: Child) {
        let element = child.element;
        if element.max == Max::Limit(0) {
            self.report(IssueCode::Structure, None, || {
                format!("{} is prohibited", element.path)
            });
            return;
        }
        if !element.is_repeating() {
            match value {
                Value::Array(_) => self.report(IssueCode::Structure, None, || {
                    format!("{} holds a single value, not an array", element.path)
                }),
                Value::Null => {
                    self.report(IssueCode::Structure, None, || "null is not allowed".into())
                }
                _ => self.value(value, child),
            }
            return;
        }
        let Value::Array(items) = value else {
            self.report(IssueCode::Structure, None, || {
                format!("{} repeats: expected an array", element.path)
            });
            return;
        };
        self.array_bounds(items.len(), child);
        for (i, item) in items.iter().enumerate() {
            self.location.push(Segment::Index(i));
            if item.is_null() {
                // Allowed in a primitive array when `_key` holds the entry; that walk checks it.
                let aligned = matches!(child.ty.target, TypeTarget::Primitive(_))
                    && matches!(obj.get(&format!("_{key}")), Some(Value::Array(_)));
                if !aligned {
                    self.report(IssueCode::Structure, None, || "null is not allowed".into());
                }
            } else {
                self.value(item, child);
            }
            self.location.pop();
        }
    }

    fn array_bounds(&mut self, len: usize, child: Child) {
        let element = child.element;
        if len == 0 {
            self.report(IssueCode::Structure, None, || {
                "empty arrays are not allowed".into()
            });
        } else if len < element.min as usize {
            self.report(IssueCode::Required, None, || {
                format!("{} needs at least {} entries", element.path, element.min)
            });
        }
        if let Max::Limit(max) = element.max
            && len > max as usize
        {
            self.report(IssueCode::Structure, None, || {
                format!("{} allows at most {max} entries", element.path)
            });
        }
    }

    /// The `_name` sibling of a primitive: `{id, extension}`, or an aligned array of them.
    fn primitive_extension(
        &mut self,
        obj: &'v Map<String, Value>,
        name: &str,
        value: &'v Value,
        child: Child,
    ) {
        if !matches!(child.ty.target, TypeTarget::Primitive(_)) {
            self.report(IssueCode::Structure, None, || {
                format!("'_{name}' is only allowed for primitive elements")
            });
            return;
        }
        let element_group = model().element_type().elements();
        if !child.element.is_repeating() {
            match value {
                Value::Object(o) => self.object(o, element_group, false),
                _ => self.report(IssueCode::Structure, None, || {
                    "expected an object with id and/or extension".into()
                }),
            }
            return;
        }
        let Value::Array(items) = value else {
            self.report(IssueCode::Structure, None, || {
                format!("{} repeats: expected an array", child.element.path)
            });
            return;
        };
        self.array_bounds(items.len(), child);
        let primary = match obj.get(name) {
            Some(Value::Array(p)) => Some(p),
            _ => None,
        };
        if let Some(p) = primary
            && p.len() != items.len()
        {
            self.report(IssueCode::Structure, None, || {
                format!("'_{name}' and '{name}' must have the same length")
            });
        }
        for (i, item) in items.iter().enumerate() {
            self.location.push(Segment::Index(i));
            match item {
                Value::Null => {
                    if primary.and_then(|p| p.get(i)).is_none_or(Value::is_null) {
                        self.report(IssueCode::Structure, None, || {
                            format!("'{name}' and '_{name}' are both null at index {i}")
                        });
                    }
                }
                Value::Object(o) => self.object(o, element_group, false),
                _ => self.report(IssueCode::Structure, None, || {
                    "expected an object or null".into()
                }),
            }
            self.location.pop();
        }
    }

    /// One (non-null) value of an element, by its type.
    fn value(&mut self, value: &'v Value, child: Child) {
        match child.ty.target {
            TypeTarget::Primitive(primitive) => {
                if matches!(value, Value::Object(_) | Value::Array(_)) {
                    self.report(IssueCode::Structure, None, || {
                        format!("expected a {} value", primitive.code())
                    });
                } else if let Err(why) = check_primitive(primitive, value) {
                    self.report(IssueCode::Value, None, || {
                        format!("invalid {} {value}: {why}", primitive.code())
                    });
                } else if let (Some(codes), Value::String(code)) =
                    (child.element.required_codes(), value)
                    && !codes.contains(code)
                {
                    self.report(IssueCode::CodeInvalid, None, || {
                        format!("'{code}' is not in the required value set {}", codes.url)
                    });
                }
            }
            TypeTarget::Complex(ty) => match value {
                Value::Object(o) => self.object(o, model().type_def(ty).elements(), false),
                _ => self.report(IssueCode::Structure, None, || {
                    format!("expected a JSON object ({})", model().type_def(ty).name)
                }),
            },
            TypeTarget::Backbone(group) => match value {
                Value::Object(o) => self.object(o, model().group(group), false),
                _ => self.report(IssueCode::Structure, None, || {
                    "expected a JSON object".into()
                }),
            },
            TypeTarget::AnyResource => match value {
                Value::Object(o) => self.nested_resource(o, child.element.name == "contained"),
                _ => self.report(IssueCode::Structure, None, || {
                    "expected a resource (a JSON object)".into()
                }),
            },
        }
    }

    /// `contained`, `Bundle.entry.resource`, `Parameters.parameter.resource`...
    fn nested_resource(&mut self, obj: &'v Map<String, Value>, contained: bool) {
        let Some(rt) = self.resource_type(obj) else {
            return;
        };
        if contained {
            for (element, message) in invariants::contained_violations(obj) {
                self.report(IssueCode::Invariant, Some(element), || message.into());
            }
        }
        self.object(obj, resource_definition(rt).elements(), true);
        self.contained_referenced(obj);
    }

    /// dom-3 for the `contained` entries of a resource.
    fn contained_referenced(&mut self, resource: &'v Map<String, Value>) {
        if !resource.contains_key("contained") {
            return;
        }
        for i in invariants::unreferenced_contained(resource) {
            self.location.push(Segment::Name("contained"));
            self.location.push(Segment::Index(i));
            self.report(IssueCode::Invariant, None, || {
                "a contained resource SHALL be referred to from elsewhere in the resource or refer to it (dom-3)".into()
            });
            self.location.pop();
            self.location.pop();
        }
    }
}
