"""Measures what the AWS backend stores per resource, for docs/scaling.md: loads Synthea
Bundles into a running `hearth serve` on the AWS backend (as batch Bundles of PUTs, so no
transaction limit applies), then reports the DynamoDB bytes and items per resource (from a
scan of the table) and the OpenSearch bytes per resource (from the index stats).

Usage (the Python of moto's venv has boto3):
  measure.py BASE_URL TOKEN SYNTHEA_DIR TABLE OPENSEARCH_URL INDEX_PREFIX AWS_ENDPOINT
"""

import glob
import json
import re
import sys
import time
import urllib.request

import boto3

BASE, TOKEN, SYNTHEA, TABLE, OS_URL, INDEX_PREFIX, ENDPOINT = sys.argv[1:8]


def post(bundle):
    req = urllib.request.Request(
        BASE,
        data=json.dumps(bundle).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/fhir+json",
            "Prefer": "return=minimal",
        },
    )
    with urllib.request.urlopen(req, timeout=600) as reply:
        body = json.loads(reply.read())
    bad = [(e["response"]["status"], json.dumps(e["response"].get("outcome"))[:300])
           for e in body["entry"] if not e["response"]["status"].startswith("2")]
    if bad:
        raise SystemExit(f"batch entries failed: {bad[:5]}")


def as_puts(bundle):
    """The transaction's entries as PUTs with ids taken from their urn:uuid fullUrls."""
    ids = {}
    for entry in bundle["entry"]:
        full = entry.get("fullUrl", "")
        if full.startswith("urn:uuid:"):
            ids[full] = f"{entry['resource']['resourceType']}/{full[9:]}"
    text = re.sub(r"urn:uuid:[0-9a-f-]{36}", lambda m: ids.get(m.group(0), m.group(0)),
                  json.dumps([e["resource"] for e in bundle["entry"]]))
    entries = []
    for original, resource in zip(bundle["entry"], json.loads(text)):
        ref = ids.get(original.get("fullUrl", ""))
        if ref is None:
            continue
        resource["id"] = ref.split("/", 1)[1]
        entries.append({"resource": resource, "request": {"method": "PUT", "url": ref}})
    return entries


def main():
    entries = []
    for path in sorted(glob.glob(f"{SYNTHEA}/*.json")):
        with open(path) as f:
            entries += as_puts(json.load(f))
    raw = sum(len(json.dumps(e["resource"], separators=(",", ":"))) for e in entries)
    started = time.monotonic()
    for i in range(0, len(entries), 500):
        post({"resourceType": "Bundle", "type": "batch", "entry": entries[i : i + 500]})
    load = time.monotonic() - started

    dynamo = boto3.client("dynamodb", endpoint_url=ENDPOINT, region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
    items, size = 0, 0
    for page in dynamo.get_paginator("scan").paginate(TableName=TABLE):
        for item in page["Items"]:
            items += 1
            for name, value in item.items():
                (kind, v), = value.items()
                size += len(name) + (len(v) if kind in ("S", "B") else 8)
    with urllib.request.urlopen(f"{OS_URL}/{INDEX_PREFIX}*/_stats/store,docs", timeout=30) as reply:
        stats = json.loads(reply.read())["_all"]["primaries"]
    n = len(entries)
    report = {
        "resources": n,
        "raw_json_bytes_per_resource": round(raw / n),
        "dynamodb_items_per_resource": round(items / n, 2),
        "dynamodb_bytes_per_resource": round(size / n),
        "opensearch_docs": stats["docs"]["count"],
        "opensearch_bytes_per_resource": round(stats["store"]["size_in_bytes"] / n),
        "load_seconds_on_this_machine": round(load, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
