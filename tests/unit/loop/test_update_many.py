"""update_many(): many twins' updates computed together give what update() gives one by one --
the same ensembles, forecasts, reports and marks -- for T1D twins that differ in their data
(readings, a late one, an unobserved code, a censored one, a bolus, a meal), their time and
their version; a twin that fails does not hold up the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from medtwin import loop
from medtwin.forecast import forecast, forecast_many
from medtwin.loop import PendingEvent, PendingObservation, TwinConfig

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CGM, BG = "99504-3", "2339-0"
N = 32
RTOL = 1e-12


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def cgm(i: int, minutes: float, value: float, code: str = CGM) -> PendingObservation:
    return PendingObservation(i, code, at(minutes), value, 0)


def config(seed: int, **kw) -> TwinConfig:
    return TwinConfig("t1d", T0, n=kw.pop("n", N), seed=seed, horizon=60.0, **kw)


@pytest.fixture(scope="module")
def items() -> list[loop.UpdateItem]:
    """Five twins, each with its own pending data; two of them one version on already. (Every
    assimilation window is 5 or 10 input steps long, so that few kernels are compiled.)"""
    pending = [
        ([cgm(1, 5, 150.0)], []),
        ([cgm(2, 5, 140.0), cgm(3, 10, 152.0)], []),
        ([cgm(5, 2, 170.0), cgm(6, 9, 99.0, code="6690-2"), cgm(7, 10, 171.0)],
         [PendingEvent(8, "bolus", at(7), 2.0)]),
        ([cgm(9, 10, 130.0), cgm(10, 10, 133.0, code=BG)],
         [PendingEvent(11, "meal", at(6), 30.0)]),
        ([PendingObservation(12, CGM, at(5), 40.0, -1)], []),  # "LO": below 40 mg/dL
    ]  # fmt: skip
    out = []
    for seed, (obs, evs) in enumerate(pending):
        cfg = config(seed)
        twin = loop.create(cfg).twin
        if seed in (2, 3):  # one version on, at 5 min
            twin = loop.update(cfg, twin, [cgm(100 + seed, 5, 160.0)], []).twin
        out.append(loop.UpdateItem(cfg, twin, obs, evs))
    return out


def assert_close(a, b, where: str = "report") -> None:
    """``a`` equals ``b``, numbers to a relative 1e-12 (JSON-like values)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_close(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close(x, y, f"{where}[{k}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert b == pytest.approx(a, rel=RTOL, abs=0, nan_ok=True), where
    else:
        assert a == b, where


def assert_same_step(got: loop.Step, ref: loop.Step) -> None:
    a, b = got.twin.ensemble, ref.twin.ensemble
    assert a.time == b.time and got.twin.version == ref.twin.version
    for name in ("params", "states", "log_weights"):
        np.testing.assert_allclose(
            np.asarray(getattr(a, name)), np.asarray(getattr(b, name)), rtol=RTOL, atol=0
        )
    assert got.twin.regimen == ref.twin.regimen
    fa, fb = got.forecast, ref.forecast
    np.testing.assert_array_equal(fa.times, fb.times)
    assert fa.issued_at == fb.issued_at and fa.twin_version == fb.twin_version
    for name in ("median", "lower", "upper", "draws"):
        np.testing.assert_allclose(getattr(fa, name), getattr(fb, name), rtol=RTOL, atol=0)
    assert_close(got.report, ref.report)  # the alerts' probabilities and times included
    assert (got.obs_marks, got.ev_marks, got.applied) == (ref.obs_marks, ref.ev_marks, ref.applied)


@pytest.mark.slow
def test_update_many_gives_the_one_by_one_updates(items):
    one_by_one = [loop.update(*it) for it in items]
    together = loop.update_many(items)
    assert len(together) == len(items)
    for got, ref in zip(together, one_by_one, strict=True):
        assert_same_step(got, ref)
    # The data really differed: the steps took different records, times and versions.
    assert [s.twin.time for s in together] == [5.0, 10.0, 10.0, 10.0, 5.0]
    assert [s.twin.version for s in together] == [1, 1, 2, 2, 1]
    assert together[2].obs_marks == {5: "late", 6: "unobserved", 7: "applied"}
    assert together[2].ev_marks == {8: "applied"} and together[3].report["events"] == 1
    assert together[3].report["data"]["used"] == 2 and together[4].report["data"]["censored"] == 1
    # ... and the order of the items does not change a twin's numbers.
    backwards = loop.update_many(items[::-1])[::-1]
    for got, ref in zip(backwards, one_by_one, strict=True):
        assert_same_step(got, ref)


@pytest.mark.slow
def test_forecast_many_gives_the_one_by_one_forecasts(items):
    twins = [it.twin for it in items]
    for got, twin in zip(forecast_many(twins, 60.0), twins, strict=True):
        ref = forecast(twin, 60.0)
        np.testing.assert_array_equal(got.times, ref.times)
        np.testing.assert_allclose(got.draws, ref.draws, rtol=RTOL, atol=0)
        np.testing.assert_allclose(got.median, ref.median, rtol=RTOL, atol=0)


@pytest.mark.slow
def test_a_failing_twin_does_not_hold_up_the_others(items):
    broken = loop.UpdateItem(items[0].config, items[0].twin, [("not", "a", "record")], [])
    lone = config(9, drift=0.05)  # another filter: a group of its own, updated alone
    alone = loop.UpdateItem(lone, loop.create(lone).twin, [cgm(20, 5, 150.0)], [])
    batch = [*items[:2], broken, *items[2:], alone]
    out = loop.update_many(batch, errors="return")
    assert isinstance(out[2], ValueError)
    for got, it in zip(out[:2] + out[3:], [*items, alone], strict=True):
        assert_same_step(got, loop.update(*it))
    with pytest.raises(ValueError):
        loop.update_many(batch)
