"""Searches on the AWS backend whose OpenSearch requests pass through sigv4_proxy.py.

    sigv4_e2e.py GOOD_BASE BAD_BASE TOKEN GOOD_PROXY BAD_PROXY

GOOD_BASE is a tenant base of a `hearth serve` whose OpenSearch requests go through GOOD_PROXY
(the signing credentials' secret), BAD_BASE one going through BAD_PROXY (another secret). Writes
Patients and Observations on GOOD_BASE, waits until the stream indexer indexed them, runs
string, token, date, chained and `_include` searches and checks their results; then checks that
GOOD_PROXY verified signed requests and refused none, and that a search on BAD_BASE answers a
FHIR OperationOutcome (no hang, no panic) while BAD_PROXY refused it and verified nothing.
"""

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

FAILED = []


def check(ok, what, detail=""):
    print(f"[sigv4] {'ok  ' if ok else 'FAIL'} {what}" + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        FAILED.append(what)


def call(method, url, token=None, body=None):
    """(status, parsed JSON or None, raw text)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("accept", "application/fhir+json")
    if data is not None:
        request.add_header("content-type", "application/fhir+json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            status, text = reply.status, reply.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    return status, parsed, text


class Hearth:
    def __init__(self, base, token):
        self.base, self.token = base.rstrip("/"), token

    def create(self, resource):
        status, body, text = call("POST", f"{self.base}/{resource['resourceType']}", self.token,
                                  resource)
        if status != 201:
            raise SystemExit(f"create {resource['resourceType']}: {status} {text[:300]}")
        return body["id"]

    def search(self, query):
        """(status, {"match": set of Type/id, "include": set of Type/id}, body)."""
        status, body, text = call("GET", f"{self.base}/{query}", self.token)
        found = {"match": set(), "include": set()}
        if status == 200:
            for entry in body.get("entry", []):
                resource = entry["resource"]
                mode = entry.get("search", {}).get("mode", "match")
                found[mode].add(f"{resource['resourceType']}/{resource['id']}")
        return status, found, body if body is not None else text


def stats(proxy):
    return call("GET", f"{proxy.rstrip('/')}/_sigv4_proxy/stats")[1]


def main():
    if len(sys.argv) != 6:
        raise SystemExit(__doc__)
    good_base, bad_base, token, good_proxy, bad_proxy = sys.argv[1:6]
    hearth = Hearth(good_base, token)
    run = uuid.uuid4().hex[:6]
    family_a, family_b = f"Sigvier{run}", f"Sigmund{run}"
    system = f"urn:oid:1.2.3.{int(run, 16)}"
    a = hearth.create({"resourceType": "Patient", "name": [{"family": family_a, "given": ["Ada"]}],
                       "identifier": [{"system": system, "value": "sig 1*"}],
                       "birthDate": "1970-01-01"})
    b = hearth.create({"resourceType": "Patient", "name": [{"family": family_b, "given": ["Bo"]}],
                       "identifier": [{"system": system, "value": "sig-2"}],
                       "birthDate": "1980-01-01"})
    code = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": f"pulse {run}"}
    o1 = hearth.create({"resourceType": "Observation", "status": "final", "code": code,
                        "subject": {"reference": f"Patient/{a}"},
                        "effectiveDateTime": "2021-03-04T10:00:00Z"})
    o2 = hearth.create({"resourceType": "Observation", "status": "final", "code": code,
                        "subject": {"reference": f"Patient/{b}"},
                        "effectiveDateTime": "2019-06-01T08:00:00Z"})
    a, b, o1, o2 = f"Patient/{a}", f"Patient/{b}", f"Observation/{o1}", f"Observation/{o2}"

    # The stream indexer (through the proxy) indexes them after the write answered.
    q = urllib.parse.quote
    started = time.monotonic()
    while True:
        _, patients, _ = hearth.search(f"Patient?identifier={q(system)}%7C")
        _, observations, _ = hearth.search(f"Observation?code={q('http://loinc.org|8867-4')}"
                                           f"&subject={q(a)},{q(b)}")
        if patients["match"] == {a, b} and observations["match"] == {o1, o2}:
            break
        if time.monotonic() - started > 90:
            raise SystemExit(f"not indexed after 90 s: {patients} {observations}")
        time.sleep(0.5)
    print(f"[sigv4] indexed after {time.monotonic() - started:.1f} s", flush=True)

    cases = [
        ("string", f"Patient?name=Sig&identifier={q(system)}%7C", {a, b}, set()),
        ("string exact", f"Patient?family:exact={family_a}", {a}, set()),
        ("token with special characters", f"Patient?identifier={q(system + '|sig 1*')}", {a},
         set()),
        ("date", f"Observation?subject={q(a)},{q(b)}&date=ge2021-01-01", {o1}, set()),
        ("date range", f"Observation?subject={q(a)},{q(b)}&date=lt2020-01-01&date=ge2019-01",
         {o2}, set()),
        ("chained", f"Observation?subject:Patient.family={family_a}", {o1}, set()),
        ("_include", f"Observation?subject:Patient.identifier={q(system)}%7C"
                     "&_include=Observation:subject", {o1, o2}, {a, b}),
        ("_revinclude", f"Patient?family={family_b}&_revinclude=Observation:subject", {b}, {o2}),
    ]
    for name, query, match, include in cases:
        status, found, body = hearth.search(query)
        check(status == 200 and found["match"] == match and found["include"] == include,
              f"{name}: {query}", f"{status} {found} {str(body)[:300]}")

    good = stats(good_proxy)
    check(good["verified"] > 0 and good["mismatches"] == 0 and good["unsigned"] == 0,
          f"the proxy verified {good['verified']} signed requests and refused none", good)

    # Another secret: OpenSearch (the proxy, as AWS would) refuses; hearth answers a FHIR error.
    status, body, text = call("GET", f"{bad_base.rstrip('/')}/Patient?family={family_a}", token)
    check(status >= 500 and isinstance(body, dict) and body.get("resourceType") == "OperationOutcome",
          f"a refused signature answers an OperationOutcome ({status})", text[:300])
    bad = stats(bad_proxy)
    check(bad["mismatches"] > 0 and bad["verified"] == 0,
          f"the proxy with another secret refused {bad['mismatches']} requests", bad)

    if FAILED:
        raise SystemExit(f"[sigv4] {len(FAILED)} check(s) failed: {FAILED}")


if __name__ == "__main__":
    main()
