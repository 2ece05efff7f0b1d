//! The typed search AST: what a search request asks, parsed from its query pairs with the
//! registry, independent of any backend. Stores compile it (SQL for the embedded engine); the
//! API renders what it applied.
//!
//! Shape: a [`SearchQuery`] is a list of [`Filter`]s, ANDed (one per parameter occurrence);
//! each filter's [`Test`] is values ORed, a `:missing` test, a chain into the referenced type,
//! or a reverse chain (`_has`). Result parameters (`_sort`, `_count`, `_include`...) are fields.

mod parse;
#[cfg(test)]
mod tests;
mod value;

pub use parse::{ParseOptions, parse_search};
pub use value::{DEFAULT_NEAR_KM, implied_range};

use crate::ResourceType;
use crate::outcome::Issue;
use crate::search::registry::ParamType;

pub use super::criteria::DatePrefix as Prefix;

/// A parsed search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// The types searched: one for a type search; for a system search the `_type` list, empty
    /// meaning every type.
    pub types: Vec<ResourceType>,
    /// ANDed.
    pub filters: Vec<Filter>,
    pub sort: Vec<SortKey>,
    /// Page size (0: only the total).
    pub count: usize,
    pub total: Total,
    pub summary: Option<Summary>,
    /// `_elements`: top-level element names to keep.
    pub elements: Vec<String>,
    pub include: Vec<Include>,
    pub revinclude: Vec<Include>,
    /// Opaque position from a previous page's link.
    pub cursor: Option<String>,
    /// The parameters applied, as received (name with modifiers, value), in order: what the
    /// `self` link echoes.
    pub applied: Vec<(String, String)>,
    /// Parameters ignored (unknown or unsupported), as warnings.
    pub warnings: Vec<Issue>,
}

/// One parameter occurrence: `code` of the type searched and what it must satisfy.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The parameter code (`name`, `_id`, `subject`, `_has`).
    pub code: String,
    pub kind: ParamType,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `:missing=true|false`.
    Missing(bool),
    /// Any of the values matches (OR); with `not`, none does (`:not`).
    Any { not: bool, values: Vec<ValueTest> },
    /// A chain through this reference parameter: a referenced resource of one of these types
    /// satisfies the filter (one branch per possible target type).
    Chain(Vec<(ResourceType, Filter)>),
    /// `_has:source:reference:filter`: some `source` resource whose `reference` parameter
    /// points to this one satisfies `filter`.
    Has {
        source: ResourceType,
        reference: String,
        filter: Box<Filter>,
    },
}

/// How a string is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringMode {
    /// Case- and accent-insensitive starts-with (the default); the value is normalized.
    Prefix,
    /// `:contains`, case- and accent-insensitive; the value is normalized.
    Contains,
    /// `:exact`, as written.
    Exact,
}

/// How a uri is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriMode {
    Exact,
    /// `:above`: the indexed uri is a prefix of the value.
    Above,
    /// `:below`: the value is a prefix of the indexed uri.
    Below,
}

/// One value of a parameter, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueTest {
    String {
        mode: StringMode,
        value: String,
    },
    /// `code`, `system|code`, `|code`, `system|`. `system`: `None` any, `Some(None)` none.
    Token {
        system: Option<Option<String>>,
        code: Option<String>,
    },
    /// `:text`: normalized starts-with on display / text.
    TokenText(String),
    /// `:of-type=system|code|value`.
    OfType {
        system: Option<String>,
        code: String,
        value: String,
    },
    /// Milliseconds `[low, high)` the value's precision implies.
    Date {
        prefix: Prefix,
        low: i64,
        high: i64,
    },
    /// The value and the range `[low, high)` its precision implies (`100` → `[99.5, 100.5)`).
    Number {
        prefix: Prefix,
        value: f64,
        low: f64,
        high: f64,
    },
    Quantity {
        prefix: Prefix,
        value: f64,
        low: f64,
        high: f64,
        system: Option<String>,
        /// Matches the unit code, or the human unit.
        code: Option<String>,
    },
    /// A resource of this server: `Type/id`, `id` (any type), or an absolute URL under the base.
    Reference {
        target_type: Option<ResourceType>,
        id: String,
    },
    /// Any other URL (another server's resource, a canonical).
    ReferenceUrl(String),
    /// `:identifier=[system|]value` on a reference.
    ReferenceIdentifier {
        system: Option<Option<String>>,
        value: Option<String>,
    },
    Uri {
        mode: UriMode,
        value: String,
    },
    /// One test per component, all satisfied by the same composite value.
    Composite(Vec<ValueTest>),
    /// `near=latitude|longitude|distance|units`: a position within `distance_km` (great-circle
    /// distance on a sphere of [`EARTH_RADIUS_KM`]).
    Near {
        latitude: f64,
        longitude: f64,
        distance_km: f64,
    },
    /// A token modifier that needs terminology (`:in`, `:not-in`, `:above`, `:below`): stores
    /// cannot answer it until it is resolved into a [`ValueTest::TokenSet`] (see
    /// `search::terminology`); unresolved, it matches nothing.
    Terminology(TerminologyTest),
    /// Any of these codes, grouped by system: what a terminology test resolves to.
    TokenSet(Vec<(String, Vec<String>)>),
}

/// Mean Earth radius used by `near`, in km.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// What a terminology modifier asks, before resolution.
#[derive(Debug, Clone, PartialEq)]
pub enum TerminologyTest {
    /// `:in` / `:not-in` (the `not` of the filter): a value set by canonical URL (with an
    /// optional `|version`) or literal reference `ValueSet/id`.
    In(String),
    /// `:below` (`above: false`): the code or one of its descendants in the tenant's
    /// CodeSystem `system`; `:above`: the code or one of its ancestors.
    Subsumption {
        system: String,
        code: String,
        above: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub code: String,
    pub kind: ParamType,
    pub descending: bool,
}

/// `_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    None,
    Estimate,
    Accurate,
}

/// `_summary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    True,
    Text,
    Data,
    Count,
    False,
}

/// `_include` / `_revinclude`: `source:param[:target]`, `source:*`, with `:iterate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Include {
    pub source: ResourceType,
    /// `None` for `*` (every reference parameter of `source`).
    pub param: Option<String>,
    pub target: Option<ResourceType>,
    pub iterate: bool,
}

impl Summary {
    /// The value of a `_summary` parameter (`true`, `text`, `data`, `count`, `false`).
    pub fn parse(value: &str) -> Option<Summary> {
        Some(match value {
            "true" => Summary::True,
            "text" => Summary::Text,
            "data" => Summary::Data,
            "count" => Summary::Count,
            "false" => Summary::False,
            _ => return None,
        })
    }
}

impl SearchQuery {
    /// Whether resources are subsetted (`_summary` other than `false`, or `_elements`).
    pub fn is_subsetted(&self) -> bool {
        !self.elements.is_empty() || matches!(self.summary, Some(s) if s != Summary::False)
    }
}
