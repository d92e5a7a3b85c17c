"""The declaration of the Reynolds 2006 inflammation model
(:class:`~medtwin.models.Declaration`): parameters with units, bounds, priors and references,
states, observables, events and twin defaults. Read without loading JAX; the equations are in
``reynolds2006.py``."""

from __future__ import annotations

from .._noise import GaussianNoise
from .._ordinal import OrdinalNoise
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

__all__ = ["REYNOLDS2006", "SOFA_LINK"]

# ---- Reynolds2006 (reynolds2006.py) ----------------------------------------

_R06 = "Reynolds et al. 2006, J Theor Biol 242:220, Table 1; BIOMD0000000714"
_MT = "medtwin assumption (not in Reynolds et al. 2006)"


def _P(name: str, unit: str, default: float, description: str, *, ref: str = _R06,
       bounds: tuple[float, float] | None = None,
       prior: Prior | None = None) -> ParameterSpec:  # fmt: skip
    # Bounds: a factor of 4 either side of the published value unless given.
    lo, hi = bounds if bounds is not None else (default / 4.0, default * 4.0)
    return ParameterSpec(name, unit, default, (lo, hi), prior=prior, description=description,
                         reference=ref)  # fmt: skip


_PARAMETERS = (
    # Priors of the sepsis twin (medtwin assumption, not in the paper): an infection whose
    # growth rate and initial load are unknown to within a factor of about 2.
    _P(
        "k_pg",
        "1/h",
        0.3,
        "pathogen growth rate (Fig. 2c uses 0.6 for septic death)",
        prior=LogNormal(0.4, 0.3),
    ),
    _P("p_inf", "1e6 cells/cc", 20.0, "pathogen carrying capacity"),
    _P("k_pm", "1/(a.u. h)", 0.6, "pathogen kill rate by the non-specific local response"),
    _P("s_m", "a.u./h", 0.005, "source of the non-specific local response"),
    _P("mu_m", "1/h", 0.002, "decay of the non-specific local response"),
    _P("k_mp", "1/(1e6 cells/cc h)", 0.01, "exhaustion of the local response by pathogen"),
    _P("k_pn", "1/(a.u. h)", 1.8, "pathogen kill rate by activated phagocytes N*"),
    _P("k_np", "1/(1e6 cells/cc h)", 0.1, "N* activation by pathogen"),
    _P("k_nn", "1/(a.u. h)", 0.01, "N* activation by N* (cytokine positive feedback)"),
    _P("s_nr", "a.u./h", 0.08, "maximal recruitment of activated phagocytes"),
    _P("mu_nr", "1/h", 0.12, "half-saturation of N* recruitment (in units of R)"),
    _P("mu_n", "1/h", 0.05, "decay rate of activated phagocytes"),
    _P("k_nd", "1/(a.u. h)", 0.02, "N* activation by tissue damage"),
    _P("k_dn", "a.u./h", 0.35, "maximal rate of damage caused by N*"),
    _P("x_dn", "a.u.", 0.06, "N* level of half-maximal damage (Hill exponent 6)"),
    _P("mu_d", "1/h", 0.02, "decay (repair) rate of damage"),
    _P("c_inf", "a.u.", 0.28, "C_A level that halves pro-inflammatory signals"),
    _P("s_c", "a.u./h", 0.0125, "constant source of C_A (resting C_A = s_c/mu_c)"),
    _P("k_cn", "a.u./h", 0.04, "maximal C_A production driven by N* and damage"),
    _P("k_cnd", "1", 48.0, "relative weight of damage vs N* in driving C_A"),
    _P("mu_c", "1/h", 0.1, "decay rate of C_A"),
    _P(
        "P0",
        "1e6 cells/cc",
        1.0,
        "initial pathogen load P(0), varied in the paper",
        bounds=(0.0, 20.0),
        ref="Reynolds et al. 2006 (P(0) = 1 baseline; 1.5 in Fig. 2b)",
        prior=LogNormal(1.0, 0.5),
    ),
    _P(
        "wbc0",
        "10*3/uL",
        7.0,
        "white cell count at rest (N* = 0)",
        bounds=(3.0, 12.0),
        ref=f"{_MT}: normal adult WBC 4.5-11 x10^3/uL",
    ),
    _P(
        "wbc_per_N",
        "10*3/uL per a.u.",
        10.0,
        "WBC rise per unit of N* (assumed scale)",
        bounds=(1.0, 50.0),
        ref=f"{_MT}: N* of 0.5-2 a.u. maps to 12-27 x10^3/uL",
    ),
    # The ordinal link D -> SOFA total (SOFA_LINK below), a medtwin assumption.
    _P(
        "sofa_c1",
        "a.u.",
        1.0,
        "damage D at which SOFA >= 1 becomes more likely than not (first cut point)",
        bounds=(0.1, 5.0),
        ref=f"{_MT}: D < 1 (recovering courses peak below 0.1) reads SOFA 0",
        prior=LogNormal(1.0, 0.3),
    ),
    _P(
        "sofa_gap",
        "a.u.",
        1.1,
        "damage per SOFA point between consecutive cut points (equally spaced)",
        bounds=(0.3, 3.0),
        ref=f"{_MT}: the death equilibria D = 17.4-17.5 read an expected SOFA of 15.5",
        prior=LogNormal(1.1, 0.2),
    ),
    _P(
        "sofa_s",
        "a.u.",
        0.5,
        "logistic scale of the D -> SOFA link (how sharply a score follows D)",
        bounds=(0.05, 3.0),
        ref=f"{_MT}: mid-interval, the most likely score is read half the time",
        prior=LogNormal(0.5, 0.3),
    ),
)
del _P

# The SOFA total (0-24 points; Vincent JL et al., Intensive Care Med 22:707-710, 1996) read off
# the damage D by a cumulative-logit link -- a medtwin assumption, NOT part of Reynolds et al.
# 2006, whose D is in arbitrary units. Cut points c_k = sofa_c1 + (k - 1) sofa_gap: a resting
# D = 0 reads SOFA 0, and the paper's septic- and aseptic-death equilibria (D = 17.5 and 17.4)
# read an expected SOFA of about 15.5 -- above 11, where an admission SOFA carries a mortality
# of 95 % (Ferreira FL et al., JAMA 286:1754-1758, 2001). All three are parameters, learnable.
SOFA_LINK = OrdinalNoise(cuts=("sofa_c1", "sofa_gap"), scale="sofa_s", levels=25)


REYNOLDS2006 = Declaration(
    name="reynolds2006",
    aliases=("sepsis",),
    title="Reduced acute inflammatory response to infection (Reynolds 2006)",
    reference=("Reynolds A et al. J Theor Biol 242:220-236 (2006); BioModels BIOMD0000000714"),
    time_unit="h",
    states=(
        StateSpec("P", "1e6 cells/cc", "pathogen"),
        StateSpec("N", "a.u.", "activated phagocytes N* and their cytokines (N*-units)"),
        StateSpec("D", "a.u.", "tissue damage (D-units)"),
        StateSpec("CA", "a.u.", "anti-inflammatory mediators C_A (C_A-units)"),
    ),
    parameters=_PARAMETERS,
    inputs=(
        InputSpec("antibiotic", "1/h", "extra first-order pathogen kill rate (extension)"),
        InputSpec("anti_inflammatory", "a.u./h", "administered C_A, added to dCA/dt"),
    ),
    observables=(
        ObservableSpec(
            "wbc",
            "10*3/uL",
            "6690-2",
            "white cell count, wbc0 + wbc_per_N * N* (proportionality with an assumed scale)",
            GaussianNoise(0.2, 0.05),
        ),
        ObservableSpec(
            "damage",
            "a.u.",
            None,
            "tissue damage D; stands for an organ-dysfunction score such as SOFA (no LOINC)",
            GaussianNoise(0.02, 0.1),
        ),
        ObservableSpec(
            "pathogen", "1e6 cells/cc", None, "pathogen load P", GaussianNoise(0.01, 0.3)
        ),
        ObservableSpec(
            "anti_inflammatory",
            "a.u.",
            None,
            "anti-inflammatory mediators C_A",
            GaussianNoise(0.005, 0.15),
        ),
        ObservableSpec(
            "sofa",
            "{score}",
            "96790-1",  # LOINC SOFA Total Score: a recorded total feeds the twin
            "SOFA total score (0-24) read off the damage D by an ordinal link (SOFA_LINK, a "
            "medtwin assumption, not Reynolds'); the value before noise is D itself",
            SOFA_LINK,
        ),
    ),
    # The events of an ICU record: rates per hour from the event's time on.
    events=(
        EventSpec("antibiotic", "1/h", "antibiotic", "rate", description="extra kill rate"),
        EventSpec(
            "anti_inflammatory", "a.u./h", "anti_inflammatory", "rate", description="C_A infusion"
        ),
    ),
    # White cells outside 4-12 x10^3/uL are a SIRS criterion (Bone RC et al., Chest
    # 101:1644-1655, 1992); looked at over the next 12 hours.
    # Schedules are ranked by P(return to health) 500 h on, the paper's outcome, unless a
    # caller asks for the SOFA read-out too (no default threshold: the published ranking).
    twin_defaults=TwinDefaults(
        alerts=(AlertRule("wbc", 4.0, 12.0, 12.0, "Bone et al., Chest 101:1644 (1992)"),),
        decision=DecisionSpec(
            antibiotic="antibiotic",
            anti_inflammatory="anti_inflammatory",
            outcome="medtwin.models.inflammation.reynolds2006:outcome_class",
            outcomes=("health", "aseptic death", "septic death"),
            score="sofa",
            horizon=500.0,
            reference="Reynolds et al. 2006 (outcomes)",
        ),
    ),
    model="medtwin.models.inflammation.reynolds2006:Reynolds2006",
    evidence="medtwin.credibility.evidence.reynolds2006:EVIDENCE",
)
