"""The PEtab noise models against hand-computed values (m = 2, y = 3, sigma = 0.5)."""

from __future__ import annotations

import math

import pytest

from medtwin.errors import DataError
from medtwin.petab._noise import DISTRIBUTIONS, TRANSFORMATIONS, code, neg_log_likelihood

M, Y, S = 2.0, 3.0, 0.5
L10 = math.log(10.0)

# -log p written out from PEtab's definitions, term by term
EXPECTED = {
    ("lin", "normal"): 0.5 * math.log(2 * math.pi * 0.25) + 0.5 * (1.0 / 0.5) ** 2,
    ("log", "normal"): 0.5 * math.log(2 * math.pi * 0.25 * 4.0) + 0.5 * (math.log(1.5) / 0.5) ** 2,
    ("log10", "normal"): 0.5 * math.log(2 * math.pi * 0.25 * 4.0 * L10**2)
    + 0.5 * (math.log10(1.5) / 0.5) ** 2,
    ("lin", "laplace"): math.log(1.0) + 1.0 / 0.5,
    ("log", "laplace"): math.log(2 * 0.5 * 2.0) + math.log(1.5) / 0.5,
    ("log10", "laplace"): math.log(2 * 0.5 * 2.0 * L10) + math.log10(1.5) / 0.5,
}


@pytest.mark.parametrize(("transformation", "distribution"), sorted(EXPECTED))
def test_each_noise_model_equals_the_hand_computed_value(transformation, distribution):
    got = neg_log_likelihood([M], [Y], [S], TRANSFORMATIONS.index(transformation),
                             DISTRIBUTIONS.index(distribution))  # fmt: skip
    assert float(got[0]) == pytest.approx(EXPECTED[(transformation, distribution)], rel=1e-14)


def test_the_numbers_themselves():
    # a few spelled out, so a shared slip in EXPECTED and the code would still be caught
    assert EXPECTED[("lin", "normal")] == pytest.approx(2.0 + 0.5 * math.log(math.pi / 2))
    assert EXPECTED[("lin", "laplace")] == pytest.approx(2.0)
    assert EXPECTED[("log", "laplace")] == pytest.approx(math.log(2.0) + 2 * math.log(1.5))


def test_it_agrees_with_petab_itself():
    from petab.v1.calculate import calculate_single_llh

    for (t, d), value in EXPECTED.items():
        assert -calculate_single_llh(M, Y, t, d, S) == pytest.approx(value, rel=1e-12)


def test_an_unknown_distribution_is_refused_with_the_choices():
    with pytest.raises(DataError, match=r"'obs' has noiseDistribution 'cauchy'.*normal, laplace"):
        code("cauchy", DISTRIBUTIONS, "noiseDistribution", "obs")
