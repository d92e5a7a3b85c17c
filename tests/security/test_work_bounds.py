"""Finding 6 (bounds): one request could ask for unbounded work -- a twin of 200,000 particles
ran 6.5 minutes at 2 GB, ``horizon`` and ``every`` had no upper end, ``horizon: Infinity`` gave
500, a what-if of 20 options x 100 boluses x 10080 minutes took a minute of CPU, and an
observation dated years ahead of its twin (or a twin whose epoch lies years before its data)
made one update advance every particle over years. Every parameter that scales work now has a
declared bound (``medtwin.limits``), checked in one place for the API, the dashboard and the
CLI, and one twin update takes at most a declared span, number of times and of events.

Each test sends one request that asks for too much and asserts that it was refused (422, the
message naming the parameter) before any computation started -- a spy replaces the
computation and fails the test if it runs -- and that nothing was stored; or, for the data
attacks, that the update did only the bounded work and left the rest pending."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from medtwin import limits
from medtwin.cli.main import app as cli
from medtwin.errors import StoreError
from medtwin.service import _dashboard, _views
from medtwin.store import _twin_update

from .conftest import _world, collection, glucose

EPOCH = "2026-01-01T00:00:00Z"
T1D = {"model": "t1d", "epoch": EPOCH, "n": 16, "seed": 1, "horizon": 30}
SEPSIS = {"model": "sepsis", "epoch": EPOCH, "prior": "spec", "free": ["k_pg"], "n": 16,
          "seed": 1, "horizon": 12}  # fmt: skip


@pytest.fixture
def no_twin_compute(monkeypatch):
    """Fail the test if a twin's prior or update is computed."""

    def refuse(*_: Any) -> None:
        pytest.fail("the request reached the twin computation")

    monkeypatch.setattr(_twin_update, "compute_create", refuse)
    monkeypatch.setattr(_twin_update, "compute_update", refuse)


def has_twin(w, pid: str) -> bool:
    try:
        w.store.twin_versions(pid, actor="test")
    except StoreError:
        return False
    return True


# -- twin configurations: POST /patients/{pid}/twin --------------------------------------------

TWIN_ATTACKS = {
    "n-200000": ({"n": 200000}, "'n'"),
    "n-just-above": ({"n": 5001}, "'n'"),
    "n-just-below": ({"n": 15}, "'n'"),
    "n-zero": ({"n": 0}, "'n'"),
    "n-negative": ({"n": -1000}, "'n'"),
    "n-int64-max": ({"n": 2**63 - 1}, "'n'"),
    "n-float": ({"n": 1000.0}, "'n'"),
    "n-fraction": ({"n": 100.5}, "'n'"),
    "n-exponent": ({"n": 1e5}, "'n'"),
    "n-string": ({"n": "1000"}, "'n'"),
    "n-bool": ({"n": True}, "'n'"),
    "n-null": ({"n": None}, "'n'"),
    "n-list": ({"n": [1000]}, "'n'"),
    "n-object": ({"n": {"value": 1000}}, "'n'"),
    "horizon-week-plus-5": ({"horizon": 10085}, "'horizon'"),
    "horizon-year": ({"horizon": 525600}, "'horizon'"),
    "horizon-1e300": ({"horizon": 1e300}, "'horizon'"),
    "horizon-zero": ({"horizon": 0}, "'horizon'"),
    "horizon-negative": ({"horizon": -60}, "'horizon'"),
    "horizon-string": ({"horizon": "60"}, "'horizon'"),
    "horizon-bool": ({"horizon": True}, "'horizon'"),
    "horizon-null": ({"horizon": None}, "'horizon'"),
    "horizon-list": ({"horizon": [60]}, "'horizon'"),
    "horizon-off-cadence": ({"horizon": 62.5}, "'horizon'"),
    "horizon-tiny": ({"horizon": 1e-9}, "'horizon'"),
    "every-zero": ({"every": 0}, "'every'"),
    "every-negative": ({"every": -5}, "'every'"),
    "every-below-input-step": ({"every": 0.5}, "'every'"),
    "every-minute-for-a-week": ({"every": 1, "horizon": 10080}, "forecast points"),
    "every-above-horizon": ({"every": 60}, "'every'"),
    "every-1e300": ({"every": 1e300}, "'every'"),
    "every-string": ({"every": "5"}, "'every'"),
    "every-bool": ({"every": True}, "'every'"),
    "every-list": ({"every": [5]}, "'every'"),
    "drift-string": ({"drift": "0.1"}, "'drift'"),
    "drift-bool": ({"drift": True}, "'drift'"),
    "drift-negative": ({"drift": -1}, "drift"),
    "seed-bool": ({"seed": True}, "seed"),
    "seed-negative": ({"seed": -1}, "seed"),
    "seed-float": ({"seed": 1.5}, "seed"),
    "seed-string": ({"seed": "1"}, "seed"),
    "model-list": ({"model": ["t1d"]}, "model"),
    "model-number": ({"model": 5}, "model"),
    "model-needs-a-grid": ({"model": "glioma"}, "glioma"),
    "model-huge-name": ({"model": "t" * 5000}, "model"),
    "free-number": ({"free": 5}, "free"),
    "free-string-split-into-letters": ({"free": "Vmx"}, "free"),
    "free-nested": ({"free": [["Vmx"]]}, "free"),
    "free-numbers": ({"free": [1, 2]}, "free"),
    "prior-list": ({"prior": ["spec"]}, "prior"),
    "epoch-overflows-utc": ({"epoch": "0001-01-01T00:00:00+05:00"}, "epoch"),
}


@pytest.mark.parametrize(("change", "named"), TWIN_ATTACKS.values(), ids=TWIN_ATTACKS)
def test_a_twin_asking_for_too_much_is_refused_before_any_work(
    world, no_twin_compute, change, named
):
    pid = world.new_patient("cli1")
    r = world.post("cli1", f"/patients/{pid}/twin", {**T1D, **change})
    assert r.status_code == 422, r.text
    assert r.json()["resourceType"] == "OperationOutcome" and named in r.text
    assert not has_twin(world, pid)


SEPSIS_ATTACKS = {
    "sepsis-horizon-8-days": ({"horizon": 169}, "'horizon'"),
    "sepsis-horizon-in-minutes": ({"horizon": 10080}, "'horizon'"),
    "sepsis-every-below-input-step": ({"every": 0.01}, "'every'"),
    "sepsis-every-off-step": ({"every": 0.07}, "'every'"),
    "sepsis-too-many-points": ({"horizon": 168, "every": 0.05}, "forecast points"),
    "sepsis-n-200000": ({"n": 200000}, "'n'"),
}


@pytest.mark.parametrize(("change", "named"), SEPSIS_ATTACKS.values(), ids=SEPSIS_ATTACKS)
def test_a_sepsis_twin_asking_for_too_much_is_refused_in_its_own_time_unit(
    world, no_twin_compute, change, named
):
    pid = world.new_patient("cli1")
    r = world.post("cli1", f"/patients/{pid}/twin", {**SEPSIS, **change})
    assert r.status_code == 422 and named in r.text, r.text
    assert not has_twin(world, pid)


@pytest.mark.parametrize("who", ["adm", "cli1"])
@pytest.mark.parametrize(
    "raw", ['"n": 1e400', '"horizon": Infinity', '"horizon": NaN', '"every": -Infinity']
)
def test_non_finite_numbers_in_a_twin_configuration_get_422_not_500(
    world, no_twin_compute, who, raw
):
    pid = world.new_patient(who)
    key = raw.split(":")[0].strip('"')
    body = json.dumps({k: v for k, v in T1D.items() if k != key})[:-1] + ", " + raw + "}"
    r = world.post(who, f"/patients/{pid}/twin", body.encode())
    assert r.status_code == 422, r.text
    assert not has_twin(world, pid)


# -- what-if: POST /patients/{pid}/what-if and the dashboard's ---------------------------------


@pytest.fixture(scope="module")
def wif(tmp_path_factory):
    """One world with a T1D and a sepsis twin of cli1 (16 particles); the attacks here change
    nothing, and each checks that no what-if was computed."""
    store, app, w = _world(f"sqlite:///{tmp_path_factory.mktemp('wif') / 'medtwin.db'}")
    with TestClient(app, raise_server_exceptions=False) as client:
        w.client = client
        w.t1d = w.new_patient("cli1", "MRN-WIF-1")  # type: ignore[attr-defined]
        w.sepsis = w.new_patient("cli1", "MRN-WIF-2")  # type: ignore[attr-defined]
        for pid, cfg in ((w.t1d, T1D), (w.sepsis, SEPSIS)):  # type: ignore[attr-defined]
            assert w.post("cli1", f"/patients/{pid}/twin", cfg).status_code == 201
        yield w
    store.close()


@pytest.fixture
def no_what_if(monkeypatch):
    def refuse(*_: Any, **__: Any) -> None:
        pytest.fail("the request reached the what-if computation")

    monkeypatch.setattr(_views, "what_if", refuse)
    monkeypatch.setattr(_dashboard, "what_if", refuse)


def bolus(after: Any = 0, amount: Any = 2, kind: Any = "bolus") -> dict:
    return {"after": after, "kind": kind, "amount": amount}


def options(k: int, events: int = 1) -> dict:
    return {f"o{i}": [bolus(after=j % 60) for j in range(events)] for i in range(k)}


ONE = {"a": [bolus()]}
WHAT_IF_ATTACKS = {
    "horizon-2-days-plus-5": ({"horizon": 2885, "options": ONE}, "'horizon'"),
    "horizon-old-maximum-week": ({"horizon": 10080, "options": ONE}, "'horizon'"),
    "horizon-1e300": ({"horizon": 1e300, "options": ONE}, "'horizon'"),
    "horizon-zero": ({"horizon": 0, "options": ONE}, "'horizon'"),
    "horizon-negative": ({"horizon": -1, "options": ONE}, "'horizon'"),
    "horizon-string": ({"horizon": "240", "options": ONE}, "'horizon'"),
    "horizon-bool": ({"horizon": True, "options": ONE}, "'horizon'"),
    "horizon-list": ({"horizon": [240], "options": ONE}, "'horizon'"),
    "horizon-missing": ({"options": ONE}, "'horizon'"),
    "options-7": ({"horizon": 240, "options": options(7)}, "'options'"),
    "options-old-maximum-20": ({"horizon": 240, "options": options(20)}, "'options'"),
    "options-1000": ({"horizon": 240, "options": options(1000)}, "'options'"),
    "options-none": ({"horizon": 240, "options": {}}, "'options'"),
    "options-a-list": ({"horizon": 240, "options": [[bolus()]]}, "options"),
    "options-a-string": ({"horizon": 240, "options": "all"}, "options"),
    "events-51": ({"horizon": 240, "options": options(1, 51)}, "options.o0"),
    "events-old-maximum-100": ({"horizon": 240, "options": options(1, 100)}, "options.o0"),
    "events-5000": ({"horizon": 240, "options": options(1, 5000)}, "options.o0"),
    "events-an-object": ({"horizon": 240, "options": {"a": bolus()}}, "options.a"),
    "amount-1e5": ({"horizon": 240, "options": {"a": [bolus(amount=1e5)]}}, "amount"),
    "amount-1e300": ({"horizon": 240, "options": {"a": [bolus(amount=1e300)]}}, "amount"),
    "amount-negative": ({"horizon": 240, "options": {"a": [bolus(amount=-1)]}}, "amount"),
    "amount-string": ({"horizon": 240, "options": {"a": [bolus(amount="2")]}}, "amount"),
    "amount-bool": ({"horizon": 240, "options": {"a": [bolus(amount=True)]}}, "amount"),
    "amount-null": ({"horizon": 240, "options": {"a": [bolus(amount=None)]}}, "amount"),
    "after-beyond-horizon": ({"horizon": 240, "options": {"a": [bolus(after=245)]}}, "after"),
    "after-a-year": ({"horizon": 240, "options": {"a": [bolus(after=525600)]}}, "after"),
    "after-negative": ({"horizon": 240, "options": {"a": [bolus(after=-5)]}}, "after"),
    "after-string": ({"horizon": 240, "options": {"a": [bolus(after="0")]}}, "after"),
    "after-bool": ({"horizon": 240, "options": {"a": [bolus(after=True)]}}, "after"),
    "kind-unknown": ({"horizon": 240, "options": {"a": [bolus(kind="nuke")]}}, "kind"),
    "kind-a-number": ({"horizon": 240, "options": {"a": [bolus(kind=5)]}}, "kind"),
    "kind-a-list": ({"horizon": 240, "options": {"a": [bolus(kind=["bolus"])]}}, "kind"),
    "event-a-string": ({"horizon": 240, "options": {"a": ["bolus"]}}, "options.a[0]"),
}


@pytest.mark.parametrize(("body", "named"), WHAT_IF_ATTACKS.values(), ids=WHAT_IF_ATTACKS)
def test_a_what_if_asking_for_too_much_is_refused_before_any_work(wif, no_what_if, body, named):
    r = wif.post("cli1", f"/patients/{wif.t1d}/what-if", body)
    assert r.status_code == 422, r.text
    assert r.json()["resourceType"] == "OperationOutcome" and named in r.text


SEPSIS_WHAT_IF = {
    "sepsis-horizon-49-h": ({"horizon": 49, "options": {"a": []}}, "'horizon'"),
    "sepsis-horizon-in-minutes": ({"horizon": 2880, "options": {"a": []}}, "'horizon'"),
    "sepsis-rate-1e5": (
        {"horizon": 24, "options": {"a": [{"after": 0, "kind": "antibiotic", "amount": 1e5}]}},
        "amount",
    ),
    "sepsis-insulin": ({"horizon": 24, "options": {"a": [bolus()]}}, "kind"),
    "sepsis-after-beyond": (
        {"horizon": 24, "options": {"a": [{"after": 25, "kind": "antibiotic", "amount": 1}]}},
        "after",
    ),
}


@pytest.mark.parametrize(("body", "named"), SEPSIS_WHAT_IF.values(), ids=SEPSIS_WHAT_IF)
def test_a_sepsis_what_if_is_bounded_in_hours(wif, no_what_if, body, named):
    r = wif.post("cli1", f"/patients/{wif.sepsis}/what-if", body)
    assert r.status_code == 422 and named in r.text, r.text


DASHBOARD_ATTACKS = {
    "dash-options-4": ({"horizon": 240, "options": options(4)}, "'options'"),
    "dash-options-20": ({"horizon": 240, "options": options(20)}, "'options'"),
    "dash-events-21": ({"horizon": 240, "options": options(1, 21)}, "options.o0"),
    "dash-horizon-week": ({"horizon": 10080, "options": ONE}, "'horizon'"),
    "dash-horizon-string": ({"horizon": "240", "options": ONE}, "'horizon'"),
    "dash-amount-1e5": ({"horizon": 240, "options": {"a": [bolus(amount=1e5)]}}, "amount"),
    "dash-after-beyond": ({"horizon": 240, "options": {"a": [bolus(after=300)]}}, "after"),
}


@pytest.mark.parametrize(("body", "named"), DASHBOARD_ATTACKS.values(), ids=DASHBOARD_ATTACKS)
def test_the_dashboards_what_if_has_the_same_bounds(wif, no_what_if, body, named):
    r = wif.post("cli1", f"/ui/api/patients/{wif.t1d}/what-if", body)
    assert r.status_code == 422 and named in r.text, r.text


@pytest.mark.parametrize("route", ["/patients/{}/what-if", "/ui/api/patients/{}/what-if"])
@pytest.mark.parametrize(
    "raw", ['{"horizon": Infinity, "options": {"a": []}}',
            '{"horizon": 60, "options": {"a": [{"after": 0, "kind": "bolus", "amount": NaN}]}}',
            '{"horizon": 60, "options": {"a": [{"after": 1e400, "kind": "bolus", "amount": 1}]}}'],
)  # fmt: skip
def test_non_finite_numbers_in_a_what_if_get_422_not_500(wif, no_what_if, route, raw):
    r = wif.post("cli1", route.format(wif.t1d), raw.encode())
    assert r.status_code == 422, r.text


# -- data that would make one update advance for years ------------------------------------------


def at(minutes: float) -> str:
    t = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    return t.isoformat().replace("+00:00", "Z")


def reading(pid: str, ident: str, minutes: float, value: float = 140.0) -> dict:
    obs = glucose(f"Patient/{pid}", ident, value)
    obs["effectiveDateTime"] = at(minutes)
    return obs


SPAN = limits.UPDATE_SPAN.high  # minutes


@pytest.mark.parametrize("years", [1, 10, 100])
def test_a_reading_dated_years_ahead_advances_the_twin_one_span_only(world, years):
    pid = world.new_patient("cli1")
    assert world.post("cli1", f"/patients/{pid}/twin", T1D).status_code == 201
    r = world.post("cli1", f"/patients/{pid}/observations",
                   reading(pid, "far", years * 525600.0))  # fmt: skip
    assert r.status_code == 200, r.text
    head = world.store.twin_versions(pid, actor="t")[-1]
    assert head.model_time == SPAN and head.observations == ()
    assert [o.status for o in world.store.observations(pid, actor="t")] == ["pending"]


def test_an_epoch_decades_before_the_data_costs_one_span_per_update(world):
    pid = world.new_patient("cli1")
    r = world.post("cli1", f"/patients/{pid}/observations", reading(pid, "now", 5.0))
    assert r.status_code == 200, r.text
    r = world.post("cli1", f"/patients/{pid}/twin", {**T1D, "epoch": "1926-01-01T00:00:00Z"})
    assert r.status_code == 201, r.text
    assert r.json()["model_time"] == SPAN and r.json()["version"] == 1
    assert [o.status for o in world.store.observations(pid, actor="t")] == ["pending"]


def test_a_backlog_of_readings_is_applied_a_bounded_chunk_per_update(world):
    pid = world.new_patient("cli1")
    assert world.post("cli1", f"/patients/{pid}/twin", T1D).status_code == 201
    most = limits.UPDATE_TIMES.high
    bundle = collection(*((None, reading(pid, f"r{i}", 5.0 * (i + 1))) for i in range(2 * most)))
    r = world.post("cli1", "/fhir", bundle)
    assert r.status_code == 200, r.text
    head = world.store.twin_versions(pid, actor="t")[-1]
    assert head.version == 1 and len(head.observations) == most
    statuses = [o.status for o in world.store.observations(pid, actor="t")]
    assert statuses.count("applied") == most and statuses.count("pending") == most


# -- the CLI: medtwin twin replay ----------------------------------------------------------------


@pytest.fixture
def cgm_csv(tmp_path):
    path = tmp_path / "cgm.csv"
    path.write_text("time,glucose_mg_dl\n" + "".join(f"{5 * k},{140 + k}\n" for k in range(6)))
    return path


CLI_ATTACKS = {
    "particles-200000": (["--particles", "200000"], "--particles"),
    "particles-just-above": (["--particles", "5001"], "--particles"),
    "particles-just-below": (["--particles", "15"], "--particles"),
    "particles-zero": (["--particles", "0"], "--particles"),
    "particles-negative": (["--particles=-5"], "--particles"),
    "particles-int64": (["--particles", str(2**63 - 1)], "--particles"),
    "particles-float": (["--particles", "1e3"], "--particles"),
    "horizon-inf": (["--horizon", "inf"], "--horizon"),
    "horizon-nan": (["--horizon", "nan"], "--horizon"),
    "horizon-minus-inf": (["--horizon=-inf"], "--horizon"),
    "horizon-week-plus-5": (["--horizon", "10085"], "--horizon"),
    "horizon-1e300": (["--horizon", "1e300"], "--horizon"),
    "horizon-zero": (["--horizon", "0"], "--horizon"),
    "horizon-negative": (["--horizon=-60"], "--horizon"),
}


@pytest.mark.parametrize(("args", "named"), CLI_ATTACKS.values(), ids=CLI_ATTACKS)
def test_twin_replay_refuses_too_much_work(cgm_csv, tmp_path, monkeypatch, args, named):
    from medtwin import loop  # the command imports replay_stream from it when it runs

    def refuse(*_: Any, **__: Any) -> None:
        pytest.fail("the replay ran")

    monkeypatch.setattr(loop, "replay_stream", refuse)
    out = tmp_path / "forecasts.csv"
    res = CliRunner().invoke(cli, ["twin", "replay", "--data", str(cgm_csv), "--out", str(out),
                                   *args])  # fmt: skip
    assert res.exit_code == 2, res.output
    assert named in res.output and not out.exists()
