"""End-to-end test of the AWS backend with stream indexing, against `hearth serve`, `hearth
worker` and `hearth worker stream-pump` started by run.sh on moto and an OpenSearch node.

Checks, from the outside (HTTP only, plus stopping and starting processes through run.sh's
control file):
  1. writes become searchable through the stream (DynamoDB stream -> pump -> index queue ->
     indexer -> OpenSearch); the index lag is reported;
  2. with OpenSearch stopped, writes still succeed; after it restarts, indexing catches up
     with nothing lost;
  3. a worker killed with SIGKILL mid-batch loses and duplicates nothing once a new worker
     runs (redelivered events are harmless);
  4. updates and deletes reach the index (the latest version wins).

Usage: stream_e2e.py BASE_URL TOKEN CONTROL_FIFO
CONTROL_FIFO: commands to run.sh ("stop-opensearch", "start-opensearch", "kill-worker",
"start-worker"), each answered with one line on CONTROL_FIFO.reply.
"""

import json
import sys
import time
import urllib.error
import urllib.request
import uuid

BASE, TOKEN, CONTROL = sys.argv[1], sys.argv[2], sys.argv[3]
TAG = uuid.uuid4().hex[:10]


def request(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"{BASE}/{path}",
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/fhir+json",
            "Accept": "application/fhir+json",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def control(command):
    with open(CONTROL, "w") as fifo:
        fifo.write(command + "\n")
    with open(CONTROL + ".reply") as reply:
        answer = reply.readline().strip()
    if answer != "ok":
        raise SystemExit(f"control {command}: {answer}")


def create_patients(batch, count):
    ids = []
    for i in range(count):
        status, body = request(
            "POST",
            "Patient",
            {
                "resourceType": "Patient",
                "identifier": [{"system": f"urn:e2e:{TAG}", "value": f"{batch}-{i}"}],
                "name": [{"family": f"Stream{TAG}", "given": [batch]}],
            },
        )
        if status != 201:
            raise SystemExit(f"create {batch}-{i}: {status} {body}")
        ids.append(body["id"])
    return ids


def searched_ids(query):
    """Every id a search finds, following next links; duplicates kept."""
    ids = []
    status, bundle = request("GET", f"Patient?{query}&_count=500")
    while True:
        if status != 200:
            raise SystemExit(f"search {query}: {status} {bundle}")
        ids += [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]
        nxt = [l["url"] for l in bundle.get("link", []) if l["relation"] == "next"]
        if not nxt:
            return ids
        req = urllib.request.Request(nxt[0], headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, timeout=30) as reply:
            status, bundle = reply.status, json.loads(reply.read())


def wait_indexed(query, expected, what, timeout=120):
    started = time.monotonic()
    while True:
        ids = searched_ids(query)
        if sorted(ids) == sorted(expected):
            lag = time.monotonic() - started
            print(f"[stream-e2e] {what}: {len(expected)} indexed, caught up in {lag:.1f} s")
            return
        if len(ids) != len(set(ids)):
            raise SystemExit(f"{what}: duplicate matches {len(ids) - len(set(ids))}")
        if time.monotonic() - started > timeout:
            missing = set(expected) - set(ids)
            extra = set(ids) - set(expected)
            raise SystemExit(f"{what}: after {timeout} s, {len(missing)} missing, {len(extra)} unexpected")
        time.sleep(0.5)


def main():
    family = f"family=Stream{TAG}"
    first = create_patients("a", 20)
    wait_indexed(family, first, "writes through the stream")

    control("stop-opensearch")
    second = create_patients("b", 30)
    print("[stream-e2e] 30 writes succeeded with OpenSearch stopped")
    control("start-opensearch")
    wait_indexed(family, first + second, "catch-up after OpenSearch restarted")

    third = create_patients("c", 200)
    control("kill-worker")
    control("start-worker")
    wait_indexed(family, first + second + third, "after a worker was killed mid-batch")

    # Updates and deletes: the newest version wins in the index.
    gone = third[:10]
    for pid in gone:
        status, _ = request("DELETE", f"Patient/{pid}")
        assert status in (200, 204), status
    renamed = third[10:20]
    for pid in renamed:
        status, body = request("GET", f"Patient/{pid}")
        body["name"] = [{"family": f"Renamed{TAG}"}]
        status, _ = request("PUT", f"Patient/{pid}", body)
        assert status == 200, status
    kept = [p for p in first + second + third if p not in gone and p not in renamed]
    wait_indexed(family, kept, "updates and deletes")
    wait_indexed(f"family=Renamed{TAG}", renamed, "renamed resources")
    print("[stream-e2e] all checks passed")


if __name__ == "__main__":
    main()
