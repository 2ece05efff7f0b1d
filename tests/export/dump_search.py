"""Writes what the server holds, read back by search, as one NDJSON file per type: the reference
the exports are compared with.

    dump_search.py OUT_DIR [--summary LOAD_SUMMARY_JSON]

Uses HEARTH_BASE_URL and HEARTH_TOKEN. Asks `?_summary=count` of every type the
CapabilityStatement lists and pages through the types that have resources (`_count=1000`,
following `next`). Fails when a type's pages hold a different number of resources than its count,
when an id repeats, or, with --summary (load_synthea.py's output), when a type's count differs
from what was loaded.
"""

import argparse
import json
import os

from common import env_base, env_token, fail, log, search_all, search_count, session


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out_dir")
    p.add_argument("--summary")
    args = p.parse_args()

    base = env_base()
    s = session(env_token())
    r = s.get(f"{base}/metadata")
    r.raise_for_status()
    rest = next(x for x in r.json()["rest"] if x.get("mode") == "server")
    types = sorted(res["type"] for res in rest.get("resource", []))

    os.makedirs(args.out_dir, exist_ok=True)
    counts = {}
    for t in types:
        n = search_count(s, base, t)
        if n == 0:
            continue
        ids = set()
        with open(os.path.join(args.out_dir, f"{t}.ndjson"), "w", encoding="utf8") as f:
            for resource in search_all(s, base, t):
                if resource["id"] in ids:
                    fail("dump", f"{t}/{resource['id']} came twice in one search")
                ids.add(resource["id"])
                f.write(json.dumps(resource, separators=(",", ":"), ensure_ascii=False) + "\n")
        if len(ids) != n:
            fail("dump", f"{t}: _summary=count says {n}, the pages hold {len(ids)}")
        counts[t] = n
    log("dump", f"{sum(counts.values())} resources of {len(counts)} types "
                f"(of {len(types)} in the CapabilityStatement) in {args.out_dir}")

    if args.summary:
        with open(args.summary, encoding="utf8") as f:
            loaded = json.load(f)["by_type"]
        if loaded != counts:
            diff = {t: (loaded.get(t, 0), counts.get(t, 0)) for t in set(loaded) | set(counts)
                    if loaded.get(t, 0) != counts.get(t, 0)}
            fail("dump", f"server counts differ from what was loaded (loaded, server): {diff}")
        log("dump", "server counts equal what was loaded, type by type")


if __name__ == "__main__":
    main()
