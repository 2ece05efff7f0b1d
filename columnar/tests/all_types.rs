//! Every one of the 146 resource types: a schema the Parquet writer accepts, of bounded size.

mod common;

use common::{leaves, read};
use hearth_columnar::{Compression, Options, ResourceWriter, schema};
use hearth_fhir::ResourceType;
use serde_json::json;

#[test]
fn every_resource_type_writes_and_reads_back() -> anyhow::Result<()> {
    // Uncompressed: the codec is not under test, and zstd sets up a context per column.
    let options = Options {
        compression: Compression::Uncompressed,
        ..Options::default()
    };
    let mut types = 0;
    for rt in ResourceType::all() {
        types += 1;
        let expected = schema(rt, &options)?;

        let empty = ResourceWriter::new(Vec::new(), rt, &options)?.finish()?;
        let (stored, rows) = read(empty.out)?;
        assert_eq!((empty.rows, rows.len()), (0, 0), "{rt}");
        assert_eq!(
            stored.fields(),
            expected.fields(),
            "{rt}: schema stored in the file"
        );

        let mut writer = ResourceWriter::new(Vec::new(), rt, &options)?;
        writer.write(
            &json!({"resourceType": rt.as_str(), "id": "one", "meta": {"versionId": "1"}}),
        )?;
        let (_, rows) = read(writer.finish()?.out)?;
        assert_eq!(rows.len(), 1, "{rt}");
        assert_eq!(rows[0]["id"], "one", "{rt}");
        assert_eq!(rows[0]["meta"], json!({"versionId": "1"}), "{rt}");
    }
    assert_eq!(types, 146);
    Ok(())
}

#[test]
fn writers_can_move_to_a_blocking_thread() {
    fn send<T: Send>() {}
    send::<ResourceWriter<std::fs::File>>();
    send::<hearth_columnar::BatchEncoder>();
    send::<hearth_columnar::Error>();
}

/// Recursion and extension depth keep every schema finite and of a width Parquet handles well.
#[test]
fn schema_width_is_bounded() -> anyhow::Result<()> {
    let widths = |options: &Options| -> anyhow::Result<Vec<(usize, ResourceType)>> {
        ResourceType::all()
            .map(|rt| Ok((leaves(schema(rt, options)?.fields()), rt)))
            .collect()
    };
    let defaults = widths(&Options::default())?;
    let widest = defaults.iter().max().copied();
    // Contract is the widest: `term.group` nests the whole `term` again.
    assert!(matches!(widest, Some((n, _)) if n < 3_000), "{widest:?}");
    let width_of = |all: &[(usize, ResourceType)], name: &str| {
        all.iter()
            .find(|(_, rt)| rt.as_str() == name)
            .map(|(n, _)| *n)
            .unwrap_or(0)
    };
    for (name, max) in [
        ("Patient", 600),
        ("Observation", 900),
        ("Questionnaire", 900),
        ("QuestionnaireResponse", 900),
        ("Basic", 450),
        // Open choice elements (`fixed[x]`...) have fields for the open types only.
        ("StructureDefinition", 1_500),
    ] {
        let n = width_of(&defaults, name);
        assert!(n > 10 && n <= max, "{name}: {n} leaf columns");
    }

    // Each recursion level adds a bounded amount; nothing grows without limit.
    let mut previous = 0;
    for depth in 0..4 {
        let options = Options {
            max_recursion: depth,
            ..Options::default()
        };
        let n = width_of(&widths(&options)?, "Questionnaire");
        assert!(
            n > previous && n < previous.max(400) + 200,
            "depth {depth}: {n}"
        );
        previous = n;
    }
    let mut previous = 0;
    for depth in 0..4 {
        let options = Options {
            extension_depth: depth,
            ..Options::default()
        };
        let n = width_of(&widths(&options)?, "Basic");
        assert!(
            n > previous && n < previous.max(100) + 200,
            "extension depth {depth}: {n}"
        );
        previous = n;
    }
    Ok(())
}
