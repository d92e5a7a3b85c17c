"""Sobol indices of the Ishigami function against their closed form; Morris ranks a dead input last.

Ishigami & Homma (1990); Saltelli et al., Global Sensitivity Analysis: The Primer (2008), 4.4:
f = sin x1 + a sin^2 x2 + b x3^4 sin x1, x_i ~ U(-pi, pi). With a = 7, b = 0.1:
S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437).
Tolerance: the analytic value must lie inside the 95 % bootstrap CI (n = 8192, 40,960 runs).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from medtwin.analysis import Problem, morris, sobol

pytest.importorskip("SALib")

A, B = 7.0, 0.1
N = 8192
PROBLEM = Problem(("x1", "x2", "x3"), ((-math.pi, math.pi),) * 3)


def ishigami(x: np.ndarray, a: float = A, b: float = B) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_wrong_b(x: np.ndarray) -> np.ndarray:
    return ishigami(x, b=0.2)


def analytic(a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    pi = math.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


def test_closed_form_matches_published_values():
    s1, st = analytic(A, B)
    np.testing.assert_allclose(s1, [0.3139, 0.4424, 0.0], atol=1e-4)
    np.testing.assert_allclose(st, [0.5576, 0.4424, 0.2437], atol=1e-4)


@pytest.fixture(scope="module")
def result():
    return sobol(ishigami, PROBLEM, n=N, seed=20080101)


def test_analytic_indices_lie_in_bootstrap_ci(result):
    s1, st = analytic(A, B)
    lo, hi = result.S1_ci
    assert np.all((lo <= s1) & (s1 <= hi)), (result.S1, result.S1_conf, s1)
    lo, hi = result.ST_ci
    assert np.all((lo <= st) & (st <= hi)), (result.ST, result.ST_conf, st)
    # tight enough to mean something: every CI half-width under 0.04
    assert np.all(result.S1_conf < 0.04) and np.all(result.ST_conf < 0.04)
    assert result.n_evaluations == N * 5


def test_a_wrong_function_is_detected():
    s1, st = analytic(A, B)
    wrong = sobol(ishigami_wrong_b, PROBLEM, n=N, seed=20080101)
    outside_s1 = (s1 < wrong.S1_ci[0]) | (s1 > wrong.S1_ci[1])
    outside_st = (st < wrong.ST_ci[0]) | (st > wrong.ST_ci[1])
    assert outside_s1[0] and outside_s1[1] and outside_st[0] and outside_st[2]


def test_morris_ranks_the_non_influential_input_last():
    # y = 2 a + b^2 + 0.01 c + a d on [0, 1]^4: c barely matters (mu* = 0.01).
    def g(x):
        return 2 * x[:, 0] + x[:, 1] ** 2 + 0.01 * x[:, 2] + x[:, 0] * x[:, 3]

    res = morris(g, Problem(("a", "b", "c", "d"), ((0.0, 1.0),) * 4), r=20, seed=3)
    assert res.ranking[-1] == "c"
    assert res.ranking[0] == "a"
    np.testing.assert_allclose(res.mu_star[2], 0.01, rtol=1e-9)  # linear: every effect is 0.01
    assert res.sigma[2] < 1e-9 and res.sigma[3] > 0.1  # d interacts with a, c does not
