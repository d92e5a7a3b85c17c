"""The declaration of the LDL-cholesterol prevention model (:class:`~medtwin.models.Declaration`):
parameters with units, bounds, priors and references, states, observables (LDL-C and total
cholesterol), the drug events (a daily dose of a statin or ezetimibe from a date on) and twin
defaults. Read without loading JAX; the equations are in ``vargo2014.py``.

Where the numbers come from:

* the steady-state dose-response of six statins, ezetimibe and their combination: Vargo R,
  Adewale A, Behm MO, Mandema J, Kerbusch T. Prediction of clinical irrelevance of PK
  differences in atorvastatin using PK/PD models derived from literature-based meta-analyses.
  Clin Pharmacol Ther 96(1):101-109, 2014 (doi:10.1038/clpt.2014.66), Table 3 and Eq. 1-4, as
  transcribed by the nlmixr2lib model ``Vargo_2014_statins_ezetimibe_mbma`` (its vignette's
  source trace lists each value against the paper's table). Emax and the covariate effects are
  stored as magnitudes (the paper's signed fractional changes with the sign flipped);
* within-person variability of LDL-C and total cholesterol: Smith SJ, Cooper GR, Myers GL,
  Sampson EJ. Biological variability in concentrations of serum lipids. Clin Chem
  39(6):1012-1022, 1993 (random-effects CVb: LDL-C 9.5 %, total cholesterol 6.1 %), combined
  with the NCEP analytical goals (CVa <= 4 % for LDL-C, <= 3 % for total cholesterol);
* the age slope: Zhang P et al. Trends in LDL-C and non-HDL-C levels with age. Aging Dis
  11(5):1046-1057, 2020 (LDL-C +0.018 mmol/L per year in women aged 18-56, +0.025 in men aged
  18-33, -0.008 to -0.013 after 57: 0.7 mg/dL per year, a spread of about 1 mg/dL per year);
* LDL turnover: Langer T, Strober W, Levy RI. The metabolism of low density lipoprotein in
  familial type II hyperlipoproteinemia. J Clin Invest 51:1528-1536, 1972 (fractional
  catabolic rate of LDL about 0.3-0.45 pools per day in normal subjects).
"""

from __future__ import annotations

from ...limits import Spans
from .._noise import GaussianNoise
from .._priors import LogNormal, Normal, Prior, Uniform
from .._spec import (
    AlertRule,
    Declaration,
    EventSpec,
    InputSpec,
    ObservableSpec,
    ParameterSpec,
    StateSpec,
    TwinDefaults,
)

__all__ = [
    "CHOLESTEROL_LOINC",
    "DOSE_RANGE",
    "DRUGS",
    "ESC_EAS_2019_TARGETS",
    "EZETIMIBE",
    "LDL_LOINC",
    "LIPIDS_FREE",
    "STATINS",
    "TABLETS",
    "TEN_YEARS",
    "VARGO2014",
]

_V14 = "Vargo et al. 2014, Clin Pharmacol Ther 96:101, Table 3 (via nlmixr2lib)"
_MT = "medtwin assumption"

# The drugs the model takes, in the order of its inputs. Daily doses in mg/d.
STATINS = ("atorvastatin", "rosuvastatin", "simvastatin", "pravastatin", "fluvastatin",
           "lovastatin")  # fmt: skip
EZETIMIBE = "ezetimibe"
DRUGS = (*STATINS, EZETIMIBE)
# Tablet strengths marketed once daily (mg): the doses the recommendation chooses from
# (British National Formulary; fluvastatin 80 mg is the extended-release tablet).
TABLETS = {
    "atorvastatin": (10.0, 20.0, 40.0, 80.0),
    "rosuvastatin": (5.0, 10.0, 20.0, 40.0),
    "simvastatin": (10.0, 20.0, 40.0, 80.0),
    "pravastatin": (10.0, 20.0, 40.0),
    "fluvastatin": (20.0, 40.0, 80.0),
    "lovastatin": (10.0, 20.0, 40.0, 80.0),
    "ezetimibe": (10.0,),
}
# LDL-C goals by total cardiovascular risk category (mg/dL): ESC/EAS 2019, Mach F et al.
# Eur Heart J 41:111-188, 2020, Table 4 (1.4, 1.8, 2.6 and 3.0 mmol/L; the very-high and
# high goals also ask for a >= 50 % reduction from baseline, which is not checked here).
ESC_EAS_2019_TARGETS = {"very-high": 55.0, "high": 70.0, "moderate": 100.0, "low": 116.0}
# Daily doses accepted at ingestion and on the command line (mg/d): above the highest licensed
# dose by a margin (atorvastatin, simvastatin, lovastatin, fluvastatin 80; ezetimibe 10).
DOSE_RANGE = {**{d: (0.0, 160.0) for d in STATINS}, EZETIMIBE: (0.0, 40.0)}
LDL_LOINC = "18262-6"  # the canonical code; 13457-7 and 2089-1 are stored under it
CHOLESTEROL_LOINC = "2093-3"
# What the twin learns of a person: the untreated level and its slope with age, the response
# scale and the onset rate, and the non-LDL cholesterol (read from total cholesterol).
# How far the twin reaches (forecast, update, what-if): ten years of days (see its reason).
TEN_YEARS = 3653.0
LIPIDS_FREE = ("LDL0", "slope", "resp", "ke0", "C_nonldl")


def _P(name: str, unit: str, default: float, bounds: tuple[float, float], description: str,
       ref: str, prior: Prior | None = None) -> ParameterSpec:  # fmt: skip
    return ParameterSpec(name, unit, default, bounds, prior=prior, description=description,
                         reference=ref)  # fmt: skip


_ED50 = {"atorvastatin": 15.2, "rosuvastatin": 4.96, "simvastatin": 36.7, "pravastatin": 145.0,
         "fluvastatin": 347.0, "lovastatin": 114.0}  # fmt: skip

_PARAMETERS = (
    # ---- the person (learnt by the twin) -------------------------------------------------
    _P("LDL0", "mg/dL", 160.0, (30.0, 500.0), "untreated LDL-C at t = 0 (the twin's epoch)",
       f"{_MT}: prior median 150 mg/dL, 25 % spread (Vargo 2014 trial median 181)",
       LogNormal(150.0, 0.25)),
    _P("slope", "mg/dL/yr", 0.7, (-10.0, 10.0), "rise of the untreated LDL-C per year of age",
       "Zhang et al. 2020, Aging Dis 11:1046 (+0.018 mmol/L/yr = 0.7 mg/dL/yr)",
       Normal(0.7, 1.0)),
    _P("resp", "1", 1.0, (0.2, 2.5), "response scale: the person's drug effect / the typical",
       f"{_MT}: responder variability, a 25 % spread of the percent reduction",
       LogNormal(1.0, 0.25)),
    _P("ke0", "1/d", 0.15, (0.02, 0.6), "onset rate of the drug effect (effect compartment)",
       "atorvastatin label: most of the response within 2 weeks, maximal within 4",
       LogNormal(0.15, 0.5)),
    _P("C_nonldl", "mg/dL", 82.0, (10.0, 300.0),
       "non-LDL cholesterol (HDL-C + VLDL-C), total = LDL-C + C_nonldl",
       "Friedewald 1972 (TC = LDL + HDL + TG/5); Vargo 2014 medians HDL 48, TG 168 mg/dL",
       LogNormal(82.0, 0.25)),
    _P("adherence", "1", 1.0, (0.0, 1.0), "fraction of the steady-state effect taken (a(t))",
       f"{_MT}: 1 = every dose taken; give it, or learn it (prior 50-100 %; the data see "
       "only adherence x resp, so learn one of the two)", Uniform(0.5, 1.0)),
    # ---- LDL turnover --------------------------------------------------------------------
    _P("kout", "1/d", 0.35, (0.1, 0.4), "fractional catabolic rate of LDL",
       "Langer, Strober & Levy 1972, J Clin Invest 51:1528 (0.3-0.45 pools/d)"),
    # ---- the meta-analysis (Vargo 2014, fixed) --------------------------------------------
    _P("Emax1", "1", 0.758, (0.3, 1.0), "maximal statin reduction, typical population (Emax,1)",
       _V14),
    _P("Emax_ldl", "1", 0.14, (-1.0, 1.0), "Emax change per log(baseline LDL-C / 180 mg/dL)",
       _V14),
    _P("Emax_tg", "1", -0.0506, (-1.0, 1.0), "Emax change per log(baseline TG / 180 mg/dL)",
       _V14),
    _P("Emax_chd", "1/%", 0.000649, (-0.01, 0.01), "Emax change per % with coronary disease",
       _V14),
    _P("Emax_acs", "1", 0.117, (-1.0, 1.0), "Emax change with acute coronary syndrome", _V14),
    _P("Emax_hefh", "1", -0.127, (-1.0, 1.0), "Emax change with heterozygous FH", _V14),
    _P("TG", "mg/dL", 180.0, (20.0, 2000.0), "baseline triglycerides (Emax covariate)",
       f"{_V14}: reference 180 mg/dL"),
    _P("CHD", "%", 0.0, (0.0, 100.0), "coronary heart disease, 100 for a person who has it",
       f"{_V14}: a trial arm's % with CHD"),
    _P("ACS", "1", 0.0, (0.0, 1.0), "acute coronary syndrome (0 or 1)", _V14),
    _P("HeFH", "1", 0.0, (0.0, 1.0), "heterozygous familial hypercholesterolaemia (0 or 1)",
       _V14),
    _P("n", "1", 0.417, (0.1, 2.0), "statin sigmoidicity (Hill coefficient, all statins)", _V14),
    *(_P(f"ED50_{d}", "mg/d", v, (v / 20.0, v * 20.0), f"{d} dose of half the maximal effect",
         _V14) for d, v in _ED50.items()),
    _P("Emax_eze", "1", 0.184, (0.05, 0.5), "maximal ezetimibe reduction", _V14),
    _P("ED50_eze", "mg/d", 0.228, (0.01, 5.0), "ezetimibe dose of half its maximal effect "
       "(sigmoidicity fixed to 1)", _V14),
    _P("gamma", "1", 0.523, (0.0, 1.0), "statin x ezetimibe interaction: f = fs + fe (1 - "
       "gamma fs)", _V14),
)  # fmt: skip
del _P

_DRUG_EVENTS = tuple(
    EventSpec(d, "mg/d", d, "rate", description=f"daily {d} dose from this time on (0: stop)")
    for d in DRUGS
)

VARGO2014 = Declaration(
    name="ldl-vargo2014",
    aliases=("ldl",),
    title="LDL cholesterol turnover under statins and ezetimibe (Vargo 2014 dose-response)",
    reference=(
        "Vargo R et al. Clin Pharmacol Ther 96(1):101-109 (2014), doi:10.1038/clpt.2014.66; "
        "turnover with an effect compartment (Sheiner et al. 1979 link model)"
    ),
    time_unit="d",
    states=(
        StateSpec("E", "1", "fractional LDL-C reduction by the drugs (effect compartment)"),
        StateSpec("L", "mg/dL", "LDL cholesterol (the person's level, day-to-day mean)"),
    ),
    parameters=_PARAMETERS,
    inputs=tuple(InputSpec(d, "mg/d", f"daily {d} dose") for d in DRUGS),
    observables=(
        ObservableSpec(
            "ldl",
            "mg/dL",
            LDL_LOINC,
            "LDL cholesterol; within-person CV 9.5 % (Smith et al. 1993) and assay CV 4 %",
            GaussianNoise(1.0, 0.103),
        ),
        ObservableSpec(
            "total_cholesterol",
            "mg/dL",
            CHOLESTEROL_LOINC,
            "total cholesterol = L + C_nonldl; within-person CV 6.1 % (Smith et al. 1993), "
            "assay CV 3 %",
            GaussianNoise(1.0, 0.068),
        ),
    ),
    events=_DRUG_EVENTS,
    # ESC/EAS 2019 goals: LDL-C < 116 mg/dL (3.0 mmol/L) at low risk; a forecast that
    # crosses it within a year calls for attention (a personal target is given per twin).
    twin_defaults=TwinDefaults(
        prior="spec",
        free=LIPIDS_FREE,
        spans=Spans(
            forecast=TEN_YEARS,
            update=TEN_YEARS,
            what_if=TEN_YEARS,
            unit="d",
            reason="LDL-C is re-checked 4-12 weeks after a therapy change and then every 3-12 "
            "months (ESC/EAS 2019), risk is judged over 10 years (SCORE2), and labs may be "
            "years apart, which one update must bridge; ten years are 3,653 one-day steps, "
            "fewer than the T1D twin's week of minutes.",
        ),
        alerts=(
            AlertRule(
                "ldl",
                high=116.0,
                within=365.0,
                reference="Mach et al. 2020, Eur Heart J 41:111 (ESC/EAS 2019)",
            ),
        ),
    ),
    model="medtwin.models.lipids.vargo2014:Vargo2014",
)
