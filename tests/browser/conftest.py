"""A live medtwin service (uvicorn on 127.0.0.1, SQLite file) with seeded twins, and a real
headless Chromium (Debian's package, driven by Playwright) for the dashboard tests.

Seeded once per session: alice (clinician) has a T1D patient with 2 h of 5-minute CGM, one
reading per twin update (25 versions: just past calibration), a meal and a bolus, and a sepsis
patient with six 2-hourly white-cell counts; bob (clinician) has a T1D patient with three
readings (calibrating). Twins have 32 particles; alice's patients have names (:data:`NAMES`),
bob's has none. Screenshots go to ``<tmp>/screenshots`` and to ``$MEDTWIN_ARTIFACTS`` if set.
Without Chromium the tests FAIL, saying how to install it.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest

from ._live import EPOCH, LiveServer, launch, save_screenshot, seed_cgm, seed_wbc

KEY = bytes(range(32))
MEALS = ((30.0, 40.0, 4.0),)
T1D_HORIZON = 240.0  # min: the longest what-if choice, so the what-if is the stored forecast
SEPSIS_HORIZON = 12.0  # h
NAMES = {"t1d": "Ada Lovelace", "sepsis": "Carl Linnaeus"}  # the identities stored (encrypted)


@dataclass
class Site:
    url: str
    store: object
    tokens: dict[str, str]
    t1d: str  # alice's
    sepsis: str  # alice's
    newbie: str  # bob's
    shots: Path

    def api(self, who: str, path: str, headers: dict | None = None) -> httpx.Response:
        with httpx.Client(base_url=self.url, timeout=120) as c:
            return c.get(path, headers={**self.auth(who), **(headers or {})})

    def post(self, who: str, path: str, body: object) -> httpx.Response:
        with httpx.Client(base_url=self.url, timeout=120) as c:
            return c.post(
                path,
                content=json.dumps(body).encode(),
                headers={**self.auth(who), "content-type": "application/json"},
            )

    def auth(self, who: str) -> dict[str, str]:
        """The bearer header of ``who`` (none for an unknown name)."""
        token = self.tokens.get(who)
        return {"authorization": f"Bearer {token}"} if token else {}

    def fresh_ledger(self, who: str, pid: str) -> dict:
        """The dashboard's skill ledger once it scores the latest version (it is re-scored in
        the background after new data)."""
        for _ in range(300):
            doc = self.api(who, f"/ui/api/patients/{pid}/skill").json()
            if not doc["stale"]:
                return doc
            time.sleep(0.1)
        raise AssertionError(f"the ledger of {pid} stayed stale: {doc['version']}")

    def shot(self, page: object, name: str) -> None:
        save_screenshot(page, name, [self.shots])


def reading(pid: str, minute: float, value: float) -> dict:
    """A FHIR R4 CGM Observation of ``pid`` at ``minute`` after the epoch."""
    when = (EPOCH + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
    return {
        "resourceType": "Observation",
        "status": "final",
        "identifier": [{"system": "urn:test:cgm", "value": f"{pid}-live-{minute:g}"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "99504-3"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when,
        "valueQuantity": {
            "value": value,
            "unit": "mg/dL",
            "system": "http://unitsofmeasure.org",
            "code": "mg/dL",
        },
    }


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory):
    from medtwin.data.records import PatientRecord
    from medtwin.service import create_app
    from medtwin.store import TwinConfig, open_store

    root = tmp_path_factory.mktemp("dashboard")
    store = open_store(f"sqlite:///{root / 'medtwin.db'}", key=KEY)
    tokens = {}
    for name, role in (
        ("alice", "clinician"),
        ("bob", "clinician"),
        ("rita", "researcher"),
        ("admin", "admin"),
    ):
        store.add_user(name, role)
        tokens[name] = store.issue_token(name)
    pids = {}
    for who, label in (("alice", "t1d"), ("alice", "sepsis"), ("bob", "newbie")):
        rec = PatientRecord(f"urn:test|{label}", name=NAMES.get(label))
        pids[label] = store.add_patient(rec, actor="seed")
        store.grant(who, pids[label])
    sepsis = TwinConfig(
        model="sepsis",
        epoch=EPOCH,
        prior="spec",
        free=("k_pg", "P0"),
        n=32,
        seed=3,
        horizon=SEPSIS_HORIZON,
    )

    def seed_sepsis() -> None:  # a rising white-cell count (10^3/uL)
        store.create_twin(pids["sepsis"], sepsis, actor="seed")
        hours = np.arange(2.0, 13.0, 2.0)
        seed_wbc(store, pids["sepsis"], hours, 7.0 + 5.0 * (1.0 - np.exp(-hours / 8.0)))

    with ThreadPoolExecutor(1) as pool:  # compiling two models at once: two cores
        done = pool.submit(seed_sepsis)
        t1d = TwinConfig(model="t1d", epoch=EPOCH, n=32, seed=1, horizon=T1D_HORIZON)
        store.create_twin(pids["t1d"], t1d, actor="seed")
        store.create_twin(pids["newbie"], replace(t1d, seed=2), actor="seed")
        # a smooth meal response (mg/dL), 25 readings over 2 h, one update each: just past
        # calibration (24 updates, 2 h); simulating a true patient would add compile time
        minutes = np.arange(5.0, 126.0, 5.0)
        x = np.clip(minutes - 30.0, 0.0, None) / 45.0
        cgm = 120.0 + 50.0 * x * np.exp(1.0 - x)
        seed_cgm(store, pids["t1d"], minutes, cgm, meals=MEALS)
        seed_cgm(store, pids["newbie"], minutes[:3], cgm[:3])
        done.result()
    app = create_app(store, login_limit=1000)
    try:
        with LiveServer(app) as url:
            yield Site(
                url,
                store,
                tokens,
                pids["t1d"],
                pids["sepsis"],
                pids["newbie"],
                root / "screenshots",
            )
    finally:
        store.close()


@pytest.fixture(scope="session")
def browser():
    try:
        with launch() as b:
            yield b
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def page(browser, site):
    """A fresh tab (own session storage); fails the test on any script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    tab.on(
        "console",
        lambda m: (
            errors.append(f"console: {m.text}")
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    yield tab
    context.close()
    assert not errors, errors


def login(page, site: Site, who: str, then: str = "/ui/patients") -> None:
    """Log in through the login page and land on ``then``."""
    page.goto(f"{site.url}/ui/login?next={then}")
    page.fill("#token", site.tokens[who])
    page.click("#login-submit")
    page.wait_for_url(f"**{then}")
