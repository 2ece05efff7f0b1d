#!/usr/bin/env python3
"""Regenerate Hearth's compact FHIR R4 model extract from the official definitions.

Usage (from the repository root):

    npm pack hl7.fhir.r4.examples@4.0.1 hl7.fhir.r4.expansions@4.0.1
    mkdir -p /tmp/r4 /tmp/r4exp
    tar -xzf hl7.fhir.r4.examples-4.0.1.tgz -C /tmp/r4
    tar -xzf hl7.fhir.r4.expansions-4.0.1.tgz -C /tmp/r4exp
    python3 fhir/codegen/extract.py /tmp/r4/package /tmp/r4exp/package

Writes (paths relative to this script's crate):

* ``src/generated/model.json``: every concrete resource type and every datatype (complex and
  primitive, plus the abstract bases) with its snapshot elements, and the codes of every value set
  that a ``code`` element binds with strength *required*;
* ``src/generated/resource_types.rs``: the sorted list of the 146 concrete resource types.

Shape of ``model.json`` (compact, keys short on purpose)::

    {"fhirVersion": "4.0.1",
     "types": [{"name": "Patient", "kind": "resource" | "complex-type" | "primitive-type",
                "abstract": false, "base": "DomainResource", "regex": "... (primitives only)",
                "elements": [{"p": "contact.name",   # path below the type, "[x]" kept
                              "t": ["HumanName"],    # type codes; absent for contentReference
                              "n": 1,                # min, absent when 0
                              "x": "*",              # max, absent when "1"
                              "r": "item",           # contentReference, below the type
                              "b": "http://...",     # required binding on a code element
                              "s": 1}]}],            # isSummary, absent when false
     "valueSets": {"http://hl7.org/fhir/ValueSet/administrative-gender": ["male", ...]},
     "skippedValueSets": {"url": "reason"}}

Type codes: FHIRPath system types (``http://hl7.org/fhirpath/System.String``) used for ``id``,
``Extension.url`` and primitive ``value`` elements are replaced by the FHIR type named in their
``structuredefinition-fhir-type`` extension (``string``, ``uri``...). The R4 snapshots give
``Resource.id`` that system type with fhir-type ``string``; the JSON format and the resource
definition page say it is an ``id``, so the root ``id`` of every resource is given type ``id``.

Summary flags: ``s`` is the snapshot's ``isSummary`` on every element of every type. What
``_summary=true`` keeps is decided by the top-level elements of a resource; a kept element is
returned whole, so the flags below the top level (and on datatypes) are informational.

Value sets: taken from the expansions package (``expansion.contains``, recursively). A value set
not expanded there falls back to its ``compose`` when every include is a whole code system or an
explicit concept list without filters and no excludes (code systems from the examples package);
otherwise it is recorded under ``skippedValueSets`` and the binding is not checked.

Python 3.11, standard library only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
SYSTEM_PREFIX = "http://hl7.org/fhirpath/System."
CRATE = Path(__file__).resolve().parent.parent


def load_bundle(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [e["resource"] for e in json.load(f).get("entry", []) if "resource" in e]


def type_code(t: dict) -> str:
    code = t["code"]
    if code.startswith(SYSTEM_PREFIX):
        for ext in t.get("extension", []):
            if ext.get("url") == FHIR_TYPE_EXT:
                return ext.get("valueUrl") or ext.get("valueUri") or code
    return code


def canonical_url(url: str) -> str:
    return url.split("|", 1)[0]


def expansion_codes(contains: list[dict], out: list[str]) -> None:
    for c in contains:
        if "code" in c and not c.get("abstract", False):
            out.append(c["code"])
        expansion_codes(c.get("contains", []), out)


def concept_codes(concepts: list[dict], out: list[str]) -> None:
    for c in concepts:
        out.append(c["code"])
        concept_codes(c.get("concept", []), out)


def compose_codes(vs: dict, code_systems: dict[str, dict]) -> list[str] | str:
    """Codes of a simple compose, or the reason it is not simple."""
    compose = vs.get("compose")
    if not compose:
        return "no compose"
    if compose.get("exclude"):
        return "compose has excludes"
    out: list[str] = []
    for inc in compose.get("include", []):
        if inc.get("filter") or inc.get("valueSet"):
            return "compose uses filters or other value sets"
        if inc.get("concept"):
            out.extend(c["code"] for c in inc["concept"])
            continue
        cs = code_systems.get(inc.get("system", ""))
        if cs is None or cs.get("content") not in (None, "complete"):
            return f"code system {inc.get('system')} not enumerable here"
        concept_codes(cs.get("concept", []), out)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    package, expansions = Path(argv[1]), Path(argv[2])

    sds = {}
    for name in ("Bundle-types.json", "Bundle-resources.json"):
        for r in load_bundle(package / name):
            if (
                r["resourceType"] == "StructureDefinition"
                and r.get("derivation") != "constraint"
                and r.get("kind") != "logical"
            ):
                sds[r["id"]] = r

    code_systems: dict[str, dict] = {}
    value_sets: dict[str, dict] = {}
    for name in ("Bundle-valuesets.json", "Bundle-v3-valuesets.json", "Bundle-v2-valuesets.json"):
        if not (package / name).exists():
            continue
        for r in load_bundle(package / name):
            if r["resourceType"] == "CodeSystem":
                code_systems[r["url"]] = r
            elif r["resourceType"] == "ValueSet":
                value_sets[r["url"]] = r
    expanded: dict[str, dict] = {}
    for path in sorted(expansions.glob("ValueSet-*.json")):
        with path.open(encoding="utf-8") as f:
            r = json.load(f)
        if r.get("resourceType") == "ValueSet" and "expansion" in r:
            expanded[r["url"]] = r

    kinds_order = {"primitive-type": 0, "complex-type": 1, "resource": 2}
    types = []
    bound: set[str] = set()
    for sd in sorted(sds.values(), key=lambda s: (kinds_order[s["kind"]], s["id"])):
        name = sd["type"]
        elements = []
        regex = None
        for e in sd["snapshot"]["element"][1:]:
            path = e["path"]
            assert path.startswith(name + "."), path
            rel = path[len(name) + 1 :]
            row: dict = {"p": rel}
            codes = [type_code(t) for t in e.get("type", [])]
            if sd["kind"] == "resource" and rel == "id":
                codes = ["id"]
            if codes:
                row["t"] = codes
            if e.get("min", 0):
                row["n"] = e["min"]
            if e.get("max", "1") != "1":
                row["x"] = e["max"]
            if "contentReference" in e:
                ref = e["contentReference"]
                assert ref.startswith("#" + name + "."), ref
                row["r"] = ref[len(name) + 2 :]
            b = e.get("binding")
            if b and b.get("strength") == "required" and codes == ["code"] and b.get("valueSet"):
                row["b"] = canonical_url(b["valueSet"])
                bound.add(row["b"])
            if e.get("isSummary"):
                row["s"] = 1
            if sd["kind"] == "primitive-type" and rel == "value":
                for t in e.get("type", []):
                    for ext in t.get("extension", []):
                        if ext.get("url") == REGEX_EXT:
                            regex = ext.get("valueString")
            elements.append(row)
        entry = {"name": name, "kind": sd["kind"], "abstract": bool(sd.get("abstract"))}
        if sd.get("baseDefinition"):
            entry["base"] = sd["baseDefinition"].rsplit("/", 1)[-1]
        if regex:
            entry["regex"] = regex
        entry["elements"] = elements
        types.append(entry)

    vs_codes: dict[str, list[str]] = {}
    skipped: dict[str, str] = {}
    for url in sorted(bound):
        if url in expanded:
            codes: list[str] = []
            expansion_codes(expanded[url]["expansion"].get("contains", []), codes)
            if codes:
                vs_codes[url] = sorted(set(codes))
                continue
        vs = value_sets.get(url)
        result = compose_codes(vs, code_systems) if vs else "value set not in the package"
        if isinstance(result, str):
            skipped[url] = result
        elif result:
            vs_codes[url] = sorted(set(result))
        else:
            skipped[url] = "no codes"

    model = {
        "fhirVersion": "4.0.1",
        "types": types,
        "valueSets": vs_codes,
        "skippedValueSets": skipped,
    }
    out = CRATE / "src" / "generated" / "model.json"
    out.write_text(json.dumps(model, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")

    resource_types = sorted(t["name"] for t in types if t["kind"] == "resource" and not t["abstract"])
    lines = [
        f"//! The {len(resource_types)} concrete resource types of FHIR R4 4.0.1, sorted. "
        "Generated by `fhir/codegen/extract.py`; do not edit.",
        "",
        f"pub const RESOURCE_TYPES: [&str; {len(resource_types)}] = [",
        *[f'    "{n}",' for n in resource_types],
        "];",
        "",
    ]
    (CRATE / "src" / "generated" / "resource_types.rs").write_text("\n".join(lines), encoding="utf-8")

    print(
        f"{len(types)} types, {sum(len(t['elements']) for t in types)} elements, "
        f"{len(vs_codes)} value sets, {len(skipped)} skipped, {out.stat().st_size} bytes",
        file=sys.stderr,
    )
    for url, why in skipped.items():
        print(f"  skipped {url}: {why}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
