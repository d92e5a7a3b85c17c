"""LDL cholesterol under statins and ezetimibe: a turnover model whose steady state is the
model-based meta-analysis of Vargo et al. (2014).

Two states, time in days (t = 0 is the twin's epoch)::

    dE/dt = ke0 (E_ss(u, Lu(t)) - E)                    effect compartment (onset)
    dL/dt = kout (Lu(t) - L / (1 - E))                   LDL-C turnover
    Lu(t) = LDL0 + slope t / 365.25                      untreated LDL-C, rising with age

``L`` (mg/dL) is the person's LDL-C (the day-to-day mean a lab value scatters around); the drugs
raise its clearance (statins up-regulate the LDL receptor), so that at steady state
``L = Lu (1 - E_ss)``: the percent change from the untreated level is exactly the
meta-analysis's. ``a`` is the adherence (``adherence``, 1 = every dose), ``kout`` the LDL
fractional catabolic rate.

The steady-state reduction (Vargo et al. 2014, Eq. 1-4, as magnitudes)::

    x    = sum over statins of D_s / ED50_s              (one statin: D / ED50)
    fs   = Emax_s x^n / (1 + x^n)
    Emax_s = Emax1 + Emax_ldl log(Lu / 180) + Emax_tg log(TG / 180) + Emax_chd CHD
             + Emax_acs ACS + Emax_hefh HeFH
    fe   = Emax_eze D_eze / (ED50_eze + D_eze)
    f    = fs + fe (1 - gamma fs)                        the combination rule
    E_ss = min(a resp f, 0.85)

with the person's response scale ``resp`` (1 = the typical response; the meta-analysis itself
has none, its between-trial variance was fixed to zero) and, for two statins at once, Loewe
additivity of their equipotent doses (not in the paper; exact for one statin). The paper's
baseline LDL-C covariate is read at the person's current untreated level ``Lu(t)``.

Inputs (mg/d, held over each day): the daily dose of atorvastatin, rosuvastatin, simvastatin,
pravastatin, fluvastatin, lovastatin and ezetimibe, each set from a prescription's start (its
``SetRate`` event) and set to 0 at its stop. Observables: LDL-C (mg/dL, LOINC 18262-6; 13457-7
and 2089-1 are stored under it) and total cholesterol (mg/dL, LOINC 2093-3) = L + C_nonldl.

References
----------
Vargo R, Adewale A, Behm MO, Mandema J, Kerbusch T. Prediction of clinical irrelevance of PK
differences in atorvastatin using PK/PD models derived from literature-based meta-analyses.
Clin Pharmacol Ther 96(1):101-109, 2014. doi:10.1038/clpt.2014.66.
Sheiner LB, Stanski DR, Vozeh S, Miller RD, Ham J. Simultaneous modeling of pharmacokinetics
and pharmacodynamics: application to d-tubocurarine. Clin Pharmacol Ther 25:358-371, 1979
(the effect compartment).
See ``_declarations.py`` for the sources of every other number.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._base import AbstractODEModel, ParamView, declared
from .._registry import register_model
from ._declarations import STATINS, VARGO2014

__all__ = ["DAYS_PER_YEAR", "E_MAX_CAP", "Vargo2014", "reduction", "untreated"]

DAYS_PER_YEAR = 365.25
# The largest fractional reduction the model allows: keeps 1 - E away from 0 and the fastest
# rate, kout / (1 - E) <= 0.35 / 0.15 = 2.3/d, inside RK4's stable region at a 1-day step
# (|lambda dt| < 2.78). The strongest combination of the meta-analysis reduces LDL-C by 0.65.
E_MAX_CAP = 0.85


def untreated(p: ParamView, t: Float[ArrayLike, ""]) -> Array:
    """The untreated LDL-C ``Lu(t)`` (mg/dL) at model time ``t`` (days), at least 1 mg/dL."""
    return jnp.maximum(p.LDL0 + p.slope * jnp.asarray(t) / DAYS_PER_YEAR, 1.0)


def reduction(p: ParamView, u: Float[Array, " 7"], lu: Float[ArrayLike, ""]) -> Array:
    """The typical steady-state fractional reduction ``f`` of LDL-C (Vargo et al. 2014, see the
    module docstring) under daily doses ``u`` (mg/d, ordered like ``DRUGS``) for a person whose
    untreated LDL-C is ``lu`` (mg/dL). Without the person's ``resp`` and ``adherence``."""
    x = sum(u[i] / getattr(p, f"ED50_{d}") for i, d in enumerate(STATINS))
    x_safe = jnp.where(x > 0, x, 1.0)
    xn = jnp.where(x > 0, x_safe**p.n, 0.0)
    emax = (
        p.Emax1
        + p.Emax_ldl * jnp.log(jnp.asarray(lu) / 180.0)
        + p.Emax_tg * jnp.log(p.TG / 180.0)
        + p.Emax_chd * p.CHD
        + p.Emax_acs * p.ACS
        + p.Emax_hefh * p.HeFH
    )
    fs = emax * xn / (1.0 + xn)
    d_eze = u[len(STATINS)]
    fe = p.Emax_eze * d_eze / (p.ED50_eze + d_eze)
    return fs + fe * (1.0 - p.gamma * fs)


@declared(VARGO2014)
class Vargo2014(AbstractODEModel):
    """LDL-C turnover with an effect compartment whose steady state is the Vargo et al. (2014)
    dose-response of statins and ezetimibe. See the module docstring."""

    # One day: doses are daily, lab values months apart. Against an adaptive solver (rtol
    # 1e-10) over a start and a stop: <= 0.1 mg/dL at the typical person, <= 1.6 mg/dL (1.7 %)
    # in the days after a start at the bounds' corner (resp 2.5, ke0 0.6/d, kout 0.4/d); see
    # E_MAX_CAP for the step's stability.
    input_dt: float = 1.0

    def initial_state(self, params: Array) -> Array:
        p = self.named(params)
        return jnp.stack([jnp.zeros_like(p.LDL0), untreated(p, 0.0)])

    def vector_field(self, t: ArrayLike, y: Array, u: Array, params: Array) -> Array:
        p = self.named(params)
        lu = untreated(p, t)
        e_ss = jnp.clip(p.adherence * p.resp * reduction(p, u, lu), 0.0, E_MAX_CAP)
        E, L = y[0], y[1]
        dE = p.ke0 * (e_ss - E)
        dL = p.kout * (lu - L / (1.0 - jnp.minimum(E, E_MAX_CAP)))
        return jnp.stack([dE, dL])

    def observe(self, t: ArrayLike, y: Array, params: Array) -> Array:
        p = self.named(params)
        return jnp.stack([y[1], y[1] + p.C_nonldl])


register_model(Vargo2014)
