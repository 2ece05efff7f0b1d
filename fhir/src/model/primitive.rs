//! The R4 primitive datatypes, as the validator distinguishes them.

/// A primitive datatype (the value of a `primitive-type` StructureDefinition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Primitive {
    Boolean,
    Integer,
    PositiveInt,
    UnsignedInt,
    Decimal,
    String,
    Uri,
    Url,
    Canonical,
    Code,
    Id,
    Oid,
    Uuid,
    Markdown,
    Base64Binary,
    Date,
    DateTime,
    Instant,
    Time,
    Xhtml,
}

impl Primitive {
    /// The primitive for a type code, also accepting the FHIRPath system types
    /// (`http://hl7.org/fhirpath/System.String`...) that R4 uses inside primitive definitions.
    pub fn from_code(code: &str) -> Option<Primitive> {
        Some(
            match code
                .strip_prefix("http://hl7.org/fhirpath/System.")
                .unwrap_or(code)
            {
                "boolean" | "Boolean" => Primitive::Boolean,
                "integer" | "Integer" => Primitive::Integer,
                "positiveInt" => Primitive::PositiveInt,
                "unsignedInt" => Primitive::UnsignedInt,
                "decimal" | "Decimal" => Primitive::Decimal,
                "string" | "String" => Primitive::String,
                "uri" => Primitive::Uri,
                "url" => Primitive::Url,
                "canonical" => Primitive::Canonical,
                "code" => Primitive::Code,
                "id" => Primitive::Id,
                "oid" => Primitive::Oid,
                "uuid" => Primitive::Uuid,
                "markdown" => Primitive::Markdown,
                "base64Binary" => Primitive::Base64Binary,
                "date" | "Date" => Primitive::Date,
                "dateTime" | "DateTime" => Primitive::DateTime,
                "instant" => Primitive::Instant,
                "time" | "Time" => Primitive::Time,
                "xhtml" => Primitive::Xhtml,
                _ => return None,
            },
        )
    }

    /// The R4 type code.
    pub fn code(&self) -> &'static str {
        match self {
            Primitive::Boolean => "boolean",
            Primitive::Integer => "integer",
            Primitive::PositiveInt => "positiveInt",
            Primitive::UnsignedInt => "unsignedInt",
            Primitive::Decimal => "decimal",
            Primitive::String => "string",
            Primitive::Uri => "uri",
            Primitive::Url => "url",
            Primitive::Canonical => "canonical",
            Primitive::Code => "code",
            Primitive::Id => "id",
            Primitive::Oid => "oid",
            Primitive::Uuid => "uuid",
            Primitive::Markdown => "markdown",
            Primitive::Base64Binary => "base64Binary",
            Primitive::Date => "date",
            Primitive::DateTime => "dateTime",
            Primitive::Instant => "instant",
            Primitive::Time => "time",
            Primitive::Xhtml => "xhtml",
        }
    }
}
