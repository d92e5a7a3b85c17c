"""The acute stroke twin (a Bayesian network) on the dashboard, in a real headless Chromium: the
patient list links a network twin to its own page, which draws the causal graph with each
node's current posterior (the findings outlined) and the 90-day mRS distribution under each
option, ranked by expected utility -- the numbers of ``GET /patients/{pid}/twin`` -- and
redraws when a new finding arrives. The cone page of such a patient says where to look."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from medtwin.bn._evidence_codes import SYSTEM

from ._live import LiveServer, save_screenshot

KEY = bytes(range(32))
ONSET = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
FINDINGS = [("8480-6", "mm[Hg]", 168.0), ("9269-2", "{score}", 13.0), ("stroke-lvo", "1", 1.0),
            ("stroke-ott", "min", 100.0)]  # fmt: skip


def observation(pid: str, i: int, code: str, unit: str, value: float, minute: int) -> dict:
    system = SYSTEM if code.startswith("stroke-") else "http://loinc.org"
    when = (ONSET + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
    return {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:test:stroke", "value": f"{pid}-{i}"}],
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                          "code": unit},
    }  # fmt: skip


@pytest.fixture(scope="module")
def stroke_site(tmp_path_factory):
    from medtwin.data.records import PatientRecord
    from medtwin.service import create_app
    from medtwin.store import TwinConfig, open_store

    root = tmp_path_factory.mktemp("network-dashboard")
    store = open_store(f"sqlite:///{root / 'medtwin.db'}", key=KEY)
    store.add_user("alice", "clinician")
    token = store.issue_token("alice")
    pid = store.add_patient(PatientRecord("urn:test|stroke", name="Paul Broca"), actor="seed")
    store.grant("alice", pid)
    store.create_twin(pid, TwinConfig("stroke", ONSET), actor="seed")
    try:
        with LiveServer(create_app(store, login_limit=1000)) as url:
            auth = {"authorization": f"Bearer {token}"}
            with httpx.Client(base_url=url, timeout=60) as c:
                for i, (code, unit, value) in enumerate(FINDINGS):
                    body = json.dumps(observation(pid, i, code, unit, value, 70 + i))
                    fhir = {**auth, "content-type": "application/fhir+json"}
                    r = c.post(f"/patients/{pid}/observations", content=body, headers=fhir)
                    assert r.status_code == 200, r.text[:300]
            yield url, token, pid, root / "screenshots"
    finally:
        store.close()


def _twin(url: str, token: str, pid: str) -> dict:
    with httpx.Client(base_url=url, timeout=60) as c:
        return c.get(f"/patients/{pid}/twin", headers={"authorization": f"Bearer {token}"}).json()


def test_the_network_page_draws_the_graph_and_the_options(browser, stroke_site):
    url, token, pid, shots = stroke_site
    context = browser.new_context(viewport={"width": 1280, "height": 1100}, timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{url}/ui/login?next=/ui/patients")
        page.fill("#token", token)
        page.click("#login-submit")
        page.wait_for_selector("body[data-ready~=patients]", state="attached")
        row = page.locator(f'tr[data-id="{pid}"]')
        assert row.locator("td").nth(1).inner_text() == "acute-ischaemic-stroke"
        assert row.locator(".badge").inner_text() == "current"
        assert row.locator("a").get_attribute("href") == f"/ui/patients/{pid}/network"
        row.locator("a").click()
        page.wait_for_url(f"**/ui/patients/{pid}/network")
        page.wait_for_selector("body[data-ready~=network]", state="attached")
        save_screenshot(page, "stroke-network", [shots])
        doc = _twin(url, token, pid)
        assert doc["version"] == 4
        # the graph: every node, every causal edge, the findings outlined
        assert page.get_attribute("#network", "data-nodes") == "10"
        edges = page.eval_on_selector_all("#network path.edge",
                                          "els => els.map(e => e.dataset.edge)")  # fmt: skip
        assert sorted(edges) == sorted(f"{p}->{n['name']}" for n in doc["nodes"]
                                       for p in n["parents"])  # fmt: skip
        observed = page.eval_on_selector_all("#network g.node.observed",
                                             "els => els.map(e => e.dataset.node)")  # fmt: skip
        assert sorted(observed) == sorted(doc["evidence"]) == ["gcs", "lvo", "ott", "sbp"]
        assert page.text_content('#network g[data-node="lvo"] text.name') == "lvo = yes"
        for node in doc["nodes"]:
            drawn = page.eval_on_selector_all(
                f'#network g[data-node="{node["name"]}"] rect.bar',
                "els => els.map(e => [e.dataset.state, Number(e.dataset.p)])",
            )
            assert [s for s, _ in drawn] == node["states"]
            assert [p for _, p in drawn] == pytest.approx(node["posterior"], abs=1e-15)
        # the options: ranked as the API ranks them, each mRS distribution drawn
        ranked = page.eval_on_selector_all("#options tbody tr",
                                           "els => els.map(e => e.dataset.option)")  # fmt: skip
        assert ranked == [o["option"] for o in doc["options"]] and ranked[0] == "ivt+mt"
        for o in doc["options"]:
            segs = page.eval_on_selector_all(
                f'#options tr[data-option="{o["option"]}"] .mrsbar span',
                "els => els.map(e => Number(e.dataset.p))",
            )
            assert segs == pytest.approx(o["mrs"], abs=1e-15)
            eu = page.text_content(f'#options tr[data-option="{o["option"]}"] td.eu')
            assert eu == f"{o['expected_utility']:.3f}"
        assert page.inner_text("#alert").startswith("Ranked first: ivt+mt (expected utility")
        meta = page.inner_text("#meta")
        assert meta == (
            "Network acute-ischaemic-stroke, version 4 at 2026-02-01 11:13 UTC; "
            "findings: gcs=13-15, lvo=yes, ott=60-120, sbp=140-185"
        )
        # a new finding arrives: the page redraws at the next poll
        with httpx.Client(base_url=url, timeout=60) as c:
            r = c.post(f"/patients/{pid}/observations",
                       content=json.dumps(observation(pid, 9, "stroke-oedema", "1", 1.0, 95)),
                       headers={"authorization": f"Bearer {token}",
                                "content-type": "application/fhir+json"})  # fmt: skip
            assert r.status_code == 200, r.text[:300]
        page.wait_for_selector('#network g.node.observed[data-node="oedema"]', state="attached")
        assert page.text_content("#net-caption") == "acute-ischaemic-stroke, version 5"
        # the cone page of this patient says where its twin is shown
        page.goto(f"{url}/ui/patients/{pid}")
        page.wait_for_selector("#alert.error")
        assert f"Its page is /ui/patients/{pid}/network" in page.inner_text("#alert")
    finally:
        context.close()
    assert not errors, errors
