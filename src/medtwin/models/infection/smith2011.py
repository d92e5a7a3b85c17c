"""Three-stage innate immune response to a pneumococcal lung infection (Smith, McCullers &
Adler 2011), with a bactericidal antibiotic.

Six states, all per mL of lung (time in hours): pneumococci P (CFU/mL), susceptible epithelial
cells E_U, epithelial cells with bacteria attached E_A, neutrophil-recruiting cytokines C
(arbitrary units), neutrophils N and debris D (dead-cell equivalents). The resident alveolar
macrophages M_A* (``M_A``) are constant, the paper's first stage. As curated in BioModels
BIOMD0000000924::

    f(P)    = n^x M_A / (P^x + n^x M_A)                       macrophage saturation
    dP/dt   = r P (1 - P/K_P) - gamma_MA f(P) M_A P / (1 + k_d D M_A) - gamma_N N P  - u_ab P
    dE_U/dt = - omega P E_U
    dE_A/dt =   omega P E_U - d_E E_A
    dC/dt   = alpha E_A / (1 + k_n N)
              + v theta_M P M_A / (d + kappa + theta_M P (1 + k_n N)) - d_C C
    dN/dt   = eta C (1 - N/N_max) - d_NP N P - d_N N
    dD/dt   = rho1 d_NP N P + rho2 d_N N + rho3 d_E E_A - d_D D M_A

Input ``antibiotic`` (u_ab, 1/h): an extra first-order kill rate of the pneumococci, ``- u_ab
P``. A **medtwin extension**, not in the paper: a bactericidal antibiotic above the MIC kills
a roughly constant fraction of the bacteria per hour, whatever the host response (the same
form as the Reynolds 2006 model's antibiotic input, so one regimen event kind serves both).

The paper's qualitative result: the alveolar macrophages alone clear small inocula; larger
ones grow to the carrying capacity (sustained growth) although neutrophils are recruited.
With the neutrophils absent (N = D = 0) and K_P >> P, the per-bacterium rate of change
``r - gamma_MA M_A f(P)`` is zero at the **clearance threshold** (:func:`am_threshold`)::

    P* = n (M_A (gamma_MA M_A / r - 1))^(1/x)            (9,945 CFU/mL at the defaults)

below which the macrophages win (the rate is negative and grows more so as P falls). The full
model's threshold (bisection on the inoculum) is the same to 1e-4 with neutrophil recruitment
off (eta = 0), and higher with it (about 12,200 CFU/mL): neutrophils rescue inocula a little
above the macrophages' capacity. :func:`outcome_class` names the two outcomes.

Observables: ``log10_pathogen`` (log10 CFU/mL, the lung titre; floored at ``log_floor`` so that
a cleared lung gives a finite value), ``neutrophils`` and ``debris`` (cells/mL). None has a
LOINC code: they are lung counts of a mouse, not a patient's blood tests.

References
----------
Smith AM, McCullers JA, Adler FR. Mathematical model of a three-stage innate immune response
to a pneumococcal lung infection. J Theor Biol 276(1):106-116, 2011.
doi:10.1016/j.jtbi.2011.01.052. BioModels BIOMD0000000924.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._base import AbstractODEModel, declared
from .._registry import register_model
from ._declarations import SMITH2011

__all__ = ["CLEARED_P", "OUTCOMES", "Smith2011", "am_threshold", "outcome_class"]

# A lung with fewer than 1 CFU/mL has cleared the infection (outcome_class).
CLEARED_P = 1.0
OUTCOMES = ("cleared", "sustained")


@declared(SMITH2011)
class Smith2011(AbstractODEModel):
    """Smith, McCullers & Adler 2011 pneumococcal lung infection. See the module docstring."""

    # 0.02 h (72 s): the fastest rate is the bacteria's killing of neutrophils, d_NP P, up to
    # 60/h at the carrying capacity (RK4's stability limit is 2.8/60 = 0.046 h); over 72 h
    # RK4 agrees with Adaptive(rtol=atol=1e-10) to the figures in tests/unit/models/infection.
    input_dt: float = 0.02

    def initial_state(self, params: Array) -> Array:
        p = self.named(params)
        z = jnp.zeros_like(p.P0)
        return jnp.stack([p.P0, p.EU0, z, z, z, z])

    def vector_field(self, t: ArrayLike, y: Array, u: Array, params: Array) -> Array:
        p = self.named(params)
        P, EU, Ea, C, N, D = y[0], y[1], y[2], y[3], y[4], y[5]
        nx = p.n**p.x * p.M_A
        f = nx / (jnp.abs(P) ** p.x + nx)
        dP = (
            p.r * P * (1.0 - P / p.K_P)
            - p.gamma_MA * f / (1.0 + p.k_d * D * p.M_A) * p.M_A * P
            - p.gamma_N * N * P
            - u[0] * P
        )
        infect = p.omega * P * EU
        dEU = -infect
        dEa = infect - p.d_E * Ea
        dC = (
            p.alpha * Ea / (1.0 + p.k_n * N)
            + p.v * p.theta_M * P * p.M_A / (p.d + p.kappa + p.theta_M * P * (1.0 + p.k_n * N))
            - p.d_C * C
        )
        dN = p.eta * C * (1.0 - N / p.N_max) - p.d_NP * N * P - p.d_N * N
        dD = p.rho1 * p.d_NP * N * P + p.rho2 * p.d_N * N + p.rho3 * p.d_E * Ea - p.d_D * D * p.M_A
        return jnp.stack([dP, dEU, dEa, dC, dN, dD])

    def observe(self, t: ArrayLike, y: Array, params: Array) -> Array:
        p = self.named(params)
        return jnp.stack([jnp.log10(jnp.maximum(y[0], p.log_floor)), y[4], y[5]])


def am_threshold(params: ArrayLike) -> np.ndarray:
    """The alveolar-macrophage clearance threshold P* (CFU/mL) in closed form, for one
    parameter vector (``(n_params,)``) or a batch (``(..., n_params)``) of :class:`Smith2011`:
    ``n (M_A (gamma_MA M_A / r - 1))^(1/x)``, the inoculum above which the macrophages alone
    (no neutrophils, no debris, K_P >> P*) cannot stop the growth. NaN where the macrophages
    cannot clear even a single bacterium (gamma_MA M_A <= r)."""
    model = Smith2011()
    p = np.asarray(params, dtype=np.float64)
    if p.shape[-1] != len(model.parameter_names):
        raise ValueError(
            f"am_threshold needs Smith2011 parameter vectors of length "
            f"{len(model.parameter_names)}. Got shape {p.shape}."
        )

    def g(name: str) -> np.ndarray:
        return p[..., model.param_index(name)]

    ratio = g("gamma_MA") * g("M_A") / g("r") - 1.0
    with np.errstate(invalid="ignore"):
        out = g("n") * (g("M_A") * ratio) ** (1.0 / g("x"))
    return np.where(ratio > 0.0, out, np.nan)


def outcome_class(y_final: ArrayLike) -> str | np.ndarray:
    """``"cleared"`` where the final pathogen load P (the first state; ``(6,)`` or
    ``(batch, 6)``) is below ``CLEARED_P`` (1 CFU/mL), else ``"sustained"``; ``"unknown"`` for
    a failed (non-finite) run. Meaningful once the run has settled (a few days)."""
    y = np.asarray(y_final, dtype=np.float64)
    if y.shape[-1] != 6:
        raise ValueError(f"outcome_class needs Smith2011 states of shape (..., 6). Got {y.shape}.")
    out = np.where(y[..., 0] < CLEARED_P, OUTCOMES[0], OUTCOMES[1])
    out = np.where(np.isfinite(y).all(axis=-1), out, "unknown")
    return str(out) if out.ndim == 0 else out


register_model(Smith2011)
