#!/usr/bin/env python3
"""Writes fhir/src/generated/search_params.json, a compact extract of the 1,375 R4 4.0.1
SearchParameters (Bundle-searchParams.json of the hl7.fhir.r4.examples package).

Usage: python3 fhir/codegen/search_params.py PACKAGE_DIR

One parameter per line, keys named as in the SearchParameter resource (so the registry parses
this extract and a tenant's own SearchParameter resources with the same code): url, code, base,
type, expression, xpathUsage, target, modifier, comparator, component (definition, expression),
multipleOr, multipleAnd, chain. Absent and empty fields are left out. Standard library only.
"""

import json
import os
import sys

KEYS = [
    "url", "code", "base", "type", "expression", "xpathUsage", "target", "modifier",
    "comparator", "component", "multipleOr", "multipleAnd", "chain",
]


def compact(sp):
    out = {}
    for key in KEYS:
        value = sp.get(key)
        if value is None or value == []:
            continue
        if key == "component":
            value = [{"definition": c["definition"], "expression": c["expression"]} for c in value]
        out[key] = value
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: search_params.py PACKAGE_DIR")
    with open(os.path.join(sys.argv[1], "Bundle-searchParams.json"), encoding="utf-8") as f:
        bundle = json.load(f)
    params = [compact(e["resource"]) for e in bundle["entry"]]
    params.sort(key=lambda p: p["url"])
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.path.join(here, "..", "src", "generated", "search_params.json")
    with open(target, "w", encoding="utf-8") as f:
        f.write("[\n")
        f.write(",\n".join(json.dumps(p, ensure_ascii=False, separators=(",", ":")) for p in params))
        f.write("\n]\n")
    print(f"wrote {len(params)} search parameters to {os.path.normpath(target)}")


if __name__ == "__main__":
    main()
