"""An SBML model imported through the API is a twin in the store, the API and the dashboard,
with no code written for it; hostile uploads are refused and leave nothing behind.

The model: BIOMD0000000379 (Dalla Man, Rizza & Cobelli 2007, the meal glucose-insulin model
of a healthy subject; ``../shared/reference/biomodels/``, CC0), timed in minutes (SBML Level 2
without a time unit: the mapping says ``min``), its plasma glucose ``G`` (mg/dL) mapped to
LOINC 2339-0. The readings posted as FHIR Observations are the model's own ``G`` at its
default parameters (the meal at model time 0): a twin started from priors around those
parameters must forecast near them -- numbers that would be wrong if the mapping, the units or
the time unit were lost on the way through the store.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from medtwin.models import list_declarations
from medtwin.models._registry import unregister_model

KEY = bytes(range(32))
EPOCH = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)  # the meal: model time 0
NAME = "dallaman-meal"
_SHARED = (Path(__file__).resolve().parents[2].parent / "shared", Path("/work/shared"))
BIOMD379 = next(
    (p for s in _SHARED if (p := s / "reference/biomodels/BIOMD0000000379.xml").is_file()), None
)
pytestmark = pytest.mark.skipif(BIOMD379 is None, reason="BIOMD0000000379.xml is not here")

MAPPING = {
    "name": NAME,
    "time_unit": "min",
    "outputs": [{"output": "G", "loinc": "2339-0", "unit": "mg/dL",
                 "noise": {"absolute": 4.0, "relative": 0.03}, "description": "plasma glucose"}],
    "free": [{"parameter": "k_p2", "median": 0.0021, "sigma": 0.3},
             {"parameter": "k_abs", "median": 0.057, "sigma": 0.3}],
}  # fmt: skip
SBML_HEAD = '<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">'
XXE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE sbml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    f'{SBML_HEAD}<model id="m"><listOfParameters><parameter id="p" name="&xxe;" value="1" '
    'constant="true"/></listOfParameters></model></sbml>'
)
LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
              for i in range(1, 10))
    + f"]>\n{SBML_HEAD}<model id=\"m\" name=\"&lol9;\"/></sbml>"
)  # fmt: skip


def glucose(i: int, minute: int, value: float, subject: str) -> dict:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:test:lab", "value": f"g-{i}"}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}]},
        "subject": {"reference": subject},
        "effectiveDateTime": (EPOCH + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z"),
        "valueQuantity": {"value": value, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                          "code": "mg/dL"},
    }  # fmt: skip


PATIENT = {"resourceType": "Patient", "identifier": [{"system": "urn:test:mrn", "value": "DM-1"}],
           "name": [{"family": "Roe", "given": ["Al"]}], "birthDate": "1970-01-01"}  # fmt: skip


@pytest.fixture(scope="module")
def truth():
    """The model's own plasma glucose at its default parameters, 0..300 min (1-min grid)."""
    from medtwin.sbml import load_sbml
    from medtwin.simulate import simulate

    model = load_sbml(BIOMD379, time_unit="min", observables=["G"])()
    return np.asarray(simulate(model, model.default_params(), t1=300.0).observable("G"))


def open_site(path: Path):
    """A store with an admin (``ops``) and a clinician (``dr``), and their bearer headers."""
    from medtwin.store import open_store

    url = f"sqlite:///{path / 'm.db'}"
    store = open_store(url, key=KEY)
    store.add_user("ops", "admin")
    store.add_user("dr", "clinician")
    tokens = {u: {"authorization": f"Bearer {store.issue_token(u)}"} for u in ("ops", "dr")}
    return url, store, tokens


@pytest.fixture
def empty_site(tmp_path):
    _, store, tokens = open_site(tmp_path)
    yield store, tokens
    store.close()


@pytest.fixture
def site(tmp_path):
    """:func:`open_site` and a second store object on the same database, opened before any
    import (another service worker)."""
    from medtwin.store import open_store

    url, store, tokens = open_site(tmp_path)
    worker = open_store(url, key=KEY)
    yield url, store, worker, tokens
    worker.close()
    store.close()
    unregister_model(NAME)


def post_json(client, url, doc, auth, content_type="application/json"):
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return client.post(url, content=body, headers={**auth, "content-type": content_type})


def nothing_stored(store, entries_before: int) -> None:
    assert store.imported_models() == []
    assert [e for e in store.audit_entries(action="model.import")] == []
    assert len(store.audit_entries()) == entries_before


def test_hostile_and_invalid_uploads_get_a_4xx_and_store_nothing(empty_site):
    from medtwin.service import create_app

    store, tokens = empty_site
    ops, dr = tokens["ops"], tokens["dr"]
    with TestClient(create_app(store, login_limit=1000), raise_server_exceptions=False) as client:
        before = len(store.audit_entries())
        for doc, reason in ((XXE, "declares a DOCTYPE"), (LAUGHS, "declares a DOCTYPE")):
            r = post_json(client, "/models", {"sbml": doc, "mapping": MAPPING}, ops)
            assert r.status_code == 422, r.text
            text = r.json()["issue"][0]["diagnostics"]
            assert reason in text and "\n" not in text
            nothing_stored(store, before)
        # 50 MB: refused by its Content-Length before the body is read (or parsed).
        big = b'{"sbml": "' + b" " * (50 * 2**20) + b'", "mapping": {}}'
        r = post_json(client, "/models", big, ops)
        assert r.status_code == 413, r.text[:300]
        nothing_stored(store, before)
        # A mapping that does not fit: a bad LOINC check digit, an id the document lacks, a
        # unit other than the code's stored unit, a time unit a twin cannot run.
        sbml = BIOMD379.read_text()
        out = MAPPING["outputs"][0]
        bad = (
            ({**MAPPING, "outputs": [{**out, "loinc": "2339-1"}]}, "check digit"),
            ({**MAPPING, "outputs": [{**out, "output": "Gx"}]}, "no quantity 'Gx'"),
            ({**MAPPING, "outputs": [{**out, "unit": "mmol/L"}]}, "stored in mg/dL"),
            ({**MAPPING, "free": [{"parameter": "nope", "median": 1.0, "sigma": 0.1}]}, "'nope'"),
            ({k: v for k, v in MAPPING.items() if k != "time_unit"}, "timed in 's'"),
        )
        for mapping, reason in bad:
            r = post_json(client, "/models", {"sbml": sbml, "mapping": mapping}, ops)
            assert r.status_code == 422 and reason in r.text, r.text
            nothing_stored(store, before)
        # A name a built-in model or a network twin already has: 409, nothing stored.
        for taken in ("t1d", "stroke"):
            r = post_json(client, "/models", {"sbml": sbml, "mapping": {**MAPPING, "name": taken}},
                          ops)  # fmt: skip
            assert r.status_code == 409 and f"{taken!r} is taken" in r.text, r.text
            nothing_stored(store, before)
        # A clinician may not change the site's models (the denial is audited, nothing else).
        r = post_json(client, "/models", {"sbml": sbml, "mapping": MAPPING}, dr)
        assert r.status_code == 403, r.text
        assert store.imported_models() == []
        assert [e.outcome for e in store.audit_entries(action="model.import")] == ["denied"]
    assert store.verify_audit().ok


@pytest.mark.slow
def test_an_imported_model_is_a_twin_in_the_store_the_api_and_the_dashboard(site, truth):
    from medtwin.service import create_app
    from medtwin.store import open_store

    url, store, worker, tokens = site
    ops, dr = tokens["ops"], tokens["dr"]
    sbml = BIOMD379.read_text()
    fhir = {**dr, "content-type": "application/fhir+json"}
    with TestClient(create_app(store, login_limit=1000), raise_server_exceptions=False) as client:
        r = post_json(client, "/models", {"sbml": sbml, "mapping": MAPPING}, ops)
        assert r.status_code == 201, r.text
        assert r.json()["observables"] == [{"name": "G", "unit": "mg/dL", "loinc": "2339-0",
                                            "description": "plasma glucose"}]  # fmt: skip
        # The same document and mapping again: nothing new (200); other content: 409.
        r = post_json(client, "/models", {"sbml": sbml, "mapping": MAPPING}, ops)
        assert r.status_code == 200, r.text
        other = sbml.replace('metaid_0000033" value="0.0021"', 'metaid_0000033" value="0.0022"')
        assert other != sbml
        r = post_json(client, "/models", {"sbml": other, "mapping": MAPPING}, ops)
        assert r.status_code == 409 and "other content" in r.text, r.text
        (stored,) = store.imported_models()
        assert stored.sha256 == hashlib.sha256(sbml.encode()).hexdigest()
        assert (stored.kind, stored.imported_by, stored.document) == ("sbml", "ops", sbml.encode())
        imports = [e for e in store.audit_entries(action="model.import") if e.outcome == "success"]
        assert [e.detail.get("unchanged", False) for e in imports] == [False, True]
        # Every model, built-in and imported, with its declaration.
        models = {m["name"]: m for m in client.get("/models", headers=dr).json()["models"]}
        assert models[NAME]["kind"] == "sbml" and models[NAME]["time_unit"] == "min"
        assert models[NAME]["twin_defaults"]["free"] == ["k_p2", "k_abs"]
        assert models[NAME]["imported"]["sha256"] == stored.sha256
        assert {d.name for d in list_declarations() if d.model.startswith("medtwin.models.")} < set(
            models
        )
        assert {m["kind"] for n, m in models.items() if n != NAME} >= {"built-in"}

        # FHIR in: the patient and the readings at 30 and 60 min, then the twin.
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:p1", "resource": PATIENT,
             "request": {"method": "POST", "url": "Patient"}},
            *({"resource": glucose(i, t, float(truth[t]), "urn:uuid:p1"),
               "request": {"method": "POST", "url": "Observation"}}
              for i, t in enumerate((30, 60))),
        ]}  # fmt: skip
        r = client.post("/fhir", content=json.dumps(bundle), headers=fhir)
        assert r.status_code == 200, r.text
        pid = next(iter(r.json()["patients"].values()))
        config = {"model": NAME, "epoch": EPOCH.isoformat(), "prior": "spec", "n": 32, "seed": 1,
                  "horizon": 60}  # fmt: skip
        r = client.post(f"/patients/{pid}/twin", json=config, headers=dr)
        assert r.status_code == 201, r.text
        for i, t in ((2, 90), (3, 120)):
            r = client.post(
                f"/patients/{pid}/observations",
                headers=fhir,
                content=json.dumps(glucose(i, t, float(truth[t]), f"Patient/{pid}")),
            )
            assert r.status_code == 200, r.text  # fmt: skip
        versions = client.get(f"/patients/{pid}/twin/versions", headers=dr).json()["versions"]
        assert [len(v["observations"]) for v in versions] == [0, 2, 1, 1]
        assert all(v["model"] == NAME for v in versions)
        # The stored forecast, issued at 120 min: 125..180 min, its median near the model's
        # own glucose (146 mg/dL at 120 min falling to 116 at 180; the priors' spread and the
        # filter's noise allow a few mg/dL).
        fc = store.forecasts(pid, actor="dr", limit=1)[0]
        assert fc.model == NAME and fc.version == 3
        times = np.asarray(fc.forecast.times)
        np.testing.assert_allclose(times, np.arange(125.0, 181.0, 5.0))
        median = np.asarray(fc.forecast.median).ravel()
        np.testing.assert_allclose(median, truth[125:181:5], atol=6.0)
        assert median[0] > median[-1] + 15.0  # glucose falls after the meal's peak
        # The dashboard: the patient page and the cone it draws.
        assert client.get(f"/ui/patients/{pid}", headers=dr).status_code == 200
        cone = client.get(f"/ui/api/patients/{pid}/cone", headers=dr)
        assert cone.status_code == 200, cone.text
        doc = cone.json()
        assert doc["model"] == NAME and doc["observable"] == "G"
        np.testing.assert_allclose(doc["observations"]["values"], truth[[30, 60, 90, 120]])

    # Another worker (its store opened before the import) and a restarted service: the
    # first service stops and the process-local registration is gone; the worker finds the
    # model on the registry miss (its store reads the table again).
    store.close()
    unregister_model(NAME)
    assert NAME not in {d.name for d in list_declarations()}
    with TestClient(create_app(worker, login_limit=1000), raise_server_exceptions=False) as c2:
        r = c2.post(
            f"/patients/{pid}/observations",
            headers=fhir,
            content=json.dumps(glucose(4, 150, float(truth[150]), f"Patient/{pid}")),
        )
        assert r.status_code == 200, r.text  # fmt: skip
        fc = worker.forecasts(pid, actor="dr", limit=1)[0]
        assert fc.version == 4 and float(fc.forecast.times[0]) == 155.0
        np.testing.assert_allclose(np.asarray(fc.forecast.median).ravel()[0], truth[155], atol=6.0)
    unregister_model(NAME)
    with open_store(url, key=KEY) as fresh:  # opening registers the stored models
        assert NAME in {d.name for d in list_declarations()}
        with TestClient(create_app(fresh, login_limit=1000), raise_server_exceptions=False) as c3:
            r = c3.post(
                f"/patients/{pid}/observations",
                headers=fhir,
                content=json.dumps(glucose(5, 180, float(truth[180]), f"Patient/{pid}")),
            )
            assert r.status_code == 200, r.text  # fmt: skip
            versions = c3.get(f"/patients/{pid}/twin/versions", headers=dr).json()["versions"]
            assert [v["version"] for v in versions] == [0, 1, 2, 3, 4, 5]
    assert worker.verify_audit().ok


def test_the_mapping_example_of_the_docs_is_the_one_tested_here():
    import re

    from medtwin.data.model_mapping import read_mapping

    page = Path(__file__).resolve().parents[2] / "docs" / "sbml.md"
    (example,) = re.findall(r"```json\n(.*?)```", page.read_text(), flags=re.S)
    assert read_mapping(example) == read_mapping(json.dumps(MAPPING))
