"""Two `hearth serve` processes (two API tasks) on one AWS deployment (moto + OpenSearch),
each with its own data dir, behind one public URL: the tenant directory, the client registry,
the client-assertion replay guard and the token-signing key are shared through DynamoDB.

    two_tasks.py ROOT_1 ROOT_2 PUBLIC_URL ADMIN_TOKEN BOUND_SECONDS CLI_TENANT CLI_TOKEN

Checks: a tenant created on 1 is served by 2; a client registered on 1 gets a token from 2; an
assertion used on 2 is refused on 1 (401 invalid_client, replayed jti); a token issued by either
task's /auth/token is accepted by the other; a client id is unique across both; CLI_TOKEN (from
`hearth token` for the deployment) reads CLI_TENANT on both; a tenant suspended, resumed or
deleted on 1 is refused or served again on 2 within BOUND_SECONDS (the tenant cache of each
task), and the time it took is printed.
"""

import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "auth"))

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from common import Checks, request  # noqa: E402
from token_endpoint import ASSERTION_TYPE, Client  # noqa: E402

JSON = {"Content-Type": "application/json"}


def until(predicate, bound):
    """Polls `predicate` every 50 ms for at most `bound` + 1 s; returns the seconds it took, or
    None when it never held."""
    started = time.monotonic()
    while time.monotonic() - started < bound + 1.0:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def main():
    if len(sys.argv) != 8:
        raise SystemExit(__doc__)
    one, two, public, admin = (a.rstrip("/") for a in sys.argv[1:5])
    bound = float(sys.argv[5])
    cli_tenant, cli_token = sys.argv[6:8]
    checks = Checks("two-tasks")
    run = uuid.uuid4().hex[:8]
    tenant = f"shared-{run}"

    # --- the tenant directory ----------------------------------------------------------------
    reply = request("POST", f"{one}/admin/tenants", admin, {"id": tenant}, headers=JSON)
    checks.check(reply.status == 201, "create the tenant on task 1", reply.body[:200])
    reply = request("GET", f"{two}/admin/tenants/{tenant}", admin)
    checks.check(reply.status == 200 and reply.json().get("status") == "active",
                 "task 2 reads the tenant", reply.body[:200])
    listed = request("GET", f"{two}/admin/tenants", admin).json() or {}
    checks.check(tenant in [t["id"] for t in listed.get("tenants", [])],
                 "task 2 lists the tenant")
    reply = request("POST", f"{two}/admin/tenants", admin, {"id": tenant}, headers=JSON)
    checks.check(reply.status == 409, "creating it again on task 2 is a conflict",
                 reply.status)

    # --- the client registry -----------------------------------------------------------------
    token_url = f"{public}/auth/token"
    client = Client(f"shared-client-{run}", token_url)
    jwks = {"keys": [client.add_key("ec-1", "ES384", ec.generate_private_key(ec.SECP384R1()))]}
    registration = {"client_id": client.client_id, "jwks": jwks, "scope": "system/Patient.cruds"}
    reply = request("POST", f"{one}/admin/tenants/{tenant}/clients", admin, registration,
                    headers=JSON)
    checks.check(reply.status == 201, "register the client on task 1", reply.body[:200])
    listed = request("GET", f"{two}/admin/tenants/{tenant}/clients", admin).json() or {}
    checks.check([c["client_id"] for c in listed.get("clients", [])] == [client.client_id],
                 "task 2 lists the client")
    other = f"other-{run}"
    request("POST", f"{two}/admin/tenants", admin, {"id": other}, headers=JSON)
    reply = request("POST", f"{two}/admin/tenants/{other}/clients", admin, registration,
                    headers=JSON)
    checks.check(reply.status == 409, "the client id is taken on task 2 too (another tenant)",
                 reply.status)

    def token_request(root, assertion):
        return request("POST", f"{root}/auth/token", form={
            "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion, "scope": "system/Patient.cruds"})

    # --- the replay guard --------------------------------------------------------------------
    assertion = client.assertion("ec-1")
    reply = token_request(two, assertion)
    checks.expect(reply, 200, "task 2 issues a token to the client registered on task 1")
    token = (reply.json() or {}).get("access_token")
    patient = {"resourceType": "Patient", "name": [{"family": "Shared"}]}
    reply = request("POST", f"{two}/tenant/{tenant}/Patient", token, patient)
    checks.check(reply.status == 201, "task 2 serves the tenant with that token",
                 reply.body[:200])
    reply = token_request(one, assertion)
    checks.expect(reply, 401, "the same assertion (same jti) on task 1 is refused",
                  "invalid_client")
    checks.check(b"jti" in reply.body, "refused as a replay", reply.body[:200])
    reply = token_request(one, client.assertion("ec-1"))
    checks.expect(reply, 200, "a fresh assertion on task 1 is accepted")
    token_1 = (reply.json() or {}).get("access_token")

    def served(root, bearer):
        return request("GET", f"{root}/tenant/{tenant}/Patient?_count=1", bearer).status == 200

    def refused(root, bearer):
        return request("GET", f"{root}/tenant/{tenant}/Patient?_count=1", bearer).status == 404

    checks.check(served(one, token_1), "task 1 serves the tenant with its own token")

    # --- the deployment's signing key --------------------------------------------------------
    checks.check(served(two, token_1), "task 2 accepts a token issued by task 1")
    checks.check(served(one, token), "task 1 accepts a token issued by task 2")
    for name, root in (("task 1", one), ("task 2", two)):
        reply = request("GET", f"{root}/tenant/{cli_tenant}/Patient?_count=1", cli_token)
        checks.check(reply.status == 200, f"{name} accepts a `hearth token` token",
                     reply.body[:200])

    # --- suspension, resumption and deletion on task 1, seen by task 2 -----------------------
    reply = request("POST", f"{one}/admin/tenants/{tenant}/suspend", admin)
    checks.check(reply.status == 200, "suspend the tenant on task 1", reply.body[:200])
    checks.check(refused(one, token_1), "task 1 refuses the suspended tenant at once")
    took = until(lambda: refused(two, token), bound)
    checks.check(took is not None and took <= bound + 0.5,
                 f"task 2 refuses the suspended tenant within {bound} s", took)
    print(f"[two-tasks] suspension seen by task 2 after {took:.2f} s" if took is not None
          else "[two-tasks] suspension never seen by task 2")
    reply = token_request(two, client.assertion("ec-1"))
    checks.expect(reply, 401, "task 2 issues no token for a suspended tenant's client",
                  "invalid_client")
    request("POST", f"{one}/admin/tenants/{tenant}/resume", admin)
    took = until(lambda: served(two, token), bound)
    checks.check(took is not None, "task 2 serves the resumed tenant again", took)
    reply = request("DELETE", f"{one}/admin/tenants/{tenant}", admin)
    checks.check(reply.status == 204, "delete the tenant on task 1", reply.body[:200])
    took = until(lambda: refused(two, token), bound)
    checks.check(took is not None and took <= bound + 0.5,
                 f"task 2 refuses the deleted tenant within {bound} s", took)
    print(f"[two-tasks] deletion seen by task 2 after {took:.2f} s" if took is not None
          else "[two-tasks] deletion never seen by task 2")
    reply = request("GET", f"{two}/admin/tenants/{tenant}", admin)
    checks.check(reply.status == 404, "task 2 no longer finds the tenant", reply.status)
    reply = token_request(two, client.assertion("ec-1"))
    checks.expect(reply, 401, "the deleted tenant's client gets no token on task 2",
                  "invalid_client")
    request("DELETE", f"{two}/admin/tenants/{other}", admin)
    checks.finish()


if __name__ == "__main__":
    main()
