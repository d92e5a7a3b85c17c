"""Bergman minimal model for type-1 diabetes, with gut and subcutaneous-insulin compartments.

The glucose-insulin minimal model of Bergman et al. (1979), the usual lighter alternative to
UVA/Padova, extended for type-1 diabetes as in control-oriented models (Hovorka et al. 2004;
Kanderian et al. 2009): no endogenous insulin secretion, insulin delivered subcutaneously
through two identical compartments, and carbohydrate absorbed through a two-compartment gut
chain. Equations (t in min)::

    dG/dt    = -(p1 + X) G + p1 Gb + Ra / (VG BW)          Ra   = D2 / tau_m
    dX/dt    = -p2 X + p3 (I - Ib)
    dI/dt    = -n I + 1e6 * Uabs / (VI BW)                  Uabs = Isc2 / tau_i
    dIsc1/dt = u - Isc1 / tau_i
    dIsc2/dt = (Isc1 - Isc2) / tau_i
    dD1/dt   = Ag * 1000 * carbs - D1 / tau_m
    dD2/dt   = (D1 - D2) / tau_m

Units: Ra (mg/min) over the glucose space VG*BW (dL) is already mg/dL/min, so no further factor
is needed. The absorbed insulin Uabs (U/min) times 1e6 µU/U over the insulin space VI*BW (mL)
is µU/mL/min. ``carbs`` is in g/min (x1000 to mg/min), ``u`` = ``insulin`` in U/min.

Insulin is cleared as a whole (``-n I``, Hovorka's ``-ke I``): a type-1 patient makes none, so
its plasma insulin is what its basal rate sustains. At the steady-state basal rate
``u_b = n Ib VI BW / 1e6`` U/min (``baseline_inputs``) and without a meal the state rests
exactly at G = Gb, X = 0, I = Ib, Isc1 = Isc2 = u_b tau_i, D1 = D2 = 0 (``initial_state``).
``SI = p3 / p2`` ((mL/µU)/min) is the insulin sensitivity, ``p1`` the glucose effectiveness at
basal insulin. G is frozen rather than allowed below zero.

References
----------
Bergman RN, Ider YZ, Bowden CR, Cobelli C. Quantitative estimation of insulin sensitivity.
Am J Physiol 236(6):E667-E677, 1979.
Bergman RN, Phillips LS, Cobelli C. Physiologic evaluation of factors controlling glucose
tolerance in man. J Clin Invest 68(6):1456-1467, 1981.
Hovorka R et al. Nonlinear model predictive control of glucose concentration in subjects with
type 1 diabetes. Physiol Meas 25(4):905-920, 2004.
Kanderian SS, Weinzimer S, Voskanyan G, Steil GM. Identification of intraday metabolic profiles
during closed-loop glucose control in individuals with type 1 diabetes.
J Diabetes Sci Technol 3(5):1047-1057, 2009.
"""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._base import AbstractODEModel, ObservableSpec, ParameterSpec, StateSpec, TwinDefaults
from .._noise import GaussianNoise
from .._registry import register_model
from ._common import T1D_EVENTS, T1D_INPUTS, glucose_alerts

__all__ = ["MICRO_PER_UNIT", "BergmanMinimal"]

MICRO_PER_UNIT = 1e6  # µU of insulin per U

_B79 = "Bergman et al. 1979, Am J Physiol 236:E667"
_B81 = "Bergman et al. 1981, J Clin Invest 68:1456"
_H04 = "Hovorka et al. 2004, Physiol Meas 25:905"
_K09 = "Kanderian et al. 2009, JDST 3:1047"


def _P(
    name: str, unit: str, default: float, bounds: tuple, description: str, reference: str
) -> ParameterSpec:
    return ParameterSpec(name, unit, default, bounds, description=description, reference=reference)


# name, unit, default (a 70-kg adult with T1D), bounds (a plausibility box for priors and
# calibration), description, reference.
_PARAMETERS = (
    _P(
        "Gb",
        "mg/dL",
        130.0,
        (70.0, 300.0),
        "basal (rest) plasma glucose",
        "typical T1D fasting glucose 120-140 mg/dL (assumed default)",
    ),
    _P(
        "p1",
        "1/min",
        0.01,
        (0.0, 0.05),
        "glucose effectiveness at basal insulin (SG)",
        f"{_B81}: SG 0.01-0.03/min; T1D: GEZI 2.2e-3/min + SI*Ib, {_K09}",
    ),
    _P(
        "p2",
        "1/min",
        0.025,
        (0.003, 0.1),
        "rate of decay of remote insulin action",
        f"{_B79}; {_B81} (~0.02-0.03/min); T1D mean 0.0106/min, {_K09}",
    ),
    _P(
        "p3",
        "mL/µU/min^2",
        1.25e-5,
        (1e-7, 2e-4),
        "gain of insulin action (SI = p3/p2)",
        f"{_B79}; SI = p3/p2 ~5e-4 mL/µU/min, {_B81}; T1D SI 8.1e-4, {_K09}",
    ),
    _P(
        "n",
        "1/min",
        0.138,
        (0.05, 0.5),
        "fractional plasma insulin clearance",
        f"{_H04} (ke = 0.138/min)",
    ),
    _P(
        "Ib",
        "µU/mL",
        10.0,
        (1.0, 60.0),
        "plasma insulin sustained by the basal rate",
        f"assumed: basal n*Ib*VI*BW/1e6 ~0.7 U/h (0.24 U/kg/day) at the defaults; cf. {_H04}",
    ),
    _P(
        "VI",
        "mL/kg",
        120.0,
        (40.0, 300.0),
        "insulin distribution volume",
        f"{_H04} (VI = 0.12 L/kg)",
    ),
    _P(
        "VG",
        "dL/kg",
        1.6,
        (0.8, 3.0),
        "glucose distribution volume",
        f"{_H04} (VG = 0.16 L/kg); 1.88 dL/kg in Dalla Man 2007",
    ),
    _P("BW", "kg", 70.0, (10.0, 250.0), "body weight", f"standard adult, {_H04}"),
    _P(
        "tau_i",
        "min",
        55.0,
        (10.0, 150.0),
        "time constant of subcutaneous insulin absorption",
        f"{_H04} (tmax,I = 55 min); 47-49 min, {_K09}",
    ),
    _P(
        "tau_m",
        "min",
        40.0,
        (10.0, 150.0),
        "time constant of carbohydrate absorption",
        f"{_H04} (tmax,G = 40 min); 47 min, {_K09}",
    ),
    _P("Ag", "1", 0.8, (0.3, 1.0), "carbohydrate bioavailability", f"{_H04} (AG = 0.8)"),
)
del _P

_STATES = (
    StateSpec("G", "mg/dL", "plasma glucose"),
    StateSpec("X", "1/min", "remote insulin action"),
    StateSpec("I", "µU/mL", "plasma insulin"),
    StateSpec("Isc1", "U", "first subcutaneous insulin depot"),
    StateSpec("Isc2", "U", "second subcutaneous insulin depot"),
    StateSpec("D1", "mg", "first gut glucose compartment"),
    StateSpec("D2", "mg", "second gut glucose compartment"),
)


class BergmanMinimal(AbstractODEModel):
    """Bergman minimal model of a T1D patient with gut and SC insulin compartments. See the
    module docstring."""

    name: ClassVar[str] = "bergman"
    aliases: ClassVar[tuple[str, ...]] = ("minimal",)
    title: ClassVar[str] = "Bergman minimal model, type-1 diabetes (gut and SC insulin chains)"
    reference: ClassVar[str] = (
        "Bergman RN et al. Am J Physiol 236:E667-E677 (1979); "
        "Hovorka R et al. Physiol Meas 25:905-920 (2004); "
        "Kanderian SS et al. J Diabetes Sci Technol 3:1047-1057 (2009)"
    )
    time_unit: ClassVar[str] = "min"
    states: ClassVar = _STATES
    parameters: ClassVar = _PARAMETERS
    inputs: ClassVar = T1D_INPUTS
    observables: ClassVar = (
        ObservableSpec("bg", "mg/dL", "2339-0", "plasma glucose G", GaussianNoise(3.0, 0.05)),
        ObservableSpec("insulin", "µU/mL", None, "plasma insulin I", GaussianNoise(2.0, 0.1)),
    )
    events: ClassVar = T1D_EVENTS
    twin_defaults: ClassVar = TwinDefaults(alerts=glucose_alerts("bg"))

    input_dt: float = 1.0

    def basal_rate(self, params: Array) -> Array:
        """Steady-state basal insulin rate (U/min) that holds plasma insulin at ``Ib``."""
        p = self.named(params)
        return p.n * p.Ib * p.VI * p.BW / MICRO_PER_UNIT

    def steady_state_basal(self, params: Array) -> Array:
        """The basal insulin rate (U/min) that holds the patient at its steady state (the name
        every glucose model gives it; :meth:`basal_rate`): ``u_b = n Ib VI BW / 1e6`` with the
        insulin clearance ``n`` (1/min), basal plasma insulin ``Ib`` (µU/mL), insulin space
        ``VI`` (mL/kg) and body weight ``BW`` (kg), the rate at which subcutaneous absorption
        replaces the cleared insulin (module docstring; Hovorka et al. 2004). Times 60 for
        U/h."""
        return self.basal_rate(params)

    def initial_state(self, params: Array) -> Array:
        p = self.named(params)
        z = jnp.zeros_like(p.Gb)
        isc = self.basal_rate(params) * p.tau_i
        return jnp.stack([p.Gb, z, p.Ib, isc, isc, z, z])

    def baseline_inputs(self, params: Array) -> Array:
        return jnp.stack([jnp.zeros_like(params[0]), self.basal_rate(params)])

    def vector_field(self, t: ArrayLike, y: Array, u: Array, params: Array) -> Array:
        p = self.named(params)
        G, X, I, Isc1, Isc2, D1, D2 = (y[i] for i in range(7))
        carbs_mg = u[0] * 1000.0  # mg/min
        Ra = D2 / p.tau_m  # mg/min
        Uabs = Isc2 / p.tau_i  # U/min

        dG = -(p.p1 + X) * G + p.p1 * p.Gb + Ra / (p.VG * p.BW)
        dG = jnp.where((G < 0) & (dG < 0), 0.0, dG)
        dX = -p.p2 * X + p.p3 * (I - p.Ib)
        dI = -p.n * I + MICRO_PER_UNIT * Uabs / (p.VI * p.BW)
        dIsc1 = u[1] - Isc1 / p.tau_i
        dIsc2 = (Isc1 - Isc2) / p.tau_i
        dD1 = p.Ag * carbs_mg - D1 / p.tau_m
        dD2 = (D1 - D2) / p.tau_m
        return jnp.stack([dG, dX, dI, dIsc1, dIsc2, dD1, dD2])

    def observe(self, t: ArrayLike, y: Array, params: Array) -> Array:
        return jnp.stack([y[0], y[2]])


register_model(BergmanMinimal)
