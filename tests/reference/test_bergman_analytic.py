"""Reference tests of the Bergman minimal model against closed-form solutions (external truth).

Three cases have exact solutions that the default solver (RK4, one step per 1-min input step)
must reproduce:

1. Insulin action frozen (rest insulin, no meal, X = 0) and G started away from Gb:
   dG/dt = -p1 (G - Gb)  =>  G(t) = Gb + (G0 - Gb) exp(-p1 t).
2. Gut chain under a constant carbohydrate infusion r (g/min) from t = 0, D1(0) = D2(0) = 0.
   With R = 1000 Ag r (mg/min) and tau = tau_m:
       dD1/dt = R - D1/tau             =>  D1(t) = R tau (1 - e^{-t/tau})
       dD2/dt = (D1 - D2)/tau          =>  D2(t) = R tau (1 - e^{-t/tau} (1 + t/tau))
   (check: D2' = R (t/tau) e^{-t/tau} and (D1 - D2)/tau = R (t/tau) e^{-t/tau}.)
   An infusion is exactly piecewise constant on the input grid, unlike an impulse, so the
   solution is exact for the model as driven. With p1 = 0 and X = 0, dG/dt = (D2/tau)/(VG BW),
   and since d(D1 + D2)/dt = R - D2/tau, mass balance gives
       G(t) = Gb + (R t - D1(t) - D2(t)) / (VG BW).
3. A meal of C g with p1 = 0 and X = 0: all of Ag C (mg) reaches plasma, so as t -> inf
       G(inf) - Gb = 1000 Ag C / (VG BW)   (mg/dL; VG in dL/kg, BW in kg).
"""

from __future__ import annotations

import numpy as np
import pytest

from medtwin.models import BergmanMinimal
from medtwin.simulate import Infusion, Regimen, meal, simulate

# Case 1 tolerance. RK4's amplification per step for dG/dt = -p1 (G - Gb) is exp(z) + O(z^5/120)
# with z = -p1 h (h = 1 min), so the relative error of the deviation after t steps is about
# t p1^5 / 120, largest at t = 1/p1: p1^4 / (120 e) <= 2.5e-9 for p1 <= 0.03/min. Relative to G
# that stays below 1e-8.
DECAY_RTOL = 1e-8
# Case 2 tolerance, relative to the scale R tau_m. The chain is a double eigenvalue -1/tau (a
# Jordan block), so RK4's local error per step is O((h/tau)^5) and, accumulated over the ~tau/h
# steps over which errors persist, the global error is O((h/tau)^4): measured 2.6e-8, 3.9e-9 and
# 4.1e-10 of the scale for tau = 25, 40 and 70 min (about (h/tau)^4 / 100).
CHAIN_RTOL = 1e-7
# Case 3 tolerance: relative to the total rise, after 24 h (< 1e-13 of the meal still in the gut).
MASS_RTOL = 1e-6


@pytest.fixture(scope="module")
def model() -> BergmanMinimal:
    return BergmanMinimal()


def _value(model, params, name):
    return float(params[model.param_index(name)])


@pytest.mark.parametrize("p1", [0.01, 0.03, 0.002])
@pytest.mark.parametrize("G0", [260.0, 60.0])
def test_glucose_decay_with_insulin_action_frozen(model, p1, G0):
    params = model.make_params(p1=p1)
    y0 = model.initial_state(params).at[0].set(G0)
    times = np.array([0.0, 1.0, 10.0, 30.0, 60.0, 120.0, 240.0, 480.0, 720.0])
    tr = simulate(model, params, Regimen(), t1=720, saveat=times, y0=y0)
    assert bool(tr.ok)
    Gb = _value(model, params, "Gb")
    exact = Gb + (G0 - Gb) * np.exp(-p1 * times)
    np.testing.assert_allclose(tr.ts, times)
    np.testing.assert_allclose(tr.state("G"), exact, rtol=DECAY_RTOL, atol=0)
    np.testing.assert_allclose(tr.state("X"), 0.0, atol=1e-15)


@pytest.mark.parametrize("tau_m", [40.0, 25.0, 70.0])
def test_gut_chain_under_constant_infusion(model, tau_m):
    r, t1 = 0.2, 600  # g/min for the whole horizon
    params = model.make_params(p1=0.0, tau_m=tau_m)
    tr = simulate(model, params, Regimen((Infusion(0.0, "carbs", r, float(t1)),)), t1=t1)
    assert bool(tr.ok)
    t = np.asarray(tr.ts)
    Ag, VG, BW, Gb = (_value(model, params, k) for k in ("Ag", "VG", "BW", "Gb"))
    R = 1000.0 * Ag * r
    scale = R * tau_m
    D1 = scale * (1.0 - np.exp(-t / tau_m))
    D2 = scale * (1.0 - np.exp(-t / tau_m) * (1.0 + t / tau_m))
    np.testing.assert_allclose(tr.state("D1"), D1, rtol=0, atol=CHAIN_RTOL * scale)
    np.testing.assert_allclose(tr.state("D2"), D2, rtol=0, atol=CHAIN_RTOL * scale)
    G = Gb + (R * t - D1 - D2) / (VG * BW)
    np.testing.assert_allclose(tr.state("G"), G, rtol=CHAIN_RTOL)


@pytest.mark.parametrize(("grams", "Ag", "tau_m"), [(50.0, 0.8, 40.0), (80.0, 0.6, 60.0)])
def test_meal_total_rise_without_clearance(model, grams, Ag, tau_m):
    params = model.make_params(p1=0.0, Ag=Ag, tau_m=tau_m)
    tr = simulate(model, params, Regimen((meal(0, grams),)), t1=24 * 60)
    assert bool(tr.ok)
    VG, BW, Gb = (_value(model, params, k) for k in ("VG", "BW", "Gb"))
    rise = 1000.0 * Ag * grams / (VG * BW)
    assert float(tr.state("G")[-1]) - Gb == pytest.approx(rise, rel=MASS_RTOL)
    assert float(tr.state("D1")[-1] + tr.state("D2")[-1]) < 1e-6 * 1000.0 * Ag * grams
