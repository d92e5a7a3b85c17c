"""Unit tests of medtwin.analysis.sensitivity: problems from ParameterSpecs, log sampling,
stochastic replicates, executors and errors."""

from __future__ import annotations

import numpy as np
import pytest

from medtwin.analysis import Problem, morris, problem_from_model, sobol
from medtwin.cohorts import ProcessExecutor, SerialExecutor
from medtwin.errors import ModelError, SimulationError
from medtwin.models import UVAPadova

pytest.importorskip("SALib")


def additive(x: np.ndarray) -> np.ndarray:
    return 3.0 * x[:, 0] + x[:, 1]


def noisy_additive(x: np.ndarray, seed: int) -> np.ndarray:
    return additive(x) + np.random.default_rng(seed).normal(0.0, 0.5, size=x.shape[0])


def test_problem_from_model_uses_bounds_and_log_for_wide_positive_ranges():
    p = problem_from_model(UVAPadova(), ["Vmx", "f", "kabs"])
    assert p.names == ("Vmx", "f", "kabs")
    assert p.bounds == ((0.008, 0.31), (0.5, 1.0), (0.01, 2.5))
    assert p.log == (True, False, True)  # 0.31/0.008 > 10, 1/0.5 < 10, 2.5/0.01 > 10
    sp = p.salib()
    np.testing.assert_allclose(sp["bounds"][0], [np.log10(0.008), np.log10(0.31)])
    assert problem_from_model(UVAPadova(), ["Vmx"], log=False).log == (False,)
    with pytest.raises(ModelError, match="no parameter 'nope'"):
        problem_from_model(UVAPadova(), ["nope"])


def test_log_uniform_samples_stay_in_bounds_and_are_uniform_in_log():
    p = Problem(("k",), ((0.01, 100.0),), (True,))
    res = sobol(lambda x: x[:, 0], p, n=1024, seed=0, num_resamples=50)
    k = res.samples[:, 0]
    assert k.min() >= 0.01 and k.max() <= 100.0
    # uniform in log10 on [-2, 2]: median near 1, a quarter below 0.1
    assert 0.8 < np.median(k) < 1.25
    assert abs(np.mean(k < 0.1) - 0.25) < 0.02


def test_additive_model_indices_match_variance_shares():
    # Var(3 x0) = 9/12, Var(x1) = 1/12 on U(0,1): S1 = ST = (0.9, 0.1)
    p = Problem(("x0", "x1"), ((0.0, 1.0), (0.0, 1.0)))
    res = sobol(additive, p, n=2048, seed=1, num_resamples=200, chunk=500)
    np.testing.assert_allclose(res.S1, [0.9, 0.1], atol=0.02)
    np.testing.assert_allclose(res.ST, [0.9, 0.1], atol=0.02)
    assert res.n_evaluations == 2048 * 4


def test_stochastic_replicates_are_seeded_and_reduce_noise():
    p = Problem(("x0", "x1"), ((0.0, 1.0), (0.0, 1.0)))
    kw = dict(n=512, seed=5, stochastic=True, num_resamples=100, chunk=256)
    one = sobol(noisy_additive, p, replicates=1, **kw)
    again = sobol(noisy_additive, p, replicates=1, **kw)
    np.testing.assert_array_equal(one.outputs, again.outputs)  # seeded: reproducible
    many = sobol(noisy_additive, p, replicates=16, **kw)
    # the replicate mean removes most of the noise variance (0.25 -> 0.25/16)
    resid_one = np.var(one.outputs - additive(one.samples))
    resid_many = np.var(many.outputs - additive(many.samples))
    assert 0.2 < resid_one < 0.3 and resid_many < 0.03


def test_process_executor_gives_the_same_indices_as_serial():
    p = Problem(("x0", "x1"), ((0.0, 1.0), (0.0, 1.0)))
    kw = dict(n=256, seed=9, stochastic=True, replicates=2, num_resamples=100, chunk=200)
    a = sobol(noisy_additive, p, executor=SerialExecutor(), **kw)
    b = sobol(noisy_additive, p, executor=ProcessExecutor(2), **kw)
    np.testing.assert_array_equal(a.S1, b.S1)
    np.testing.assert_array_equal(a.ST_conf, b.ST_conf)


def test_errors_say_what_to_fix():
    p = Problem(("x0", "x1"), ((0.0, 1.0), (0.0, 1.0)))
    with pytest.raises(SimulationError, match="power of 2"):
        sobol(additive, p, n=1000, seed=0)
    with pytest.raises(SimulationError, match="stochastic=True"):
        sobol(additive, p, n=64, seed=0, replicates=3)
    with pytest.raises(SimulationError, match="non-finite"):
        sobol(lambda x: np.where(x[:, 0] > 0.5, np.nan, x[:, 0]), p, n=64, seed=0)
    with pytest.raises(SimulationError, match="even number of levels"):
        morris(additive, p, r=10, levels=3, seed=0)
    with pytest.raises(ModelError, match=r"one \(low, high\) bound"):
        Problem(("a", "b"), ((0.0, 1.0),))
    with pytest.raises(ModelError, match="low > 0 if log-uniform"):
        Problem(("a",), ((0.0, 1.0),), (True,))
