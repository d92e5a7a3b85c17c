"""The patient page's badge for a forecast outside the model's validated domain (issue 23): hidden
for a twin inside it, shown with the served sentence when the cone JSON says outside. The flag
itself on a real out-of-domain twin: tests/service/test_credibility_twin.py."""

from __future__ import annotations

from .conftest import login

SENTENCE = (
    "Outside the model's validated domain: parameter kp2 = 0.03 1/min (validated 0.001989 to "
    "0.02332)."
)


def test_the_badge_shows_only_outside_the_domain(page, site):
    served = site.api("alice", f"/ui/api/patients/{site.t1d}/cone").json()
    assert served["applicability"] == {"outside": False, "text": ""}  # a patient like the 30
    login(page, site, "alice", f"/ui/patients/{site.t1d}")
    page.wait_for_selector("body[data-ready~=cone]", state="attached")
    badge = page.locator("#domain-badge")
    assert badge.is_hidden()

    def outside(route):
        body = route.fetch().json()
        body["applicability"] = {"outside": True, "text": SENTENCE}
        route.fulfill(json=body)

    page.route(f"**/ui/api/patients/{site.t1d}/cone*", outside)
    page.reload()
    page.wait_for_selector("body[data-ready~=cone]", state="attached")
    page.wait_for_selector("#domain-badge:not([hidden])")
    assert badge.is_visible()
    assert badge.inner_text() == f"Outside validated domain {SENTENCE}"
