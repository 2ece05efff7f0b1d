"""Registers a SMART Backend Services client for the export tests and proves it gets tokens.

    smart_client.py register ROOT_URL TENANT CLIENT_ID KEY_DIR
    smart_client.py token BASE_URL CLIENT_ID JWKS_PATH SCOPE

`register` makes an ES384 key pair, writes the private JWK Set to KEY_DIR/CLIENT_ID.jwks (what
`smart-fetch --smart-key` reads: a `.jwks` file whose key has `kid`, `alg` and
`key_ops: ["sign"]`), registers the public key with `POST ROOT_URL/admin/tenants/TENANT/clients`
`{client_id, jwks, scope: "system/*.read"}` using HEARTH_ADMIN_TOKEN, then checks:
  - `{base}/.well-known/smart-configuration` advertises a token endpoint, private_key_jwt and
    ES384, and works without a token;
  - the exchange (client_credentials + a signed assertion) grants the scopes smart-fetch asks
    for (`system/{Type}.read` for each type it knows) and the token reads a Patient search;
  - an assertion signed by another key of the same kid is refused.
`token` prints one access token (what bulk_client.py and the shell use).
"""

import json
import os
import sys

import requests
from jwcrypto import jwk

from common import FHIR_JSON, backend_token, fail, log

# What smart-fetch 1.0.3 requests (cumulus_fhir_support JwtAuth with smart_fetch.resources
# SCOPE_TYPES, v1 scopes because the server advertises permission-v1).
SMART_FETCH_TYPES = [
    "Patient", "Encounter", "AllergyIntolerance", "Condition", "Device", "DiagnosticReport",
    "DocumentReference", "EpisodeOfCare", "Immunization", "MedicationDispense",
    "MedicationRequest", "Observation", "Procedure", "ServiceRequest", "Specimen",
    "Binary", "Location", "Medication", "Organization", "Practitioner", "PractitionerRole",
]
SMART_FETCH_SCOPE = " ".join(f"system/{t}.read" for t in SMART_FETCH_TYPES)


def new_key(kid):
    key = jwk.JWK.generate(kty="EC", crv="P-384", kid=kid)
    private = key.export_private(as_dict=True)
    private.update({"alg": "ES384", "use": "sig", "key_ops": ["sign"]})
    public = key.export_public(as_dict=True)
    public.update({"alg": "ES384", "use": "sig"})
    return private, public


def register(root, tenant, client_id, key_dir):
    admin = os.environ.get("HEARTH_ADMIN_TOKEN") or fail("client", "HEARTH_ADMIN_TOKEN is not set")
    base = f"{root}/tenant/{tenant}"
    kid = f"{client_id}-1"
    private, public = new_key(kid)
    os.makedirs(key_dir, exist_ok=True)
    jwks_path = os.path.join(key_dir, f"{client_id}.jwks")
    fd = os.open(jwks_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf8") as f:
        json.dump({"keys": [private]}, f)

    r = requests.post(
        f"{root}/admin/tenants/{tenant}/clients",
        json={"client_id": client_id, "jwks": {"keys": [public]}, "scope": "system/*.read"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    if r.status_code != 201:
        fail("client", f"register {client_id}: {r.status_code} {r.text[:500]}")
    log("client", f"registered {client_id} (ES384, kid {kid}) for tenant {tenant} "
                  f"with scope system/*.read; private JWKS in {jwks_path}")

    r = requests.get(f"{base}/.well-known/smart-configuration")
    if r.status_code != 200:
        fail("client", f".well-known/smart-configuration without a token: {r.status_code}")
    config = r.json()
    endpoint = config.get("token_endpoint", "")
    if not endpoint.startswith(("http://", "https://")):
        fail("client", f"token_endpoint is not an absolute URL: {endpoint!r}")
    if "private_key_jwt" not in config.get("token_endpoint_auth_methods_supported", []):
        fail("client", "private_key_jwt is not advertised")
    if "ES384" not in config.get("token_endpoint_auth_signing_alg_values_supported", []):
        fail("client", "ES384 is not advertised")

    granted = backend_token(base, client_id, jwks_path, SMART_FETCH_SCOPE)
    if granted.get("token_type", "").lower() != "bearer" or not granted.get("access_token"):
        fail("client", f"unexpected token response {granted}")
    if set(granted.get("scope", "").split()) != set(SMART_FETCH_SCOPE.split()):
        fail("client", f"granted {granted.get('scope')!r}, asked {SMART_FETCH_SCOPE!r}")
    r = requests.get(
        f"{base}/Patient",
        params={"_count": "1"},
        headers={"Authorization": f"Bearer {granted['access_token']}", "Accept": FHIR_JSON},
    )
    if r.status_code != 200:
        fail("client", f"Patient search with the client's token: {r.status_code} {r.text[:300]}")
    log("client", f"{endpoint} granted {len(SMART_FETCH_TYPES)} system/*.read scopes "
                  f"(expires_in {granted.get('expires_in')}); the token reads Patient")

    # The same kid with a different key must not authenticate.
    impostor, _ = new_key(kid)
    impostor_path = os.path.join(key_dir, "impostor.jwks")
    with open(impostor_path, "w", encoding="utf8") as f:
        json.dump({"keys": [impostor]}, f)
    try:
        backend_token(base, client_id, impostor_path, "system/Patient.read")
    except RuntimeError as e:
        if "invalid_client" not in str(e):
            fail("client", f"an assertion signed by the wrong key: {e}")
    else:
        fail("client", "an assertion signed by the wrong key got a token")
    finally:
        os.remove(impostor_path)
    log("client", "an assertion signed by another key is refused (invalid_client)")


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "register":
        register(*sys.argv[2:])
    elif len(sys.argv) == 6 and sys.argv[1] == "token":
        _, _, base, client_id, jwks_path, scope = sys.argv
        print(backend_token(base.rstrip("/"), client_id, jwks_path, scope)["access_token"])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
