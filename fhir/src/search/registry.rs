//! The search-parameter registry: every R4 SearchParameter (from `generated/search_params.json`,
//! see `fhir/codegen/search_params.py`), looked up by resource type and code, with each
//! expression parsed once.
//!
//! Data-driven: the extract uses the field names of the SearchParameter resource, so a tenant's
//! own SearchParameter resources load through the same [`SearchParamDef::from_resource`] and can
//! be laid over the official ones with [`Registry::with_overlay`].

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use serde_json::Value;

use crate::fhirpath::{Expression, FhirPathError};
use crate::model::{TypeKind, model, type_definition};

const EXTRACT: &str = include_str!("../generated/search_params.json");

static R4: LazyLock<Registry> = LazyLock::new(|| {
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(EXTRACT) else {
        unreachable!("generated/search_params.json is a JSON array")
    };
    let defs = items
        .iter()
        .map(|item| {
            SearchParamDef::from_resource(item)
                .unwrap_or_else(|e| unreachable!("generated search parameter: {e}"))
        })
        .collect();
    Registry::new(defs)
});

/// The type of a search parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamType {
    Number,
    Date,
    String,
    Token,
    Reference,
    Composite,
    Quantity,
    Uri,
    Special,
}

impl ParamType {
    pub fn parse(code: &str) -> Option<ParamType> {
        Some(match code {
            "number" => ParamType::Number,
            "date" => ParamType::Date,
            "string" => ParamType::String,
            "token" => ParamType::Token,
            "reference" => ParamType::Reference,
            "composite" => ParamType::Composite,
            "quantity" => ParamType::Quantity,
            "uri" => ParamType::Uri,
            "special" => ParamType::Special,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::Number => "number",
            ParamType::Date => "date",
            ParamType::String => "string",
            ParamType::Token => "token",
            ParamType::Reference => "reference",
            ParamType::Composite => "composite",
            ParamType::Quantity => "quantity",
            ParamType::Uri => "uri",
            ParamType::Special => "special",
        }
    }
}

/// One component of a composite parameter.
#[derive(Debug, Clone)]
pub struct Component {
    /// Canonical URL of the component's SearchParameter.
    pub definition: String,
    /// Relative to each item the composite's expression yields.
    pub expression: Expression,
}

/// Why a SearchParameter resource cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegistryError {
    #[error("search parameter {url}: missing or invalid '{field}'")]
    Invalid { url: String, field: &'static str },
    #[error("search parameter {url}: expression '{expression}': {source}")]
    Expression {
        url: String,
        expression: String,
        source: FhirPathError,
    },
}

/// A search parameter definition, with its expressions parsed.
#[derive(Debug, Clone)]
pub struct SearchParamDef {
    pub url: String,
    pub code: String,
    /// Resource types it applies to; `Resource` / `DomainResource` mean all (domain) resources.
    pub base: Vec<String>,
    pub kind: ParamType,
    /// `None` for parameters the server implements itself (`_text`, `_content`, `_query`).
    pub expression: Option<Expression>,
    /// `normal`, `phonetic`, `nearby`, `distance`, `other`.
    pub xpath_usage: Option<String>,
    /// Resource types a reference parameter may point to.
    pub target: Vec<String>,
    pub modifier: Vec<String>,
    pub comparator: Vec<String>,
    pub component: Vec<Component>,
    pub multiple_or: Option<bool>,
    pub multiple_and: Option<bool>,
    pub chain: Vec<String>,
}

fn strings(value: &Value, field: &str) -> Vec<String> {
    value
        .get(field)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl SearchParamDef {
    /// Reads a SearchParameter resource (or an entry of the generated extract, which uses the
    /// same field names) and parses its expressions.
    pub fn from_resource(value: &Value) -> Result<SearchParamDef, RegistryError> {
        let text = |field: &str| value.get(field).and_then(Value::as_str);
        let url = text("url").unwrap_or_default().to_owned();
        let invalid = |field: &'static str| RegistryError::Invalid {
            url: url.clone(),
            field,
        };
        let parse = |expression: &str| {
            Expression::parse(expression).map_err(|source| RegistryError::Expression {
                url: url.clone(),
                expression: expression.to_owned(),
                source,
            })
        };
        let code = text("code").ok_or_else(|| invalid("code"))?.to_owned();
        let kind = text("type")
            .and_then(ParamType::parse)
            .ok_or_else(|| invalid("type"))?;
        let base = strings(value, "base");
        if base.is_empty() {
            return Err(invalid("base"));
        }
        let expression = text("expression").map(parse).transpose()?;
        let mut component = Vec::new();
        for c in value
            .get("component")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let definition = c.get("definition").and_then(Value::as_str);
            let expr = c.get("expression").and_then(Value::as_str);
            let (Some(definition), Some(expr)) = (definition, expr) else {
                return Err(invalid("component"));
            };
            component.push(Component {
                definition: definition.to_owned(),
                expression: parse(expr)?,
            });
        }
        if kind == ParamType::Composite && component.is_empty() {
            return Err(invalid("component"));
        }
        Ok(SearchParamDef {
            code,
            base,
            kind,
            expression,
            xpath_usage: text("xpathUsage").map(str::to_owned),
            target: strings(value, "target"),
            modifier: strings(value, "modifier"),
            comparator: strings(value, "comparator"),
            component,
            multiple_or: value.get("multipleOr").and_then(Value::as_bool),
            multiple_and: value.get("multipleAnd").and_then(Value::as_bool),
            chain: strings(value, "chain"),
            url,
        })
    }

    /// Whether the parameter applies to resources of `resource_type`.
    pub fn applies_to(&self, resource_type: &str) -> bool {
        self.base.iter().any(|b| {
            b == resource_type
                || b == "Resource"
                || (b == "DomainResource" && is_domain_resource(resource_type))
        })
    }
}

fn is_domain_resource(resource_type: &str) -> bool {
    type_definition(resource_type).is_some_and(|t| {
        t.kind == TypeKind::Resource && t.base.as_deref() == Some("DomainResource")
    })
}

/// Search parameters by resource type and code.
#[derive(Debug, Clone)]
pub struct Registry {
    params: Vec<Arc<SearchParamDef>>,
    /// (resource type or `Resource` / `DomainResource`, code) → index into `params`.
    by_base: HashMap<(String, String), usize>,
    by_url: HashMap<String, usize>,
    /// Resource type → the parameters that apply to it (indices into `params`), precomputed
    /// because extraction asks on every write.
    by_type: HashMap<String, Vec<usize>>,
}

impl Registry {
    /// The 1,375 official R4 parameters, loaded once.
    pub fn r4() -> &'static Registry {
        &R4
    }

    pub fn new(defs: Vec<SearchParamDef>) -> Registry {
        let mut registry = Registry {
            params: Vec::new(),
            by_base: HashMap::new(),
            by_url: HashMap::new(),
            by_type: HashMap::new(),
        };
        for def in defs {
            registry.insert(Arc::new(def));
        }
        registry.index_types();
        registry
    }

    fn index_types(&mut self) {
        self.by_type.clear();
        for ty in model()
            .types()
            .iter()
            .filter(|t| t.kind == TypeKind::Resource)
        {
            let indices = (0..self.params.len())
                .filter(|&i| {
                    let p = &self.params[i];
                    p.applies_to(&ty.name)
                        && self
                            .get(&ty.name, &p.code)
                            .is_some_and(|q| std::ptr::eq(&*self.params[i], q))
                })
                .collect();
            self.by_type.insert(ty.name.clone(), indices);
        }
    }

    /// A registry with `custom` parameters laid over this one: a custom parameter replaces one
    /// with the same URL, or with the same code on the same base.
    pub fn with_overlay(&self, custom: Vec<SearchParamDef>) -> Registry {
        let mut registry = self.clone();
        for def in custom {
            registry.insert(Arc::new(def));
        }
        registry.index_types();
        registry
    }

    fn insert(&mut self, def: Arc<SearchParamDef>) {
        let index = match self.by_url.get(&def.url) {
            Some(&i) if !def.url.is_empty() => {
                let old = Arc::clone(&self.params[i]);
                for base in &old.base {
                    self.by_base.remove(&(base.clone(), old.code.clone()));
                }
                self.params[i] = Arc::clone(&def);
                i
            }
            _ => {
                self.params.push(Arc::clone(&def));
                self.params.len() - 1
            }
        };
        for base in &def.base {
            self.by_base.insert((base.clone(), def.code.clone()), index);
        }
        if !def.url.is_empty() {
            self.by_url.insert(def.url.clone(), index);
        }
    }

    /// The parameter `code` of `resource_type`, including those defined on `Resource` and
    /// `DomainResource` (`_id`, `_lastUpdated`, `_tag`, `_text`...).
    pub fn get(&self, resource_type: &str, code: &str) -> Option<&SearchParamDef> {
        let key = |base: &str| (base.to_owned(), code.to_owned());
        let found = self.by_base.get(&key(resource_type)).or_else(|| {
            if is_domain_resource(resource_type) {
                self.by_base.get(&key("DomainResource"))
            } else {
                None
            }
            .or_else(|| self.by_base.get(&key("Resource")))
        })?;
        Some(&self.params[*found])
    }

    pub fn by_url(&self, url: &str) -> Option<&SearchParamDef> {
        self.by_url.get(url).map(|&i| &*self.params[i])
    }

    /// Every parameter that applies to `resource_type`, in registry order.
    pub fn for_type<'r>(&'r self, resource_type: &str) -> impl Iterator<Item = &'r SearchParamDef> {
        self.by_type
            .get(resource_type)
            .into_iter()
            .flatten()
            .map(|&i| &*self.params[i])
    }

    /// All parameters.
    pub fn all(&self) -> impl Iterator<Item = &SearchParamDef> {
        self.params.iter().map(|p| &**p)
    }

    /// The code of a composite component's parameter (its `definition`).
    pub fn component_code<'r>(&'r self, component: &'r Component) -> &'r str {
        self.by_url(&component.definition)
            .map_or(component.definition.as_str(), |p| p.code.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `expected`: `type expression` of the parameter, or `none`.
    fn check(resource_type: &str, code: &str, expected: &str) {
        let actual = Registry::r4()
            .get(resource_type, code)
            .map_or("none".to_string(), |p| {
                format!(
                    "{} {}",
                    p.kind.as_str(),
                    p.expression.as_ref().map_or("-", |e| e.source())
                )
            });
        assert_eq!(actual, expected, "{resource_type}.{code}");
    }

    #[test]
    fn lookups() {
        check(
            "Patient",
            "birthdate",
            "date Patient.birthDate | Person.birthDate | RelatedPerson.birthDate",
        );
        check("Patient", "_id", "token Resource.id");
        check("Bundle", "_lastUpdated", "date Resource.meta.lastUpdated");
        check("Patient", "_text", "string -");
        check("Bundle", "_text", "none");
        check(
            "Observation",
            "value-quantity",
            "quantity (Observation.value as Quantity) | (Observation.value as SampledData)",
        );
        check("Location", "near", "special Location.position");
        check("Patient", "nope", "none");
    }

    #[test]
    fn all_official_parameters_load() {
        let r = Registry::r4();
        assert_eq!(r.all().count(), 1375);
        let composite = r.get("Observation", "code-value-quantity");
        let codes: Vec<_> = composite
            .map(|p| p.component.iter().map(|c| r.component_code(c)).collect())
            .unwrap_or_default();
        assert_eq!(codes, ["code", "value-quantity"]);
        assert!(r.for_type("Patient").any(|p| p.code == "_tag"));
        assert_eq!(
            r.for_type("Patient").filter(|p| p.code == "name").count(),
            1
        );
    }

    #[test]
    fn overlay_adds_and_replaces() {
        let custom =
            |json: Value| SearchParamDef::from_resource(&json).unwrap_or_else(|e| panic!("{e}"));
        let overlay = Registry::r4().with_overlay(vec![
            custom(serde_json::json!({"url": "http://x/sp/eye", "code": "eye-color", "base": ["Patient"], "type": "token", "expression": "Patient.extension('http://x/eye').value"})),
            custom(serde_json::json!({"url": "http://hl7.org/fhir/SearchParameter/individual-gender", "code": "gender", "base": ["Patient"], "type": "token", "expression": "Patient.gender"})),
        ]);
        assert!(overlay.get("Patient", "eye-color").is_some());
        assert!(Registry::r4().get("Patient", "eye-color").is_none());
        assert_eq!(
            overlay.get("Patient", "gender").map(|p| p.base.len()),
            Some(1)
        );
        assert!(overlay.get("Practitioner", "gender").is_none());
        let bad = SearchParamDef::from_resource(
            &serde_json::json!({"url": "u", "code": "c", "base": ["Patient"], "type": "token", "expression": "Patient.foo("}),
        );
        assert!(matches!(bad, Err(RegistryError::Expression { .. })));
    }
}
