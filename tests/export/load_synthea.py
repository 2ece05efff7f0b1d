"""Loads Synthea's transaction Bundles into a Hearth tenant and creates a Group of some of the
patients.

    load_synthea.py SYNTHEA_FHIR_DIR SUMMARY_JSON [--group-size K]

Uses HEARTH_BASE_URL and HEARTH_TOKEN (a token with write access). Every Bundle is POSTed to the
base as application/fhir+json; each must answer 200 with a transaction-response whose entries
are all 201. Synthea (the Java original) writes `hospitalInformation*.json` and
`practitionerInformation*.json` next to the patients, and the patient Bundles reference those
organizations and practitioners by conditional references, so those Bundles go first. (The
Python port in requirements-synthea.txt puts each patient's organizations and practitioners in
the patient's own Bundle, with urn:uuid references, so it writes no such files.)

Writes SUMMARY_JSON: how many resources of each type were created, the server ids of the
patients in load order, the Group (id and member ids) and the time the loading took.
"""

import argparse
import collections
import json
import os
import time

from common import FHIR_JSON, env_base, env_token, fail, log, session

SHARED_FIRST = ("hospitalInformation", "practitionerInformation")


def load_order(names):
    return sorted(names, key=lambda n: (not n.startswith(SHARED_FIRST), n))


def post_bundle(s, base, path):
    with open(path, encoding="utf8") as f:
        bundle = json.load(f)
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") not in ("transaction", "batch"):
        fail("load", f"{path}: not a transaction or batch Bundle")
    body = json.dumps(bundle, separators=(",", ":")).encode("utf8")
    r = s.post(base, data=body, headers={"Content-Type": FHIR_JSON})
    if r.status_code != 200:
        fail("load", f"{os.path.basename(path)} ({len(body)} bytes): {r.status_code} {r.text[:1000]}")
    reply = r.json()
    entries = reply.get("entry", [])
    if len(entries) != len(bundle["entry"]):
        fail("load", f"{path}: {len(bundle['entry'])} entries sent, {len(entries)} answered")
    created = []
    for sent, got in zip(bundle["entry"], entries, strict=True):
        status = got.get("response", {}).get("status", "")
        if not status.startswith("201"):
            fail("load", f"{path}: entry {sent.get('fullUrl')} answered {status!r}")
        location = got["response"].get("location", "")
        # `Type/id/_history/vid`, relative or absolute
        parts = location.split("/_history/")[0].rstrip("/").split("/")
        res_type, res_id = parts[-2], parts[-1]
        if res_type != sent["resource"]["resourceType"]:
            fail("load", f"{path}: a {sent['resource']['resourceType']} came back as {location}")
        created.append((res_type, res_id))
    return created, len(body)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("synthea_dir")
    p.add_argument("summary")
    p.add_argument("--group-size", type=int, default=2)
    args = p.parse_args()

    base, token = env_base(), env_token()
    s = session(token)

    names = [n for n in os.listdir(args.synthea_dir) if n.endswith(".json")]
    if not names:
        fail("load", f"no .json Bundles in {args.synthea_dir}")
    by_type = collections.Counter()
    patients = []
    total_bytes = 0
    started = time.monotonic()
    for i, name in enumerate(load_order(names), 1):
        t0 = time.monotonic()
        created, size = post_bundle(s, base, os.path.join(args.synthea_dir, name))
        total_bytes += size
        by_type.update(t for t, _ in created)
        patients += [i for t, i in created if t == "Patient"]
        log("load", f"bundle {i}/{len(names)}: {len(created)} resources, {size / 1e6:.1f} MB, "
                    f"{time.monotonic() - t0:.1f} s")
    seconds = time.monotonic() - started
    total = sum(by_type.values())
    log("load", f"{total} resources in {len(names)} bundles ({total_bytes / 1e6:.1f} MB) in "
                f"{seconds:.1f} s ({total / seconds:.0f} resources/s)")

    members = patients[: args.group_size]
    group = {
        "resourceType": "Group",
        "type": "person",
        "actual": True,
        "name": "export test cohort",
        "member": [{"entity": {"reference": f"Patient/{pid}"}} for pid in members],
    }
    r = s.post(f"{base}/Group", json=group, headers={"Content-Type": FHIR_JSON})
    if r.status_code != 201:
        fail("load", f"POST Group: {r.status_code} {r.text[:500]}")
    group_id = r.json()["id"]
    by_type["Group"] += 1
    log("load", f"Group/{group_id} with {len(members)} of {len(patients)} patients")

    with open(args.summary, "w", encoding="utf8") as f:
        json.dump(
            {
                "bundles": len(names),
                "bytes": total_bytes,
                "seconds": round(seconds, 2),
                "resources": total,
                "by_type": dict(sorted(by_type.items())),
                "patients": patients,
                "group": {"id": group_id, "members": members},
            },
            f,
            indent=2,
        )


if __name__ == "__main__":
    main()
