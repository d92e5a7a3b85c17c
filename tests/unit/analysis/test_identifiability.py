"""Unit tests of medtwin.analysis.identifiability on the Bergman minimal model.

Bergman's meal appearance enters glucose only as ``Ag * D / (VG * BW)``: with plasma glucose as
the only observable, the bioavailability ``Ag`` and the glucose space ``VG`` trade off exactly
(only ``Ag / VG`` is determined), while the meal absorption time ``tau_m`` is pinned down.
Data: 6 h after a 60 g lunch with a 5 U bolus, plasma glucose every 5 min with the model's own
noise (sd = sqrt(3^2 + (0.05 G)^2) mg/dL), one seeded draw.
"""

from __future__ import annotations

import math
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.analysis import fisher_information, identifiability, twin_identifiability
from medtwin.assimilate import SpecPrior, observations
from medtwin.assimilate._ensemble import Ensemble
from medtwin.errors import DataError, ModelError
from medtwin.models import BergmanMinimal, UVAPadova
from medtwin.simulate import Regimen, bolus, meal, simulate
from medtwin.twin import Twin, Update

REGIMEN = Regimen((meal(30.0, 60.0), bolus(30.0, 5.0)))
T = np.arange(0.0, 361.0, 5.0)
FREE = ("Ag", "VG", "tau_m")


@pytest.fixture(scope="module")
def data():
    m = BergmanMinimal()
    bg = np.asarray(simulate(m, m.default_params(), REGIMEN, t1=360.0, saveat=T).observable("bg"))
    sd = np.asarray(m.observables[0].noise.sd(bg))
    return observations(T, bg + sd * np.random.default_rng(1).normal(size=bg.size), "bg")


@pytest.fixture(scope="module")
def report(data):
    return identifiability(BergmanMinimal(), data, REGIMEN, free=FREE)


@pytest.mark.slow
def test_fim_is_rank_deficient_along_ag_over_vg(report):
    fim = report.fisher
    assert fim.names == FREE and fim.log == (True, True, True)
    assert fim.n_observations == T.size
    assert fim.rank == 2 and fim.condition > 1e12
    assert fim.eigenvalues[2] < 1e-10 * fim.eigenvalues[0]
    (combo,) = fim.poorly_determined()
    # the null direction: log Ag and log VG up together (Ag / VG constant), tau_m unchanged
    np.testing.assert_allclose(
        [combo.loadings["log Ag"], combo.loadings["log VG"], combo.loadings["log tau_m"]],
        [1 / math.sqrt(2), 1 / math.sqrt(2), 0.0],
        atol=1e-6,
    )
    assert "log Ag" in str(combo) and "sd inf" in str(combo)
    se = fim.standard_errors
    assert math.isinf(se[0]) and math.isinf(se[1]) and 0.0 < se[2] < 0.1


def test_jacfwd_fim_equals_finite_differences(data, report):
    fd = fisher_information(BergmanMinimal(), data, REGIMEN, free=FREE, method="finite-difference")
    np.testing.assert_allclose(fd.matrix, report.fisher.matrix, rtol=1e-6, atol=1e-6)
    with pytest.raises(ModelError, match="'jacfwd' or 'finite-difference'"):
        fisher_information(BergmanMinimal(), data, REGIMEN, free=FREE, method="adjoint")


def test_profiles_classify_each_parameter(report):
    assert report.verdicts() == {
        "Ag": "structurally non-identifiable",
        "VG": "structurally non-identifiable",
        "tau_m": "identifiable",
    }
    prof = report.profiles
    assert prof.threshold == pytest.approx(1.920729, abs=1e-6)  # chi2(0.95, 1) / 2
    tau = prof["tau_m"]
    assert tau.lower < tau.mle < tau.upper and tau.lower < 40.0 < tau.upper  # truth inside
    assert tau.upper / tau.lower < 1.15  # tightly determined by a meal response
    ag = prof["Ag"]
    # flat while VG = Ag / (Ag/VG)_hat stays inside VG's bounds (0.8, 3.0)
    ratio = prof.mle[0] / prof.mle[1]
    inside = (ag.values / ratio > 0.8 + 1e-6) & (ag.values / ratio < 3.0 - 1e-6)
    assert inside.sum() >= 5 and np.all(np.abs(ag.delta[inside]) < 1e-3)
    with pytest.raises(KeyError, match="No profile of 'p1'"):
        prof["p1"]


def test_censored_readings_count_in_the_likelihood_not_the_fim(data):
    values = data.values.copy().astype(object)
    values[:3] = "LO"  # three readings below 40 mg/dL
    obs = observations(T, values, "bg")
    fim = fisher_information(BergmanMinimal(), obs, REGIMEN, free=FREE)
    assert fim.n_observations == T.size - 3


def test_twin_identifiability_uses_the_twins_data_regimen_and_median(monkeypatch, data):
    m = BergmanMinimal()
    params = (
        jnp.tile(m.default_params(), (3, 1))
        .at[:, m.param_index("tau_m")]
        .set(jnp.array([30.0, 45.0, 60.0]))
    )
    ens = Ensemble(
        params, jax.vmap(m.initial_state)(params), jnp.log(jnp.array([0.2, 0.5, 0.3])), 360.0
    )
    first, second = data.window(-1.0, 180.0), data.window(180.0, 360.0)
    updates = tuple(
        Update(o, REGIMEN, None, jax.random.key(0), None, None) for o in (first, second)
    )
    twin = Twin(m, ens, FREE, SpecPrior(FREE), jax.random.key(0), 0.0, REGIMEN, updates)
    seen = {}

    def fake(model, obs, regimen, **kw):
        seen.update(model=model, obs=obs, regimen=regimen, **kw)
        return "report"

    # (medtwin.analysis.identifiability is the function; patch the defining module's name)
    monkeypatch.setattr(sys.modules["medtwin.analysis._identifiability"], "identifiability", fake)
    assert twin_identifiability(twin, level=0.9) == "report"
    assert seen["model"] is m and seen["regimen"] == REGIMEN and seen["free"] == FREE
    np.testing.assert_array_equal(seen["obs"].times, data.times)
    assert seen["point"][m.param_index("tau_m")] == 45.0  # weighted median
    assert seen["level"] == 0.9 and seen["t0"] == 0.0

    empty = Twin(m, ens, FREE, SpecPrior(FREE), jax.random.key(0), 0.0)
    with pytest.raises(DataError, match="assimilated no observations"):
        twin_identifiability(empty)


def test_errors_say_what_to_fix(data):
    m = BergmanMinimal()
    with pytest.raises(ModelError, match="no parameter named 'nope'"):
        fisher_information(m, data, REGIMEN, free=("nope",))
    with pytest.raises(ModelError, match="distinct parameters"):
        fisher_information(m, data, REGIMEN, free=("Ag", "Ag"))
    with pytest.raises(DataError, match="No usable observations"):
        fisher_information(m, observations([1.0], [float("nan")], "bg"), free=("Ag",))
    with pytest.raises(DataError, match="needs Observations"):
        fisher_information(m, [1.0, 2.0], free=("Ag",))
    with pytest.raises(ModelError, match="must be > 0"):
        fisher_information(m, data, free=("p1",), point=m.make_params(p1=0.0))
    with pytest.raises(ModelError, match="0 < level < 1"):
        identifiability(m, data, free=("Ag",), level=1.5)


@pytest.mark.slow
def test_jacfwd_through_uva_padova_meal_memory_equals_finite_differences():
    # UVA/Padova remembers the current meal in discrete states updated every minute (on_step):
    # forward-mode derivatives flow through that update and agree with finite differences.
    from medtwin.data import load_virtual_patient

    u, p = UVAPadova(), load_virtual_patient("adult#001")
    cgm = np.asarray(simulate(u, p, REGIMEN, t1=360.0, saveat=T).observable("sc_glucose"))
    obs = observations(T, cgm, "sc_glucose")
    kw = dict(free=("kabs", "kp1", "Vmx", "kmax"), point=p)
    a = fisher_information(u, obs, REGIMEN, method="jacfwd", **kw)
    b = fisher_information(u, obs, REGIMEN, method="finite-difference", **kw)
    np.testing.assert_allclose(np.sqrt(np.diag(a.matrix)), np.sqrt(np.diag(b.matrix)), rtol=1e-5)
    assert a.rank == 4


def test_the_public_name_is_the_function_whatever_was_imported_first():
    # a submodule named like the function would replace it on the package once imported
    import importlib

    import medtwin.analysis as analysis
    import medtwin.credibility.evidence.identifiability  # noqa: F401 -- imports it early

    importlib.import_module("medtwin.analysis._identifiability")
    from medtwin.analysis import identifiability

    assert callable(identifiability) and identifiability.__name__ == "identifiability"
    assert analysis.identifiability is identifiability
