"""The patient page live: the cone follows data posted through the API, and the what-if panel
compares two regimens' cones side by side."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from .conftest import T1D_HORIZON, login, reading


def iso(t: str) -> datetime:
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


def test_cone_updates_when_data_arrive(page, site):
    login(page, site, "alice", f"/ui/patients/{site.t1d}?poll=400")
    page.wait_for_selector("body[data-ready~=cone]", state="attached")
    cone = page.locator("#cone")
    version = int(cone.get_attribute("data-version"))
    points = int(cone.get_attribute("data-points"))
    now = iso(cone.get_attribute("data-now"))
    site.shot(page, "live-before")
    # a new CGM reading 5 minutes after "now", through the API as a device would send it
    minute = (now - datetime.fromisoformat("2026-01-01T00:00:00+00:00")).total_seconds() / 60
    r = site.post(
        "alice", f"/patients/{site.t1d}/observations", reading(site.t1d, minute + 5, 95.0)
    )
    assert r.status_code == 200, r.text
    assert r.json()["twin_versions"] == {site.t1d: version + 1}
    page.wait_for_selector(f"#cone[data-version='{version + 1}']", state="attached")
    assert int(cone.get_attribute("data-points")) == points + 1
    assert iso(cone.get_attribute("data-now")) == now + timedelta(minutes=5)
    assert iso(cone.get_attribute("data-last")) == now + timedelta(minutes=5)
    assert page.get_attribute("#alert", "data-version") == str(version + 1)
    # the new point is drawn at 95 mg/dL: its title says so
    assert page.text_content("#cone circle.obs:last-of-type title").endswith(" 95 mg/dL")
    # the posterior and the ledger follow (the ledger may first show the previous version's)
    page.wait_for_selector(f"#skill[data-version='{version + 1}']", state="attached")
    versions = page.get_attribute("#posterior", "data-versions").split(",")
    assert versions[0] == "0" and versions[-1] == str(version + 1)
    site.shot(page, "live-after")


def test_what_if_compares_two_regimens_side_by_side(page, site):
    login(page, site, "alice", f"/ui/patients/{site.t1d}")
    page.wait_for_selector("body[data-ready~=cone]", state="attached")
    # defaults: "usual" (no extra event) and "bolus" (2 U now); the third option is off
    assert page.locator("fieldset.option [name=use]:checked").count() == 2
    page.fill("fieldset.option >> nth=1 >> [name=amount]", "3")
    with page.expect_response(f"**/ui/api/patients/{site.t1d}/what-if") as resp:
        page.click("#whatif-run")
    doc = resp.value.json()
    page.wait_for_selector("body[data-ready~=whatif]", state="attached")
    request = json.loads(resp.value.request.post_data)
    assert request["options"] == {
        "usual": [],
        "bolus": [{"kind": "bolus", "amount": 3, "after": 0}],
    }
    figures = page.locator("#whatif figure.option-cone")
    assert figures.count() == 2
    assert [figures.nth(i).get_attribute("data-option") for i in range(2)] == ["usual", "bolus"]
    for i in range(2):
        svg = figures.nth(i).locator("svg")
        assert svg.locator("path.band").count() == 3 and svg.get_attribute("data-bands") == "3"
        assert svg.locator("path.median").get_attribute("data-n") == str(int(T1D_HORIZON / 5))
    # paired: "usual" is the twin's own forecast -- the stored one, number for number
    stored = site.api("alice", f"/patients/{site.t1d}/forecasts").json()["forecasts"][0]
    usual, bolus = doc["options"]
    assert doc["version"] == stored["version"]
    assert usual["median"] == stored["observables"]["sc_glucose"]["median"]
    assert usual["times"] == stored["times"]
    # 3 U more insulin lowers the glucose forecast by the end of the horizon
    assert bolus["median"][-1] < usual["median"][-1] - 5
    facts = figures.nth(1).locator("p.facts").inner_text()
    assert "time in 70–180" in facts and "P(any < 70)" in facts
    site.shot(page, "what-if")
