"""SMART Backend Services token endpoint (`POST /auth/token`) against a running Hearth, with key
pairs made by `cryptography` and client assertions signed by PyJWT: an implementation
independent of the server's Rust JOSE stack.

    python token_endpoint.py ROOT_URL ADMIN_TOKEN CERT_DIR

ROOT_URL is the server's origin (http://127.0.0.1:PORT); ADMIN_TOKEN an admin token
(`hearth token --admin`); CERT_DIR what `tls.py` wrote (the server must trust its ca.pem through
HEARTH_AUTH_CA_FILE). Registers clients for a fresh tenant through the admin API (inline JWKS,
and a jwks_uri served over HTTPS), then checks good RS384 and ES384 assertions and each way an
assertion or request can be wrong, with the RFC 6749 error and status the server must answer
(invalid_client: 401, RFC 6749 §5.2; the others: 400).
"""

import base64
import hashlib
import hmac
import json
import sys
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from common import Checks, admin_create_tenant, request
from tls import JwksServer

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
REGISTERED_SCOPE = "system/Patient.cruds system/Observation.rs"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(key, alg, kid):
    algorithm = RSAAlgorithm if alg.startswith("RS") else ECAlgorithm
    jwk = algorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return jwk


class Client:
    """A registered client: its id, its keys by kid, and assertions made with PyJWT."""

    def __init__(self, client_id, audience):
        self.client_id = client_id
        self.audience = audience
        self.keys = {}

    def add_key(self, kid, alg, key):
        self.keys[kid] = (alg, key)
        return public_jwk(key, alg, kid)

    def claims(self, **overrides):
        now = int(time.time())
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": self.audience,
                  "exp": now + 240, "iat": now, "jti": str(uuid.uuid4())}
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def assertion(self, kid, alg=None, header_kid=None, **overrides):
        key_alg, key = self.keys[kid]
        return jwt.encode(self.claims(**overrides), key, algorithm=alg or key_alg,
                          headers={"kid": header_kid or kid, "typ": "JWT"})


def unsigned(claims, kid):
    """A JWT with `alg: none` (PyJWT makes these too, but spelled out is clearer)."""
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."


def hs256_with_public_key(claims, kid, public_pem):
    """The classic algorithm-confusion forgery: HS256 keyed with the client's public key bytes.
    PyJWT refuses to do this (rightly), so it is built by hand."""
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def scope_covers(registered, granted):
    """Whether the SMART scope `granted` (`system/Type.letters` or v1) is within `registered`."""
    v1 = {"read": "rs", "write": "cud", "*": "cruds"}

    def parse(scope):
        context, rest = scope.split("/", 1)
        rtype, perms = rest.split(".", 1)
        return context, rtype, set(v1.get(perms, perms))

    context, rtype, perms = parse(granted)
    for scope in registered.split():
        c, t, p = parse(scope)
        if c == context and t in ("*", rtype) and perms <= p:
            return True
    return False


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    root, admin_token, cert_dir = sys.argv[1].rstrip("/"), sys.argv[2], Path(sys.argv[3])
    checks = Checks("token-endpoint")
    run = uuid.uuid4().hex[:8]
    tenant, other_tenant = f"pyjwt-{run}", f"pyjwt-{run}-b"
    for t in (tenant, other_tenant):
        admin_create_tenant(root, admin_token, t)
    base = f"{root}/tenant/{tenant}"

    discovery = request("GET", f"{base}/.well-known/smart-configuration").json()
    token_url = discovery["token_endpoint"]
    checks.check(token_url == f"{root}/auth/token", "discovery advertises the token endpoint",
                 token_url)
    checks.check("private_key_jwt" in discovery.get("token_endpoint_auth_methods_supported", []),
                 "discovery lists private_key_jwt")

    # --- a client with an inline JWKS: one RS384 and one ES384 key --------------------------
    client = Client(f"pyjwt-inline-{run}", token_url)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP384R1())
    jwks = {"keys": [client.add_key("rsa-1", "RS384", rsa_key),
                     client.add_key("ec-1", "ES384", ec_key)]}
    clients_url = f"{root}/admin/tenants/{tenant}/clients"
    registration = {"client_id": client.client_id, "jwks": jwks, "scope": REGISTERED_SCOPE}
    reply = request("POST", clients_url, admin_token, registration,
                    headers={"Content-Type": "application/json"})
    checks.check(reply.status == 201, "register the inline-JWKS client", reply.body[:300])

    def token_request(assertion, scope="system/Patient.rs", **form):
        fields = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                  "client_assertion": assertion, "scope": scope}
        fields.update(form)
        return request("POST", token_url, form={k: v for k, v in fields.items() if v is not None})

    def granted(reply, scope, what):
        body = reply.json() or {}
        ok = (reply.status == 200 and body.get("token_type", "").lower() == "bearer"
              and 0 < body.get("expires_in", 0) <= 300
              and reply.headers.get("Cache-Control") == "no-store"
              and all(scope_covers(REGISTERED_SCOPE, s) for s in body.get("scope", "").split())
              and set(body.get("scope", "").split()) <= set(scope.split()))
        checks.check(ok, what, f"-> {reply.status} {reply.body[:300]!r}")
        return body.get("access_token")

    # good assertions
    rs_token = granted(token_request(client.assertion("rsa-1")), "system/Patient.rs",
                       "RS384 assertion: token, expires_in <= 300, scope within the registration")
    es_token = granted(token_request(client.assertion("ec-1"), scope="system/Patient.cruds"),
                       "system/Patient.cruds", "ES384 assertion: token for the full registered scope")
    if rs_token and es_token:
        patient = {"resourceType": "Patient", "name": [{"family": "Pyjwt"}]}
        created = request("POST", f"{base}/Patient", es_token, patient)
        checks.check(created.status == 201, "the ES384 client's token creates a Patient",
                     created.status)
        pid = (created.json() or {}).get("id")
        read = request("GET", f"{base}/Patient/{pid}", rs_token)
        checks.check(read.status == 200, "the RS384 client's token reads it", read.status)
        write = request("POST", f"{base}/Patient", rs_token, patient)
        checks.check(write.status == 403, "a read-only token cannot write", write.status)
        other = request("GET", f"{root}/tenant/{other_tenant}/Patient?_count=1", rs_token)
        checks.check(other.status == 403, "the token is refused in another tenant", other.status)
        obs = request("GET", f"{base}/Observation?_count=1", rs_token)
        checks.check(obs.status == 403, "a scope not granted (Observation) is refused", obs.status)

    # each way an assertion can be wrong: invalid_client, 401
    now = int(time.time())
    replayed = client.assertion("ec-1")
    token_request(replayed)
    public_pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    stranger = ec.generate_private_key(ec.SECP384R1())
    bad_assertions = [
        ("expired assertion", client.assertion("rsa-1", exp=now - 120, iat=now - 400)),
        ("exp more than 5 minutes ahead", client.assertion("rsa-1", exp=now + 600)),
        ("replayed jti", replayed),
        ("wrong aud", client.assertion("rsa-1", aud="https://elsewhere.example.org/auth/token")),
        ("aud of the FHIR base instead of the token endpoint", client.assertion("rsa-1", aud=base)),
        ("unknown kid", client.assertion("rsa-1", header_kid="rsa-404")),
        ("RS256 instead of RS384", client.assertion("rsa-1", alg="RS256")),
        ("HS256 keyed with the public key", hs256_with_public_key(client.claims(), "rsa-1",
                                                                   public_pem)),
        ("alg none", unsigned(client.claims(), "rsa-1")),
        ("the RSA key's kid on an ES384 signature",
         jwt.encode(client.claims(), ec_key, algorithm="ES384", headers={"kid": "rsa-1"})),
        ("signed by a key the client never registered",
         jwt.encode(client.claims(), stranger, algorithm="ES384", headers={"kid": "ec-1"})),
        ("iss and sub of an unknown client",
         client.assertion("rsa-1", iss="nobody", sub="nobody")),
        ("sub differs from iss", client.assertion("rsa-1", sub="someone-else")),
        ("no exp", client.assertion("rsa-1", exp=None)),
        ("no jti", client.assertion("rsa-1", jti=None)),
        ("not a JWT", "not-a-jwt"),
    ]
    for what, assertion in bad_assertions:
        checks.expect(token_request(assertion), 401, f"{what}: 401 invalid_client",
                      "invalid_client")
    checks.expect(token_request(client.assertion("rsa-1"), client_id="another-client"), 401,
                  "client_id parameter differs from the assertion: 401 invalid_client",
                  "invalid_client")
    checks.expect(token_request(client.assertion("rsa-1"),
                                client_assertion_type="urn:example:other"),
                  401, "unknown client_assertion_type: 401 invalid_client", "invalid_client")

    # request errors: 400
    checks.expect(token_request(client.assertion("rsa-1"), scope="system/Observation.cruds"), 400,
                  "scope beyond the pre-authorized ones: 400 invalid_scope", "invalid_scope")
    checks.expect(token_request(client.assertion("rsa-1"), scope="system/*.rs"), 400,
                  "wildcard scope beyond the pre-authorized ones: 400 invalid_scope",
                  "invalid_scope")
    checks.expect(token_request(client.assertion("rsa-1"), scope="not a scope"), 400,
                  "malformed scope: 400 invalid_scope", "invalid_scope")
    checks.expect(token_request(client.assertion("rsa-1"), grant_type="password"), 400,
                  "grant_type password: 400 unsupported_grant_type", "unsupported_grant_type")
    checks.expect(token_request(None), 400, "missing client_assertion: 400 invalid_request",
                  "invalid_request")
    checks.expect(token_request(client.assertion("rsa-1"), scope=None), 400,
                  "missing scope: 400 invalid_request", "invalid_request")
    checks.expect(request("POST", token_url, body={"grant_type": "client_credentials"},
                          headers={"Content-Type": "application/json"}),
                  400, "a JSON body: 400 invalid_request", "invalid_request")
    # the good key still works after all that (no lock-out, fresh jti)
    granted(token_request(client.assertion("rsa-1")), "system/Patient.rs",
            "a fresh good assertion still succeeds")

    # --- a client whose keys are at an https jwks_uri ------------------------------------
    uri_client = Client(f"pyjwt-uri-{run}", token_url)
    uri_key = ec.generate_private_key(ec.SECP384R1())
    server = JwksServer(str(cert_dir / "server.pem"), str(cert_dir / "server.key"),
                        {"keys": [uri_client.add_key("uri-1", "ES384", uri_key)]}, max_age=300)
    rogue = JwksServer(str(cert_dir / "rogue.pem"), str(cert_dir / "rogue.key"), server.jwks)
    try:
        reply = request("POST", clients_url, admin_token,
                        {"client_id": uri_client.client_id, "jwks_uri": server.url,
                         "scope": "system/Patient.rs"},
                        headers={"Content-Type": "application/json"})
        checks.check(reply.status == 201, "register a client with an https jwks_uri", reply.body)
        first = token_request(uri_client.assertion("uri-1"))
        granted(first, "system/Patient.rs",
                "ES384 assertion checked with keys fetched over https (CA from HEARTH_AUTH_CA_FILE)")
        granted(token_request(uri_client.assertion("uri-1")), "system/Patient.rs",
                "a second assertion with the same key")
        checks.check(server.requests == 1,
                     "the jwks_uri is fetched once and cached within its max-age",
                     f"{server.requests} fetches")
        checks.expect(token_request(uri_client.assertion("uri-1", header_kid="uri-404")), 401,
                      "unknown kid at a jwks_uri: 401 invalid_client", "invalid_client")

        # a server whose certificate chains to an untrusted CA is never believed
        rogue_client = Client(f"pyjwt-rogue-{run}", token_url)
        rogue_client.keys = uri_client.keys
        reply = request("POST", clients_url, admin_token,
                        {"client_id": rogue_client.client_id, "jwks_uri": rogue.url,
                         "scope": "system/Patient.rs"},
                        headers={"Content-Type": "application/json"})
        checks.check(reply.status == 201, "register a client whose jwks_uri is untrusted", reply.body)
        refused = token_request(rogue_client.assertion("uri-1"))
        checks.check(refused.status in (401, 503) and refused.status != 200,
                     "keys from a server with an untrusted certificate are not used",
                     f"-> {refused.status} {refused.body[:200]!r}")
    finally:
        server.close()
        rogue.close()

    # registration refuses a jwks_uri that is not https (except on loopback)
    for uri, status in [("http://jwks.example.org/jwks.json", 400),
                        ("ftp://jwks.example.org/jwks.json", 400),
                        ("http://127.0.0.1:9/jwks.json", 201)]:
        reply = request("POST", clients_url, admin_token,
                        {"client_id": f"pyjwt-scheme-{uuid.uuid4().hex[:8]}", "jwks_uri": uri,
                         "scope": "system/Patient.rs"},
                        headers={"Content-Type": "application/json"})
        body = reply.json() or {}
        ok = reply.status == status and (
            status != 400 or body.get("resourceType") == "OperationOutcome")
        checks.check(ok, f"register jwks_uri {uri}: {status}"
                     + (" with an OperationOutcome" if status == 400 else ""),
                     f"-> {reply.status} {reply.body[:200]!r}")

    checks.finish()


if __name__ == "__main__":
    main()
