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
* Glucose, insulin and subcutaneous compartments are frozen at zero rather than going negative.

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
from typing import Any, ClassVar

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._base import AbstractODEModel, ObservableSpec, ParameterSpec, StateSpec, TwinDefaults
from .._noise import GaussianNoise
from .._registry import register_model
from ._common import T1D_EVENTS, T1D_INPUTS, glucose_alerts

__all__ = ["EAT_RATE", "U_TO_PMOL", "UVAPadova"]

EAT_RATE = 5.0  # g/min, simglucose T1DPatient.EAT_RATE
U_TO_PMOL = 6000.0  # pmol of insulin per unit (simglucose's conversion)

_DM07 = "Dalla Man et al. 2007, IEEE TBME 54:1740"
_UVA = "Kovatchev et al. 2009, JDST 3:44; simglucose 0.2.11 vpatient_params.csv"

# name, unit, default (adult#001), bounds, description, reference. Bounds span the 30 virtual
# patients with a factor of 2 either side: a plausibility box for priors and calibration.


def _P(name, unit, default, bounds, description, reference):
    return ParameterSpec(
        name, unit, default, bounds=bounds, description=description, reference=reference
    )


_PARAMETERS = (
    _P("BW", "kg", 102.32, (10.0, 250.0), "body weight", _UVA),
    _P("kabs", "1/min", 0.08906, (0.01, 2.5), "rate of intestinal absorption", _DM07),
    _P("kmax", "1/min", 0.046122, (0.005, 0.15), "maximum gastric emptying rate", _DM07),
    _P("kmin", "1/min", 0.0037927, (0.001, 0.06), "minimum gastric emptying rate", _DM07),
    _P("b", "1", 0.70391, (0.25, 0.999), "fraction of dose where kgut first falls to mean", _DM07),
    _P("d", "1", 0.21057, (0.04, 0.7), "fraction of dose where kgut is back at mean (c)", _DM07),
    _P("Vg", "dL/kg", 1.9152, (0.75, 4.5), "glucose distribution volume", _DM07),
    _P("Vi", "L/kg", 0.054906, (0.015, 0.16), "insulin distribution volume", _DM07),
    _P("Ib", "pmol/L", 100.25, (40.0, 280.0), "basal plasma insulin", _UVA),
    _P("Vmx", "mg/kg/min per pmol/L", 0.031319, (0.008, 0.31), "insulin-dependent uptake", _DM07),
    _P("Km0", "mg/kg", 253.52, (90.0, 560.0), "Michaelis-Menten constant of uptake", _DM07),
    _P("k1", "1/min", 0.058138, (0.015, 0.22), "plasma to tissue glucose transfer", _DM07),
    _P("k2", "1/min", 0.087114, (0.02, 0.58), "tissue to plasma glucose transfer", _DM07),
    _P("p2u", "1/min", 0.027802, (0.008, 0.17), "rate of insulin action on utilisation", _DM07),
    _P("m1", "1/min", 0.15446, (0.05, 0.9), "liver to plasma insulin transfer", _DM07),
    _P("m2", "1/min", 0.225027424083, (0.06, 0.83), "plasma to liver insulin transfer", _DM07),
    _P("m4", "1/min", 0.090010969633, (0.025, 0.34), "peripheral insulin degradation", _DM07),
    _P("m30", "1/min", 0.23169, (0.08, 1.35), "hepatic insulin extraction (basal)", _DM07),
    _P("ki", "1/min", 0.0046374, (0.0014, 0.09), "delay of insulin action on production", _DM07),
    _P("kp1", "mg/kg/min", 4.73140582528, (1.7, 23.0), "extrapolated EGP at zero G and I", _DM07),
    _P("kp2", "1/min", 0.00469, (0.001, 0.047), "liver glucose effectiveness", _DM07),
    _P("kp3", "mg/kg/min per pmol/L", 0.01208, (0.002, 0.053), "insulin action on liver", _DM07),
    _P("f", "1", 0.9, (0.5, 1.0), "fraction of intestinal absorption appearing in plasma", _DM07),
    _P("ke1", "1/min", 0.0005, (0.0002, 0.001), "renal glomerular filtration rate", _DM07),
    _P("ke2", "mg/kg", 339.0, (150.0, 700.0), "renal threshold of glucose", _DM07),
    _P("Fsnc", "mg/kg/min", 1.0, (0.5, 2.0), "insulin-independent utilisation", _DM07),
    _P("Vm0", "mg/kg/min", 3.2667306607, (1.0, 29.0), "basal insulin-independent uptake", _DM07),
    _P("kd", "1/min", 0.0152, (0.006, 0.042), "subcutaneous insulin degradation", _UVA),
    _P("ksc", "1/min", 0.0766, (0.025, 0.31), "plasma to subcutaneous glucose rate", _UVA),
    _P("ka1", "1/min", 0.0019, (0.0009, 0.017), "absorption of non-monomeric insulin", _UVA),
    _P("ka2", "1/min", 0.0078, (0.0039, 0.055), "absorption of monomeric insulin", _UVA),
    _P("u2ss", "pmol/kg/min", 1.2386244136, (0.35, 5.3), "steady-state basal insulin rate", _UVA),
    _P("Gpb", "mg/kg", 265.370112, (110.0, 660.0), "basal plasma glucose mass", _UVA),
    _P("Gtb", "mg/kg", 162.457097269, (15.0, 770.0), "basal tissue glucose mass", _UVA),
    _P("Ipb", "pmol/kg", 5.5043265, (1.7, 16.5), "basal plasma insulin mass", _UVA),
    _P("Ilb", "pmol/kg", 3.20762505142, (0.7, 11.5), "basal liver insulin mass", _UVA),
    _P("isc1ss", "pmol/kg", 72.4341762342, (13.0, 340.0), "steady-state Isc1", _UVA),
    _P("isc2ss", "pmol/kg", 141.153779328, (8.0, 350.0), "steady-state Isc2", _UVA),
)

_STATES = (
    StateSpec("Qsto1", "mg", "solid glucose in the stomach"),
    StateSpec("Qsto2", "mg", "liquid glucose in the stomach"),
    StateSpec("Qgut", "mg", "glucose in the intestine"),
    StateSpec("Gp", "mg/kg", "glucose in plasma and rapidly equilibrating tissues"),
    StateSpec("Gt", "mg/kg", "glucose in slowly equilibrating tissues"),
    StateSpec("Ip", "pmol/kg", "insulin in plasma"),
    StateSpec("X", "pmol/L", "insulin action on glucose utilisation"),
    StateSpec("I1", "pmol/L", "first delayed insulin signal"),
    StateSpec("Id", "pmol/L", "delayed insulin acting on production"),
    StateSpec("Il", "pmol/kg", "insulin in the liver"),
    StateSpec("Isc1", "pmol/kg", "subcutaneous non-monomeric insulin"),
    StateSpec("Isc2", "pmol/kg", "subcutaneous monomeric insulin"),
    StateSpec("Gs", "mg/kg", "subcutaneous glucose"),
    StateSpec("Qsto0", "mg", "stomach content when the current meal began", "memory"),
    StateSpec("eaten", "g", "carbohydrate eaten since the current meal began", "memory"),
    StateSpec("last_carbs", "g/min", "carbohydrate rate of the previous input step", "memory"),
)


# The parameters a T1D twin learns online: insulin sensitivity of glucose utilisation (Vmx)
# and production (kp3), endogenous production (kp1, kp2), meal absorption (kabs, kmax),
# insulin-independent uptake (Vm0), subcutaneous insulin absorption (ka1, ka2, kd), the
# plasma-to-interstitium lag the CGM sees (ksc) and the speed of insulin action (p2u): the
# parameters that differ most between the 30 virtual patients and that CGM, meal and insulin
# data inform. The rest come whole from the population draw.
T1D_FREE = ("Vmx", "kp1", "kp2", "kp3", "kabs", "kmax", "Vm0", "ka1", "ka2", "kd", "ksc", "p2u")
# The T1D twin's filter drift: its free parameters drift by about 2 % per sqrt(hour) (insulin
# sensitivity varies within a day; Visentin et al. 2015, Diabetes Technol Ther 17:1-7).
# Without drift the posterior over a patient outside the 30 becomes overconfident: on three
# hidden patients the 95 % band of 60-minute forecasts covered 89-93 % of readings; with 0.02,
# 92-95 % (tests/reference/test_t1d_twin_calibration.py). More drift (0.05) lets the
# parameters chase the autocorrelated error of a real sensor: on simglucose's own CGM stream the
# 60-minute MARD rose from 11.3 % (no drift) to 15.6 %; with 0.02 it is 12.3 %
# (benchmarks/twin_simglucose.py).
T1D_DRIFT = 0.02
_POPULATION = "simglucose_vpatient_params.csv"  # the 30 virtual patients (params/README.md)


@functools.cache
def population_rows() -> dict[str, dict[str, str]]:
    """The virtual patients' parameter table, by patient name (``adult#001``, ...)."""
    text = resources.files(__package__).joinpath("params", _POPULATION).read_text()
    return {row["Name"]: row for row in csv.DictReader(text.splitlines())}


class UVAPadova(AbstractODEModel):
    """UVA/Padova T1D patient (simglucose variant). See the module docstring."""

    name: ClassVar[str] = "uva-padova"
    aliases: ClassVar[tuple[str, ...]] = ("t1d",)
    title: ClassVar[str] = "UVA/Padova type-1 diabetes patient (Dalla Man 2007; simglucose)"
    reference: ClassVar[str] = (
        "Dalla Man C, Rizza RA, Cobelli C. IEEE Trans Biomed Eng 54:1740-1749 (2007); "
        "Kovatchev BP et al. J Diabetes Sci Technol 3:44-55 (2009); simglucose 0.2.11 (MIT)"
    )
    time_unit: ClassVar[str] = "min"
    states: ClassVar = _STATES
    parameters: ClassVar = _PARAMETERS
    inputs: ClassVar = T1D_INPUTS
    observables: ClassVar = (
        ObservableSpec("bg", "mg/dL", "2339-0", "plasma glucose Gp/Vg", GaussianNoise(3.0, 0.05)),
        ObservableSpec(
            "sc_glucose",
            "mg/dL",
            "99504-3",
            "subcutaneous (interstitial) glucose Gs/Vg, noise-free",
            GaussianNoise(5.0, 0.07),
        ),
        ObservableSpec("insulin", "pmol/L", None, "plasma insulin Ip/Vi", GaussianNoise(5.0, 0.1)),
    )
    events: ClassVar = T1D_EVENTS
    twin_defaults: ClassVar = TwinDefaults(
        prior="population",
        free=T1D_FREE,
        drift=T1D_DRIFT,
        alerts=glucose_alerts("sc_glucose", "bg"),
    )

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
            return jnp.where(x >= 0, dx, 0.0)

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
