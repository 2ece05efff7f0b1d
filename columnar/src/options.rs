//! The knobs of the encoding: how deep recursive types and extensions go, how decimals are
//! stored, whether the resource JSON is kept, and how rows are batched and compressed.

/// How FHIR `decimal` values are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecimalAs {
    /// `Utf8`: the JSON number's text (`"1.50"` keeps its precision; exponents are spelled
    /// `e+` / `e-`). Lossless.
    Text,
    /// `Float64`: convenient for arithmetic, but `1.50` reads back as `1.5` and numbers beyond
    /// 15-17 significant digits are rounded.
    Float64,
}

/// The Parquet compression codec of every column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// zstd at the given level (1 is fast and already much smaller than snappy).
    Zstd(i32),
    Snappy,
    Uncompressed,
}

/// The types that open choice elements get a field for by default: every primitive type and
/// the complex types that extensions commonly carry (US Core and Synthea use `Coding`,
/// `Address`, `CodeableConcept`, `Reference`...).
pub const DEFAULT_OPEN_TYPES: &[&str] = &[
    "base64Binary",
    "boolean",
    "canonical",
    "code",
    "date",
    "dateTime",
    "decimal",
    "id",
    "instant",
    "integer",
    "markdown",
    "oid",
    "positiveInt",
    "string",
    "time",
    "unsignedInt",
    "uri",
    "url",
    "uuid",
    "Address",
    "CodeableConcept",
    "Coding",
    "HumanName",
    "Identifier",
    "Period",
    "Quantity",
    "Reference",
];

/// Options of [`crate::schema`], [`crate::BatchEncoder`] and [`crate::ResourceWriter`].
///
/// Schemas are cached per resource type and distinct schema-relevant options, so build the
/// options once and reuse them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Options {
    /// How many times a backbone element may nest inside itself through a content reference:
    /// `Questionnaire.item.item`, `QuestionnaireResponse.item.answer.item`,
    /// `CodeSystem.concept.concept`. `0` drops the nested element; deeper levels are dropped
    /// from the typed columns.
    pub max_recursion: usize,
    /// How many times a datatype may nest inside itself: `Identifier.assigner` is a
    /// `Reference`, whose `identifier` is an `Identifier` again. `0` (the default) stops at
    /// the first repeat: `identifier.assigner` keeps `reference`, `type` and `display` only.
    pub max_datatype_recursion: usize,
    /// Levels of `Extension` that get columns: `1` types `extension` and `modifierExtension`
    /// of the resource, `2` also their nested `extension.extension` (complex extensions such as
    /// US Core race), and so on. `0` drops all extensions from the typed columns. Extensions
    /// of datatypes and backbone elements (`address.extension`) never get columns: each
    /// datatype would carry a whole extension struct, multiplying the schema's width.
    pub extension_depth: usize,
    /// Whether the `id` of datatypes and backbone elements (`name.id`, `contact.id`) gets a
    /// column. Off by default: rarely set, and one more column per struct. The resource's own
    /// `id` always has one.
    pub element_ids: bool,
    /// The types that open choice elements get a field for. An open choice element allows
    /// every datatype (all 50 in R4): `Extension.value[x]`, `Parameters.parameter.value[x]`,
    /// `Task.input.value[x]`, `ElementDefinition.fixed[x]` and `pattern[x]`... One field per
    /// type would make these the widest part of every schema; values of other types are
    /// dropped from the typed columns.
    pub open_types: Vec<String>,
    /// How `decimal` values are stored.
    pub decimal: DecimalAs,
    /// Also store each resource's JSON text in a `resource_json` column: lossless whatever the
    /// typed columns drop.
    pub keep_json: bool,
    /// Rows encoded into one Arrow record batch before it goes to the Parquet writer.
    pub batch_rows: usize,
    /// A batch also goes to the writer once its text values reach this many bytes.
    pub batch_bytes: usize,
    /// Maximum rows per Parquet row group.
    pub row_group_rows: usize,
    /// Maximum (estimated, encoded) bytes per Parquet row group; bounds the writer's memory.
    pub row_group_bytes: usize,
    pub compression: Compression,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_recursion: 2,
            max_datatype_recursion: 0,
            extension_depth: 2,
            element_ids: false,
            open_types: DEFAULT_OPEN_TYPES.iter().map(|t| (*t).to_owned()).collect(),
            decimal: DecimalAs::Text,
            keep_json: true,
            batch_rows: 4096,
            batch_bytes: 32 << 20,
            row_group_rows: 100_000,
            row_group_bytes: 128 << 20,
            compression: Compression::Zstd(1),
        }
    }
}

/// The options that shape the schema; the cache key of [`crate::schema`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SchemaKey {
    pub max_recursion: usize,
    pub max_datatype_recursion: usize,
    pub extension_depth: usize,
    pub element_ids: bool,
    pub open_types: Vec<String>,
    pub decimal: DecimalAs,
    pub keep_json: bool,
}

impl Options {
    pub(crate) fn schema_key(&self) -> SchemaKey {
        SchemaKey {
            max_recursion: self.max_recursion,
            max_datatype_recursion: self.max_datatype_recursion,
            extension_depth: self.extension_depth,
            element_ids: self.element_ids,
            open_types: self.open_types.clone(),
            decimal: self.decimal,
            keep_json: self.keep_json,
        }
    }
}
