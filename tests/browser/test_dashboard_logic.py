"""What the dashboard computes for the page, without a browser: units as a lab report prints
them, probabilities in words, the two-sided and steady calibration status, and the what-if cut
to a shorter horizon."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import numpy as np
import pytest
from scipy.stats import norm

from medtwin.forecast import Forecast, coverage_drift, outcome_metrics, what_if
from medtwin.loop import TwinConfig, new_twin
from medtwin.service._dashboard import alert_for
from medtwin.service._dashboard_display import human_unit, probability_phrase, target_range
from medtwin.service._dashboard_drift import RECENT, calibration_walk
from medtwin.service._dashboard_whatif import cut, horizon_choices
from medtwin.simulate import Regimen
from medtwin.store import StoredForecast

LEVELS = (0.5, 0.8, 0.95)


@pytest.mark.parametrize(
    "ucum, shown",
    [
        ("10*3/uL", "×10³/µL"),
        ("10*9/L", "×10⁹/L"),
        ("10*-3", "×10⁻³"),
        ("ug/mL", "µg/mL"),
        ("umol/L", "µmol/L"),
        ("uU/mL", "µU/mL"),
        ("Cel", "°C"),
        ("[degF]", "°F"),
        ("mm[Hg]", "mmHg"),
        ("{beats}/min", "beats/min"),
        ("[iU]/h", "IU/h"),
        # already as people write them: unchanged
        ("mg/dL", "mg/dL"),
        ("mmol/L", "mmol/L"),
        ("U", "U"),
        ("U/h", "U/h"),
        ("a.u./h", "a.u./h"),
        ("1e6 cells/cc", "1e6 cells/cc"),
        ("mg/kg/min per pmol/L", "mg/kg/min per pmol/L"),
        ("µU/mL", "µU/mL"),
    ],
)
def test_units_are_shown_as_a_lab_report_prints_them(ucum, shown):
    assert human_unit(ucum) == shown


def test_glucose_has_a_target_range_and_other_observables_none():
    from medtwin.models import get_model

    t1d, sepsis = get_model("t1d"), get_model("sepsis")
    assert target_range(t1d, "sc_glucose") == target_range(t1d, "bg") == (70.0, 180.0)
    assert target_range(t1d, "insulin") is None  # no LOINC code
    assert target_range(sepsis, "wbc") is None


def test_probabilities_at_the_ends_are_inequalities():
    assert probability_phrase("x < 70 mg/dL", 0.999) == "P(x < 70 mg/dL) > 99 %"
    assert probability_phrase("x < 70 mg/dL", 0.004) == "P(x < 70 mg/dL) < 1 %"
    assert probability_phrase("x < 70 mg/dL", 0.26) == "P(x < 70 mg/dL) = 26 %"


def _stored(mean: np.ndarray, sd: float) -> StoredForecast:
    """A stored-like 5-minute glucose forecast: Normal(mean[t], sd), quantiles 1..99 %."""
    z = norm.ppf(np.arange(1, 100) / 100.0)
    times = 5.0 * np.arange(1, mean.size + 1)
    band = np.array([norm.ppf((1 + lv) / 2) for lv in LEVELS])[:, None, None] * sd
    fc = Forecast(
        issued_at=0.0, twin_version=3, times=times, observable_names=("x",), levels=LEVELS,
        median=mean[None], lower=mean[None, None] - band, upper=mean[None, None] + band,
        draws=mean[None, None, :] + sd * z[:, None, None],
        quantile_levels=tuple(np.arange(1, 100) / 100.0),
    )  # fmt: skip
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    return StoredForecast(1, "p-x", 3, epoch, float(times[-1]), fc, epoch, "min")


def test_a_certain_crossing_reads_as_an_inequality_with_its_time_to_fill_in():
    a = alert_for(_stored(np.full(24, 40.0), 5.0), "x", "mg/dL")  # surely below 70
    assert a["severity"] == "alert"
    assert a["text"].startswith("P(x < 70 mg/dL) > 99 % at 00:05 UTC, the highest")
    assert "= >" not in a["text"] and "= <" not in a["text"]
    # the page fills the time in local time: the template is the text with {at} for it
    assert a["template"].replace("{at}", "00:05 UTC") == a["text"] and a["at"].endswith("Z")
    shown = alert_for(_stored(np.full(24, 40.0), 5.0), "x", "10*3/uL", shown_unit="×10³/µL")
    assert "10*3/uL" not in shown["text"] and shown["unit"] == "10*3/uL"


# -- calibration: two-sided, and steady between refreshes ---------------------------------------


def _hits(rates: list[float], n: int, seed: int) -> np.ndarray:
    """(n, levels) inside-the-band flags whose coverage at each level is ``rates``."""
    u = np.random.default_rng(seed).random(n)
    return np.stack([u < r for r in rates], axis=1)


def test_too_narrow_bands_are_over_confident_and_too_wide_ones_under_confident():
    ok = calibration_walk(_hits([0.5, 0.8, 0.95], 200, 1), LEVELS)
    narrow = calibration_walk(_hits([0.2, 0.45, 0.7], 200, 2), LEVELS)
    wide = calibration_walk(_hits([0.8, 0.99, 1.0], 200, 3), LEVELS)
    assert ok.status == "calibrated" and not ok.flagged
    assert narrow.status == "over-confident" and narrow.flagged
    assert wide.status == "under-confident" and wide.flagged
    assert narrow.n == wide.n == RECENT
    assert np.all(narrow.coverage < LEVELS) and np.all(wide.coverage >= LEVELS)
    # bands too narrow at one level and too wide at another: the unsafe side is named
    mixed = np.concatenate([_hits([0.1], 200, 4), _hits([1.0, 1.0], 200, 5)], axis=1)
    assert calibration_walk(mixed, LEVELS).status == "over-confident"


def test_the_status_agrees_with_the_ledgers_flag_when_the_flag_is_raised():
    rng = np.random.default_rng(6)
    for trial in range(40):
        rates = np.clip(np.array(LEVELS) + rng.normal(0, 0.15, 3), 0.02, 1.0)
        inside = _hits(list(rates), int(rng.integers(5, 150)), trial)
        last = inside[-RECENT:]
        flag = any(bool(coverage_drift(int(last[:, i].sum()), len(last), lv, 0.99))
                   for i, lv in enumerate(LEVELS))  # fmt: skip
        w = calibration_walk(inside, LEVELS)
        assert w.flagged == flag
        if flag:
            assert w.status != "calibrated"


def test_the_status_holds_while_coverage_hovers_at_the_bound():
    # the 80 % band's recent coverage hovering at its 99 % bound (48 of 50 inside), a refresh
    # per new target: the ledger's flag flips back and forth, the status is entered once and
    # kept (it leaves only at 44 of 50, inside the 90 % interval)
    rng = np.random.default_rng(7)
    n = RECENT + 400
    inside = np.stack([rng.random(n) < 0.5, rng.random(n) < 0.95, np.ones(n, bool)], axis=1)
    flags, statuses = [], []
    for t in range(RECENT, len(inside) + 1):  # every refresh, from the data up to then
        w = calibration_walk(inside[:t], LEVELS)
        flags.append(w.flagged)
        statuses.append(w.status)
    flips = lambda xs: sum(a != b for a, b in pairwise(xs))  # noqa: E731
    assert flips(flags) >= 8, flips(flags)
    assert flips(statuses) <= 1 and statuses[-1] == "under-confident", flips(statuses)
    # the same data give the same status on every refresh (a function of the data alone)
    again = calibration_walk(inside.copy(), LEVELS)
    assert (again.status, again.since) == (w.status, w.since)


def test_a_twin_recalibrated_counts_as_calibrated_again():
    inside = np.concatenate([_hits([0.2, 0.4, 0.6], 120, 8), _hits([0.5, 0.8, 0.95], 400, 9)])
    w = calibration_walk(inside, LEVELS)
    assert w.status == "calibrated" and w.since is not None and w.since >= 120


# -- what-if: computed once at the longest horizon, cut to a shorter one ------------------------


def test_horizon_choices_snap_to_the_cadence_and_hold_the_twins_own():
    from medtwin.models import get_model

    t1d, sepsis = get_model("t1d"), get_model("sepsis")
    assert horizon_choices(t1d, 60.0) == [60.0, 120.0, 240.0]
    assert horizon_choices(t1d, 90.0) == [60.0, 90.0, 120.0, 240.0]
    assert horizon_choices(t1d, 7 * 1440.0) == [60.0, 120.0, 240.0, 2 * 1440.0]  # the limit
    assert horizon_choices(sepsis, 12.0) == [1.0, 2.0, 4.0, 12.0]


def test_a_cut_what_if_is_the_prefix_of_the_longer_one_with_its_own_metrics():
    config = TwinConfig("sepsis", datetime(2026, 1, 1, tzinfo=UTC), prior="spec",
                        free=("k_pg", "P0"), n=16, seed=4)  # fmt: skip
    twin = new_twin(config)
    res = what_if(twin, {"none": Regimen()}, 4.0)
    for name, fc in zip(res.options, res.forecasts, strict=True):  # the definitions agree
        assert outcome_metrics(twin.model, fc.draws) == res.metrics[name]
    short = cut(res, twin.model, 6)  # 1.5 h of 15-minute points
    full, part = res.forecasts[0], short.forecasts[0]
    np.testing.assert_array_equal(part.times, full.times[:6])
    for a in ("median", "lower", "upper", "draws"):
        np.testing.assert_array_equal(getattr(part, a), getattr(full, a)[..., :6])
    wbc = full.draws[:, 0, :6]
    assert short.metrics["none"]["wbc_mean"] == float(np.nanmean(wbc))
    assert cut(res, twin.model, 16) is res  # nothing to cut
