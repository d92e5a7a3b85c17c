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

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._base import AbstractODEModel, declared
from .._registry import register_model
from ._declarations import BERGMAN

__all__ = ["MICRO_PER_UNIT", "BergmanMinimal"]

MICRO_PER_UNIT = 1e6  # µU of insulin per U


@declared(BERGMAN)
class BergmanMinimal(AbstractODEModel):
    """Bergman minimal model of a T1D patient with gut and SC insulin compartments. See the
    module docstring."""

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
