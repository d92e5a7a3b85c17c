"""The organ-score panel in a real headless Chromium: an ICU patient on the composed
``pneumonia-sepsis`` twin with the demo's synthetic ICU chart (``service/_demo_icu.py``, FHIR
ingested) shows the SOFA components stacked at each chart time, the totals hand-computed in
``tests/service/test_organ_scores.py`` (2 on admission to 17 at 20.5 h), septic shock from the
norepinephrine at 12 h, and the twin's predicted SOFA band; a patient without a chart shows no
panel. No script errors on either page."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ._live import EPOCH, LiveServer, save_screenshot, seed_wbc

KEY = bytes(range(32))
TOTALS = ["2", "3", "7", "9", "11", "12", "14", "14", "17"]


@pytest.fixture(scope="module")
def icu_site(tmp_path_factory):
    from medtwin.data.fhir import parse_bundle
    from medtwin.data.records import PatientRecord
    from medtwin.service import create_app
    from medtwin.service._demo_icu import icu_resources
    from medtwin.store import TwinConfig, open_store

    root = tmp_path_factory.mktemp("icu-dashboard")
    store = open_store(f"sqlite:///{root / 'medtwin.db'}", key=KEY)
    store.add_user("alice", "clinician")
    token = store.issue_token("alice")
    config = TwinConfig("pneumonia-sepsis", EPOCH, prior="spec", n=32, seed=5, horizon=12.0,
                        every=1.0)  # fmt: skip
    pids = []
    for label in ("icu", "bare"):
        pid = store.add_patient(PatientRecord(f"urn:test|{label}"), actor="seed")
        store.grant("alice", pid)
        store.create_twin(pid, config, actor="seed")
        pids.append(pid)
    icu, bare = pids
    chart = [res for _, res in icu_resources(EPOCH, f"Patient/{icu}")]
    parsed = parse_bundle({"resourceType": "Bundle", "type": "collection",
                           "entry": [{"resource": r} for r in chart]})  # fmt: skip
    store.ingest(parsed.patients, parsed.observations, parsed.events, actor="seed", update=False)
    hours = np.arange(1.0, 22.0, 4.0)  # white cells rising as the blood turns septic
    seed_wbc(store, icu, hours, 7.0 + 0.18 * hours)
    seed_wbc(store, bare, hours[:2], 7.0 + 0.18 * hours[:2])
    try:
        with LiveServer(create_app(store, login_limit=1000)) as url:
            yield url, token, icu, bare, root / "screenshots"
    finally:
        store.close()


def _open(browser, url: str, token: str, pid: str):
    context = browser.new_context(viewport={"width": 1280, "height": 1400}, timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.goto(f"{url}/ui/login?next=/ui/patients/{pid}")
    page.fill("#token", token)
    page.click("#login-submit")
    page.wait_for_selector("body[data-ready~=scores][data-ready~=cone]", state="attached")
    return context, page, errors


def test_the_organ_score_panel(browser, icu_site):
    url, token, icu, _, shots = icu_site
    context, page, errors = _open(browser, url, token, icu)
    try:
        assert page.is_visible("#scores-panel")
        page.locator("#scores-panel").scroll_into_view_if_needed()
        save_screenshot(page, "organ-scores", [shots])
        chart = page.locator("#scores-chart")
        assert chart.get_attribute("data-bars") == "9"
        totals = page.eval_on_selector_all(
            "#scores-chart .score-total", "els => els.map(e => e.textContent)"
        )
        assert totals == TOTALS
        # septic shock from the norepinephrine at 12:00 (lactate 2.6 mmol/L): marked in red
        shock = page.eval_on_selector_all(
            "#scores-chart .score-total", "els => els.map(e => e.classList.contains('shock'))"
        )
        assert shock == [False, False, False, True, True, True, True, True, True]
        # the last bar's six components stack to 17: 4 + 2 + 2 + 4 + 2 + 3
        parts = page.eval_on_selector_all(
            "#scores-chart .score-bar:last-child rect.part", "els => els.map(e => e.dataset.part)"
        )
        assert parts == ["respiration", "coagulation", "liver", "cardiovascular", "cns", "renal"]
        status = page.locator("#scores-status")
        assert status.get_attribute("data-total") == "17"
        assert status.get_attribute("data-shock") == "true"
        text = status.inner_text()
        assert text.startswith("Septic shock. SOFA 17 at 20:30 UTC (respiration 4"), text
        assert "Sepsis-3: yes" in text and "norepinephrine 0.18 µg/kg/min" in text
        assert "sev-alert" in (status.get_attribute("class") or "")
        # the twin's predicted SOFA: three nested bands and a median over its 12-h forecast
        bands = page.eval_on_selector_all(
            "#scores-chart .bands.predicted path", "els => els.map(e => e.dataset.level)"
        )
        assert bands == ["0.95", "0.8", "0.5"]
        assert chart.get_attribute("data-predicted-points") == "12"
        assert "sys.sofa" in page.inner_text("#scores-predicted")
        rows = page.eval_on_selector_all(
            "#scores-table tbody tr", "els => els.map(e => e.lastChild.textContent)"
        )
        assert len(rows) == 8 and rows[0] == "septic shock" and rows[-1] == "sepsis"
        assert "PaO2/FiO2" in page.inner_text("#scores-inputs")
    finally:
        context.close()
    assert not errors, errors


def test_no_chart_no_panel(browser, icu_site):
    url, token, _, bare, _ = icu_site
    context, page, errors = _open(browser, url, token, bare)
    try:
        assert not page.is_visible("#scores-panel")
        doc = page.evaluate(f"() => MT.api('/ui/api/patients/{bare}/scores')")
        assert json.dumps(doc["times"]) == "[]" and doc["has_scores"] is False
    finally:
        context.close()
    assert not errors, errors
