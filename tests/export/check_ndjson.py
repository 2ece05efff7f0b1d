"""Checks a directory of exported NDJSON files against what the server holds.

    check_ndjson.py EXPORT_DIR --expected DUMP_DIR [--level system|patient|group]
                    [--group ID] [--types T1,T2]

EXPORT_DIR: bulk files named `{Type}.{NNN}.ndjson[.gz]` (smart-fetch's layout, also
bulk_client.py's), with `error/` for OperationOutcomes. DUMP_DIR: dump_search.py's output, one
`{Type}.ndjson` per type with every current resource of the tenant.

Checks:
  - every line parses as a JSON object, validates as FHIR R4 (fhir.resources 6.4.0), and has the
    resourceType of its file's name and an id; no id comes twice;
  - the ids of each type are exactly the expected ones:
      system: every resource of the type;
      patient / group: the resources of Patient-compartment types in the compartment of the
        patients (all of them, or the Group's members): Patient itself by id, the others by a
        reference to one of the patients. Resources outside the compartment (Practitioner,
        Organization, Device, ...) MAY be included (Bulk Data IG); when they are, they must
        exist and reference no other patient. Group too is optional at these levels;
    restricted to the requested types: --types, else `_type` of the kick-off found in
    smart-fetch's log.ndjson or bulk_client.py's manifest.json, else every type;
  - each exported resource equals the server's current version, element for element;
  - `error/` holds no issue of severity error or fatal.
Exits 1 with the problems listed, 0 with a per-type summary.
"""

import argparse
import json
import os
import sys
import urllib.parse

from common import (
    PATIENT_COMPARTMENT_TYPES,
    bulk_files,
    open_text,
    patient_refs,
    read_ndjson_dir,
)

OPTIONAL_AT_PATIENT_LEVEL = {"Group"}


class Problems:
    def __init__(self):
        self.items = []

    def add(self, msg):
        self.items.append(msg)

    def __bool__(self):
        return bool(self.items)


def requested_types(export_dir, explicit):
    if explicit:
        return [t for t in explicit.split(",") if t], "--types"
    log_path = os.path.join(export_dir, "log.ndjson")
    if os.path.exists(log_path):
        with open(log_path, encoding="utf8") as f:
            for line in f:
                event = json.loads(line)
                if event.get("eventId") == "kickoff":
                    types = event["eventDetail"].get("requestParameters", {}).get("_type")
                    if types:
                        return types.split(","), "smart-fetch's kick-off"
    manifest_path = os.path.join(export_dir, "manifest.json")
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf8") as f:
            query = urllib.parse.urlsplit(json.load(f)["request"]).query
        types = urllib.parse.parse_qs(query).get("_type")
        if types:
            return ",".join(types).split(","), "the manifest's request"
    return None, "all types"


def first_difference(a, b, path=""):
    if type(a) is not type(b):
        return f"{path or '.'}: {json.dumps(a)[:80]} != {json.dumps(b)[:80]}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in the {'export' if k in a else 'server'}"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
    elif isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
    elif a != b:
        return f"{path}: {json.dumps(a)[:80]} != {json.dumps(b)[:80]}"
    return None


def read_export(export_dir, problems):
    """{type: {id: resource}} of the export, validating every line."""
    from fhir.resources import construct_fhir_element

    exported = {}
    invalid = 0
    for file_type, paths in bulk_files(export_dir).items():
        for path in paths:
            name = os.path.basename(path)
            with open_text(path) as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        problems.add(f"{name}:{n}: blank line")
                        continue
                    try:
                        resource = json.loads(line)
                    except ValueError as e:
                        problems.add(f"{name}:{n}: not JSON ({e})")
                        continue
                    if not isinstance(resource, dict):
                        problems.add(f"{name}:{n}: not a JSON object")
                        continue
                    rtype, rid = resource.get("resourceType"), resource.get("id")
                    if rtype != file_type:
                        problems.add(f"{name}:{n}: a {rtype} in a {file_type} file")
                        continue
                    if not rid:
                        problems.add(f"{name}:{n}: no id")
                        continue
                    if rid in exported.get(rtype, {}):
                        problems.add(f"{name}:{n}: {rtype}/{rid} exported twice")
                    try:
                        construct_fhir_element(rtype, resource)
                    except Exception as e:  # pydantic.ValidationError and friends
                        invalid += 1
                        if invalid <= 10:
                            problems.add(f"{name}:{n}: {rtype}/{rid} is not valid R4: "
                                         + " ".join(str(e).split())[:400])
                    exported.setdefault(rtype, {})[rid] = resource
    if invalid > 10:
        problems.add(f"... {invalid} invalid resources in all")
    return exported


def check_errors(export_dir, problems):
    error_dir = os.path.join(export_dir, "error")
    if not os.path.isdir(error_dir):
        return 0
    messages = 0
    for name in sorted(os.listdir(error_dir)):
        with open_text(os.path.join(error_dir, name)) as f:
            for line in f:
                if not line.strip():
                    continue
                for issue in json.loads(line).get("issue", []):
                    messages += 1
                    if issue.get("severity") in ("error", "fatal"):
                        text = issue.get("diagnostics") or issue.get("details", {}).get("text")
                        problems.add(f"error/{name}: {issue.get('severity')}: {text}")
    return messages


def expected_sets(level, expected, types, patients):
    """{type: ids that must be exported}, {type: ids that may be}."""
    must, may = {}, {}
    for t in types:
        resources = expected.get(t, {})
        if level == "system":
            must[t] = set(resources)
        elif t == "Patient":
            must[t] = set(resources) & patients
        elif t in PATIENT_COMPARTMENT_TYPES and t not in OPTIONAL_AT_PATIENT_LEVEL:
            must[t] = {i for i, r in resources.items() if patient_refs(r) & patients}
        else:
            may[t] = {
                i for i, r in resources.items()
                if (t not in PATIENT_COMPARTMENT_TYPES or patient_refs(r) & patients)
                and patient_refs(r) <= patients
            }
    return must, may


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("export_dir")
    p.add_argument("--expected", required=True)
    p.add_argument("--level", choices=("system", "patient", "group"), default="system")
    p.add_argument("--group")
    p.add_argument("--types")
    args = p.parse_args()
    if (args.level == "group") != bool(args.group):
        p.error("--group goes with --level group")

    problems = Problems()
    expected = read_ndjson_dir(args.expected)
    types, source = requested_types(args.export_dir, args.types)
    if types is None:
        types = sorted(expected)

    patients = set()
    if args.level == "patient":
        patients = set(expected.get("Patient", {}))
    elif args.level == "group":
        group = expected.get("Group", {}).get(args.group)
        if group is None:
            sys.exit(f"Group/{args.group} is not in {args.expected}")
        for m in group.get("member", []):
            patients |= patient_refs({"m": m["entity"]})

    exported = read_export(args.export_dir, problems)
    messages = check_errors(args.export_dir, problems)

    for t in sorted(set(exported) - set(types)):
        problems.add(f"{len(exported[t])} {t} exported, but {t} was not requested")
    must, may = expected_sets(args.level, expected, types, patients)
    rows = []
    for t in types:
        got = set(exported.get(t, {}))
        if t in must:
            missing, extra = must[t] - got, got - must[t]
            rule = "exact"
        else:
            missing, extra = set(), got - may[t]
            rule = "optional"
        if missing:
            problems.add(f"{t}: {len(missing)} of {len(must[t])} missing, e.g. {sorted(missing)[:3]}")
        if extra:
            problems.add(f"{t}: {len(extra)} not expected at {args.level} level, "
                         f"e.g. {sorted(extra)[:3]}")
        changed = 0
        for rid in sorted(got & set(expected.get(t, {}))):
            diff = first_difference(exported[t][rid], expected[t][rid])
            if diff:
                changed += 1
                if changed <= 3:
                    problems.add(f"{t}/{rid} differs from the server's: {diff}")
        if changed > 3:
            problems.add(f"{t}: {changed} resources differ from the server's")
        if got or must.get(t):
            rows.append((t, len(got), len(must.get(t, may.get(t, ()))), rule))

    header = f"{args.export_dir}: {args.level} export"
    if args.level != "system":
        header += f" of {len(patients)} patients"
    print(f"[ndjson] {header}; types from {source}; {messages} server message(s)")
    for t, got, want, rule in rows:
        print(f"[ndjson]   {t:28} {got:6}  ({rule}: {want} on the server)")
    print(f"[ndjson]   {'total':28} {sum(r[1] for r in rows):6}")
    if problems:
        for msg in problems.items:
            print(f"[ndjson] FAIL {msg}", file=sys.stderr)
        sys.exit(1)
    print("[ndjson] every line valid R4, of its file's type, and as on the server")


if __name__ == "__main__":
    main()
