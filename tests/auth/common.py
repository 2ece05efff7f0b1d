"""Shared by the tests/auth scripts: small HTTP helpers over urllib and a check counter."""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


def request(method, url, token=None, body=None, form=None, headers=None):
    """Sends one request; returns a Reply for every HTTP status (never raises on 4xx/5xx)."""
    headers = dict(headers or {})
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/fhir+json")
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return Reply(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.headers, err.read())


class Checks:
    """Counts checks; a failed one is reported and the run goes on, so one run shows them all."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = []

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print(f"[{self.name}]   ok  {what}")
        else:
            self.failed.append(what)
            print(f"[{self.name}] FAIL  {what} {detail}")

    def expect(self, reply, status, what, error=None):
        """`reply` has `status`, and with `error`, the RFC 6749 `error` code `error`."""
        body = reply.json()
        got_error = body.get("error") if isinstance(body, dict) else None
        ok = reply.status == status and (error is None or got_error == error)
        self.check(ok, what, f"-> {reply.status} {reply.body[:300]!r}")
        return ok

    def finish(self):
        print(f"[{self.name}] {self.passed} checks passed, {len(self.failed)} failed")
        if self.failed:
            for what in self.failed:
                print(f"[{self.name}]   failed: {what}")
            sys.exit(1)


def admin_create_tenant(root, admin_token, tenant):
    reply = request("POST", f"{root}/admin/tenants", admin_token, {"id": tenant, "name": tenant},
                    headers={"Content-Type": "application/json"})
    if reply.status not in (201, 409):
        raise SystemExit(f"create tenant {tenant}: {reply.status} {reply.body!r}")
