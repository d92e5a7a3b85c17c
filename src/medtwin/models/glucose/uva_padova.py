"""UVA/Padova type-1 diabetes patient, as implemented by simglucose 0.2.11.

The glucose-insulin system of Dalla Man, Rizza & Cobelli (2007) with the type-1 modifications
of the UVA/Padova simulator (Kovatchev et al. 2009; Dalla Man et al. 2014): no endogenous insulin
secretion, subcutaneous insulin delivery (Isc1, Isc2) and a subcutaneous glucose compartment (Gs)
seen by a CGM. The equations and the meal-memory rule follow simglucose's ``T1DPatient`` exactly
(Xie 2018), so that its 30 virtual patients reproduce here to a fraction of a mg/dL:

* Meals are eaten at ``EAT_RATE`` = 5 g/min (see :func:`medtwin.simulate.meal`).
* The gastric emptying rate ``kgut`` depends on ``Dbar``, the amount of the current meal:
  the stomach content when eating started (``Qsto0``) plus what has been eaten since. Both are
  kept as *memory* states updated at the start of every 1-minute input step (``on_step``).
* Glucose, insulin and subcutaneous compartments do not fall below zero: a compartment a step
  took below zero stops falling but rises again when its inflow returns. This departs from
  simglucose, which freezes such a compartment for good (its derivative is zero whenever it is
  negative), so there a patient driven below 0 mg/dL stays there; the two agree wherever every
  compartment stays >= 0.

States (t in min)::

    Qsto1, Qsto2  mg      solid / liquid glucose in the stomach
    Qgut          mg      glucose in the intestine
    Gp, Gt        mg/kg   glucose in plasma / slowly equilibrating tissues
    Ip, Il        pmol/kg insulin in plasma / liver
    X             pmol/L  insulin action on glucose utilisation
    I1, Id        pmol/L  delayed insulin signal acting on production
    Isc1, Isc2    pmol/kg subcutaneous insulin (non-monomeric / monomeric)
    Gs            mg/kg   subcutaneous glucose (observed by a CGM as Gs/Vg)

Inputs: ``carbs`` (g/min) and ``insulin`` (U/min). Without a regimen basal rate, insulin runs at
the patient's steady-state basal ``u2ss * BW / 6000`` U/min.

References
----------
Dalla Man C, Rizza RA, Cobelli C. Meal simulation model of the glucose-insulin system.
IEEE Trans Biomed Eng 54(10):1740-1749, 2007.
Kovatchev BP, Breton M, Dalla Man C, Cobelli C. In silico preclinical trials: a proof of concept
in closed-loop control of type 1 diabetes. J Diabetes Sci Technol 3(1):44-55, 2009.
Xie J. simglucose v0.2.1: a type-1 diabetes simulator (UVA/Padova 2008) in Python, 2018.
https://github.com/jxx123/simglucose (MIT licence); parameters of the 30 virtual patients in
``medtwin/models/glucose/params/simglucose_vpatient_params.csv`` (:meth:`UVAPadova.population`).
"""

from __future__ import annotations

import csv
import functools
from importlib import resources
from typing import Any

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._base import AbstractODEModel, declared
from .._registry import register_model
from ._declarations import T1D_DRIFT as T1D_DRIFT
from ._declarations import T1D_FREE as T1D_FREE
from ._declarations import UVA_PADOVA

__all__ = ["EAT_RATE", "U_TO_PMOL", "UVAPadova"]

EAT_RATE = 5.0  # g/min, simglucose T1DPatient.EAT_RATE
U_TO_PMOL = 6000.0  # pmol of insulin per unit (simglucose's conversion)

_POPULATION = "simglucose_vpatient_params.csv"  # the 30 virtual patients (params/README.md)


@functools.cache
def population_rows() -> dict[str, dict[str, str]]:
    """The virtual patients' parameter table, by patient name (``adult#001``, ...)."""
    text = resources.files(__package__).joinpath("params", _POPULATION).read_text()
    return {row["Name"]: row for row in csv.DictReader(text.splitlines())}


@declared(UVA_PADOVA)
class UVAPadova(AbstractODEModel):
    """UVA/Padova T1D patient (simglucose variant). See the module docstring."""

    input_dt: float = 1.0

    def population(self) -> Float[Array, "30 p"]:
        """The 30 virtual patients of simglucose (adolescent, adult, child #001-010), stacked
        like ``parameters``: the T1D twin's population prior is a kernel density over them."""
        rows = population_rows()
        return jnp.asarray(
            np.array([[float(r[p.name]) for p in self.parameters] for r in rows.values()]),
            dtype=jnp.float64,
        )

    def initial_state(self, params: Float[Array, " p"]) -> Float[Array, " n"]:
        p = self.named(params)
        z = jnp.zeros_like(p.Gpb)
        return jnp.stack(
            [z, z, z, p.Gpb, p.Gtb, p.Ipb, z, p.Ib, p.Ib, p.Ilb, p.isc1ss, p.isc2ss, p.Gpb, z, z, z]
        )

    def steady_state_basal(self, params: Any) -> Any:
        """The basal insulin rate (U/min) that holds the patient at its steady state:
        ``u2ss * BW / U_TO_PMOL`` with ``u2ss`` the steady-state basal insulin rate
        (pmol/kg/min), ``BW`` the body weight (kg) and 6000 pmol per U (simglucose's
        conversion; Kovatchev et al. 2009, Xie 2018). Times 60 for U/h. NumPy parameters give
        a NumPy number (host set-up), JAX parameters a JAX scalar (traceable)."""
        p = self.named(params)
        return p.u2ss * p.BW / U_TO_PMOL

    def baseline_inputs(self, params: Float[Array, " p"]) -> Float[Array, " 2"]:
        p = self.named(params)
        return jnp.stack([jnp.zeros_like(p.BW), p.u2ss * p.BW / U_TO_PMOL])

    def on_step(
        self, t: Float[ArrayLike, ""], y: Float[Array, " n"], u: Float[Array, " 2"], params: Array
    ) -> Float[Array, " n"]:
        carbs = u[0]
        starts = (carbs > 0) & (y[15] <= 0)
        qsto0 = jnp.where(starts, y[0] + y[1], y[13])
        eaten = jnp.where(starts, 0.0, y[14]) + carbs * self.input_dt
        return y.at[13].set(qsto0).at[14].set(eaten).at[15].set(carbs)

    def vector_field(
        self, t: Float[ArrayLike, ""], y: Float[Array, " n"], u: Float[Array, " 2"], params: Array
    ) -> Float[Array, " n"]:
        p = self.named(params)
        Qsto1, Qsto2, Qgut, Gp, Gt, Ip, X, I1, Id, Il, Isc1, Isc2, Gs = (y[i] for i in range(13))
        carbs_mg = u[0] * 1000.0
        insulin = u[1] * U_TO_PMOL / p.BW  # pmol/kg/min

        # Gastrointestinal tract: kgut depends on the current meal size Dbar.
        qsto = Qsto1 + Qsto2
        Dbar = y[13] + y[14] * 1000.0
        safe = jnp.where(Dbar > 0, Dbar, 1.0)
        aa = 5.0 / (2.0 * safe * (1.0 - p.b))
        cc = 5.0 / (2.0 * safe * p.d)
        kgut_meal = p.kmin + (p.kmax - p.kmin) / 2.0 * (
            jnp.tanh(aa * (qsto - p.b * safe)) - jnp.tanh(cc * (qsto - p.d * safe)) + 2.0
        )
        kgut = jnp.where(Dbar > 0, kgut_meal, p.kmax)
        dQsto1 = -p.kmax * Qsto1 + carbs_mg
        dQsto2 = p.kmax * Qsto1 - kgut * Qsto2
        dQgut = kgut * Qsto2 - p.kabs * Qgut
        Ra = p.f * p.kabs * Qgut / p.BW

        # Glucose subsystem.
        EGP = jnp.maximum(p.kp1 - p.kp2 * Gp - p.kp3 * Id, 0.0)
        E = jnp.where(Gp > p.ke2, p.ke1 * (Gp - p.ke2), 0.0)
        dGp = EGP + Ra - p.Fsnc - E - p.k1 * Gp + p.k2 * Gt
        Uid = (p.Vm0 + p.Vmx * X) * Gt / (p.Km0 + Gt)
        dGt = -Uid + p.k1 * Gp - p.k2 * Gt

        # Insulin subsystem.
        I = Ip / p.Vi
        dIp = -(p.m2 + p.m4) * Ip + p.m1 * Il + p.ka1 * Isc1 + p.ka2 * Isc2
        dX = -p.p2u * X + p.p2u * (I - p.Ib)
        dI1 = -p.ki * (I1 - I)
        dId = -p.ki * (Id - I1)
        dIl = -(p.m1 + p.m30) * Il + p.m2 * Ip
        dIsc1 = insulin - (p.ka1 + p.kd) * Isc1
        dIsc2 = p.kd * Isc1 - p.ka2 * Isc2
        dGs = -p.ksc * Gs + p.ksc * Gp

        def nonneg(x: Array, dx: Array) -> Array:
            return jnp.where((x < 0) & (dx < 0), 0.0, dx)

        z = jnp.zeros_like(Gp)
        return jnp.stack(
            [
                dQsto1,
                dQsto2,
                dQgut,
                nonneg(Gp, dGp),
                nonneg(Gt, dGt),
                nonneg(Ip, dIp),
                dX,
                dI1,
                dId,
                nonneg(Il, dIl),
                nonneg(Isc1, dIsc1),
                nonneg(Isc2, dIsc2),
                nonneg(Gs, dGs),
                z,
                z,
                z,
            ]
        )

    def observe(
        self, t: Float[ArrayLike, ""], y: Float[Array, " n"], params: Array
    ) -> Float[Array, " 3"]:
        p = self.named(params)
        return jnp.stack([y[3] / p.Vg, y[12] / p.Vg, y[5] / p.Vi])


register_model(UVAPadova)
