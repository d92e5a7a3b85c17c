"""The declarations of the infection models (:class:`~medtwin.models.Declaration`): the
pneumococcal lung infection of Smith, McCullers & Adler 2011 and the influenza A infection of
the upper respiratory tract of Baccam et al. 2006. Parameters with units, bounds, priors and
references, states, observables, events and twin defaults; read without loading JAX (the
equations are in ``smith2011.py`` and ``baccam2006.py``).

Where the numbers come from:

* Smith AM, McCullers JA, Adler FR. Mathematical model of a three-stage innate immune response
  to a pneumococcal lung infection. J Theor Biol 276(1):106-116, 2011
  (doi:10.1016/j.jtbi.2011.01.052), Table 1, as curated in BioModels BIOMD0000000924 (time in
  hours, volume in mL; the units below follow from the equations with cells and bacteria
  counted per mL of lung);
* Baccam P, Beauchemin C, Macken CA, Hayden FG, Perelson AS. Kinetics of influenza A virus
  infection in humans. J Virol 80(15):7590-7599, 2006 (doi:10.1128/JVI.01623-05,
  PMC1563736): the target-cell-limited model with an eclipse phase (time in days), its
  parameter estimates (Table 3) and the abstract's derived quantities (eclipse ~6 h,
  productive phase ~5 h, infected-cell lifetime ~11 h, virion half-life ~3 h, R0 ~22), which
  the defaults below reproduce (``tests/unit/models/infection``).
"""

from __future__ import annotations

from .._composition import Composition, Excess, Link
from .._noise import GaussianNoise
from .._priors import LogNormal, Prior
from .._spec import (
    AlertRule,
    DecisionSpec,
    Declaration,
    EventSpec,
    InputSpec,
    ObservableSpec,
    ParameterSpec,
    StateSpec,
    TwinDefaults,
)
from ..inflammation._declarations import REYNOLDS2006

__all__ = [
    "BACCAM2006",
    "PNEUMONIA_SEPSIS",
    "PNEUMONIA_SEPSIS_WIRING",
    "SMITH2011",
    "TITRE_LOD",
    "TITRE_SD",
]

_S11 = "Smith, McCullers & Adler 2011, J Theor Biol 276:106, Table 1; BIOMD0000000924"
_B06 = "Baccam et al. 2006, J Virol 80:7590, Table 3 (eclipse-phase model)"
_MT = "medtwin assumption"

# The nasal-wash assay's detection limit (log10 TCID50/mL): Table 1 of Baccam et al. 2006
# reports titres at or below 0.5 as 0 (below detection).
TITRE_LOD = 0.5
# The sd of a log10 titre about the model (medtwin assumption): the assay's half-log dilution
# steps, the day-to-day variation of a nasal wash and the structural error of a
# target-cell-limited model, which misses the second peak about half the volunteers show
# (Baccam et al. 2006). Measured: this model's least-squares fit of each of the paper's six
# volunteers (five free parameters each, all seven days) leaves a root-mean-square residual of
# 0.99 log10 over the 35 detected titres (tests/unit/models/infection/test_baccam2006.py).
TITRE_SD = 1.0


def _P(name: str, unit: str, default: float, description: str, *, ref: str,
       bounds: tuple[float, float] | None = None,
       prior: Prior | None = None) -> ParameterSpec:  # fmt: skip
    # Bounds: a factor of 10 either side of the published value unless given.
    lo, hi = bounds if bounds is not None else (default / 10.0, default * 10.0)
    return ParameterSpec(name, unit, default, (lo, hi), prior=prior, description=description,
                         reference=ref)  # fmt: skip


# ---- Smith 2011 (smith2011.py) ----------------------------------------------------------

_SMITH_PARAMETERS = (
    _P("r", "1/h", 1.13, "pneumococcal growth rate", ref=_S11, prior=LogNormal(1.13, 0.2)),
    _P("K_P", "CFU/mL", 341765197.726012, "pneumococcal carrying capacity", ref=_S11),
    _P("gamma_MA", "mL/(cell.h)", 5.6e-6, "phagocytosis rate of alveolar macrophages", ref=_S11),
    _P("n", "CFU/cell", 5.0, "bacteria per alveolar macrophage at half-saturated phagocytosis",
       ref=_S11),
    _P("x", "1", 2.0, "Hill exponent of the macrophage saturation f(P, M_A)", ref=_S11,
       bounds=(1.0, 4.0)),
    _P("M_A", "cells/mL", 1.0e6, "resident alveolar macrophages M_A* (constant)", ref=_S11),
    _P("gamma_N", "mL/(cell.h)", 1.0e-5, "phagocytosis rate of neutrophils", ref=_S11),
    _P("theta_M", "mL/(CFU.h)", 4.2e-8, "macrophage activation by bacteria (cytokine source)",
       ref=_S11),
    _P("d", "1/h", 0.001, "macrophage term of the cytokine-source denominator (paper's d)",
       ref=_S11),
    _P("kappa", "1/h", 0.042, "deactivation term of the cytokine-source denominator", ref=_S11),
    _P("v", "a.u.*mL/(cell.h)", 0.029, "cytokine production by activated macrophages",
       ref=_S11),
    _P("omega", "mL/(CFU.h)", 2.1e-8, "attachment of bacteria to epithelial cells", ref=_S11),
    _P("d_E", "1/h", 0.167, "death rate of epithelial cells with bacteria attached", ref=_S11),
    _P("alpha", "a.u.*mL/(cell.h)", 0.021, "cytokine production by affected epithelial cells",
       ref=_S11),
    _P("k_n", "mL/cell", 1.4e-5, "inhibition of cytokine production by neutrophils", ref=_S11),
    _P("d_C", "1/h", 0.83, "cytokine decay rate", ref=_S11),
    _P("N_max", "cells/mL", 1.8e5, "maximal neutrophil number", ref=_S11),
    _P("eta", "cells/(mL.h.a.u.)", 1.33, "neutrophil recruitment by cytokines", ref=_S11),
    _P("d_N", "1/h", 0.063, "neutrophil death rate", ref=_S11),
    _P("d_NP", "mL/(CFU.h)", 1.76e-7, "neutrophil death caused by bacteria", ref=_S11),
    _P("rho1", "1", 0.15, "debris from neutrophils killed by bacteria (fraction)", ref=_S11,
       bounds=(0.0, 1.0)),
    _P("rho2", "1", 0.001, "debris from neutrophils dying naturally (fraction)", ref=_S11,
       bounds=(0.0, 1.0)),
    _P("rho3", "1", 1.0e-5, "debris from dying epithelial cells (fraction)", ref=_S11,
       bounds=(0.0, 1.0)),
    _P("d_D", "mL/(cell.h)", 1.4e-7, "debris clearance by alveolar macrophages", ref=_S11),
    _P("k_d", "(mL/cell)2", 5.0e-9, "impairment of macrophage phagocytosis by debris",
       ref=_S11),
    _P("P0", "CFU/mL", 1.0e5, "inoculum: pneumococci in the lung at t = 0", ref=_S11,
       bounds=(1.0, 1.0e9), prior=LogNormal(1.0e5, 1.0)),
    _P("EU0", "cells/mL", 1.0e8, "susceptible epithelial cells at t = 0", ref=_S11),
    _P("log_floor", "CFU/mL", 1.0e-12,
       "floor under P in the log10 observable (a cleared lung has P -> 0)",
       ref=f"{_MT}: far below any culture's detection limit", bounds=(1.0e-300, 1.0)),
)  # fmt: skip

SMITH2011 = Declaration(
    name="smith2011",
    aliases=("pneumonia",),
    title="Three-stage innate response to a pneumococcal lung infection (Smith 2011)",
    reference=(
        "Smith AM, McCullers JA, Adler FR. J Theor Biol 276(1):106-116 (2011), "
        "doi:10.1016/j.jtbi.2011.01.052; BioModels BIOMD0000000924"
    ),
    time_unit="h",
    states=(
        StateSpec("P", "CFU/mL", "pneumococci in the lung"),
        StateSpec("EU", "cells/mL", "susceptible (uninfected) epithelial cells"),
        StateSpec("Ea", "cells/mL", "epithelial cells with bacteria attached"),
        StateSpec("C", "a.u.", "pro-inflammatory (neutrophil-recruiting) cytokines"),
        StateSpec("N", "cells/mL", "neutrophils in the lung"),
        StateSpec("D", "cells/mL", "debris (dead-cell equivalents)"),
    ),
    parameters=_SMITH_PARAMETERS,
    inputs=(InputSpec("antibiotic", "1/h", "extra first-order kill rate of pneumococci"),),
    observables=(
        # Lung titres of a mouse (lavage or homogenate CFU) have no LOINC code.
        ObservableSpec(
            "log10_pathogen",
            "log10 CFU/mL",
            None,
            "log10 of the lung's bacterial titre; plate counts are reproducible to about "
            "0.3 log10 (medtwin assumption)",
            GaussianNoise(0.3),
        ),
        ObservableSpec(
            "neutrophils",
            "cells/mL",
            None,
            "neutrophils in the lung (lavage count; not the blood count)",
            GaussianNoise(1.0e3, 0.2),
        ),
        ObservableSpec("debris", "cells/mL", None, "debris D", GaussianNoise(1.0, 0.2)),
    ),
    events=(
        EventSpec(
            "antibiotic",
            "1/h",
            "antibiotic",
            "rate",
            description="bactericidal kill rate from this time on (0: stop)",
        ),
    ),
    # A lung titre above 10^6 CFU/mL within two days is the sustained-growth course of the
    # paper's larger inocula (medtwin threshold for a twin's watch list).
    # Antibiotic schedules are ranked by P(cleared) ten days on (a course and its aftermath).
    twin_defaults=TwinDefaults(
        free=("P0", "r"),
        alerts=(AlertRule("log10_pathogen", high=6.0, within=48.0, reference=f"{_MT}; {_S11}"),),
        decision=DecisionSpec(
            antibiotic="antibiotic",
            outcome="medtwin.models.infection.smith2011:outcome_class",
            outcomes=("cleared", "sustained"),
            horizon=240.0,
            reference=f"{_S11} (clearance)",
        ),
    ),
    model="medtwin.models.infection.smith2011:Smith2011",
)


# ---- Baccam 2006 (baccam2006.py) --------------------------------------------------------

_BACCAM_PARAMETERS = (
    _P("beta", "mL/(TCID50.d)", 3.2e-5, "infection rate of target cells by virus", ref=_B06,
       prior=LogNormal(3.2e-5, 1.0)),
    _P("k", "1/d", 4.0, "rate of leaving the eclipse phase (1/k: eclipse duration)", ref=_B06,
       prior=LogNormal(4.0, 0.3)),
    _P("delta", "1/d", 5.2, "death rate of virus-producing cells", ref=_B06,
       prior=LogNormal(5.2, 0.5)),
    _P("p", "TCID50/(mL.d.cell)", 4.6e-2, "virus production per producing cell", ref=_B06,
       prior=LogNormal(4.6e-2, 1.0)),
    _P("c", "1/d", 5.2, "clearance rate of free infectious virus", ref=_B06,
       prior=LogNormal(5.2, 0.5)),
    _P("T0", "cells", 4.0e8, "target (epithelial) cells of the upper respiratory tract",
       ref=f"{_B06} (fixed in the fits)", bounds=(1.0e7, 1.0e10)),
    _P("V0", "TCID50/mL", 0.75, "initial viral titre after inoculation", ref=_B06,
       bounds=(1.0e-4, 1.0e3), prior=LogNormal(0.75, 1.5)),
    _P("log_floor", "TCID50/mL", 1.0e-12,
       "floor under V in the log10 observable (a cleared infection has V -> 0)",
       ref=f"{_MT}: far below the assay's detection limit", bounds=(1.0e-300, 1.0)),
)  # fmt: skip
del _P

BACCAM2006 = Declaration(
    name="baccam2006",
    aliases=("influenza",),
    title="Influenza A kinetics: target-cell-limited model with an eclipse phase (Baccam 2006)",
    reference=(
        "Baccam P, Beauchemin C, Macken CA, Hayden FG, Perelson AS. J Virol 80(15):7590-7599 "
        "(2006), doi:10.1128/JVI.01623-05"
    ),
    time_unit="d",
    states=(
        StateSpec("T", "cells", "uninfected target cells"),
        StateSpec("I1", "cells", "infected cells in the eclipse phase (not yet producing)"),
        StateSpec("I2", "cells", "virus-producing infected cells"),
        StateSpec("V", "TCID50/mL", "infectious viral titre (nasal wash)"),
    ),
    parameters=_BACCAM_PARAMETERS,
    inputs=(InputSpec("antiviral", "1", "fraction of virus production blocked (0 to 1)"),),
    observables=(
        # No LOINC code names a quantitative influenza culture titre in TCID50/mL.
        ObservableSpec(
            "log10_titre",
            "log10 TCID50/mL",
            None,
            "log10 nasal-wash titre; detection limit 0.5 (TITRE_LOD: report a titre below it "
            "as LO, a censored reading); sd 1 log10 (TITRE_SD)",
            GaussianNoise(TITRE_SD),
        ),
    ),
    events=(
        EventSpec(
            "antiviral",
            "1",
            "antiviral",
            "rate",
            description="efficacy of a production-blocking antiviral from this time on",
        ),
    ),
    twin_defaults=TwinDefaults(
        free=("beta", "delta", "p", "c", "V0"),
        alerts=(AlertRule("log10_titre", high=6.0, within=3.0, reference=f"{_MT}; {_B06}"),),
    ),
    model="medtwin.models.infection.baccam2006:Baccam2006",
)


# ---- Smith 2011 composed with Reynolds 2006 (pneumonia_sepsis.py) -------------------------

# The coupling (medtwin assumption; no published source gives its form or numbers): pneumococci
# reach the systemic compartment of Reynolds 2006 once the lung titre exceeds P_dis, at k_dis
# per hour of the excess. 10^6 CFU/mL is the titre at which the pneumonia twin already alerts
# (the sustained-growth course of Smith 2011; courses the lung clears peak near 7 x 10^6
# CFU/mL and seed the blood for a few hours only). At k_dis = 1e-3/h a lung at its carrying
# capacity (3.4 x 10^8 CFU/mL) seeds 0.34 x 10^6 cells/cc per hour, about a fifth of Reynolds'
# maximal local kill (k_pm s_m / mu_m = 1.5/h per unit P), enough to exhaust the local response
# within days. A CFU counts as one cell and a cc is a mL, so the scale is 1e-6.
_DISSEMINATION = Excess(
    rate=ParameterSpec(
        "k_dis",
        "1/h",
        1.0e-3,
        (1.0e-5, 1.0e-1),
        prior=LogNormal(1.0e-3, 1.0),
        description="fraction per hour of the lung titre above P_dis that reaches the blood",
        reference=f"{_MT}: the sustained lung course turns septic within 4 days",
    ),
    threshold=ParameterSpec(
        "P_dis",
        "CFU/mL",
        1.0e6,
        (1.0e4, 1.0e8),
        description="lung titre above which pneumococci disseminate",
        reference=f"{_MT}: the pneumonia twin's alert titre (10^6 CFU/mL)",
    ),
    unit_in="CFU/mL",
    unit_out="1e6 cells/cc/h",
    scale=1.0e-6,
)

PNEUMONIA_SEPSIS_WIRING = Composition(
    name="pneumonia-sepsis",
    parts=(("lung", SMITH2011), ("sys", REYNOLDS2006)),
    links=(Link("lung.P", "sys.P", _DISSEMINATION, name="link"),),
    title="Pneumococcal pneumonia seeding the systemic inflammatory response "
    "(Smith 2011 composed with Reynolds 2006)",
    reference=f"{SMITH2011.reference}; {REYNOLDS2006.reference}; coupling: {_MT}",
    shared=("antibiotic",),
    defaults={"sys.P0": (0.0, "the infection starts in the lung; the blood is sterile at t = 0")},
    twin_defaults=TwinDefaults(
        free=("lung.P0", "lung.r", "link.k_dis"),
        alerts=(
            AlertRule("lung.log10_pathogen", high=6.0, within=48.0, reference=f"{_MT}; {_S11}"),
            AlertRule("sys.wbc", 4.0, 12.0, 12.0, "Bone et al., Chest 101:1644 (1992)"),
        ),
        # A schedule succeeds when the course returns to health and the expected SOFA stays
        # below 2 throughout: a rise of 2 points is the organ dysfunction that defines sepsis
        # (Singer M et al., JAMA 315:801-810, 2016; Sepsis-3), from a baseline of 0. Ten days:
        # a 72-h course and its aftermath (a lung left uncleared regrows within days).
        decision=DecisionSpec(
            antibiotic="antibiotic",
            anti_inflammatory="sys.anti_inflammatory",
            outcome="medtwin.models.infection.pneumonia_sepsis:outcome_class",
            outcomes=("health", "aseptic death", "septic death"),
            score="sys.sofa",
            threshold=2.0,
            horizon=240.0,
            reference="Singer et al., JAMA 315:801 (2016): SOFA rise >= 2 (Sepsis-3)",
        ),
    ),
    model="medtwin.models.infection.pneumonia_sepsis:PneumoniaSepsis",
)
PNEUMONIA_SEPSIS = PNEUMONIA_SEPSIS_WIRING.declaration
