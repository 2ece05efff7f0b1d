"""Shared by the export test scripts: HTTP with a bearer token, SMART Backend Services tokens,
search paging, NDJSON files and the R4 Patient compartment.

No third-party imports at module level except `requests`, so every script starts quickly.
"""

import gzip
import json
import os
import re
import sys
import time
import uuid

import requests

FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"
PARQUET = "application/vnd.apache.parquet"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# Resource types of the R4 (4.0.1) Patient compartment: every type with at least one `param` in
# CompartmentDefinition-patient.json of the hl7.fhir.r4.examples 4.0.1 package. A Patient- or
# Group-level export must return exactly the resources of these types that are in the compartment
# of its patients; other types (Practitioner, Organization, Device, ...) MAY be added.
PATIENT_COMPARTMENT_TYPES = frozenset(
    """
    Account AdverseEvent AllergyIntolerance Appointment AppointmentResponse AuditEvent Basic
    BodyStructure CarePlan CareTeam ChargeItem Claim ClaimResponse ClinicalImpression Communication
    CommunicationRequest Composition Condition Consent Coverage CoverageEligibilityRequest
    CoverageEligibilityResponse DetectedIssue DeviceRequest DeviceUseStatement DiagnosticReport
    DocumentManifest DocumentReference Encounter EnrollmentRequest EpisodeOfCare
    ExplanationOfBenefit FamilyMemberHistory Flag Goal Group ImagingStudy Immunization
    ImmunizationEvaluation ImmunizationRecommendation Invoice List MeasureReport Media
    MedicationAdministration MedicationDispense MedicationRequest MedicationStatement
    MolecularSequence NutritionOrder Observation Patient Person Procedure Provenance
    QuestionnaireResponse RelatedPerson RequestGroup ResearchSubject RiskAssessment Schedule
    ServiceRequest Specimen SupplyDelivery SupplyRequest VisionPrescription
    """.split()
)

# `Patient/{id}`, optionally absolute and/or versioned.
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def log(prefix, msg):
    print(f"[{prefix}] {msg}", flush=True)


def fail(prefix, msg):
    print(f"[{prefix}] error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def session(token=None):
    s = requests.Session()
    s.headers["Accept"] = FHIR_JSON
    if token:
        s.headers["Authorization"] = f"Bearer {token}"
    return s


def env_token():
    token = os.environ.get("HEARTH_TOKEN")
    if not token:
        fail("export", "HEARTH_TOKEN is not set")
    return token


def env_base():
    base = os.environ.get("HEARTH_BASE_URL")
    if not base:
        fail("export", "HEARTH_BASE_URL is not set")
    return base.rstrip("/")


# --- SMART Backend Services -----------------------------------------------------------------


def token_endpoint(base):
    """The token endpoint advertised in `{base}/.well-known/smart-configuration` (no token)."""
    r = requests.get(f"{base}/.well-known/smart-configuration", headers={"Accept": "application/json"})
    r.raise_for_status()
    return r.json()["token_endpoint"]


def signing_key(jwks_path):
    """The private key of a JWKS file: the first key with `sign` in `key_ops`, a `kid` and an
    `alg` (what smart-fetch also picks)."""
    from jwcrypto import jwk

    with open(jwks_path, encoding="utf8") as f:
        keys = json.load(f)["keys"]
    for key in keys:
        if "sign" in key.get("key_ops", []) and key.get("kid") and key.get("alg"):
            return key["alg"], jwk.JWK(**key)
    raise ValueError(f"no signing key in {jwks_path}")


def client_assertion(client_id, jwks_path, audience, lifetime=240):
    from jwcrypto import jwt

    alg, key = signing_key(jwks_path)
    header = {"alg": alg, "typ": "JWT", "kid": key["kid"]}
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
    }
    token = jwt.JWT(header=header, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def backend_token(base, client_id, jwks_path, scope):
    """Runs the client_credentials + private_key_jwt exchange; returns the token response."""
    endpoint = token_endpoint(base)
    r = requests.post(
        endpoint,
        data={
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion_type": JWT_BEARER,
            "client_assertion": client_assertion(client_id, jwks_path, endpoint),
        },
        headers={"Accept": "application/json"},
    )
    if r.status_code != 200:
        raise RuntimeError(f"POST {endpoint}: {r.status_code} {r.text[:500]}")
    return r.json()


# --- search ---------------------------------------------------------------------------------


def search_count(s, base, res_type):
    r = s.get(f"{base}/{res_type}", params={"_summary": "count"})
    r.raise_for_status()
    return r.json()["total"]


def search_all(s, base, res_type, page_size=1000):
    """Yields every current resource of `res_type`, following `next` links."""
    url = f"{base}/{res_type}"
    params = {"_count": str(page_size)}
    while url:
        r = s.get(url, params=params)
        r.raise_for_status()
        bundle = r.json()
        for entry in bundle.get("entry", []):
            if entry.get("search", {}).get("mode", "match") == "match":
                yield entry["resource"]
        url = next((link["url"] for link in bundle.get("link", []) if link.get("relation") == "next"), None)
        params = None


# --- NDJSON ---------------------------------------------------------------------------------

# `Type.001.ndjson` (smart-fetch, bulk_client.py), `Type.ndjson`, `Type-1.ndjson`, optionally .gz
_FILE_TYPE = re.compile(r"^([A-Z][A-Za-z]+)(?:[.\-_]\d+)?\.(ndjson|parquet)(?:\.gz)?$")


def file_type(name):
    """The resource type a bulk file's name declares, or None for other files."""
    m = _FILE_TYPE.match(name)
    return m.group(1) if m else None


def open_text(path):
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf8")
    return open(path, encoding="utf8")


def bulk_files(directory, ext="ndjson"):
    """{type: [paths]} of the bulk files directly in `directory` (not in error/ or deleted/)."""
    files = {}
    for name in sorted(os.listdir(directory)):
        t = file_type(name)
        if t and (name.endswith(f".{ext}") or name.endswith(f".{ext}.gz")):
            files.setdefault(t, []).append(os.path.join(directory, name))
    return files


def read_ndjson_dir(directory):
    """{type: {id: resource}} of a directory of NDJSON files (no validation)."""
    out = {}
    for t, paths in bulk_files(directory).items():
        for path in paths:
            with open_text(path) as f:
                for line in f:
                    if line.strip():
                        r = json.loads(line)
                        out.setdefault(t, {})[r["id"]] = r
    return out


def patient_refs(resource):
    """The ids of every Patient a resource references, anywhere in it."""
    ids = set()

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str):
                m = _PATIENT_REF.search(ref)
                if m:
                    ids.add(m.group(1))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(resource)
    return ids


def in_compartment(resource, patients):
    """Whether `resource` is in the Patient compartment of one of `patients` (ids). For the data
    these tests load, a reference to the patient anywhere in a resource of a compartment type
    means the resource is in that patient's compartment."""
    if resource["resourceType"] == "Patient":
        return resource["id"] in patients or bool(patient_refs(resource) & patients)
    if resource["resourceType"] not in PATIENT_COMPARTMENT_TYPES:
        return False
    return bool(patient_refs(resource) & patients)
