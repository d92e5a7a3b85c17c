"""Reduced acute inflammatory response model (Reynolds et al. 2006), with two interventions.

Four states: the pathogen P, activated phagocytes N* (``N``), tissue damage D and the
anti-inflammatory mediator C_A (``CA``). With the anti-inflammatory damping of every
pro-inflammatory signal ``f(V) = V / (1 + (CA / c_inf)^2)`` the paper's eqs. (2.1)-(2.4) read
(t in h)::

    dP/dt  = k_pg P (1 - P/p_inf) - k_pm s_m P / (mu_m + k_mp P) - k_pn f(N) P  - u_ab P
    dN/dt  = s_nr R / (mu_nr + R) - mu_n N,          R = f(k_nn N + k_np P + k_nd D)
    dD/dt  = k_dn f(N)^6 / (x_dn^6 + f(N)^6) - mu_d D
    dCA/dt = s_c + k_cn f(N + k_cnd D) / (1 + f(N + k_cnd D)) - mu_c CA  + u_ai

as curated in BioModels BIOMD0000000714 (the constant source ``s_c`` of C_A included).
Units as in the paper: P in 10^6 cells/cc (the carrying capacity ``p_inf`` = 20 is
20 x 10^6 cells/cc); N*, D and C_A are in arbitrary units (the paper's N*-, D- and C_A-units,
here "a.u."). The non-specific local response (resting macrophages, s_m/mu_m) is at its
quasi-steady state, as in the paper.

Inputs (rates held over each input step):

* ``antibiotic`` (u_ab, 1/h): an extra first-order pathogen kill rate, ``- u_ab * P``. This is
  a **medtwin extension**, not part of the paper: a bactericidal antibiotic above the MIC kills
  a roughly constant fraction of the pathogen per hour, independent of the host response.
  A ``Dose`` of amount a (no rate) is a log-kill: P falls by about exp(-a) within one step.
* ``anti_inflammatory`` (u_ai, a.u./h): C_A administered as an extra source in dCA/dt, the
  anti-inflammatory administration the paper analyses; a ``Dose`` adds about its amount to C_A.

Observables: ``wbc`` (LOINC 6690-2, leukocytes in blood, 10^3/uL) = wbc0 + wbc_per_N * N*, a
linear stand-in with an *assumed* scale (rest 7; aseptic-death N* = 0.64 gives 13.4, septic
N* = 0.98 gives 16.8); ``damage`` = D, a stand-in for an organ-dysfunction score such as SOFA
(no LOINC); ``pathogen`` = P; ``anti_inflammatory`` = C_A, a lumped mediator (IL-10, TGF-beta,
...), so no single LOINC code applies; ``sofa``, the SOFA total (0-24 points) seen through an
ordinal observation model of D (:class:`~medtwin.models.OrdinalNoise`, cumulative logit:
``P(SOFA >= k | D) = sigmoid((D - c_k) / sofa_s)``, ``c_k = sofa_c1 + (k - 1) sofa_gap``).

The D -> SOFA link is **an assumption of medtwin's, not of Reynolds et al.**, whose D is in
arbitrary units and who relate it to no clinical score. Its cut points are chosen so that a
resting D = 0 reads SOFA 0 and the paper's own "septic death" and "aseptic death" damage levels
(D = 17.5 and 17.4 at the published parameters) read an expected SOFA of about 15.5 (most
likely 15-16), above the 11 at which an admission SOFA carries a 95 % mortality (Ferreira et
al. 2001): with ``sofa_c1`` = 1 a.u. and ``sofa_gap`` = 1.1 a.u. the 24 cut points run from 1
to 26.3 a.u. The three link parameters (``sofa_c1``, ``sofa_gap``, ``sofa_s``, with priors) are
in the parameter vector, so a twin can learn them from scored data.

``initial_state`` is the paper's baseline: P = ``P0`` (the initial pathogen load, a parameter
here so that cohorts can vary it), N* = D = 0 and C_A at its resting value s_c/mu_c.
Outcomes (:func:`outcome_class`): return to health, aseptic death (pathogen cleared, damage and
activated phagocytes persist) or septic death (pathogen persists).

References
----------
Reynolds A, Rubin J, Clermont G, Day J, Vodovotz Y, Ermentrout GB. A reduced mathematical model
of the acute inflammatory response: I. Derivation of model and analysis of anti-inflammation.
J Theor Biol 242(1):220-236, 2006. doi:10.1016/j.jtbi.2006.02.016. BioModels BIOMD0000000714.
Vincent JL et al. The SOFA (Sepsis-related Organ Failure Assessment) score to describe organ
dysfunction/failure. Intensive Care Med 22:707-710, 1996.
Ferreira FL, Bota DP, Bross A, Melot C, Vincent JL. Serial evaluation of the SOFA score to
predict outcome in critically ill patients. JAMA 286(14):1754-1758, 2001.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._base import AbstractODEModel, declared
from .._registry import register_model
from ._declarations import REYNOLDS2006

__all__ = ["HEALTH_TOL", "OUTCOMES", "SEPTIC_P", "Reynolds2006", "outcome_class"]


# Outcome thresholds (P in 1e6 cells/cc; N*, D in a.u.): see outcome_class.
HEALTH_TOL = 0.05
SEPTIC_P = 0.5
OUTCOMES = ("health", "aseptic death", "septic death")


@declared(REYNOLDS2006)
class Reynolds2006(AbstractODEModel):
    """Reduced 4-variable acute inflammatory response (Reynolds et al. 2006). See the module
    docstring."""

    # 0.05 h (3 min): over 168 h RK4 (1 step per input step) agrees with Adaptive(rtol=atol=
    # 1e-10) to <= 1.3e-7 of each state's peak and <= 3e-6 pointwise where |y| > 0.01; at
    # 0.1 h 2e-6 and 4e-5, at 0.25 h 7e-5 and 1.4e-3 (the pathogen's kill rate reaches ~2/h).
    input_dt: float = 0.05

    def initial_state(self, params: Array) -> Array:
        p = self.named(params)
        z = jnp.zeros_like(p.P0)
        return jnp.stack([p.P0, z, z, p.s_c / p.mu_c])

    def vector_field(self, t: ArrayLike, y: Array, u: Array, params: Array) -> Array:
        p = self.named(params)
        P, N, D, CA = y[0], y[1], y[2], y[3]
        damping = 1.0 + (CA / p.c_inf) ** 2  # f(V) = V / damping

        fN = N / damping
        R = (p.k_nn * N + p.k_np * P + p.k_nd * D) / damping
        fND = (N + p.k_cnd * D) / damping
        fN6 = fN**6

        dP = (
            p.k_pg * P * (1.0 - P / p.p_inf)
            - p.k_pm * p.s_m * P / (p.mu_m + p.k_mp * P)
            - p.k_pn * fN * P
            - u[0] * P
        )
        dN = p.s_nr * R / (p.mu_nr + R) - p.mu_n * N
        dD = p.k_dn * fN6 / (p.x_dn**6 + fN6) - p.mu_d * D
        dCA = p.s_c + p.k_cn * fND / (1.0 + fND) - p.mu_c * CA + u[1]
        return jnp.stack([dP, dN, dD, dCA])

    def observe(self, t: ArrayLike, y: Array, params: Array) -> Array:
        p = self.named(params)
        return jnp.stack([p.wbc0 + p.wbc_per_N * y[1], y[2], y[0], y[3], y[2]])


def outcome_class(y_final: ArrayLike, params: ArrayLike | None = None) -> str | np.ndarray:
    """Classify settled state(s) ``y_final`` (``(4,)`` or ``(batch, 4)``; order P, N, D, CA)
    into the paper's outcomes:

    * ``"septic death"``: the pathogen persists, P >= ``SEPTIC_P`` (0.5 x 10^6 cells/cc, 2.5 % of
      p_inf; the septic equilibrium at k_pg = 0.6 has P = 4.94, N* = 0.98, D = 17.5);
    * ``"health"``: P, N* and D all below ``HEALTH_TOL`` (0.05);
    * ``"aseptic death"``: anything else with P < ``SEPTIC_P`` -- the pathogen is (nearly)
      cleared but N* and D stay elevated (at the published parameters N* = 0.64, D = 17.4).

    Meaningful only once the run has settled (hundreds of hours). ``params`` is accepted for a
    uniform signature; the thresholds do not depend on it. Returns a ``str`` for one state and
    an array of ``str`` for a batch. NaN states (failed runs) give ``"unknown"``.
    """
    del params
    y = np.asarray(y_final, dtype=np.float64)
    if y.shape[-1] != 4:
        raise ValueError(f"outcome_class needs states of shape (..., 4). Got {y.shape}.")
    P, N, D = y[..., 0], y[..., 1], y[..., 2]
    healthy = (P < HEALTH_TOL) & (N < HEALTH_TOL) & (D < HEALTH_TOL)
    out = np.where(P >= SEPTIC_P, OUTCOMES[2], np.where(healthy, OUTCOMES[0], OUTCOMES[1]))
    out = np.where(np.isfinite(y).all(axis=-1), out, "unknown")
    return str(out) if out.ndim == 0 else out


register_model(Reynolds2006)
