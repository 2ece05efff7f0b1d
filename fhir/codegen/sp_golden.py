#!/usr/bin/env python3
"""Regenerates fhir/tests/golden/search-values.jsonl.gz: what fhirpath.js (the HL7 reference
FHIRPath engine) extracts for every R4 SearchParameter from every example resource of the R4
package, normalized so that `fhir/tests/search_golden.rs` can compare the Rust extractor's
typed values with it.

Usage: python3 fhir/codegen/sp_golden.py PACKAGE_DIR
Needs node and npm; installs fhirpath@5.2.2 into $HEARTH_SP_NODE_DIR (default
~/.cache/hearth-sp-node) once and runs fhir/codegen/sp-eval.js from there. Standard library only.

Examples: every `*.json` of the package with a `resourceType`, except package.json and the
definition Bundles that only repeat other files (Bundle-resources.json, ...).

Normalization (the Rust test applies the same rules to its typed values), one string per value:
  string     the string; a HumanName or Address gives each of its name/address parts
             (family, given, prefix, suffix, text, line, city, district, state, postalCode, country)
  token      "system|code" ("" for a missing side): Coding system|code, each coding of a
             CodeableConcept, Identifier system|value, ContactPoint system|value; a primitive
             (code, boolean, string, uri, id) gives "|value"; values with neither side are dropped
  date       the string as written; a Period "start..end"; a Timing each event and its
             repeat.boundsPeriod as a Period
  number     the decimal without trailing zeros ("1.50" -> "1.5", "100" -> "100")
  quantity   "value|system|code"; Money "value|urn:iso:std:iso:4217|currency";
             Range "low..high|system|code" (system and code of low, else high);
             SampledData (`Observation.value as SampledData`) is dropped
  reference  the reference string of a Reference, else "identifier:system|value"; a canonical or
             uri string as written; an inline resource "Type/id"; display-only values are dropped
  uri        the string
  composite  per combination of component values, the normalized components joined with "$"
  special    Location.position "latitude,longitude"
Numbers are compared as IEEE doubles (fhirpath.js has no decimals): "66.899999999999991"
normalizes to "66.89999999999999". Each parameter's values are a sorted set. When fhirpath.js
fails on a parameter (`as` on a collection of several items; `%resource` in a composite
component), sp-eval.js retries it with `as` read as `ofType` and `%resource` set; such
parameters are listed under "rewritten", and the ones that still fail under "errors" (not
compared).
"""

import gzip
import json
import os
import subprocess
import sys
import tempfile
from decimal import Decimal

DEFINITION_BUNDLES = {
    "resources", "dataelements", "valueset-expansions", "valuesets", "v3-valuesets",
    "v2-valuesets", "profiles-others", "extensions", "types", "searchParams", "terminologies",
    "conceptmaps",
}
NAME_PARTS = ["family", "given", "prefix", "suffix", "text", "line", "city", "district", "state",
              "postalCode", "country"]


def number(x):
    if isinstance(x, bool):
        return None
    d = Decimal(repr(float(x)))
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def opt(x):
    return "" if x is None else str(x)


def period(p):
    return f"{opt(p.get('start'))}..{opt(p.get('end'))}"


def norm(kind, v):
    """Normalized strings of one value of a parameter of type `kind`."""
    if v is None:
        return []
    if kind == "string":
        if isinstance(v, str):
            return [v]
        if isinstance(v, dict):
            out = []
            for part in NAME_PARTS:
                x = v.get(part)
                out += [s for s in (x if isinstance(x, list) else [x]) if isinstance(s, str)]
            return out
        return []
    if kind == "token":
        if isinstance(v, bool):
            return ["|" + ("true" if v else "false")]
        if isinstance(v, (str, int, float)):
            return ["|" + str(v)]
        if "coding" in v or ("text" in v and "value" not in v and "code" not in v):
            return [x for c in v.get("coding", []) for x in norm("token", c)]
        if "value" in v or "use" in v or "type" in v or "assigner" in v or "rank" in v:
            sys_, val = v.get("system"), v.get("value")
        else:
            sys_, val = v.get("system"), v.get("code")
        if sys_ is None and val is None:
            return []
        return [f"{opt(sys_)}|{opt(val)}"]
    if kind == "date":
        if isinstance(v, str):
            return [v]
        if "start" in v or "end" in v:
            return [period(v)]
        if "repeat" in v or "event" in v:
            out = list(v.get("event", []))
            bounds = v.get("repeat", {}).get("boundsPeriod")
            if bounds:
                out.append(period(bounds))
            return out
        return []
    if kind == "number":
        n = number(v)
        return [n] if n is not None else []
    if kind == "quantity":
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return [f"{number(v)}||"]
        if not isinstance(v, dict) or "origin" in v:  # SampledData is not indexed
            return []
        if "low" in v or "high" in v:
            lo, hi = v.get("low", {}), v.get("high", {})
            unit = lo if ("system" in lo or "code" in lo) else hi
            lv = number(lo["value"]) if "value" in lo else ""
            hv = number(hi["value"]) if "value" in hi else ""
            return [f"{lv}..{hv}|{opt(unit.get('system'))}|{opt(unit.get('code'))}"]
        if "currency" in v:
            return [f"{number(v['value']) if 'value' in v else ''}|urn:iso:std:iso:4217|{v['currency']}"]
        val = number(v["value"]) if "value" in v else ""
        return [f"{val}|{opt(v.get('system'))}|{opt(v.get('code'))}"]
    if kind == "reference":
        if isinstance(v, str):
            return [v]
        if "resourceType" in v:
            return [f"{v['resourceType']}/{opt(v.get('id'))}"]
        if "reference" in v:
            return [v["reference"]]
        ident = v.get("identifier")
        if isinstance(ident, dict):
            return [f"identifier:{opt(ident.get('system'))}|{opt(ident.get('value'))}"]
        return []
    if kind == "uri":
        return [v] if isinstance(v, str) else []
    if kind == "special":
        if isinstance(v, dict) and "latitude" in v:
            return [f"{number(v['latitude'])},{number(v['longitude'])}"]
        return []
    raise ValueError(f"unknown parameter type {kind}")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: sp_golden.py PACKAGE_DIR")
    package = os.path.abspath(sys.argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    node_dir = os.environ.get("HEARTH_SP_NODE_DIR", os.path.expanduser("~/.cache/hearth-sp-node"))
    os.makedirs(node_dir, exist_ok=True)
    if not os.path.isdir(os.path.join(node_dir, "node_modules", "fhirpath")):
        subprocess.run(["npm", "install", "--no-save", "fhirpath@5.2.2"], cwd=node_dir, check=True)

    sp_file = os.path.join(package, "Bundle-searchParams.json")
    with open(sp_file, encoding="utf-8") as f:
        params = [e["resource"] for e in json.load(f)["entry"]]
    type_by_url = {p["url"]: p["type"] for p in params}
    code_by_url = {p["url"]: p["code"] for p in params}
    composite_types = {}  # composite code -> component code -> type
    for p in params:
        if p["type"] == "composite":
            composite_types.setdefault(p["code"], {}).update({
                code_by_url.get(c["definition"], c["definition"]): type_by_url.get(c["definition"])
                for c in p["component"]})

    files = []
    for name in sorted(os.listdir(package)):
        if not name.endswith(".json") or name == "package.json":
            continue
        if name.startswith("Bundle-") and name[len("Bundle-"):-len(".json")] in DEFINITION_BUNDLES:
            continue
        files.append(os.path.join(package, name))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(files) + "\n")
    env = dict(os.environ, NODE_PATH=os.path.join(node_dir, "node_modules"))
    raw = subprocess.run(["node", os.path.join(here, "sp-eval.js"), sp_file, "--batch", listing.name],
                         cwd=node_dir, env=env, check=True, capture_output=True, text=True).stdout
    os.unlink(listing.name)

    lines, counted = [], 0
    for line in raw.splitlines():
        d = json.loads(line)
        values, errors, rewritten = {}, [], []
        for code, r in sorted(d["result"].items()):
            if r.get("rewritten"):
                rewritten.append(code)
            if isinstance(r["values"], str):
                errors.append(code)
                continue
            if r["type"] == "composite":
                out = set()
                for tup in r["values"]:
                    combos = [""]
                    for comp in tup:
                        (ccode, cvals), = comp.items()
                        ctype = composite_types[code].get(ccode)
                        parts = sorted({s for v in cvals for s in norm(ctype, v)})
                        combos = [f"{a}${b}" if a else b for a in combos for b in parts]
                    out.update(combos)
            else:
                out = {s for v in r["values"] for s in norm(r["type"], v)}
            if out:
                values[code] = sorted(out)
                counted += 1
        entry = {"file": d["file"], "values": values}
        if errors:
            entry["errors"] = errors
        if rewritten:
            entry["rewritten"] = rewritten
        lines.append(json.dumps(entry, ensure_ascii=False, separators=(",", ":")))

    target = os.path.join(here, "..", "tests", "golden", "search-values.jsonl.gz")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as out_file:
        with gzip.GzipFile(fileobj=out_file, mode="wb", mtime=0, filename="") as gz:
            gz.write(("\n".join(lines) + "\n").encode("utf-8"))
    print(f"wrote {len(lines)} examples, {counted} parameter value sets to {os.path.normpath(target)}")


if __name__ == "__main__":
    main()
