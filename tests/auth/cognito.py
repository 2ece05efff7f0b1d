"""Amazon Cognito as an OIDC issuer, end to end on moto's cognito-idp.

    python cognito.py setup AWS_ENDPOINT STATE.json CONFIG.toml
        creates a user pool (custom attribute tenantId), two app clients, the groups
        practitioner and non-practitioner, and users of two tenants; writes their names to
        STATE.json and the `[[auth.oidc_issuers]]` entry that makes Hearth accept the pool's
        tokens to CONFIG.toml (issuer, jwks_uri override at moto, audience, claims).
    python cognito.py test AWS_ENDPOINT STATE.json ROOT_URL ADMIN_TOKEN
        signs the users in (AdminInitiateAuth, ADMIN_USER_PASSWORD_AUTH) and checks what their
        tokens may do against a Hearth started with CONFIG.toml.

What moto 5.2.5 does, and Cognito too: ID tokens carry `aud` = the app client id, the custom
attribute `custom:tenantId` and `cognito:groups`; access tokens carry `client_id`, `token_use:
access`, `cognito:groups` and no `aud` or custom attributes. The issuer is
`https://cognito-idp.{region}.amazonaws.com/{userPoolId}`; moto serves the keys at
`{endpoint}/{userPoolId}/.well-known/jwks.json` (RS256).
"""

import json
import sys
import uuid

import boto3

from common import Checks, admin_create_tenant, request

REGION = "us-east-1"
PASSWORD = "Correct-Horse-9-Battery"


def cognito(endpoint):
    return boto3.client("cognito-idp", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def setup(endpoint, state_path, config_path):
    idp = cognito(endpoint)
    run = uuid.uuid4().hex[:8]
    pool = idp.create_user_pool(
        PoolName=f"hearth-{run}",
        Schema=[{"Name": "tenantId", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    flows = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    app = idp.create_user_pool_client(UserPoolId=pool, ClientName="hearth-app",
                                      ExplicitAuthFlows=flows)["UserPoolClient"]["ClientId"]
    other_app = idp.create_user_pool_client(UserPoolId=pool, ClientName="other-app",
                                            ExplicitAuthFlows=flows)["UserPoolClient"]["ClientId"]
    for group in ("practitioner", "non-practitioner"):
        idp.create_group(UserPoolId=pool, GroupName=group)
    tenant_a, tenant_b = f"cog-{run}-a", f"cog-{run}-b"
    # user -> (tenant, group or None)
    users = {"alice": (tenant_a, "practitioner"), "bob": (tenant_a, "non-practitioner"),
             "carol": (tenant_a, None), "dave": (tenant_b, "practitioner")}
    for user, (tenant, group) in users.items():
        idp.admin_create_user(UserPoolId=pool, Username=user, MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "custom:tenantId", "Value": tenant}])
        idp.admin_set_user_password(UserPoolId=pool, Username=user, Password=PASSWORD,
                                    Permanent=True)
        if group:
            idp.admin_add_user_to_group(UserPoolId=pool, Username=user, GroupName=group)
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool}"
    state = {"pool": pool, "app": app, "other_app": other_app, "issuer": issuer,
             "tenants": [tenant_a, tenant_b], "users": users}
    with open(state_path, "w") as f:
        json.dump(state, f)
    with open(config_path, "w") as f:
        f.write(f"""# Written by tests/auth/cognito.py: Hearth accepting moto's Cognito user pool.
[[auth.oidc_issuers]]
issuer = "{issuer}"
jwks_uri = "{endpoint.rstrip('/')}/{pool}/.well-known/jwks.json"
audiences = ["{app}"]
tenant_claim = "custom:tenantId"
groups_claim = "cognito:groups"
require_scopes = false
""")


def sign_in(idp, state, user, app=None):
    result = idp.admin_initiate_auth(
        UserPoolId=state["pool"], ClientId=app or state["app"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD})["AuthenticationResult"]
    return result["IdToken"], result["AccessToken"]


def test(endpoint, state_path, root, admin_token):
    with open(state_path) as f:
        state = json.load(f)
    checks = Checks("cognito")
    idp = cognito(endpoint)
    tenant_a, tenant_b = state["tenants"]
    for tenant in (tenant_a, tenant_b):
        admin_create_tenant(root, admin_token, tenant)
    base_a, base_b = f"{root}/tenant/{tenant_a}", f"{root}/tenant/{tenant_b}"
    patient = {"resourceType": "Patient", "name": [{"family": "Cognito"}]}
    coverage = {"resourceType": "Coverage", "status": "active",
                "beneficiary": {"reference": "Patient/x"}, "payor": [{"display": "Payer"}]}

    # a practitioner of tenant A: everything in A, nothing in B
    alice_id, alice_access = sign_in(idp, state, "alice")
    created = request("POST", f"{base_a}/Patient", alice_id, patient)
    checks.check(created.status == 201, "practitioner (ID token) creates a Patient in its tenant",
                 f"-> {created.status} {created.body[:200]!r}")
    pid = (created.json() or {}).get("id")
    read = request("GET", f"{base_a}/Patient/{pid}", alice_id)
    checks.check(read.status == 200, "practitioner reads it back", read.status)
    search = request("GET", f"{base_a}/Patient?family=Cognito", alice_id)
    checks.check(search.status == 200, "practitioner searches its tenant", search.status)
    for method, url, body in [("GET", f"{base_b}/Patient?_count=1", None),
                              ("POST", f"{base_b}/Patient", patient),
                              ("GET", f"{base_b}/Patient/{pid}", None)]:
        reply = request(method, url, alice_id, body)
        checks.check(reply.status == 403, f"tenant A's user is refused in tenant B: {method} 403",
                     f"-> {reply.status}")
    # the access token names the app client in client_id (no aud), which the audience accepts,
    # but carries no custom attributes, hence no tenant
    reply = request("GET", f"{base_a}/Patient/{pid}", alice_access)
    checks.check(reply.status == 403, "an access token (no custom:tenantId) gets 403, not 401",
                 f"-> {reply.status} {reply.body[:200]!r}")

    # FWoA default groups: non-practitioner reads financial resources only
    bob_id, _ = sign_in(idp, state, "bob")
    for method, url, body, status, what in [
        ("GET", f"{base_a}/Coverage?_count=1", None, 200, "searches Coverage"),
        ("POST", f"{base_a}/Coverage", coverage, 403, "cannot create Coverage"),
        ("GET", f"{base_a}/Patient/{pid}", None, 403, "cannot read Patient"),
        ("POST", f"{base_a}/Patient", patient, 403, "cannot create Patient"),
    ]:
        reply = request(method, url, bob_id, body)
        checks.check(reply.status == status, f"non-practitioner {what}: {status}",
                     f"-> {reply.status} {reply.body[:200]!r}")
    # a user in no group may do nothing
    carol_id, _ = sign_in(idp, state, "carol")
    for method, url, body in [("GET", f"{base_a}/Patient/{pid}", None),
                              ("GET", f"{base_a}/Coverage?_count=1", None),
                              ("POST", f"{base_a}/Patient", patient)]:
        reply = request(method, url, carol_id, body)
        checks.check(reply.status == 403, f"user without a group: {method} 403",
                     f"-> {reply.status}")
    # tenant B's practitioner works in B
    dave_id, _ = sign_in(idp, state, "dave")
    reply = request("POST", f"{base_b}/Patient", dave_id, patient)
    checks.check(reply.status == 201, "tenant B's practitioner writes in tenant B", reply.status)
    reply = request("GET", f"{base_a}/Patient/{pid}", dave_id)
    checks.check(reply.status == 403, "tenant B's practitioner is refused in tenant A", reply.status)

    # tokens of another app client of the same pool: wrong audience, 401
    other_id, other_access = sign_in(idp, state, "alice", app=state["other_app"])
    for token, kind in [(other_id, "ID"), (other_access, "access")]:
        reply = request("GET", f"{base_a}/Patient/{pid}", token)
        checks.check(reply.status == 401, f"{kind} token of another app client: 401",
                     f"-> {reply.status}")
    # a tampered token: 401
    head, payload, sig = alice_id.split(".")
    tampered = f"{head}.{payload}.{sig[:-4]}AAAA"
    reply = request("GET", f"{base_a}/Patient/{pid}", tampered)
    checks.check(reply.status == 401, "a token with a broken signature: 401", reply.status)
    checks.finish()


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "setup":
        setup(*sys.argv[2:])
    elif len(sys.argv) == 6 and sys.argv[1] == "test":
        test(*sys.argv[2:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
