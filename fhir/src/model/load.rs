//! Builds the [`Model`] tables from the embedded JSON extract.
//!
//! The extract is generated and committed with the crate, so a malformed extract is a build
//! defect, not bad input: loading panics with a message naming the culprit (the unit tests load it).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::hash::FastMap;
use super::{
    ElementDef, ElementId, ElementType, Group, GroupId, Max, Model, Primitive, TypeDef, TypeId,
    TypeKind, TypeTarget, ValueSet, ValueSetId,
};

#[derive(Deserialize)]
struct Extract {
    types: Vec<RawType>,
    #[serde(rename = "valueSets")]
    value_sets: BTreeMap<String, Vec<String>>,
    #[serde(rename = "skippedValueSets", default)]
    skipped_value_sets: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawType {
    name: String,
    kind: String,
    #[serde(rename = "abstract", default)]
    is_abstract: bool,
    base: Option<String>,
    regex: Option<String>,
    elements: Vec<RawElement>,
}

/// One snapshot element; keys as written by `extract.py`.
#[derive(Deserialize)]
struct RawElement {
    /// Path below the type root.
    p: String,
    /// Type codes.
    #[serde(default)]
    t: Vec<String>,
    /// Min.
    #[serde(default)]
    n: u32,
    /// Max, `"1"` when absent.
    x: Option<String>,
    /// Content reference, below the type root.
    r: Option<String>,
    /// Required value set (code elements).
    b: Option<String>,
    /// `isSummary`, `1` when set.
    #[serde(default)]
    s: u8,
}

pub(super) fn build(json: &str) -> Model {
    let extract: Extract = match serde_json::from_str(json) {
        Ok(e) => e,
        Err(e) => panic!("generated/model.json does not parse: {e}"),
    };
    let mut model = Model {
        types: Vec::with_capacity(extract.types.len()),
        type_index: FastMap::default(),
        groups: Vec::new(),
        elements: Vec::new(),
        value_sets: Vec::new(),
        value_set_index: HashMap::new(),
        skipped_value_sets: extract.skipped_value_sets.into_iter().collect(),
        element_type: TypeId(0),
        extension_type: TypeId(0),
    };
    for (url, mut codes) in extract.value_sets {
        codes.sort();
        let id = ValueSetId(model.value_sets.len() as u32);
        model.value_sets.push(ValueSet {
            url: url.clone(),
            codes: codes.into_iter().map(Into::into).collect(),
        });
        model.value_set_index.insert(url, id);
    }
    for (i, raw) in extract.types.iter().enumerate() {
        model
            .type_index
            .insert(raw.name.as_str().into(), TypeId(i as u32));
    }
    model.element_type = model.type_index["Element"];
    model.extension_type = model.type_index["Extension"];
    for raw in extract.types {
        add_type(&mut model, raw);
    }
    model
}

fn add_type(model: &mut Model, raw: RawType) {
    let kind = match raw.kind.as_str() {
        "primitive-type" => TypeKind::Primitive,
        "complex-type" => TypeKind::Complex,
        "resource" => TypeKind::Resource,
        other => panic!("type {} has unknown kind {other}", raw.name),
    };
    let root = new_group(model, raw.name.clone());
    let primitive = if kind == TypeKind::Primitive {
        Primitive::from_code(&raw.name)
    } else {
        None
    };
    model.types.push(TypeDef {
        name: raw.name.clone(),
        kind,
        is_abstract: raw.is_abstract,
        base: raw.base,
        primitive,
        regex: raw.regex,
        root,
    });

    // Pass 1: elements and the groups that hold them (parents precede children in a snapshot).
    let mut by_path: HashMap<String, ElementId> = HashMap::new();
    let mut pending = Vec::with_capacity(raw.elements.len());
    for e in raw.elements {
        let (group, name) = match e.p.rsplit_once('.') {
            None => (root, e.p.as_str()),
            Some((parent, name)) => {
                let Some(&parent_id) = by_path.get(parent) else {
                    panic!("{}.{}: parent element missing", raw.name, e.p);
                };
                (children_of(model, parent_id), name)
            }
        };
        let id = ElementId(model.elements.len() as u32);
        let slot = model.groups[group.0 as usize].elements.len();
        assert!(
            slot < 128,
            "{}.{}: more than 128 sibling elements",
            raw.name,
            e.p
        );
        let max = match e.x.as_deref() {
            None | Some("1") => Max::Limit(1),
            Some("*") => Max::Many,
            Some(n) => Max::Limit(
                n.parse()
                    .unwrap_or_else(|_| panic!("{}.{}: bad max {n}", raw.name, e.p)),
            ),
        };
        let binding =
            e.b.as_deref()
                .and_then(|url| model.value_set_index.get(url).copied());
        model.elements.push(ElementDef {
            path: format!("{}.{}", raw.name, e.p),
            name: name.to_owned(),
            min: e.n,
            max,
            content_reference: e.r.as_ref().map(|r| format!("#{}.{r}", raw.name)),
            types: Vec::new(),
            children: None,
            binding,
            summary: e.s != 0,
            slot: slot as u8,
        });
        let g = &mut model.groups[group.0 as usize];
        g.elements.push(id);
        if e.n > 0 {
            g.required.push(id);
        }
        by_path.insert(e.p.clone(), id);
        pending.push((id, group, e.t, e.r));
    }

    // Pass 2: content references, type targets and JSON names.
    for (id, group, codes, reference) in pending {
        let types = match reference {
            Some(r) => {
                let Some(&target) = by_path.get(&r) else {
                    panic!(
                        "{}: content reference to missing #{}.{r}",
                        model.elements[id.0 as usize].path, raw.name
                    );
                };
                let Some(children) = model.elements[target.0 as usize].children else {
                    panic!(
                        "{}: content reference to a leaf",
                        model.elements[id.0 as usize].path
                    );
                };
                model.elements[id.0 as usize].children = Some(children);
                vec![ElementType {
                    code: "BackboneElement".into(),
                    target: TypeTarget::Backbone(children),
                }]
            }
            None => {
                let children = model.elements[id.0 as usize].children;
                codes
                    .into_iter()
                    .map(|code| resolve(model, code, children))
                    .collect()
            }
        };
        let element = &mut model.elements[id.0 as usize];
        element.types = types;
        let names: Vec<(String, u8)> = match element.name.strip_suffix("[x]") {
            Some(prefix) => element
                .types
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("{prefix}{}", capitalise(&t.code)), i as u8))
                .collect(),
            None => vec![(element.name.clone(), 0)],
        };
        let path = element.path.clone();
        let g = &mut model.groups[group.0 as usize];
        for (name, ty) in names {
            if g.by_json_name.insert(name.into(), (id, ty)).is_some() {
                panic!("{path}: JSON name clash");
            }
        }
    }
}

fn new_group(model: &mut Model, path: String) -> GroupId {
    let id = GroupId(model.groups.len() as u32);
    model.groups.push(Group {
        path,
        elements: Vec::new(),
        by_json_name: FastMap::default(),
        required: Vec::new(),
    });
    id
}

fn children_of(model: &mut Model, parent: ElementId) -> GroupId {
    if let Some(g) = model.elements[parent.0 as usize].children {
        return g;
    }
    let path = model.elements[parent.0 as usize].path.clone();
    let g = new_group(model, path);
    model.elements[parent.0 as usize].children = Some(g);
    g
}

fn resolve(model: &Model, code: String, children: Option<GroupId>) -> ElementType {
    let target = if let Some(g) = children {
        TypeTarget::Backbone(g)
    } else if let Some(p) = Primitive::from_code(&code) {
        TypeTarget::Primitive(p)
    } else if code == "Resource" {
        TypeTarget::AnyResource
    } else if let Some(&t) = model.type_index.get(code.as_str()) {
        TypeTarget::Complex(t)
    } else {
        panic!("unknown type code {code}")
    };
    ElementType { code, target }
}

/// `dateTime` → `DateTime`, the suffix of a choice branch.
pub(crate) fn capitalise(code: &str) -> String {
    let mut chars = code.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
