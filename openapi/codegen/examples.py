"""Regenerates ``openapi/src/generated/examples.json``: one example per resource type for the
OpenAPI document, taken from the official R4 4.0.1 examples package (CC0).

For each type, the smallest example resource (by compact JSON size, narrative ``text``
removed, at most ``MAX_BYTES``) that is not in ``SKIP`` (examples the R4 validator rejects; the test
``openapi::tests::examples_are_valid`` checks every chosen one). Types without an example in
the package get none.

Usage: ``python3 openapi/codegen/examples.py PACKAGE_DIR`` (the unpacked examples package).
Standard library only.
"""

import json
import sys
from pathlib import Path

CRATE = Path(__file__).resolve().parent.parent
# Definitions are not examples of their resource type's instances.
DEFINITION_FILES = ("Bundle-", "StructureDefinition-", "SearchParameter-", "OperationDefinition-",
                    "CodeSystem-", "ValueSet-", "ConceptMap-", "CompartmentDefinition-",
                    "NamingSystem-", "CapabilityStatement-", "ImplementationGuide-",
                    "StructureMap-", "package", ".index")
SKIP = set()
# Larger examples would bloat the document (the package's ImplementationGuide is megabytes).
MAX_BYTES = 8000


def main() -> None:
    package = Path(sys.argv[1])
    best = {}
    for path in sorted(package.glob("*.json")):
        if path.name.startswith(DEFINITION_FILES):
            continue
        try:
            resource = json.loads(path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        rt = resource.get("resourceType") if isinstance(resource, dict) else None
        if not rt or f"{rt}/{resource.get('id')}" in SKIP:
            continue
        resource.pop("text", None)
        size = len(json.dumps(resource, separators=(",", ":"), ensure_ascii=False))
        if size <= MAX_BYTES and (rt not in best or size < best[rt][0]):
            best[rt] = (size, resource)
    out = CRATE / "src" / "generated" / "examples.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    examples = {rt: best[rt][1] for rt in sorted(best)}
    out.write_text(json.dumps(examples, separators=(",", ":"), ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {out.relative_to(CRATE.parent)}: {len(examples)} types, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
