"""The patient page's metadata line shows units as a lab report prints them: the white-cell
count in ×10³/µL, never its UCUM code 10*3/uL, which a modeller finds on hover (``title``)."""

from __future__ import annotations

from .conftest import login


def test_the_metadata_line_shows_the_display_unit_and_keeps_the_code_on_hover(page, site):
    login(page, site, "alice", f"/ui/patients/{site.sepsis}")
    page.wait_for_selector("body[data-ready~=cone]", state="attached")
    meta = page.inner_text("#meta")
    assert meta.startswith("Model reynolds2006 · wbc (×10³/µL) · twin version ")
    assert "10*3" not in meta and "uL" not in meta
    unit = page.locator("#meta .meta-unit")
    assert unit.inner_text() == "×10³/µL"
    assert unit.get_attribute("data-ucum") == "10*3/uL"
    assert unit.get_attribute("title") == "UCUM code: 10*3/uL"
    # the unit the page shows is the API's label of the code it serves
    served = site.api("alice", f"/ui/api/patients/{site.sepsis}/cone").json()
    assert (served["unit"], served["unit_label"]) == ("10*3/uL", "×10³/µL")
    # a unit written the same both ways (mg/dL) reads the same
    login(page, site, "alice", f"/ui/patients/{site.t1d}")
    page.wait_for_selector("body[data-ready~=cone]", state="attached")
    assert "sc_glucose (mg/dL) · twin version " in page.inner_text("#meta")
