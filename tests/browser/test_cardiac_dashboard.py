"""The cardiac twin on the dashboard, in a real headless Chromium: the patient list links a
cardiac twin to its own page, which shows the posterior median and 90 % interval of each
conduction parameter (the numbers of ``GET /patients/{pid}/twin``), the activation map at the
posterior median (each cell's time the API's), and P(inducible) with the ranked plans once
computed -- redrawn when a new batch of mapping points makes a new version."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import httpx
import pytest

from ._live import LiveServer, save_screenshot

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/: the shared phantom case
from _cardiac_case import PACE, cardiac_case

KEY = bytes(range(32))
QUICK = {"draws": 2, "sites": 1, "s1_beats": 1, "couplings": [[300, 200]],
         "vt_cycle_length": [100, 400], "vt_sustained_ms": 400}  # fmt: skip


@pytest.fixture(scope="module")
def cardiac_site(tmp_path_factory):
    from medtwin.data.records import PatientRecord
    from medtwin.service import create_app
    from medtwin.store import open_store

    root = tmp_path_factory.mktemp("cardiac-dashboard")
    store = open_store(f"sqlite:///{root / 'medtwin.db'}", key=KEY)
    store.add_user("alice", "clinician")
    token = store.issue_token("alice")
    pid = store.add_patient(PatientRecord("urn:test|vt", name="Andrew Wit"), actor="seed")
    store.grant("alice", pid)
    case = cardiac_case()
    try:
        with LiveServer(create_app(store, login_limit=1000)) as url:
            auth = {"authorization": f"Bearer {token}"}
            with httpx.Client(base_url=url, timeout=120, headers=auth) as c:
                body = {"epoch": "2026-03-02T08:00:00Z", "pace": list(PACE), "bz": [0.3, 0.7],
                        "lge": base64.b64encode(case.lge).decode(),
                        "segmentation": base64.b64encode(case.segmentation).decode()}  # fmt: skip
                r = c.post(f"/patients/{pid}/twin/cardiac", json=body)
                assert r.status_code == 201, r.text[:300]
                r = c.post(f"/patients/{pid}/twin/cardiac/lat", content=case.csv(0, 10),
                           params={"time": "2026-03-02T09:00:00Z", "qrs": 36.0})  # fmt: skip
                assert r.status_code == 200, r.text[:300]
            yield url, token, pid, case, root / "screenshots"
    finally:
        store.close()


def test_the_cardiac_page_shows_the_posterior_the_map_and_p_inducible(browser, cardiac_site):
    url, token, pid, case, shots = cardiac_site
    api = httpx.Client(base_url=url, timeout=120, headers={"authorization": f"Bearer {token}"})
    context = browser.new_context(viewport={"width": 1280, "height": 1300}, timezone_id="UTC")
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
        assert row.locator("td").nth(1).inner_text() == "cardiac"
        assert row.locator("a").get_attribute("href") == f"/ui/patients/{pid}/cardiac"
        page.goto(f"{url}/ui/patients/{pid}/cardiac?poll=300")  # the link's page, polled fast
        page.wait_for_selector("body[data-ready~=cardiac]", state="attached")
        doc = api.get(f"/patients/{pid}/twin").json()
        assert doc["version"] == 1 and doc["calibrated"]
        for name, p in doc["parameters"].items():
            tr = f'#parameters tr[data-param="{name}"]'
            assert page.text_content(f"{tr} td.median") == _num(page, p["median"])
            assert page.text_content(f"{tr} td.interval") == \
                f"{_num(page, p['q05'])} – {_num(page, p['q95'])}"  # fmt: skip
        assert page.inner_text("#meta").startswith(
            "Cardiac twin, version 1 at 2026-03-02 09:00 UTC; tissue 40 × 28 voxels of 0.5 mm; "
            "10 mapping points, 1 QRS durations")  # fmt: skip
        # the activation map: every myocardial cell drawn, its time the API's
        m = api.get(f"/patients/{pid}/twin/activation-map").json()
        assert page.get_attribute("#actmap", "data-cells") == str(int((case.labels > 0).sum()))
        for i, j in ((2, 12), (30, 12), (38, 2)):
            got = page.get_attribute(f'#actmap rect[data-cell="{i},{j}"]', "data-t")
            assert float(got) == pytest.approx(m["times"][i][j], abs=1e-9)
        assert page.get_attribute('#actmap rect[data-cell="20,8"]', "fill") == "#8a8a8a"  # scar
        assert page.inner_text("#risk-summary") == "Not computed yet."
        # P(inducible) computed through the API: the page shows it at its next poll
        r = api.post(f"/patients/{pid}/twin/inducibility", json=QUICK)
        assert r.status_code == 200, r.text[:300]
        page.wait_for_selector('#plans tr[data-plan="no ablation"]', state="attached")
        assert page.inner_text("#risk-summary").startswith(
            "P(inducible) 0 % (95 % interval 0 %–84 %) over 2 posterior draws from 1 site(s)"
        )
        save_screenshot(page, "cardiac-twin", [shots])
        # a new batch of points: a new version, redrawn; the result says it is of version 1
        r = api.post(f"/patients/{pid}/twin/cardiac/lat", content=case.csv(2, 8),
                     params={"time": "2026-03-02T10:00:00Z"})  # fmt: skip
        assert r.status_code == 200, r.text[:300]
        page.wait_for_selector("#post-caption:text-is('posterior, version 2')", state="attached")
        assert "18 mapping points" in page.inner_text("#meta")
        page.wait_for_selector("#risk-caption:has-text('the twin is now at version 2')",
                               state="attached")  # fmt: skip
        assert page.inner_text("#risk-caption").startswith("version 1 (the twin is now at")
    finally:
        context.close()
        api.close()
    assert not errors, errors


def _num(page, v: float) -> str:
    return page.evaluate("(v) => MT.num(v)", v)
