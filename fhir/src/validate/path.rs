//! The element location being validated, kept as borrowed segments and rendered as a FHIRPath-like
//! expression (`Patient.name[0].given[1]`) only when an issue is reported.

use std::fmt::Write;

/// One step of a location.
#[derive(Debug, Clone, Copy)]
pub(super) enum Segment<'v> {
    Name(&'v str),
    Index(usize),
}

/// A stack of segments; the first is the resource type.
#[derive(Debug, Default)]
pub(super) struct Location<'v> {
    segments: Vec<Segment<'v>>,
}

impl<'v> Location<'v> {
    pub(super) fn push(&mut self, segment: Segment<'v>) {
        self.segments.push(segment);
    }

    pub(super) fn pop(&mut self) {
        self.segments.pop();
    }

    pub(super) fn depth(&self) -> usize {
        self.segments.len()
    }

    /// The expression, with `extra` appended as a final name.
    pub(super) fn render(&self, extra: Option<&str>) -> String {
        let mut out = String::with_capacity(64);
        let names = self.segments.iter().filter_map(|s| match s {
            Segment::Name(n) => Some(*n),
            Segment::Index(_) => None,
        });
        for segment in &self.segments {
            match segment {
                Segment::Name(n) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(n);
                }
                Segment::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        if let Some(extra) = extra {
            if names.count() > 0 {
                out.push('.');
            }
            out.push_str(extra);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_fhirpath_like() {
        let mut l = Location::default();
        assert_eq!(l.render(Some("resourceType")), "resourceType");
        l.push(Segment::Name("Patient"));
        l.push(Segment::Name("name"));
        l.push(Segment::Index(0));
        l.push(Segment::Name("given"));
        l.push(Segment::Index(1));
        assert_eq!(l.render(None), "Patient.name[0].given[1]");
        l.pop();
        assert_eq!(l.render(Some("x")), "Patient.name[0].given.x");
    }
}
