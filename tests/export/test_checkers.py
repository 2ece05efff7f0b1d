"""Tests check_ndjson.py and check_parquet.py on files made here from the server's data (the
dump_search.py output), so that a passing export check means something: each checker must pass
on faithful files and fail, naming the problem, on files with one fault each.

    test_checkers.py DUMP_DIR GROUP_ID

The Parquet files made here imitate the expected layout (`id`, `resource_json`, typed columns such
as Patient `name` as a list of structs and Observation `effectiveDateTime` as a timestamp), and
split Observation over two files.
"""

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq

from common import in_compartment, patient_refs, read_ndjson_dir

HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def run(script, *args):
    p = subprocess.run([sys.executable, os.path.join(HERE, script), *args],
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def expect(name, script, args, ok, fragment=None):
    rc, out = run(script, *args)
    good = (rc == 0) if ok else (rc == 1 and (fragment is None or fragment in out))
    print(f"[selftest] {'ok  ' if good else 'FAIL'} {name}", flush=True)
    if not good:
        failures.append(name)
        print("\n".join("    " + line for line in out.splitlines()[-15:]))


def write_ndjson(directory, data, types=None):
    os.makedirs(directory, exist_ok=True)
    for t, resources in data.items():
        if types is not None and t not in types:
            continue
        with open(os.path.join(directory, f"{t}.001.ndjson"), "w", encoding="utf8") as f:
            for r in resources.values():
                f.write(json.dumps(r, separators=(",", ":")) + "\n")


def subset(data, keep):
    return {t: {i: r for i, r in rs.items() if keep(r)} for t, rs in data.items()}


STRING = pa.string()
CODING = pa.struct([("system", STRING), ("code", STRING), ("display", STRING)])
TYPED = {
    "Patient": [
        ("birthDate", STRING),
        ("gender", STRING),
        ("active", pa.bool_()),
        ("name", pa.list_(pa.struct([("use", STRING), ("family", STRING),
                                     ("given", pa.list_(STRING)), ("prefix", pa.list_(STRING))]))),
    ],
    "Observation": [
        ("status", STRING),
        ("subject", pa.struct([("reference", STRING)])),
        ("code", pa.struct([("coding", pa.list_(CODING)), ("text", STRING)])),
        ("valueQuantity", pa.struct([("value", pa.float64()), ("unit", STRING),
                                     ("system", STRING), ("code", STRING)])),
        ("effectiveDateTime", pa.timestamp("us", tz="UTC")),
    ],
}


def typed_value(name, value):
    if name == "effectiveDateTime" and value is not None:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def write_parquet(directory, data, mutate=None):
    os.makedirs(directory, exist_ok=True)
    manifest = {"output": []}
    for t, resources in data.items():
        rows = list(resources.values())
        chunks = [rows[: len(rows) // 2], rows[len(rows) // 2:]] if t == "Observation" else [rows]
        for n, chunk in enumerate(chunks, 1):
            columns = {"id": pa.array([r["id"] for r in chunk], STRING),
                       "resource_json": pa.array([json.dumps(r) for r in chunk], STRING)}
            for name, typ in TYPED.get(t, []):
                columns[name] = pa.array([typed_value(name, r.get(name)) for r in chunk], typ)
            table = pa.table(columns)
            if mutate:
                table = mutate(t, n, table)
            pq.write_table(table, os.path.join(directory, f"{t}.{n:03}.parquet"))
            manifest["output"].append({"type": t, "url": f"http://127.0.0.1/{t}/{n}",
                                       "count": table.num_rows})
    with open(os.path.join(directory, "manifest.json"), "w", encoding="utf8") as f:
        json.dump(manifest, f)


def replace_column(table, name, values, typ=STRING):
    i = table.column_names.index(name)
    return table.set_column(i, name, pa.array(values, typ))


def main():
    dump, group_id = sys.argv[1], sys.argv[2]
    data = read_ndjson_dir(dump)
    group = data["Group"][group_id]
    members = set().union(*(patient_refs({"r": m["entity"]}) for m in group["member"]))
    everyone = set(data["Patient"])
    tmp = tempfile.mkdtemp(prefix="hearth-export-selftest.")
    try:
        d = lambda name: os.path.join(tmp, name)  # noqa: E731

        # --- check_ndjson.py: faithful exports pass ----------------------------------------
        write_ndjson(d("system"), data)
        expect("system export of everything passes", "check_ndjson.py",
               [d("system"), "--expected", dump], ok=True)

        write_ndjson(d("patient"), subset(data, lambda r: in_compartment(r, everyone)))
        expect("Patient export of the compartment passes", "check_ndjson.py",
               [d("patient"), "--expected", dump, "--level", "patient"], ok=True)

        members_only = subset(data, lambda r: in_compartment(r, members))
        write_ndjson(d("group"), members_only)
        expect("Group export of the members' compartment passes", "check_ndjson.py",
               [d("group"), "--expected", dump, "--level", "group", "--group", group_id], ok=True)

        with_practitioners = dict(members_only, Practitioner=data["Practitioner"])
        write_ndjson(d("group+"), with_practitioners)
        expect("Group export with Practitioners (allowed) passes", "check_ndjson.py",
               [d("group+"), "--expected", dump, "--level", "group", "--group", group_id], ok=True)

        # --- check_ndjson.py: one fault each fails ------------------------------------------
        expect("system data as a Group export fails", "check_ndjson.py",
               [d("system"), "--expected", dump, "--level", "group", "--group", group_id],
               ok=False, fragment="not expected at group level")

        write_ndjson(d("types"), data, types={"Patient", "Encounter"})
        expect("--types restricts the expectation", "check_ndjson.py",
               [d("types"), "--expected", dump, "--types", "Patient,Encounter"], ok=True)
        expect("a requested type left out fails", "check_ndjson.py",
               [d("types"), "--expected", dump, "--types", "Patient,Encounter,Condition"],
               ok=False, fragment="Condition: ")

        # The fault cases use a small excerpt of the data (as both export and expectation),
        # so that each run of a checker takes a moment.
        mini = {t: dict(list(rs.items())[:40]) for t, rs in data.items()}
        write_ndjson(d("mini"), mini)
        mini_dump = d("mini")
        expect("the excerpt passes", "check_ndjson.py", [d("mini"), "--expected", mini_dump], ok=True)

        def faulty(name, edit, fragment):
            shutil.copytree(d("mini"), d(name))
            path = os.path.join(d(name), "Observation.001.ndjson")
            with open(path, encoding="utf8") as f:
                lines = f.read().splitlines(keepends=True)
            lines = edit(lines)
            with open(path, "w", encoding="utf8") as f:
                f.writelines(lines)
            expect(name, "check_ndjson.py", [d(name), "--expected", mini_dump], ok=False,
                   fragment=fragment)

        def edit_first(change):
            def edit(lines):
                r = json.loads(lines[0])
                change(r)
                return [json.dumps(r) + "\n"] + lines[1:]
            return edit

        faulty("a missing resource fails", lambda ls: ls[1:], "missing")
        faulty("a repeated resource fails", lambda ls: ls + ls[:1], "exported twice")
        faulty("a blank line fails", lambda ls: ls[:1] + ["\n"] + ls[1:], "blank line")
        faulty("a line that is not JSON fails", lambda ls: ls + ["{not json\n"], "not JSON")
        # fhir.resources 6.4.0 checks elements, cardinality and primitive formats (not codes)
        faulty("a resource without a required element fails",
               edit_first(lambda r: r.pop("code")), "not valid R4")
        faulty("a malformed dateTime fails",
               edit_first(lambda r: r.update(effectiveDateTime="yesterday")), "not valid R4")
        faulty("an unknown element fails", edit_first(lambda r: r.update(colour="red")), "not valid R4")
        faulty("a changed value fails",
               edit_first(lambda r: r["subject"].update(reference="Patient/other")),
               "differs from the server's")
        faulty("a resource in the wrong file fails",
               lambda ls: ls + [json.dumps(next(iter(mini["Patient"].values()))) + "\n"],
               "a Patient in a Observation file")

        shutil.copytree(d("mini"), d("errors"))
        os.makedirs(os.path.join(d("errors"), "error"))
        with open(os.path.join(d("errors"), "error", "OperationOutcome.001.ndjson"), "w") as f:
            f.write(json.dumps({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "exception", "diagnostics": "boom"}]}) + "\n")
        expect("an error OperationOutcome fails", "check_ndjson.py",
               [d("errors"), "--expected", mini_dump], ok=False, fragment="boom")

        # --- check_parquet.py ---------------------------------------------------------------
        write_parquet(d("parquet"), data)
        expect("faithful Parquet passes", "check_parquet.py", [d("parquet"), d("system")], ok=True)

        def bad_parquet(name, mutate, fragment):
            write_parquet(d(name), mini, mutate)
            expect(name, "check_parquet.py", [d(name), d("mini")], ok=False, fragment=fragment)

        def drop_last(t, n, table):
            return table.slice(0, table.num_rows - 1) if t == "Patient" else table

        def birth(t, n, table):
            if t != "Patient":
                return table
            values = table.column("birthDate").to_pylist()
            return replace_column(table, "birthDate", ["1900-01-01"] + values[1:])

        def family(t, n, table):
            if t != "Patient":
                return table
            names = table.column("name").to_pylist()
            names[0] = [dict(names[0][0], family="Other")] + names[0][1:]
            return replace_column(table, "name", names, table.schema.field("name").type)

        def json_col(t, n, table):
            if t != "Encounter":
                return table
            texts = table.column("resource_json").to_pylist()
            r = json.loads(texts[0])
            r["status"] = "cancelled" if r.get("status") != "cancelled" else "finished"
            return replace_column(table, "resource_json", [json.dumps(r)] + texts[1:])

        def status(t, n, table):
            if t != "Observation" or n != 2:
                return table
            values = table.column("status").to_pylist()
            other = "cancelled" if values[0] != "cancelled" else "final"
            return replace_column(table, "status", [other] + values[1:])

        def when(t, n, table):
            if t != "Observation" or n != 1:
                return table
            values = table.column("effectiveDateTime").to_pylist()
            i = next(k for k, v in enumerate(values) if v is not None)
            values[i] = values[i] + datetime.timedelta(seconds=1)
            return replace_column(table, "effectiveDateTime", values, pa.timestamp("us", tz="UTC"))

        def ids(t, n, table):
            if t != "Condition":
                return table
            values = table.column("id").to_pylist()
            return replace_column(table, "id", ["not-an-id"] + values[1:])

        bad_parquet("a missing Parquet row fails", drop_last, "rows")
        bad_parquet("a wrong birthDate fails", birth, "birthDate")
        bad_parquet("a wrong name[1].family fails", family, "name[1].family")
        bad_parquet("a wrong resource_json fails", json_col, "resource_json")
        bad_parquet("a wrong Observation.status fails", status, "status")
        bad_parquet("a shifted effectiveDateTime fails", when, "effectiveDateTime")
        bad_parquet("a wrong id fails", ids, "ids differ")
    finally:
        shutil.rmtree(tmp)

    if failures:
        print(f"[selftest] {len(failures)} checker test(s) failed: {failures}", file=sys.stderr)
        sys.exit(1)
    print("[selftest] the checkers pass faithful files and catch every planted fault")


if __name__ == "__main__":
    main()
