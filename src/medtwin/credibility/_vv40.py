"""The vocabulary of ASME V&V 40-2018 as data: the credibility factors, the risk matrix and the
goal a factor must reach at a given model risk.

References: ASME V&V 40-2018, "Assessing Credibility of Computational Modeling through
Verification and Validation: Application to Medical Devices", section 5 (model risk from model
influence and decision consequence, Fig. 5: a 3 x 3 matrix of five risk levels) and section 6
(the credibility factors, Table 1); FDA guidance "Assessing the Credibility of Computational
Modeling and Simulation in Medical Device Submissions" (November 2023), which adopts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CredibilityError

__all__ = [
    "FACTORS",
    "LEVELS",
    "RIGOR",
    "Factor",
    "factor",
    "goal_for_risk",
    "model_risk",
]

LEVELS = ("low", "medium", "high")  # model influence and decision consequence
RIGOR = ("low", "medium", "high")  # how much a factor's evidence must show


@dataclass(frozen=True)
class Factor:
    """A V&V 40 credibility factor: its key, the activity it belongs to and what it asks."""

    key: str
    title: str
    activity: str  # verification, validation or applicability
    asks: str


FACTORS: tuple[Factor, ...] = (
    Factor("code_verification", "Code verification", "verification",
           "Is the software implementation of the equations correct (against an independent "
           "implementation, an analytic solution or a published result)?"),
    Factor("calculation_verification", "Calculation verification", "verification",
           "Is the numerical error of the runs that answer the question small (discretisation, "
           "solver tolerance, convergence order)?"),
    Factor("model_form", "Model form", "validation",
           "Do the model's equations and assumptions capture the physiology the question needs?"),
    Factor("model_inputs", "Model inputs", "validation",
           "Are the parameters, initial and boundary conditions known well enough (uncertainty, "
           "sensitivity, identifiability)?"),
    Factor("test_samples", "Test samples", "validation",
           "Are the comparators (patients, phantoms, published cases) enough and varied enough?"),
    Factor("test_conditions", "Test conditions", "validation",
           "Do the conditions of the comparison (meals, doses, loads, durations) span those of "
           "the context of use?"),
    Factor("equivalence_of_inputs", "Equivalence of inputs", "validation",
           "Were the model's inputs in the comparison the comparator's inputs?"),
    Factor("output_comparison", "Output comparison", "validation",
           "How closely, by which metric and with what acceptance, do outputs match?"),
    Factor("relevance", "Relevance to the context of use", "applicability",
           "Do the validated quantities and conditions cover the question asked?"),
)  # fmt: skip

_BY_KEY = {f.key: f for f in FACTORS}


def factor(key: str) -> Factor:
    """The factor ``key`` (e.g. ``"code_verification"``); a clear error for any other name."""
    try:
        return _BY_KEY[key]
    except KeyError:
        known = ", ".join(_BY_KEY)
        raise CredibilityError(
            f"{key!r} is not a V&V 40 credibility factor. Expected one of: {known}."
        ) from None


def _level(value: str, what: str) -> int:
    if value not in LEVELS:
        raise CredibilityError(f"The {what} must be one of {', '.join(LEVELS)}. Got {value!r:.60}.")
    return LEVELS.index(value)


def model_risk(influence: str, consequence: str) -> int:
    """The model risk (1..5) of V&V 40 Fig. 5: one level up for each step of model influence
    and of decision consequence above low (low/low = 1, high/high = 5)."""
    return 1 + _level(influence, "model influence") + _level(consequence, "decision consequence")


def goal_for_risk(risk: int) -> str:
    """The rigor every factor must reach at model ``risk`` (V&V 40 section 5.4: the credibility
    goal rises with the risk): risk 1-2 low, 3 medium, 4-5 high."""
    if not 1 <= risk <= 5:
        raise CredibilityError(f"A model risk is 1..5. Got {risk!r}.")
    return RIGOR[0] if risk <= 2 else RIGOR[1] if risk == 3 else RIGOR[2]
