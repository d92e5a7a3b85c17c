"""The dashboard's server side over real HTTP (no browser): the alert read off a stored
forecast, static files and page headers, access checks, and the memoised ledger and posterior
agreeing with the API."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from medtwin.forecast import Forecast
from medtwin.service._dashboard import _grid, _Ledgers, alert_for
from medtwin.store import StoredForecast

STATIC = Path(__file__).parents[2] / "src" / "medtwin" / "service" / "static"
TEMPLATES = STATIC.parent / "templates"


def stored(mean: np.ndarray, sd: float, every: float, unit: str) -> StoredForecast:
    """A stored-like forecast of one observable: Normal(mean[t], sd) at times every, 2*every..,
    its median, 50/80/95 % bands and 1..99 % quantiles as the store keeps them."""
    levels = (0.5, 0.8, 0.95)
    z = norm.ppf(np.arange(1, 100) / 100.0)
    times = every * np.arange(1, mean.size + 1)
    band = np.array([norm.ppf((1 + lv) / 2) for lv in levels])[:, None, None] * sd
    fc = Forecast(
        issued_at=0.0, twin_version=7, times=times, observable_names=("x",), levels=levels,
        median=mean[None], lower=mean[None, None] - band, upper=mean[None, None] + band,
        draws=mean[None, None, :] + sd * z[:, None, None],
    )  # fmt: skip
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    return StoredForecast(1, "p-x", 7, epoch, float(times[-1]), fc, epoch, unit)


def test_alert_reads_the_probability_off_the_stored_quantiles():
    # glucose ~ N(100, 20) for the first hour, then N(50, 20): only the first hour counts
    mean = np.where(np.arange(1, 49) * 5 <= 60, 100.0, 50.0)
    a = alert_for(stored(mean, 20.0, 5.0, "min"), "x", "mg/dL")
    low, high = a["rules"]
    assert low["probability"] == pytest.approx(norm.cdf(-1.5), abs=0.003)  # 0.067
    assert low["band_crosses"] and not high["band_crosses"]  # 100 - 1.96 * 20 = 60.8 < 70
    assert high["probability"] == pytest.approx(0.01)  # beyond the 99 % quantile: clipped
    assert a["severity"] == "watch" and a["version"] == 7
    assert a["text"] == (
        "P(x < 70 mg/dL) = 7 % at 00:05 UTC, the highest in the next 60 min; the 95 % band "
        "crosses 70 mg/dL."
    )
    # a white-cell forecast in hours, looking 12 h ahead: P(> 12) = 1 - Phi(2) at 10 +- 1
    b = alert_for(stored(np.full(48, 10.0), 1.0, 0.25, "h"), "x", "10*3/uL")
    assert b["rules"][1]["probability"] == pytest.approx(1 - norm.cdf(2.0), abs=0.003)
    assert b["text"].startswith("P(x > 12 10*3/uL) = 2 % at") and "next 12 h" in b["text"]
    quiet = alert_for(stored(np.full(48, 150.0), 10.0, 5.0, "min"), "x", "mg/dL")
    assert quiet["severity"] == "ok" and quiet["text"].startswith("P(x < 70 or > 250 mg/dL) < 1 %")
    none = alert_for(stored(np.full(4, 3.0), 1.0, 5.0, "min"), "x", "a.u.")
    assert none["severity"] == "none" and none["rules"] == []


def test_pages_load_only_local_scripts_and_styles(site):
    for path in ("/ui/login", "/ui/patients", f"/ui/patients/{site.t1d}"):
        r = site.api("alice", path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in r.headers["content-security-policy"]
        refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assets = [u for u in refs if not u.startswith(("/ui/", "data:"))]
        assert assets and all(re.fullmatch(r"/static/[a-z]+\.(js|css)\?v=[0-9a-f]{16}", u)
                              for u in assets), assets  # fmt: skip
        for url in assets:
            got = site.api("alice", url)
            assert got.status_code == 200 and "immutable" in got.headers["cache-control"]
            again = site.api("alice", url, headers={"if-none-match": got.headers["etag"]})
            assert again.status_code == 304
    # nothing fetched from elsewhere: the only absolute URL is the SVG namespace
    for f in [*STATIC.iterdir(), *TEMPLATES.iterdir()]:
        urls = set(re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s\"'`)]*", f.read_text()))
        assert urls <= {"http://www.w3.org/2000/svg"}, (f.name, urls)
    assert site.api("alice", "/static/api.js?v=old").headers["cache-control"] == "no-cache"
    assert site.api("alice", "/static/nope.js").status_code == 404
    assert site.api("alice", "/ui/patients/bad%20id").status_code == 422


@pytest.mark.parametrize(
    "path",
    ["/cone", "/posterior", "/skill"],
)
def test_dashboard_data_pass_the_same_access_checks(site, path):
    mine = site.api("alice", f"/ui/api/patients/{site.t1d}{path}")
    assert mine.status_code == 200
    refused = site.api("bob", f"/ui/api/patients/{site.t1d}{path}")
    missing = site.api("bob", f"/ui/api/patients/p-0000000000000000{path}")
    assert refused.status_code == missing.status_code == 404
    assert refused.json()["issue"] == missing.json()["issue"]  # grants cannot be probed
    assert site.api("rita", f"/ui/api/patients/{site.t1d}{path}").status_code == 403
    with_no_token = site.api("nobody", f"/ui/api/patients/{site.t1d}{path}")
    assert with_no_token.status_code == 401
    r = site.post("bob", f"/ui/api/patients/{site.t1d}/what-if", {"options": {"a": []}})
    assert r.status_code == 404


def test_ledger_and_posterior_agree_with_the_api(site):
    mine = site.fresh_ledger("alice", site.t1d)
    api = site.api("alice", f"/patients/{site.t1d}/skill").json()
    assert mine["version"] == mine["latest"] and mine["by_observable"] == api["by_observable"]
    assert api["by_observable"]["sc_glucose"]["scored"] > 0
    post = site.api("alice", f"/ui/api/patients/{site.t1d}/posterior").json()
    twin = site.api("alice", f"/patients/{site.t1d}/twin").json()
    assert post["versions"][0] == 0 and post["versions"][-1] == twin["version"]
    assert len(post["versions"]) <= 16
    for p in post["parameters"]:
        q = twin["parameters"][p["name"]]
        assert [p["q05"][-1], p["median"][-1], p["q95"][-1]] == [q["q05"], q["median"], q["q95"]]
        assert np.all(np.array(p["q05"]) <= np.array(p["q95"]))
    # the twin learned: most parameters' 90 % intervals are narrower than the prior's
    narrowed = [p["narrowed"] for p in post["parameters"]]
    assert sum(n < 1 for n in narrowed) >= len(narrowed) // 2, narrowed


def test_what_if_requests_are_checked(site):
    url = f"/ui/api/patients/{site.sepsis}/what-if"
    r = site.post("alice", url, {"options": {k: [] for k in "abcd"}})
    assert r.status_code == 422 and "must hold 1..3 options" in r.text
    r = site.post("alice", url, {"options": {"a": [{"kind": "meal", "amount": 40, "after": 0}]}})
    assert r.status_code == 422 and "['antibiotic', 'anti_inflammatory']" in r.text
    r = site.post("alice", url, {"options": {"a": []}, "horizon": -1})
    assert r.status_code == 422 and "horizon" in r.text
    r = site.post("alice", url, {"options": {"none": [], "abx": [
        {"kind": "antibiotic", "amount": 0.5, "after": 0}]}, "horizon": 6})  # fmt: skip
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["observable"] == "wbc" and len(doc["options"][0]["times"]) == 6 / 0.25
    assert [len(o["bands"]) for o in doc["options"]] == [3, 3]


def test_posterior_versions_stay_put_as_versions_are_added():
    for n in range(1, 700):
        pick, after = _grid(n, 16), _grid(n + 1, 16)
        assert pick[0] == 0 and pick[-1] == n - 1 and len(pick) <= 16
        # only the newest, and the whole grid when its step doubles, change
        if len(after) > 2 and after[1] == pick[min(1, len(pick) - 1)]:
            assert set(pick) - {n - 1} <= set(after)


def test_a_newer_ledger_is_scored_in_the_background_once():
    calls, gate = [], threading.Event()

    def compute(version):
        def run():
            calls.append(version)
            if version == 2:
                gate.wait(10)
            return version, {"v": version}

        return run

    led = _Ledgers(4, delay=0.0)
    assert led.get("p", 1, compute(1)) == (1, {"v": 1})  # never scored: in the request
    # version 2 is asked for three times while being scored: the old one is served meanwhile
    assert [led.get("p", 2, compute(2))[0] for _ in range(3)] == [1, 1, 1]
    gate.set()
    for _ in range(100):
        if led.get("p", 2, compute(2))[0] == 2:
            break
        time.sleep(0.02)
    assert led.get("p", 2, compute(2)) == (2, {"v": 2})
    assert calls == [1, 2]
