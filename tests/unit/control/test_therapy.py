"""Therapy settings with error: log-normal around the truth with the stated spread, the same
draw for a patient whatever the cohort or the policies, the truth itself at error 0; and PID's
gains scaled to the total daily insulin the settings give."""

from __future__ import annotations

import numpy as np
import pytest

from medtwin.control import PID, therapy_with_error, total_daily_insulin
from medtwin.errors import ModelError
from medtwin.limits import MAX_THERAPY_ERROR

BASAL, CR, CF = np.array([1.2, 0.4, 0.9]), np.array([10.0, 25.0, 14.0]), np.array([9.0, 43.0, 22.0])


def test_error_zero_is_the_truth_itself():
    out = therapy_with_error(BASAL, CR, CF, error=0.0, seed=1, patients=[0, 1, 2])
    for got, truth in zip(out, (BASAL, CR, CF), strict=True):
        assert np.array_equal(got, truth)


def test_a_patients_draw_depends_on_the_seed_and_the_patient_only():
    full = therapy_with_error(BASAL, CR, CF, error=0.3, seed=2, patients=[4, 17, 29])
    again = therapy_with_error(BASAL, CR, CF, error=0.3, seed=2, patients=[4, 17, 29])
    alone = therapy_with_error(BASAL[1:2], CR[1:2], CF[1:2], error=0.3, seed=2, patients=[17])
    other = therapy_with_error(BASAL, CR, CF, error=0.3, seed=3, patients=[4, 17, 29])
    for f, a, g, o in zip(full, again, alone, other, strict=True):
        assert np.array_equal(f, a) and f[1] == g[0]  # reproducible; not the cohort's
        assert not np.any(f == o)  # another seed, another draw
    assert not np.allclose(full[0], BASAL)


def test_the_spread_is_the_sd_of_the_log_around_the_truth():
    n = 4000
    ones = np.ones(n)
    out = therapy_with_error(ones, 10 * ones, 50 * ones, error=0.3, seed=5, patients=range(n))
    for got, truth in zip(out, (1.0, 10.0, 50.0), strict=True):
        logs = np.log(got / truth)
        assert abs(np.std(logs) - 0.3) < 0.015  # sampling sd of the sd: 0.3 / sqrt(2 n) = 0.003
        assert abs(np.median(logs)) < 0.03  # median the truth
    # the three settings are drawn independently
    assert abs(np.corrcoef(np.log(out[0]), np.log(out[1]))[0, 1]) < 0.06


def test_bad_errors_are_refused():
    with pytest.raises(ModelError, match="sd of the log"):
        therapy_with_error(BASAL, CR, CF, error=-0.1, seed=1, patients=[0, 1, 2])
    # the bound the command line checks before JAX loads (limits.py) is the one enforced here
    therapy_with_error(BASAL, CR, CF, error=MAX_THERAPY_ERROR, seed=1, patients=[0, 1, 2])
    with pytest.raises(ModelError, match="sd of the log"):
        therapy_with_error(BASAL, CR, CF, error=MAX_THERAPY_ERROR + 1e-9, seed=1,
                           patients=[0, 1, 2])  # fmt: skip
    with pytest.raises(ModelError, match="one basal rate"):
        therapy_with_error(BASAL, CR, CF, error=0.1, seed=1, patients=[0, 1])
    with pytest.raises(ModelError, match="distinct"):
        therapy_with_error(BASAL, CR, CF, error=0.1, seed=1, patients=[0, 1, 1])


def test_pid_gains_scale_with_total_daily_insulin():
    # 0.95 U/h is 47.5 % of 48 U/day (Davidson et al. 2008)
    assert total_daily_insulin(0.95) == pytest.approx(48.0)
    pid = PID(0.95).scaled(total_daily_insulin(0.95))
    base = PID(0.95)
    for g in ("kp", "ki", "kd"):
        assert getattr(pid, g) == pytest.approx(getattr(base, g) * 48.0 / 40.0)
    assert PID(0.5).scaled(40.0) == PID(0.5)  # at the reference: the shared gains
    with pytest.raises(ModelError, match="basal rate > 0"):
        total_daily_insulin(0.0)
