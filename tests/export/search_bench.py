"""Helpers of scripts/bench-search.sh: picks real search parameters from a tenant loaded with
Synthea data, and prints the table of figures.

    search_bench.py params LOAD_SUMMARY_JSON OUT_DIR [--sample K]
    search_bench.py table RESULTS_JSONL

`params` uses HEARTH_BASE_URL and HEARTH_TOKEN and reads only through the API: the patients of
load_synthea.py's summary, their Observations (codes), Encounters (service providers,
participants) and the Organizations and Practitioners these reference. It writes one file of
relative search URLs per scenario into OUT_DIR (`NAME.txt`, one URL a line) and checks that
each scenario's first URL matches something.

`table` reads the JSON lines that hearth-search-load --json printed (each with the `scenario`,
`shape`, `target` and `run` the script added) and prints, per scenario, the medians over runs
of requests/s (or resources/s), p50 and p99, the target and whether it was met.
"""

import argparse
import collections
import json
import os
import random
import statistics
import sys
import urllib.parse

from common import env_base, env_token, fail, log, session


def get_json(s, url, params=None):
    r = s.get(url, params=params)
    if r.status_code != 200:
        fail("params", f"GET {r.url}: {r.status_code} {r.text[:500]}")
    return r.json()


def search_pages(s, url, params):
    """Every matched resource of a search, following `next` links."""
    while url:
        bundle = get_json(s, url, params)
        for entry in bundle.get("entry", []):
            if entry.get("search", {}).get("mode", "match") == "match":
                yield entry["resource"]
        url = next((link["url"] for link in bundle.get("link", []) if link.get("relation") == "next"), None)
        params = None


def ref_id(reference, res_type):
    """The id of a `Type/id` reference, or None for another type."""
    parts = (reference or "").split("/_history/")[0].split("/")
    return parts[-1] if len(parts) >= 2 and parts[-2] == res_type else None


def q(path, **params):
    return f"{path}?{urllib.parse.urlencode(params, safe='|:')}"


def first_matches(s, base, query):
    bundle = get_json(s, f"{base}/{query}")
    return sum(1 for e in bundle.get("entry", []) if e.get("search", {}).get("mode", "match") == "match")


def params(args):
    base, s = env_base(), session(env_token())
    with open(args.summary, encoding="utf8") as f:
        patients = json.load(f)["patients"]
    if not patients:
        fail("params", "the load summary lists no patients")
    rng = random.Random(42)
    sample = rng.sample(patients, min(args.sample, len(patients)))

    # Observation codes per sampled patient; the most common codes over the sample.
    codes_of = {}
    overall = collections.Counter()
    for pid in sample:
        c = collections.Counter()
        for obs in search_pages(s, f"{base}/Observation", {"patient": pid, "_count": "1000", "_elements": "code"}):
            for coding in obs.get("code", {}).get("coding", [])[:1]:
                c[f"{coding.get('system')}|{coding.get('code')}"] += 1
        codes_of[pid] = c
        overall.update(set(c))
    common_codes = [code for code, _ in overall.most_common(10)]
    log("params", f"{len(sample)} patients sampled; most common Observation codes: {', '.join(common_codes[:5])} ...")

    patient_code = [
        q("Observation", patient=pid, code=code)
        for pid in sample
        for code in common_codes
        if code in codes_of[pid]
    ]
    rng.shuffle(patient_code)

    # Service providers of the sampled patients' Encounters; each patient's practitioners.
    orgs = collections.Counter()
    practitioners_of = {}
    for pid in sample[:10]:
        pracs = collections.Counter()
        for enc in search_pages(s, f"{base}/Encounter", {"patient": pid, "_count": "1000"}):
            org = ref_id(enc.get("serviceProvider", {}).get("reference"), "Organization")
            if org:
                orgs[org] += 1
            for p in enc.get("participant", []):
                prac = ref_id(p.get("individual", {}).get("reference"), "Practitioner")
                if prac:
                    pracs[prac] += 1
        practitioners_of[pid] = [prac for prac, _ in pracs.most_common(3)]
    org_names = []
    for oid, _ in orgs.most_common(10):
        name = get_json(s, f"{base}/Organization/{oid}").get("name")
        if name and name not in org_names:
            org_names.append(name)
    patient_practitioner = []
    for pid, pracs in practitioners_of.items():
        for prac in pracs:
            names = get_json(s, f"{base}/Practitioner/{prac}").get("name", [])
            family = names[0].get("family") if names else None
            if family:
                patient_practitioner.append((pid, family))
    if not org_names or not patient_practitioner:
        fail("params", f"no service providers ({len(org_names)}) or participants ({len(patient_practitioner)})")
    log("params", f"chain values: {len(org_names)} organization names, {len(patient_practitioner)} (patient, practitioner)")

    scenarios = {
        "patient-code": patient_code,
        "chain-org": [q("Observation", **{"encounter.service-provider.name": n}) for n in org_names],
        "chain-practitioner": [
            q("Observation", **{"patient": pid, "encounter.participant:Practitioner.name": family})
            for pid, family in patient_practitioner
        ],
        "include-patient": [q("Observation", patient=pid, _include="Observation:patient") for pid in sample],
        "include-encounter": [
            q("MedicationRequest", patient=pid, _include="MedicationRequest:encounter") for pid in sample
        ],
    }
    os.makedirs(args.out_dir, exist_ok=True)
    for name, queries in scenarios.items():
        if not queries:
            fail("params", f"no queries for {name}")
        n = first_matches(s, base, queries[0])
        log("params", f"{name}: {len(queries)} queries, e.g. {queries[0]} ({n} on its first page)")
        with open(os.path.join(args.out_dir, f"{name}.txt"), "w", encoding="utf8") as f:
            f.write("\n".join(queries) + "\n")


def check(target, figures):
    """Whether `figures` meet `target`, e.g. `rps>=3000,p99<20`."""
    for term in target.split(","):
        for op in (">=", "<"):
            if op in term:
                key, bound = term.split(op)
                value = figures[key]
                if (op == ">=" and value < float(bound)) or (op == "<" and value >= float(bound)):
                    return False
    return True


def target_text(target):
    names = {"rps": "req/s", "res": "resources/s", "p99": "p99 ms", "creates": "creates/s"}
    out = []
    for term in target.split(","):
        op = ">=" if ">=" in term else "<"
        key, bound = term.split(op)
        out.append(f"{names.get(key, key)} {'≥' if op == '>=' else '<'} {float(bound):,.0f}")
    return ", ".join(out)


def table(args):
    rows = collections.OrderedDict()
    with open(args.results, encoding="utf8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                rows.setdefault(r["scenario"], []).append(r)
    header = f"{'scenario':<20} {'URL shape':<66} {'req/s':>8} {'res/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'fail':>5}  {'target':<28} result"
    print(header)
    print("-" * len(header))
    missed = 0
    for name, runs in rows.items():
        med = {
            k: statistics.median(r[k] for r in runs)
            for k in ("requests_per_s", "resources_per_s", "p50_ms", "p99_ms")
        }
        failed = sum(r.get("failed", 0) for r in runs)
        figures = {"rps": med["requests_per_s"], "res": med["resources_per_s"], "p99": med["p99_ms"],
                   "creates": med["resources_per_s"]}
        ok = check(runs[0]["target"], figures) and failed == 0
        missed += not ok
        res = f"{med['resources_per_s']:>9,.0f}" if med["resources_per_s"] else f"{'-':>9}"
        print(
            f"{name:<20} {runs[0]['shape']:<66} {med['requests_per_s']:>8,.0f} {res} {med['p50_ms']:>7.2f} "
            f"{med['p99_ms']:>7.2f} {failed:>5}  {target_text(runs[0]['target']):<28} {'met' if ok else 'MISSED'}"
        )
    print(f"({len(next(iter(rows.values()), []))} run(s) per scenario, medians; {missed} target(s) missed)")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("params")
    pp.add_argument("summary")
    pp.add_argument("out_dir")
    pp.add_argument("--sample", type=int, default=20)
    pt = sub.add_parser("table")
    pt.add_argument("results")
    args = p.parse_args()
    {"params": params, "table": table}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
