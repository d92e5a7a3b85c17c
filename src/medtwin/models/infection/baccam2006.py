"""Influenza A virus kinetics in the upper respiratory tract: the target-cell-limited model
with an eclipse phase (Baccam et al. 2006), with a production-blocking antiviral.

Four states (time in days): uninfected target cells T, infected cells in the eclipse phase I1
(infected, not yet producing virus), virus-producing cells I2, and the infectious titre V
(TCID50/mL of nasal wash)::

    dT/dt  = - beta T V
    dI1/dt =   beta T V - k I1
    dI2/dt =   k I1 - delta I2
    dV/dt  =   (1 - eps) p I2 - c V

with T(0) = T0 (4 x 10^8 epithelial cells), I1(0) = I2(0) = 0 and V(0) = V0.

Input ``antiviral`` (eps, 0 to 1): the fraction of virus production blocked, the form Baccam
et al. use for a neuraminidase inhibitor (a **medtwin** input; clipped to [0, 1]).

Derived quantities (:func:`derived`): the eclipse phase lasts 1/k (6 h at the defaults), a
cell produces virus for 1/delta (4.6 h), an infected cell lives 1/k + 1/delta (10.6 h), free
virus has a half-life ln 2 / c (3.2 h), and the basic reproductive number is
``R0 = beta p T0 / (c delta)`` (21.8): the paper's ~6 h, ~5 h, ~11 h, ~3 h and ~22.

Observable ``log10_titre`` (log10 TCID50/mL; floored at ``log_floor`` so that a cleared
infection gives a finite value). The nasal-wash assay does not detect titres at or below
``TITRE_LOD`` = 0.5 log10 TCID50/mL: such a reading is a censored value (``"LO"`` with
``lo_limit=TITRE_LOD`` in :func:`medtwin.assimilate.observations`), not a zero.

References
----------
Baccam P, Beauchemin C, Macken CA, Hayden FG, Perelson AS. Kinetics of influenza A virus
infection in humans. J Virol 80(15):7590-7599, 2006. doi:10.1128/JVI.01623-05.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._base import AbstractODEModel, declared
from .._registry import register_model
from ._declarations import BACCAM2006

__all__ = ["Baccam2006", "derived"]


@declared(BACCAM2006)
class Baccam2006(AbstractODEModel):
    """Baccam et al. 2006 influenza A kinetics with an eclipse phase. See the module
    docstring."""

    # 0.005 d (7.2 min): the fastest rates are k, delta and c (4-5/d) and the early growth
    # (about 10/d at the defaults). Over 7 d RK4 agrees with Adaptive(rtol=atol=1e-10) to
    # 1.0e-7 of each state's peak at the defaults and 9.6e-7 with beta three times faster
    # (at 0.01 d: 1.6e-6 and 1.5e-5).
    input_dt: float = 0.005

    def initial_state(self, params: Array) -> Array:
        p = self.named(params)
        z = jnp.zeros_like(p.T0)
        return jnp.stack([p.T0, z, z, p.V0])

    def vector_field(self, t: ArrayLike, y: Array, u: Array, params: Array) -> Array:
        p = self.named(params)
        T, I1, I2, V = y[0], y[1], y[2], y[3]
        eps = jnp.clip(u[0], 0.0, 1.0)
        infect = p.beta * T * V
        return jnp.stack(
            [
                -infect,
                infect - p.k * I1,
                p.k * I1 - p.delta * I2,
                (1.0 - eps) * p.p * I2 - p.c * V,
            ]
        )

    def observe(self, t: ArrayLike, y: Array, params: Array) -> Array:
        p = self.named(params)
        return jnp.stack([jnp.log10(jnp.maximum(y[3], p.log_floor))])


def derived(params: ArrayLike) -> dict[str, float]:
    """The paper's derived quantities of one :class:`Baccam2006` parameter vector, in hours
    (durations) and cells (R0): ``eclipse_h`` = 24/k, ``productive_h`` = 24/delta,
    ``infected_lifetime_h`` = their sum, ``virion_half_life_h`` = 24 ln 2 / c and ``R0`` =
    beta p T0 / (c delta), the new productively infected cells one infected cell causes in a
    fully susceptible tract."""
    model = Baccam2006()
    p = np.asarray(params, dtype=np.float64)
    if p.shape != (len(model.parameter_names),):
        raise ValueError(
            f"derived() needs one Baccam2006 parameter vector of length "
            f"{len(model.parameter_names)}. Got shape {p.shape}."
        )
    v = {name: float(p[i]) for i, name in enumerate(model.parameter_names)}
    return {
        "eclipse_h": 24.0 / v["k"],
        "productive_h": 24.0 / v["delta"],
        "infected_lifetime_h": 24.0 / v["k"] + 24.0 / v["delta"],
        "virion_half_life_h": 24.0 * math.log(2.0) / v["c"],
        "R0": v["beta"] * v["p"] * v["T0"] / (v["c"] * v["delta"]),
    }


register_model(Baccam2006)
