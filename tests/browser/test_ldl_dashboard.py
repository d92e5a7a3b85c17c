"""The cholesterol twin on the dashboard (issue 22), in a real headless Chromium: the demo's
LDL patient (the Synthea record: LDL-C 84.5 mg/dL in December 2000 and 58.2 in October 2005,
atorvastatin 80 mg from December 2008), made as ``medtwin serve --demo`` makes it, shows a
cone over years -- a calendar axis labelled by year, a ten-year window of past labs, a
five-year forecast at a 30-day cadence with the statin's drop -- instead of a clock axis."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from ._live import LiveServer, save_screenshot

KEY = bytes(range(32))


@pytest.fixture(scope="module")
def ldl_site(tmp_path_factory):
    from medtwin.service import create_app
    from medtwin.service._demo import LDL_BUNDLE, seed_ldl
    from medtwin.store import open_store

    if not LDL_BUNDLE.is_file():
        pytest.skip("shared reference data not present")
    root = tmp_path_factory.mktemp("ldl-dashboard")
    store = open_store(f"sqlite:///{root / 'medtwin.db'}", key=KEY)
    store.add_user("alice", "clinician")
    token = store.issue_token("alice")
    pid = seed_ldl(store)
    store.grant("alice", pid)
    # the demo's seeding a second time finds the patient and its twin: nothing added
    counts = (len(store.observations(pid, actor="t")), len(store.twin_versions(pid, actor="t")))
    assert seed_ldl(store) == pid
    assert counts == (len(store.observations(pid, actor="t")),
                      len(store.twin_versions(pid, actor="t")))  # fmt: skip
    try:
        with LiveServer(create_app(store, login_limit=1000)) as url:
            yield url, token, pid, root / "screenshots"
    finally:
        store.close()


def test_the_ldl_cone_has_a_years_axis(browser, ldl_site):
    url, token, pid, shots = ldl_site
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{url}/ui/login?next=/ui/patients/{pid}")
        page.fill("#token", token)
        page.click("#login-submit")
        page.wait_for_selector("body[data-ready~=cone]", state="attached")
        save_screenshot(page, "ldl-cone", [shots])
        cone = page.locator("#cone")
        assert cone.get_attribute("data-axis") == "years"
        ticks = page.eval_on_selector_all("#cone text.tick.x", "els => els.map(e => e.textContent)")
        assert len(ticks) >= 5 and all(re.fullmatch(r"\d{4}", t) for t in ticks), ticks
        years = [int(t) for t in ticks]
        assert years == sorted(years) and years[0] <= 1997 and years[-1] >= 2010
        # the twin stands at the last lab (2005-10-16); the window holds ten years of labs
        now = datetime.fromisoformat(cone.get_attribute("data-now").replace("Z", "+00:00"))
        assert now == datetime(2005, 10, 16, tzinfo=UTC)
        xmin = datetime.fromisoformat(cone.get_attribute("data-xmin").replace("Z", "+00:00"))
        assert xmin.year == 1995 and cone.get_attribute("data-points") == "2"
        assert cone.get_attribute("data-forecast-points") == "60"  # 1,800 days every 30
        assert page.input_value("#window") == "87660"  # 10 y: twice the 5-year horizon
        offered = page.eval_on_selector_all("#window option", "els => els.map(e => e.text)")
        assert offered[:4] == ["3 h", "6 h", "12 h", "24 h"] and "10 y" in offered
        assert page.text_content("#cone .now-label") == "now 2005-10-16"
        meta = page.inner_text("#meta")
        assert "ldl (mg/dL)" in meta and "2 readings in the last 10 y" in meta, meta
        assert "last 58.2 mg/dL at 2005-10-16" in meta
        assert (
            page.inner_text("#cone-caption") == "ldl, forecast v1 issued 2005-10-16, 1800 d ahead"
        )
        assert "throughout the next 365 days" in page.inner_text("#alert")
        # the statin of December 2008 shows in the drawn median: lower by ~half after it
        served = page.evaluate(f"() => MT.api('/ui/api/patients/{pid}/cone').then(c => c.forecast)")
        times = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in served["times"]]
        med = dict(zip(times, served["median"], strict=True))
        before = max(v for t, v in med.items() if t.year < 2008)
        after = max(v for t, v in med.items() if t.year >= 2010)
        assert after < 0.7 * before
    finally:
        context.close()
    assert not errors, errors
