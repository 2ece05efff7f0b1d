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
