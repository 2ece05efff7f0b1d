"""Checks a Parquet export against an NDJSON export of the same data, with pyarrow and DuckDB.

    check_parquet.py PARQUET_DIR NDJSON_DIR

PARQUET_DIR: `{Type}.{NNN}.parquet` files (bulk_client.py's layout), optionally manifest.json.
NDJSON_DIR: `{Type}.{NNN}.ndjson[.gz]` files of an export of the same resources.

Checks, per type:
  - the same types, the same number of rows as resources and the same set of ids (pyarrow, and
    again with DuckDB's read_parquet); ids unique and never null; the manifest's counts, if
    any, add up to the rows; the schema metadata `fhir.resourceType` / `fhir.version`, when
    present, name the file's type and 4.0.1;
  - `resource_json`, when there is such a column, parses to exactly the NDJSON resource (DuckDB:
    `json_extract_string(resource_json, '$.id') = id` on every row);
  - every typed column named after an element of the resource holds that element's value, row by
    row: primitives equal (numbers as numbers, decimals kept as text by value, date/time types
    as the same instant), structs field by field, lists item by item; absent elements are null
    or empty lists; a string holding an object or array as JSON (`contained`) is compared
    parsed. Elements the typed columns leave out by design (deeper recursion and extension
    levels, extension value types without a column) have no field and are not compared;
  - sampled values through DuckDB's nested access: Patient `birthDate`, `gender` and
    `name[1].family`; Observation `status` (counts per status) and `subject.reference`.
Exits 1 with the problems listed, 0 with a per-type summary.
"""

import argparse
import collections
import datetime
import decimal
import json
import os
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from common import bulk_files, read_ndjson_dir

SKIP_COLUMNS = {"id", "resource_json"}


class Problems(list):
    def add(self, msg):
        self.append(msg)


def sql_files(paths):
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def as_instant(value):
    """A comparable form of a date/dateTime/instant, from JSON (string) or Arrow (datetime)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str):
        if len(value) <= 10:
            return value
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return as_instant(parsed)
    return value


def same(pv, jv, path, diffs):
    """Compares a Parquet value (pyarrow to_pylist) with the JSON value of the same element."""
    if jv is None:
        if pv not in (None, []) and not (isinstance(pv, dict) and all(v in (None, []) for v in pv.values())):
            diffs.append(f"{path}: {short(pv)} in Parquet, absent in NDJSON")
        return
    if pv is None:
        diffs.append(f"{path}: null in Parquet, {short(jv)} in NDJSON")
        return
    if isinstance(pv, str) and isinstance(jv, (dict, list)):
        try:
            pv = json.loads(pv)
        except ValueError:
            diffs.append(f"{path}: string {short(pv)} in Parquet, {short(jv)} in NDJSON")
            return
        if pv != jv:
            diffs.append(f"{path}: JSON {short(pv)} in Parquet, {short(jv)} in NDJSON")
        return
    if isinstance(pv, dict):
        if not isinstance(jv, dict):
            diffs.append(f"{path}: struct in Parquet, {short(jv)} in NDJSON")
            return
        for k, v in pv.items():
            same(v, jv.get(k), f"{path}.{k}", diffs)
        return
    if isinstance(pv, list):
        if not isinstance(jv, list):
            diffs.append(f"{path}: list in Parquet, {short(jv)} in NDJSON")
        elif len(pv) != len(jv):
            diffs.append(f"{path}: {len(pv)} items in Parquet, {len(jv)} in NDJSON")
        else:
            for i, (a, b) in enumerate(zip(pv, jv, strict=True)):
                same(a, b, f"{path}[{i}]", diffs)
        return
    if isinstance(pv, bool) or isinstance(jv, bool):
        ok = pv is jv or (isinstance(pv, str) and pv == json.dumps(jv))
    elif isinstance(pv, (int, float, decimal.Decimal)) and isinstance(jv, (int, float)):
        ok = float(pv) == float(jv)
    elif isinstance(pv, (datetime.date, datetime.datetime)):
        ok = as_instant(pv) == as_instant(jv)
    elif isinstance(pv, str) and isinstance(jv, (int, float)):
        # a decimal kept as the JSON text: "1.50" is 1.5
        ok = _is_number(pv) and (decimal.Decimal(pv) == decimal.Decimal(str(jv)) or float(pv) == float(jv))
    else:
        ok = pv == jv
    if not ok:
        diffs.append(f"{path}: {short(pv)} in Parquet, {short(jv)} in NDJSON")


def _is_number(s):
    try:
        decimal.Decimal(s)
        return True
    except decimal.InvalidOperation:
        return False


def short(v):
    return json.dumps(v, default=str)[:80]


def check_type(t, paths, resources, manifest_counts, problems):
    tables = [pq.read_table(p) for p in paths]
    for path, table in zip(paths, tables, strict=True):
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        if meta.get("fhir.resourceType", t) != t or meta.get("fhir.version", "4.0.1") != "4.0.1":
            problems.add(f"{os.path.basename(path)}: schema metadata says "
                         f"{meta.get('fhir.resourceType')} {meta.get('fhir.version')}")
    table = pa.concat_tables(tables, promote_options="default")
    names = table.column_names
    if "id" not in names:
        problems.add(f"{t}: no id column (columns: {names[:20]})")
        return None
    ids = table.column("id").to_pylist()
    if any(i is None for i in ids):
        problems.add(f"{t}: null ids")
    if len(ids) != len(set(ids)):
        problems.add(f"{t}: {len(ids) - len(set(ids))} repeated ids")
    if len(ids) != len(resources):
        problems.add(f"{t}: {len(ids)} rows, {len(resources)} resources in the NDJSON")
    if set(ids) != set(resources):
        missing, extra = set(resources) - set(ids), set(ids) - set(resources)
        problems.add(f"{t}: ids differ: {len(missing)} only in NDJSON (e.g. {sorted(missing)[:2]}), "
                     f"{len(extra)} only in Parquet (e.g. {sorted(extra)[:2]})")
    if t in manifest_counts and manifest_counts[t] != len(ids):
        problems.add(f"{t}: the manifest counts {manifest_counts[t]}, the files have {len(ids)} rows")

    if "resource_json" in names:
        differ = 0
        for rid, text in zip(ids, table.column("resource_json").to_pylist(), strict=True):
            if rid in resources and (text is None or json.loads(text) != resources[rid]):
                differ += 1
                if differ <= 3:
                    problems.add(f"{t}/{rid}: resource_json is not the NDJSON resource")
        if differ > 3:
            problems.add(f"{t}: {differ} rows whose resource_json differs")

    known = set()
    for r in resources.values():
        known.update(r)
    compared, uncompared = [], []
    column_diffs = collections.defaultdict(list)
    for name in names:
        if name in SKIP_COLUMNS:
            continue
        if name not in known:
            uncompared.append(name)
            continue
        compared.append(name)
        for rid, value in zip(ids, table.column(name).to_pylist(), strict=True):
            if rid in resources:
                same(value, resources[rid].get(name), f"{t}/{rid}.{name}", column_diffs[name])
    for name, diffs in column_diffs.items():
        for d in diffs[:2]:
            problems.add(d)
        if len(diffs) > 2:
            problems.add(f"{t}.{name}: {len(diffs)} differences in all")
    return len(ids), compared, uncompared, "resource_json" in names


def duckdb_checks(files, ndjson, problems):
    con = duckdb.connect()
    notes = []
    for t, paths in files.items():
        src = f"read_parquet({sql_files(paths)}, union_by_name = true)"
        n, distinct = con.execute(f"SELECT count(*), count(DISTINCT id) FROM {src}").fetchone()
        if n != len(ndjson.get(t, {})) or distinct != n:
            problems.add(f"duckdb {t}: {n} rows, {distinct} distinct ids, "
                         f"{len(ndjson.get(t, {}))} resources in the NDJSON")
        columns = {c[0] for c in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
        if "resource_json" in columns:
            bad = con.execute(f"SELECT count(*) FROM {src} "
                          "WHERE json_extract_string(resource_json, '$.id') IS DISTINCT FROM id "
                          f"OR json_extract_string(resource_json, '$.resourceType') <> '{t}'").fetchone()[0]
            if bad:
                problems.add(f"duckdb {t}: {bad} rows whose resource_json has another id or type")

    if "Patient" in files:
        src = f"read_parquet({sql_files(files['Patient'])}, union_by_name = true)"
        try:
            rows = con.execute(f"SELECT id, birthDate, gender, name[1].family FROM {src}").fetchall()
        except duckdb.Error as e:
            problems.add(f"duckdb Patient: birthDate, gender, name[1].family: {e}")
            rows = []
        for rid, birth, gender, family in rows:
            r = ndjson["Patient"].get(rid, {})
            want = (r.get("birthDate"), r.get("gender"), (r.get("name") or [{}])[0].get("family"))
            if (str(birth) if birth is not None else None, gender, family) != want:
                problems.add(f"duckdb Patient/{rid}: (birthDate, gender, name[1].family) = "
                             f"{(birth, gender, family)}, NDJSON {want}")
        notes.append(f"Patient birthDate/gender/name[1].family on {len(rows)} rows")

    if "Observation" in files:
        src = f"read_parquet({sql_files(files['Observation'])}, union_by_name = true)"
        try:
            by_status = dict(con.execute(f"SELECT status, count(*) FROM {src} GROUP BY status").fetchall())
            refs = dict(con.execute(f"SELECT id, subject.reference FROM {src}").fetchall())
        except duckdb.Error as e:
            problems.add(f"duckdb Observation: status, subject.reference: {e}")
            by_status, refs = {}, {}
        want = collections.Counter(r.get("status") for r in ndjson["Observation"].values())
        if by_status != dict(want):
            problems.add(f"duckdb Observation: counts by status {by_status}, NDJSON {dict(want)}")
        wrong = [i for i, ref in refs.items()
                 if ref != ndjson["Observation"].get(i, {}).get("subject", {}).get("reference")]
        if wrong:
            problems.add(f"duckdb Observation: subject.reference differs on {len(wrong)} rows, "
                         f"e.g. {wrong[:2]}")
        notes.append(f"Observation status counts {dict(sorted(by_status.items()))} and "
                     f"subject.reference on {len(refs)} rows")
    return notes


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("parquet_dir")
    p.add_argument("ndjson_dir")
    args = p.parse_args()

    problems = Problems()
    files = bulk_files(args.parquet_dir, "parquet")
    ndjson = read_ndjson_dir(args.ndjson_dir)
    manifest_counts = {}
    manifest_path = os.path.join(args.parquet_dir, "manifest.json")
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf8") as f:
            for o in json.load(f).get("output", []):
                if "count" in o:
                    manifest_counts[o["type"]] = manifest_counts.get(o["type"], 0) + o["count"]

    if set(files) != set(ndjson):
        problems.add(f"types differ: only Parquet {sorted(set(files) - set(ndjson))}, "
                     f"only NDJSON {sorted(set(ndjson) - set(files))}")
    rows = []
    for t in sorted(set(files) & set(ndjson)):
        result = check_type(t, files[t], ndjson[t], manifest_counts, problems)
        if result:
            rows.append((t, len(files[t]), *result))
    notes = duckdb_checks({t: files[t] for t in set(files) & set(ndjson)}, ndjson, problems)

    print(f"[parquet] {args.parquet_dir} against {args.ndjson_dir}")
    for t, nfiles, n, compared, uncompared, has_json in rows:
        print(f"[parquet]   {t:28} {n:6} rows in {nfiles} file(s); resource_json "
              f"{'yes' if has_json else 'no'}; {len(compared)} typed columns compared, "
              f"{len(uncompared)} without data here")
    for note in notes:
        print(f"[parquet]   duckdb: {note}")
    if problems:
        for msg in problems[:60]:
            print(f"[parquet] FAIL {msg}", file=sys.stderr)
        if len(problems) > 60:
            print(f"[parquet] FAIL ... {len(problems)} problems in all", file=sys.stderr)
        sys.exit(1)
    print("[parquet] the Parquet files hold the NDJSON export's resources, column by column")


if __name__ == "__main__":
    main()
