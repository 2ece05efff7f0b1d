"""A small Bulk Data Access (IG 2.0.0) client that checks the protocol as it goes; used where
smart-fetch cannot go (Patient-level export, Parquet output, cancelling).

    bulk_client.py export BASE CLIENT_ID JWKS OUT_DIR [--level system|patient|group]
                          [--group ID] [--type T1,T2] [--output-format FORMAT]
    bulk_client.py cancel BASE CLIENT_ID JWKS

Authenticates like smart-fetch (SMART Backend Services: client_credentials with an ES384
assertion, token endpoint from .well-known/smart-configuration) and asks for `system/*.read`.

`export` checks, in order:
  - kick-off without a token: 401;
  - kick-off (`Accept: application/fhir+json`, `Prefer: respond-async`): 202 with an absolute
    `Content-Location`;
  - polling: 202 with `X-Progress` and `Retry-After` (honoured, within 0.2-30 s) until 200 with
    `Content-Type: application/json` and a manifest: `transactionTime` an instant, `request` the
    kick-off URL, `requiresAccessToken: true`, `output` entries with `type` and an absolute `url`
    (types within `_type` when given), `error` an array;
  - every file: 401 without the token (the first one), 200 with it, NDJSON as
    `application/fhir+ndjson` with as many lines as the manifest's `count`, Parquet starting and
    ending with `PAR1`;
  - `error` files hold OperationOutcomes without `error`/`fatal` issues;
  - DELETE on the status URL: 202, and the status URL answers 404 afterwards.
It writes OUT_DIR/{Type}.{NNN}.ndjson|parquet (the layout smart-fetch uses), error/ and deleted/
files, and OUT_DIR/manifest.json.

`cancel` kicks off a system export, DELETEs it at once (202) and checks that the status URL then
answers 404, now and a second later.
"""

import argparse
import email.utils
import json
import os
import re
import sys
import time
import urllib.parse

import requests

from common import FHIR_JSON, NDJSON, PARQUET, backend_token, fail, log

INSTANT = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
)
FORMAT_EXT = {
    "application/fhir+ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "ndjson": "ndjson",
    PARQUET: "parquet",
}
MAX_WAIT = float(os.environ.get("EXPORT_TIMEOUT", "900"))


class Client:
    """Requests with a SMART Backend Services token, renewed before it expires or after a 401."""

    def __init__(self, base, client_id, jwks):
        self.base = base.rstrip("/")
        self.client_id = client_id
        self.jwks = jwks
        self.http = requests.Session()
        self.token = None
        self.expires = 0.0

    def _renew(self):
        granted = backend_token(self.base, self.client_id, self.jwks, "system/*.read")
        self.token = granted["access_token"]
        self.expires = time.monotonic() + float(granted.get("expires_in", 300))

    def request(self, method, url, headers=None, **kw):
        if self.token is None or time.monotonic() > self.expires - 30:
            self._renew()
        h = dict(headers or {})
        h["Authorization"] = f"Bearer {self.token}"
        r = self.http.request(method, url, headers=h, **kw)
        if r.status_code == 401:
            self._renew()
            h["Authorization"] = f"Bearer {self.token}"
            r = self.http.request(method, url, headers=h, **kw)
        return r


def kickoff_url(base, level, group, types, output_format):
    path = {"system": "$export", "patient": "Patient/$export", "group": f"Group/{group}/$export"}[level]
    params = {}
    if types:
        params["_type"] = ",".join(types)
    if output_format:
        params["_outputFormat"] = output_format
    query = urllib.parse.urlencode(params)
    return f"{base}/{path}" + (f"?{query}" if query else "")


def same_request(a, b):
    pa, pb = urllib.parse.urlsplit(a), urllib.parse.urlsplit(b)
    return (
        urllib.parse.unquote(pa.path).rstrip("/") == urllib.parse.unquote(pb.path).rstrip("/")
        and urllib.parse.parse_qs(pa.query) == urllib.parse.parse_qs(pb.query)
    )


def retry_after(value):
    try:
        return max(0.0, float(int(value)))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())


def kick_off(client, url):
    r = requests.get(url, headers={"Accept": FHIR_JSON, "Prefer": "respond-async"})
    if r.status_code != 401:
        fail("bulk", f"kick-off without a token answered {r.status_code}, not 401")
    r = client.request("GET", url, headers={"Accept": FHIR_JSON, "Prefer": "respond-async"})
    if r.status_code != 202:
        fail("bulk", f"kick-off {url}: {r.status_code} {r.text[:1000]}")
    status_url = r.headers.get("Content-Location", "")
    if not status_url.startswith(("http://", "https://")):
        fail("bulk", f"kick-off: Content-Location {status_url!r} is not an absolute URL")
    log("bulk", f"kick-off {url} → 202, status at {status_url}")
    return status_url


def poll(client, status_url):
    started = time.monotonic()
    polls = 0
    while True:
        r = client.request("GET", status_url, headers={"Accept": "application/json"})
        polls += 1
        if r.status_code == 200:
            break
        if r.status_code != 202:
            fail("bulk", f"status {status_url}: {r.status_code} {r.text[:1000]}")
        if "X-Progress" not in r.headers:
            fail("bulk", "a 202 status answer has no X-Progress")
        if "Retry-After" not in r.headers:
            fail("bulk", "a 202 status answer has no Retry-After")
        delay = min(max(retry_after(r.headers["Retry-After"]), 0.2), 30.0)
        if time.monotonic() - started + delay > MAX_WAIT:
            fail("bulk", f"export not done after {MAX_WAIT:.0f} s (last X-Progress: "
                         f"{r.headers['X-Progress']!r})")
        time.sleep(delay)
    took = time.monotonic() - started
    ctype = r.headers.get("Content-Type", "")
    if not ctype.startswith("application/json"):
        fail("bulk", f"the manifest's Content-Type is {ctype!r}, not application/json")
    log("bulk", f"complete after {polls} polls, {took:.1f} s")
    return r.json()


def check_manifest(manifest, url, types):
    for key in ("transactionTime", "request", "requiresAccessToken", "output", "error"):
        if key not in manifest:
            fail("bulk", f"the manifest lacks {key!r}: {json.dumps(manifest)[:1000]}")
    if not INSTANT.match(str(manifest["transactionTime"])):
        fail("bulk", f"transactionTime {manifest['transactionTime']!r} is not an instant")
    if not same_request(manifest["request"], url):
        fail("bulk", f"manifest request {manifest['request']!r} is not the kick-off URL {url!r}")
    if manifest["requiresAccessToken"] is not True:
        fail("bulk", "requiresAccessToken is not true")
    if not isinstance(manifest["error"], list) or not isinstance(manifest["output"], list):
        fail("bulk", "output and error must be arrays")
    for item in manifest["output"] + manifest["error"] + manifest.get("deleted", []):
        if not item.get("type") or not str(item.get("url", "")).startswith(("http://", "https://")):
            fail("bulk", f"a manifest entry lacks a type or an absolute url: {item}")
        if "count" in item and (not isinstance(item["count"], int) or item["count"] < 0):
            fail("bulk", f"a manifest entry has a bad count: {item}")
    if types:
        extra = {o["type"] for o in manifest["output"]} - set(types)
        if extra:
            fail("bulk", f"output has types outside _type: {sorted(extra)}")


def download(client, manifest, out_dir, ext):
    os.makedirs(out_dir, exist_ok=True)
    first = manifest["output"][0]["url"] if manifest["output"] else None
    if first:
        r = requests.get(first)
        if r.status_code != 401:
            fail("bulk", f"a file without the token answered {r.status_code}, not 401")
    counts = {}
    for kind in ("output", "error", "deleted"):
        sub = "" if kind == "output" else kind
        for item in manifest.get(kind, []):
            n = counts[(kind, item["type"])] = counts.get((kind, item["type"]), 0) + 1
            file_ext = ext if kind == "output" else "ndjson"
            accept = PARQUET if file_ext == "parquet" else NDJSON
            path = os.path.join(out_dir, sub, f"{item['type']}.{n:03}.{file_ext}")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            r = client.request("GET", item["url"], headers={"Accept": accept}, stream=True)
            if r.status_code != 200:
                fail("bulk", f"GET {item['url']}: {r.status_code} {r.text[:500]}")
            with open(path, "wb") as f:
                for chunk in r.iter_content(1 << 16):
                    f.write(chunk)
            ctype = r.headers.get("Content-Type", "")
            if file_ext == "ndjson":
                if not ctype.startswith(NDJSON):
                    fail("bulk", f"{item['url']}: Content-Type {ctype!r}, not {NDJSON}")
                with open(path, encoding="utf8") as f:
                    lines = sum(1 for line in f if line.strip())
                if "count" in item and item["count"] != lines:
                    fail("bulk", f"{path}: the manifest says {item['count']} resources, "
                                 f"the file has {lines}")
            else:
                with open(path, "rb") as f:
                    head = f.read(4)
                    f.seek(max(0, os.path.getsize(path) - 4))
                    tail = f.read(4)
                if os.path.getsize(path) < 12 or head != b"PAR1" or tail != b"PAR1":
                    fail("bulk", f"{path} is not a Parquet file (Content-Type {ctype!r})")
    files = {kind: sum(n for (k, _), n in counts.items() if k == kind)
             for kind in ("output", "error", "deleted")}
    log("bulk", "downloaded " + ", ".join(f"{n} {kind} file(s)" for kind, n in files.items()))


def check_errors(out_dir):
    error_dir = os.path.join(out_dir, "error")
    if not os.path.isdir(error_dir):
        return
    problems = []
    for name in sorted(os.listdir(error_dir)):
        with open(os.path.join(error_dir, name), encoding="utf8") as f:
            for line in f:
                if not line.strip():
                    continue
                outcome = json.loads(line)
                for issue in outcome.get("issue", []):
                    text = issue.get("diagnostics") or issue.get("details", {}).get("text")
                    if issue.get("severity") in ("error", "fatal"):
                        problems.append(text)
                    else:
                        log("bulk", f"server message ({issue.get('severity')}): {text}")
    if problems:
        fail("bulk", "the export reported errors: " + "; ".join(map(str, problems[:10])))


def delete(client, status_url):
    r = client.request("DELETE", status_url)
    if r.status_code != 202:
        fail("bulk", f"DELETE {status_url}: {r.status_code}, not 202")
    r = client.request("GET", status_url, headers={"Accept": "application/json"})
    if r.status_code != 404:
        fail("bulk", f"the status URL answers {r.status_code} after DELETE, not 404")


def export(args):
    client = Client(args.base, args.client_id, args.jwks)
    types = [t for t in (args.type or "").split(",") if t]
    fmt = args.output_format
    ext = FORMAT_EXT.get(fmt or "ndjson")
    if ext is None:
        fail("bulk", f"unknown output format {fmt!r}")
    url = kickoff_url(client.base, args.level, args.group, types, fmt)
    status_url = kick_off(client, url)
    manifest = poll(client, status_url)
    check_manifest(manifest, url, types)
    per_type = {}
    for o in manifest["output"]:
        per_type[o["type"]] = per_type.get(o["type"], 0) + o.get("count", 0)
    log("bulk", f"manifest: {len(manifest['output'])} files of {len(per_type)} types, "
                f"{sum(per_type.values())} resources by count, {len(manifest['error'])} error "
                f"file(s), transactionTime {manifest['transactionTime']}")
    download(client, manifest, args.out_dir, ext)
    with open(os.path.join(args.out_dir, "manifest.json"), "w", encoding="utf8") as f:
        json.dump(manifest, f, indent=2)
    check_errors(args.out_dir)
    delete(client, status_url)
    log("bulk", "DELETE → 202, then the status URL answers 404")


def cancel(args):
    client = Client(args.base, args.client_id, args.jwks)
    status_url = kick_off(client, kickoff_url(client.base, "system", None, [], None))
    delete(client, status_url)
    time.sleep(1)
    r = client.request("GET", status_url, headers={"Accept": "application/json"})
    if r.status_code != 404:
        fail("bulk", f"a cancelled export's status answers {r.status_code} a second later, not 404")
    log("bulk", "cancel: DELETE → 202, the status URL answers 404 at once and a second later")


def start(args):
    """Kicks off a system export and returns once it has exported some resources but not
    all: the moment to kill the server. Writes the status URL to args.state."""
    client = Client(args.base, args.client_id, args.jwks)
    url = kickoff_url(client.base, "system", None, [], None)
    status_url = kick_off(client, url)
    with open(args.state, "w", encoding="utf8") as f:
        json.dump({"status": status_url, "request": url}, f)
    deadline = time.monotonic() + MAX_WAIT
    while time.monotonic() < deadline:
        r = client.request("GET", status_url, headers={"Accept": "application/json"})
        if r.status_code == 200:
            fail("bulk", "the export finished before the server could be killed; lower "
                         "HEARTH_EXPORT_FILE_BYTES / HEARTH_EXPORT_PAGE")
        if r.status_code == 202:
            progress = r.headers.get("X-Progress", "")
            done = re.match(r"(\d+) resources exported", progress)
            if done and int(done.group(1)) > 0:
                log("bulk", f"mid-export ({progress!r}): kill now")
                return
        time.sleep(0.6)
    fail("bulk", "the export made no progress")


def resume(args):
    """After a restart: waits for the export started by `start`, checks and downloads it."""
    client = Client(args.base, args.client_id, args.jwks)
    with open(args.state, encoding="utf8") as f:
        state = json.load(f)
    manifest = poll(client, state["status"])
    check_manifest(manifest, state["request"], [])
    download(client, manifest, args.out_dir, "ndjson")
    check_errors(args.out_dir)
    log("bulk", f"resumed export complete: {sum(o['count'] for o in manifest['output'])} resources")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export")
    e.add_argument("base")
    e.add_argument("client_id")
    e.add_argument("jwks")
    e.add_argument("out_dir")
    e.add_argument("--level", choices=("system", "patient", "group"), default="system")
    e.add_argument("--group")
    e.add_argument("--type")
    e.add_argument("--output-format")
    c = sub.add_parser("cancel")
    c.add_argument("base")
    c.add_argument("client_id")
    c.add_argument("jwks")
    for name, fn in (("start", start), ("resume", resume)):
        r = sub.add_parser(name)
        r.add_argument("base")
        r.add_argument("client_id")
        r.add_argument("jwks")
        r.add_argument("state")
        if name == "resume":
            r.add_argument("out_dir")
        r.set_defaults(run=fn)
    args = p.parse_args()
    if args.command == "export":
        if (args.level == "group") != bool(args.group):
            p.error("--group goes with --level group")
        export(args)
    elif args.command == "cancel":
        cancel(args)
    else:
        args.run(args)


if __name__ == "__main__":
    sys.exit(main())
