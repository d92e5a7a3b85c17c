"""Sobol indices of a medtwin model output through the Dask executor equal the serial ones.

Output: mean plasma glucose (mg/dL) of adult#001's defaults over 6 h after a 60 g lunch with a
6 U bolus, as Vmx, kp1, kabs and ka2 vary over their ParameterSpec bounds (log-uniform)."""

from __future__ import annotations

import numpy as np
import pytest
from _cohort_fns import SOBOL_NAMES, mean_bg_of_scaled

from medtwin.analysis import problem_from_model, sobol
from medtwin.cohorts import SerialExecutor
from medtwin.models import UVAPadova

pytest.importorskip("SALib")


@pytest.mark.slow
def test_sobol_on_uva_padova_dask_equals_serial(dask_executor):
    problem = problem_from_model(UVAPadova(), SOBOL_NAMES)
    kw = dict(n=16, seed=11, chunk=48, num_resamples=200)  # 16 * 6 = 96 runs, 2 chunks
    serial = sobol(mean_bg_of_scaled, problem, executor=SerialExecutor(), **kw)
    dask = sobol(mean_bg_of_scaled, problem, executor=dask_executor, **kw)
    np.testing.assert_array_equal(dask.outputs, serial.outputs)
    np.testing.assert_array_equal(dask.S1, serial.S1)
    np.testing.assert_array_equal(dask.ST, serial.ST)
    np.testing.assert_array_equal(dask.ST_conf, serial.ST_conf)
    assert np.all(np.isfinite(serial.ST))
    # insulin sensitivity of utilisation moves mean glucose more than the meal absorption rate
    assert serial.ST[SOBOL_NAMES.index("Vmx")] > serial.ST[SOBOL_NAMES.index("kabs")]
