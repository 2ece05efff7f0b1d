"""Hearth seen through real Python FHIR clients: PyPI `fhirpy` (sync client) and `fhirclient`
(SMART on FHIR's models, which parse every reply strictly).

The server URL comes from HEARTH_BASE_URL (e.g. http://127.0.0.1:8080/tenant/default) and the
bearer token from HEARTH_TOKEN; `tests/clients/run.sh` starts a server, mints a token with
`hearth token` and sets both.
"""

import os
import uuid

import pytest
import requests
from fhirclient.models.bundle import Bundle
from fhirclient.models.capabilitystatement import CapabilityStatement
from fhirclient.models.humanname import HumanName
from fhirclient.models.patient import Patient
from fhirclient.server import FHIRNotFoundException, FHIRServer
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ResourceNotFound

BASE_URL = os.environ.get("HEARTH_BASE_URL", "")
if not BASE_URL:
    pytest.exit("HEARTH_BASE_URL is not set (e.g. http://127.0.0.1:8080/tenant/default)", returncode=2)
TOKEN = os.environ.get("HEARTH_TOKEN", "")
if not TOKEN:
    pytest.exit("HEARTH_TOKEN is not set (mint one with `hearth token`)", returncode=2)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def new_patient(family, given="Ada"):
    return {
        "identifier": [{"system": "urn:hearth:test", "value": str(uuid.uuid4())}],
        "name": [{"family": family, "given": [given]}],
        "gender": "female",
        "birthDate": "1990-04-01",
    }


@pytest.fixture(scope="module")
def client():
    return SyncFHIRClient(BASE_URL, authorization=AUTH["Authorization"], requests_config={"timeout": 30})


# --- fhirpy ----------------------------------------------------------------------------------


def test_fhirpy_create_read_update_delete(client):
    patient = client.resource("Patient", **new_patient("Lovelace"))
    patient.save()
    assert patient.id, "server assigns an id"
    assert patient["meta"]["versionId"] == "1"
    assert patient["meta"]["lastUpdated"]

    read = client.reference("Patient", patient.id).to_resource()
    assert read.id == patient.id
    assert read["name"] == [{"family": "Lovelace", "given": ["Ada"]}]
    assert read["meta"]["versionId"] == "1"

    read["name"] = [{"family": "King", "given": ["Ada"]}]
    read.save()
    assert read["meta"]["versionId"] == "2"
    again = client.get("Patient", patient.id)
    assert again["name"][0]["family"] == "King"
    assert again["meta"]["versionId"] == "2"

    v1 = client.execute(f"Patient/{patient.id}/_history/1", method="get")
    assert v1["name"][0]["family"] == "Lovelace"

    read.delete()
    with pytest.raises(ResourceNotFound):
        client.get("Patient", patient.id)
    # fhirpy maps 404 and 410 to the same error; check the status itself.
    gone = requests.get(f"{BASE_URL}/Patient/{patient.id}", headers=AUTH, timeout=30)
    assert gone.status_code == 410, gone.text


def test_fhirpy_read_unknown_is_not_found(client):
    with pytest.raises(ResourceNotFound):
        client.get("Patient", f"missing-{uuid.uuid4()}")
    missing = requests.get(f"{BASE_URL}/Patient/missing-{uuid.uuid4()}", headers=AUTH, timeout=30)
    assert missing.status_code == 404, missing.text
    assert missing.json()["resourceType"] == "OperationOutcome"


def test_fhirpy_update_as_create(client):
    pid = f"fhirpy-{uuid.uuid4()}"
    patient = client.resource("Patient", id=pid, **new_patient("Hopper", "Grace"))
    patient.save()
    assert patient.id == pid
    assert patient["meta"]["versionId"] == "1"
    assert client.get("Patient", pid)["name"][0]["family"] == "Hopper"


def test_fhirpy_patch(client):
    patient = client.resource("Patient", **new_patient("Before"))
    patient.save()
    # fhirpy's patch sends a JSON merge-style body with PATCH; Hearth speaks JSON Patch, so use
    # the raw JSON Patch route through requests to check the server side of PATCH.
    reply = requests.patch(
        f"{BASE_URL}/Patient/{patient.id}",
        json=[{"op": "replace", "path": "/name/0/family", "value": "After"}],
        headers={"content-type": "application/json-patch+json", "accept": "application/fhir+json", **AUTH},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["meta"]["versionId"] == "2"
    assert client.get("Patient", patient.id)["name"][0]["family"] == "After"


def test_fhirpy_history_paging(client):
    patient = client.resource("Patient", **new_patient("V1"))
    patient.save()
    for v in range(2, 6):
        patient["name"] = [{"family": f"V{v}", "given": ["Ada"]}]
        patient.save()
        assert patient["meta"]["versionId"] == str(v)

    page = client.execute(f"Patient/{patient.id}/_history", method="get", params={"_count": 2})
    versions, sizes = [], []
    for _ in range(10):
        assert page["resourceType"] == "Bundle"
        assert page["type"] == "history"
        entries = page.get("entry", [])
        sizes.append(len(entries))
        for entry in entries:
            assert entry["resource"]["id"] == patient.id
            versions.append(entry["resource"]["meta"]["versionId"])
        next_url = next((l["url"] for l in page.get("link", []) if l["relation"] == "next"), None)
        if next_url is None:
            break
        # fhirpy accepts an absolute URL as long as it lies under the client's base URL.
        page = client.execute(next_url, method="get")
    else:
        pytest.fail("history paging did not terminate")
    assert sizes == [2, 2, 1]
    assert versions == ["5", "4", "3", "2", "1"]


def test_fhirpy_transaction(client):
    urn = f"urn:uuid:{uuid.uuid4()}"
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": urn,
                "resource": {"resourceType": "Patient", **new_patient("Tx")},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "heart rate"},
                    "subject": {"reference": urn},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    reply = client.execute("", method="post", data=bundle)
    assert reply["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in reply["entry"]]
    assert all(s.startswith("201") for s in statuses), statuses
    patient_id = reply["entry"][0]["response"]["location"].split("/")[1]
    obs_id = reply["entry"][1]["response"]["location"].split("/")[1]
    obs = client.get("Observation", obs_id)
    assert obs["subject"]["reference"] == f"Patient/{patient_id}"


# --- fhirclient (SMART on FHIR) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    server = FHIRServer(None, base_uri=BASE_URL)
    # fhirclient signs requests only after a SMART launch; a plain bearer token goes on its session.
    server.session.headers.update(AUTH)
    return server


def test_fhirclient_capability_statement_parses(server):
    cs = CapabilityStatement.read_from("metadata", server)
    assert cs.fhirVersion == "4.0.1"
    assert cs.rest and cs.rest[0].mode == "server"


def test_fhirclient_crud_and_history(server):
    patient = Patient({"resourceType": "Patient", **new_patient("Turing", "Alan")})
    created = Patient(patient.create(server))
    assert created.id
    assert created.meta.versionId == "1"

    read = Patient.read(created.id, server)
    assert read.name[0].family == "Turing"

    name = HumanName({"family": "Turing", "given": ["Alan", "Mathison"]})
    read.name = [name]
    updated = Patient(read.update(server))
    assert updated.meta.versionId == "2"
    assert updated.name[0].given == ["Alan", "Mathison"]

    history = Bundle.read_from(f"Patient/{created.id}/_history", server)
    assert history.type == "history"
    assert [e.resource.meta.versionId for e in history.entry] == ["2", "1"]

    read.delete(server)
    with pytest.raises(requests.HTTPError) as gone:
        Patient.read(created.id, server)
    assert gone.value.response.status_code == 410

    with pytest.raises(FHIRNotFoundException):
        Patient.read(f"missing-{uuid.uuid4()}", server)
