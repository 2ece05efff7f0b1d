#!/usr/bin/env python3
"""Regenerate ``fhir/tests/golden/summary-elements.txt``: for every concrete R4 resource type, the
sorted names of its top-level elements marked ``isSummary`` in the official 4.0.1 definitions.

Usage (from the repository root, with the unpacked examples package as in README.md)::

    python3 fhir/codegen/summary_golden.py /tmp/r4/package

An oracle independent of ``extract.py`` and of the Rust model: it reads each resource's own
``StructureDefinition-{Type}.json`` file (not the ``Bundle-*.json`` definitions ``extract.py``
uses) and its snapshot directly. ``fhir/tests/summary_golden.rs`` checks that
``hearth_fhir::model::is_summary`` agrees for every top-level element of every resource type.

Output: one line per resource type, sorted by type: ``Type name name ...``, element names as
defined (choice elements keep ``[x]``: ``value[x]``).

Python 3.11, standard library only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CRATE = Path(__file__).resolve().parent.parent


def summary_elements(sd: dict) -> list[str]:
    root = sd["type"]
    names = []
    for e in sd["snapshot"]["element"]:
        head, _, rest = e["path"].partition(".")
        if head == root and rest and "." not in rest and e.get("isSummary") is True:
            names.append(rest)
    return sorted(names)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    package = Path(argv[1])
    lines = []
    for path in sorted(package.glob("StructureDefinition-*.json")):
        sd = json.loads(path.read_text(encoding="utf-8"))
        if (
            sd.get("kind") != "resource"
            or sd.get("abstract")
            or sd.get("derivation") != "specialization"
            or path.name != f"StructureDefinition-{sd['type']}.json"
        ):
            continue
        lines.append((sd["type"], " ".join([sd["type"], *summary_elements(sd)])))
    lines.sort()
    out = CRATE / "tests" / "golden" / "summary-elements.txt"
    out.write_text("".join(line + "\n" for _, line in lines), encoding="utf-8")
    print(f"{len(lines)} resource types -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
