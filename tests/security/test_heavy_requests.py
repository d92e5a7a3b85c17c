"""Finding 6 (concurrency): a user could start any number of twin computations at once -- twin
creations, data posts that update twins, what-ifs -- and take every worker of the service. Now
each user has at most ``limits.HEAVY_REQUESTS_PER_USER`` in flight; one more is refused at once
with 429 and ``Retry-After``, audited, computing and storing nothing, while other users go on.

Most attacks hold the user's slots through the app's own limiter (as requests in flight would)
and send one more heavy request; one runs real concurrent requests paused inside their
computation."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from medtwin import limits
from medtwin.service import _dashboard, _views
from medtwin.service._auth import Caller
from medtwin.service._concurrency import heavy
from medtwin.store import _twin_update

from .conftest import collection, glucose

T1D = {"model": "t1d", "epoch": "2026-01-01T00:00:00Z", "n": 16, "seed": 1, "horizon": 30}
K = limits.HEAVY_REQUESTS_PER_USER
WAIT = 180.0


def insulin(subject: str, ident: str = "d1") -> dict:
    return {
        "resourceType": "MedicationAdministration", "status": "completed",
        "identifier": [{"system": "urn:test:dose", "value": ident}],
        "medicationCodeableConcept": {"text": "insulin lispro"},
        "subject": {"reference": subject}, "effectiveDateTime": "2026-01-01T00:20:00Z",
        "dosage": {"dose": {"value": 1.0, "unit": "U", "system": "http://unitsofmeasure.org",
                            "code": "U"}},
    }  # fmt: skip


def caller(w, name: str) -> Caller:
    return Caller(w.store.authenticate(w.tokens[name]), w.store)


class Held:
    """``n`` heavy-request slots of ``name`` held, as that many requests in flight would."""

    def __init__(self, w, name: str, n: int) -> None:
        self.slots = [heavy(w.client.app, caller(w, name), "test.hold") for _ in range(n)]

    def __enter__(self) -> Held:
        for s in self.slots:
            s.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        for s in reversed(self.slots):
            s.__exit__(None, None, None)


@pytest.fixture
def no_compute(monkeypatch):
    def refuse(*_: Any, **__: Any) -> None:
        pytest.fail("a refused request reached a computation")

    for module, name in ((_twin_update, "compute_create"), (_twin_update, "compute_update"),
                         (_views, "what_if"), (_dashboard, "what_if")):  # fmt: skip
        monkeypatch.setattr(module, name, refuse)


def stored(w, pid: str) -> tuple:
    """What a heavy request could store for ``pid``: observations, events, a twin."""
    obs = len(w.store.observations(pid, actor="t"))
    evs = len(w.store.events(pid, actor="t"))
    twin = w.get("adm", f"/patients/{pid}/twin").status_code
    return obs, evs, twin


# route -> (action audited, url, body for patient pid)
HEAVY = {
    "twin create": ("twin.create", "/patients/{pid}/twin", lambda pid: T1D),
    "observation": ("observation.create", "/patients/{pid}/observations",
                    lambda pid: glucose(f"Patient/{pid}", "o1")),
    "regimen": ("event.create", "/patients/{pid}/regimen",
                lambda pid: insulin(f"Patient/{pid}")),
    "fhir bundle": ("ingest", "/fhir", lambda pid: collection(
        (None, glucose(f"Patient/{pid}", "o4")))),
    "fhir bundle with dose": ("ingest", "/fhir", lambda pid: collection(
        (None, insulin(f"Patient/{pid}", "d2")))),
    "what-if": ("twin.what_if", "/patients/{pid}/what-if",
                lambda pid: {"horizon": 60, "options": {"a": []}}),
    "dashboard what-if": ("twin.what_if", "/ui/api/patients/{pid}/what-if",
                          lambda pid: {"horizon": 60, "options": {"a": []}}),
}  # fmt: skip


@pytest.mark.parametrize("who", ["cli1", "adm"])
@pytest.mark.parametrize(("action", "url", "body"), HEAVY.values(), ids=HEAVY)
def test_one_heavy_request_over_the_users_limit_is_refused_with_429(
    world, no_compute, who, action, url, body
):
    pid = world.new_patient(who)
    before = stored(world, pid)
    with Held(world, who, K):
        r = world.post(who, url.format(pid=pid), body(pid))
    assert r.status_code == 429, r.text
    assert r.headers["retry-after"].isdigit() and int(r.headers["retry-after"]) > 0
    assert r.json()["issue"][0]["code"] == "throttled"
    assert stored(world, pid) == before
    refusals = [e for e in world.store.audit_entries(actor=who, action=action)
                if e.outcome == "denied" and (e.detail or {}).get("reason") == "busy"]  # fmt: skip
    assert len(refusals) == 1 and refusals[0].detail["limit"] == K


def test_another_users_requests_go_on_while_one_user_is_at_the_limit(world):
    mine, theirs = world.new_patient("cli1", "MRN-1"), world.new_patient("cli2", "MRN-2")
    with Held(world, "cli1", K):
        r = world.post("cli2", f"/patients/{theirs}/observations",
                       glucose(f"Patient/{theirs}", "x"))  # fmt: skip
        refused = world.post("cli1", f"/patients/{mine}/observations",
                             glucose(f"Patient/{mine}", "y"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert refused.status_code == 429
    assert len(world.store.observations(theirs, actor="t")) == 1
    assert world.store.observations(mine, actor="t") == []


def test_below_the_limit_a_request_goes_through_and_gives_its_slot_back(world):
    pid = world.new_patient("cli1")
    with Held(world, "cli1", K - 1):
        r = world.post("cli1", f"/patients/{pid}/observations", glucose(f"Patient/{pid}", "a"))
        assert r.status_code == 200, r.text
        r = world.post("cli1", f"/patients/{pid}/observations", glucose(f"Patient/{pid}", "b"))
        assert r.status_code == 200, r.text  # the first gave its slot back
    assert len(world.store.observations(pid, actor="t")) == 2


FAILING_INSIDE = {  # each fails after taking its slot: the slot must come back
    "population-prior-for-sepsis": ("/patients/{pid}/twin", {**T1D, "model": "sepsis"}, 422),
    "what-if-without-twin": ("/patients/{pid}/what-if", {"horizon": 60, "options": {}}, 422),
    "conflicting-resend": ("/patients/{pid}/observations", "conflict", 409),
}


@pytest.mark.parametrize(("url", "body", "status"), FAILING_INSIDE.values(), ids=FAILING_INSIDE)
def test_failed_heavy_requests_do_not_leak_slots(world, url, body, status):
    pid = world.new_patient("cli1")
    if body == "conflict":  # the same reading again with another value
        first = world.post("cli1", url.format(pid=pid), glucose(f"Patient/{pid}", "d", 120.0))
        assert first.status_code == 200, first.text
        body = glucose(f"Patient/{pid}", "d", 130.0)
    for _ in range(K + 2):
        r = world.post("cli1", url.format(pid=pid), body)
        assert r.status_code == status, r.text
    r = world.post("cli1", f"/patients/{pid}/observations", glucose(f"Patient/{pid}", "ok"))
    assert r.status_code == 200, r.text


def test_real_concurrent_twin_creations_beyond_the_limit_get_429(world, monkeypatch):
    pids = [world.new_patient("cli1", f"MRN-C{i}") for i in range(K + 1)]
    other = world.new_patient("cli2", "MRN-OTHER")
    inside, go = threading.Semaphore(0), threading.Event()
    original = _twin_update.compute_create

    def paused(config):
        inside.release()
        assert go.wait(WAIT)
        return original(config)

    monkeypatch.setattr(_twin_update, "compute_create", paused)
    results: dict[int, Any] = {}

    def create(i: int) -> None:
        results[i] = world.post("cli1", f"/patients/{pids[i]}/twin", T1D)

    threads = [threading.Thread(target=create, args=(i,), daemon=True) for i in range(K)]
    for t in threads:
        t.start()
    for _ in range(K):
        assert inside.acquire(timeout=WAIT), "the creations never started computing"
    try:
        refused = world.post("cli1", f"/patients/{pids[K]}/twin", T1D)
        wif = world.post(
            "cli1", f"/patients/{pids[0]}/what-if", {"horizon": 60, "options": {"a": []}}
        )
        theirs = world.post("cli2", f"/patients/{other}/observations",
                            glucose(f"Patient/{other}", "z"))  # fmt: skip
    finally:
        go.set()
        for t in threads:
            t.join(timeout=WAIT)
    assert refused.status_code == 429 and wif.status_code == 429
    assert theirs.status_code == 200, theirs.text
    assert [results[i].status_code for i in range(K)] == [201] * K
    assert world.get("cli1", f"/patients/{pids[K]}/twin").status_code != 200
