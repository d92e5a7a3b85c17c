"""The declarations of the glucose-insulin models (:class:`~medtwin.models.Declaration`):
parameters with units, bounds and references, states, observables, events and twin defaults.
Read without loading JAX; the equations are in ``uva_padova.py`` and ``bergman.py``."""

from __future__ import annotations

from .._noise import GaussianNoise
from .._spec import Declaration, ObservableSpec, ParameterSpec, StateSpec, TwinDefaults
from ._common import T1D_EVENTS, T1D_INPUTS, glucose_alerts

__all__ = ["BERGMAN", "T1D_DRIFT", "T1D_FREE", "UVA_PADOVA"]

# ---- UVAPadova (uva_padova.py) ----------------------------------------

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


UVA_PADOVA = Declaration(
    name="uva-padova",
    aliases=("t1d",),
    title="UVA/Padova type-1 diabetes patient (Dalla Man 2007; simglucose)",
    reference=(
        "Dalla Man C, Rizza RA, Cobelli C. IEEE Trans Biomed Eng 54:1740-1749 (2007); "
        "Kovatchev BP et al. J Diabetes Sci Technol 3:44-55 (2009); simglucose 0.2.11 (MIT)"
    ),
    time_unit="min",
    states=_STATES,
    parameters=_PARAMETERS,
    inputs=T1D_INPUTS,
    observables=(
        ObservableSpec("bg", "mg/dL", "2339-0", "plasma glucose Gp/Vg", GaussianNoise(3.0, 0.05)),
        ObservableSpec(
            "sc_glucose",
            "mg/dL",
            "99504-3",
            "subcutaneous (interstitial) glucose Gs/Vg, noise-free",
            GaussianNoise(5.0, 0.07),
        ),
        ObservableSpec("insulin", "pmol/L", None, "plasma insulin Ip/Vi", GaussianNoise(5.0, 0.1)),
    ),
    events=T1D_EVENTS,
    twin_defaults=TwinDefaults(
        prior="population",
        free=T1D_FREE,
        drift=T1D_DRIFT,
        alerts=glucose_alerts("sc_glucose", "bg"),
    ),
    model="medtwin.models.glucose.uva_padova:UVAPadova",
    evidence="medtwin.credibility.evidence.uva_padova:EVIDENCE",
)


# ---- BergmanMinimal (bergman.py) ----------------------------------------

_B79 = "Bergman et al. 1979, Am J Physiol 236:E667"
_B81 = "Bergman et al. 1981, J Clin Invest 68:1456"
_H04 = "Hovorka et al. 2004, Physiol Meas 25:905"
_K09 = "Kanderian et al. 2009, JDST 3:1047"


def _PB(
    name: str, unit: str, default: float, bounds: tuple, description: str, reference: str
) -> ParameterSpec:
    return ParameterSpec(name, unit, default, bounds, description=description, reference=reference)


# name, unit, default (a 70-kg adult with T1D), bounds (a plausibility box for priors and
# calibration), description, reference.
_BERGMAN_PARAMETERS = (
    _PB(
        "Gb",
        "mg/dL",
        130.0,
        (70.0, 300.0),
        "basal (rest) plasma glucose",
        "typical T1D fasting glucose 120-140 mg/dL (assumed default)",
    ),
    _PB(
        "p1",
        "1/min",
        0.01,
        (0.0, 0.05),
        "glucose effectiveness at basal insulin (SG)",
        f"{_B81}: SG 0.01-0.03/min; T1D: GEZI 2.2e-3/min + SI*Ib, {_K09}",
    ),
    _PB(
        "p2",
        "1/min",
        0.025,
        (0.003, 0.1),
        "rate of decay of remote insulin action",
        f"{_B79}; {_B81} (~0.02-0.03/min); T1D mean 0.0106/min, {_K09}",
    ),
    _PB(
        "p3",
        "mL/µU/min^2",
        1.25e-5,
        (1e-7, 2e-4),
        "gain of insulin action (SI = p3/p2)",
        f"{_B79}; SI = p3/p2 ~5e-4 mL/µU/min, {_B81}; T1D SI 8.1e-4, {_K09}",
    ),
    _PB(
        "n",
        "1/min",
        0.138,
        (0.05, 0.5),
        "fractional plasma insulin clearance",
        f"{_H04} (ke = 0.138/min)",
    ),
    _PB(
        "Ib",
        "µU/mL",
        10.0,
        (1.0, 60.0),
        "plasma insulin sustained by the basal rate",
        f"assumed: basal n*Ib*VI*BW/1e6 ~0.7 U/h (0.24 U/kg/day) at the defaults; cf. {_H04}",
    ),
    _PB(
        "VI",
        "mL/kg",
        120.0,
        (40.0, 300.0),
        "insulin distribution volume",
        f"{_H04} (VI = 0.12 L/kg)",
    ),
    _PB(
        "VG",
        "dL/kg",
        1.6,
        (0.8, 3.0),
        "glucose distribution volume",
        f"{_H04} (VG = 0.16 L/kg); 1.88 dL/kg in Dalla Man 2007",
    ),
    _PB("BW", "kg", 70.0, (10.0, 250.0), "body weight", f"standard adult, {_H04}"),
    _PB(
        "tau_i",
        "min",
        55.0,
        (10.0, 150.0),
        "time constant of subcutaneous insulin absorption",
        f"{_H04} (tmax,I = 55 min); 47-49 min, {_K09}",
    ),
    _PB(
        "tau_m",
        "min",
        40.0,
        (10.0, 150.0),
        "time constant of carbohydrate absorption",
        f"{_H04} (tmax,G = 40 min); 47 min, {_K09}",
    ),
    _PB("Ag", "1", 0.8, (0.3, 1.0), "carbohydrate bioavailability", f"{_H04} (AG = 0.8)"),
)
del _PB

_BERGMAN_STATES = (
    StateSpec("G", "mg/dL", "plasma glucose"),
    StateSpec("X", "1/min", "remote insulin action"),
    StateSpec("I", "µU/mL", "plasma insulin"),
    StateSpec("Isc1", "U", "first subcutaneous insulin depot"),
    StateSpec("Isc2", "U", "second subcutaneous insulin depot"),
    StateSpec("D1", "mg", "first gut glucose compartment"),
    StateSpec("D2", "mg", "second gut glucose compartment"),
)


BERGMAN = Declaration(
    name="bergman",
    aliases=("minimal",),
    title="Bergman minimal model, type-1 diabetes (gut and SC insulin chains)",
    reference=(
        "Bergman RN et al. Am J Physiol 236:E667-E677 (1979); "
        "Hovorka R et al. Physiol Meas 25:905-920 (2004); "
        "Kanderian SS et al. J Diabetes Sci Technol 3:1047-1057 (2009)"
    ),
    time_unit="min",
    states=_BERGMAN_STATES,
    parameters=_BERGMAN_PARAMETERS,
    inputs=T1D_INPUTS,
    observables=(
        ObservableSpec("bg", "mg/dL", "2339-0", "plasma glucose G", GaussianNoise(3.0, 0.05)),
        ObservableSpec("insulin", "µU/mL", None, "plasma insulin I", GaussianNoise(2.0, 0.1)),
    ),
    events=T1D_EVENTS,
    twin_defaults=TwinDefaults(alerts=glucose_alerts("bg")),
    model="medtwin.models.glucose.bergman:BergmanMinimal",
)
