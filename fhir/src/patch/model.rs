//! What FHIRPath Patch needs to know about elements, as a port the resource model can fill.

/// Element facts a FHIRPath Patch cannot read from the JSON alone.
///
/// `element_path` is the dotted path of JSON keys from the resource type, without indexes, e.g.
/// `Patient.contact.telecom` or `Observation.component.value` (for choices, the base name). An
/// implementation resolves through datatypes itself (`Patient.name.given` is `HumanName.given`).
/// `None` means "unknown", and the patch falls back to the heuristics documented on
/// [`super::apply_fhirpath_patch`].
pub trait ElementModel {
    /// Whether the element repeats (max cardinality `*`).
    fn is_repeating(&self, element_path: &str) -> Option<bool>;
    /// Whether the element is a choice (`value[x]`), whose JSON name carries its type.
    fn is_choice(&self, element_path: &str) -> Option<bool>;
}

/// The model that knows nothing: every answer is `None`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoModel;

impl ElementModel for NoModel {
    fn is_repeating(&self, _element_path: &str) -> Option<bool> {
        None
    }

    fn is_choice(&self, _element_path: &str) -> Option<bool> {
        None
    }
}

/// The R4 element model: answers from the definitions the validator uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct R4Model;

impl R4Model {
    fn lookup(element_path: &str) -> Option<&'static crate::model::ElementDef> {
        let (type_code, path) = element_path.split_once('.')?;
        crate::model::element(type_code, path)
            .or_else(|| crate::model::element(type_code, &format!("{path}[x]")))
    }
}

impl ElementModel for R4Model {
    fn is_repeating(&self, element_path: &str) -> Option<bool> {
        R4Model::lookup(element_path).map(|e| e.is_repeating())
    }

    fn is_choice(&self, element_path: &str) -> Option<bool> {
        R4Model::lookup(element_path).map(|e| e.is_choice())
    }
}
