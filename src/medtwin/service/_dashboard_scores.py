"""The patient page's organ-score panel: the SOFA score (Vincent 1996) with its six components
at each time the patient's ICU chart changed, Sepsis-3 sepsis and septic shock (Singer 2016),
and -- where the twin's model declares an ordinal SOFA observable -- the twin's predicted SOFA.

Everything is computed from the stored records, as ingested (canonical units, at ingestion):
:func:`medtwin.data.score_records.sofa_at` takes the latest value of each input within 24 h
before a time, :mod:`medtwin.analysis.scores` the points. A time whose window lacks an input is
listed with what it lacks, not scored. Sepsis-3 is a rise of 2 points or more from a baseline of
0 (no prior organ dysfunction known) with a suspected infection, which the panel takes from the
twin: a model that declares an antibiotic decision (``DecisionSpec.antibiotic``) is a model of
an infection. Septic shock: sepsis, a vasopressor running and a lactate above 2 mmol/L (None
while no lactate lies in the window). The predicted SOFA is the latest stored forecast of the
observable whose noise is an :class:`~medtwin.models.OrdinalNoise` of 25 grades (SOFA 0-24):
median and bands of score draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..analysis.score_inputs import SCORE_INPUTS, VASOPRESSORS
from ..analysis.scores import sepsis3, septic_shock
from ..data.loinc import score_input_of
from ..data.records import ObservationRecord
from ..data.score_records import latest_score_inputs, sofa_at
from ..errors import DataError
from ..models import Declaration, ObservableSpec, OrdinalNoise
from ._dashboard_display import human_unit
from ._views import _iso

__all__ = ["MAX_TIMES", "SOFA_PARTS", "infection_of", "organ_scores", "sofa_observable"]

SOFA_PARTS = ("respiration", "coagulation", "liver", "cardiovascular", "cns", "renal")
SOFA_LEVELS = 25  # a SOFA total is 0..24
MAX_TIMES = 96  # the panel scores at most the latest 96 chart times
REFERENCES = (
    "Vincent JL et al., Intensive Care Med 22:707 (1996), Table 1 (SOFA); "
    "Singer M et al., JAMA 315:801 (2016) (Sepsis-3, septic shock)"
)
# the inputs the panel lists, in its order, as a bedside chart names them
_SHOWN = {"pf_ratio": "PaO2/FiO2", "platelets": "platelets", "bilirubin": "bilirubin",
          "map": "MAP", "gcs": "GCS", "creatinine": "creatinine",
          "urine_output": "urine output", "lactate": "lactate"}  # fmt: skip


def sofa_observable(decl: Declaration | None) -> ObservableSpec | None:
    """The observable of ``decl`` that reads a SOFA total through an ordinal link (an
    :class:`OrdinalNoise` of 25 grades), or None."""
    for spec in decl.observables if decl is not None else ():
        if isinstance(spec.noise, OrdinalNoise) and spec.noise.levels == SOFA_LEVELS:
            return spec
    return None


def infection_of(decl: Declaration | None) -> bool:
    """Whether ``decl`` models an infection: it declares an antibiotic decision."""
    decision = decl.twin_defaults.decision if decl is not None else None
    return decision is not None and bool(decision.antibiotic)


def _records(obs: Sequence[Any], pid: str) -> list[ObservationRecord]:
    """The stored observations that are score inputs, as records."""
    return [ObservationRecord(o.source_id, pid, o.code, o.time, o.value, o.unit, o.censored)
            for o in obs if score_input_of(o.code) is not None]  # fmt: skip


def _inputs(x: dict[str, float]) -> list[dict[str, Any]]:
    rows = []
    for name in (*_SHOWN, *VASOPRESSORS):
        if name in x:
            spec = SCORE_INPUTS["vasopressor" if name in VASOPRESSORS else name]
            label = _SHOWN.get(name, name)
            rows.append({"name": name, "label": label, "value": x[name],
                         "unit": spec.unit, "unit_label": human_unit(spec.unit)})  # fmt: skip
    return rows


def _shock_text(x: dict[str, float], shock: bool | None) -> str:
    running = {d: x[d] for d in VASOPRESSORS if x.get(d, 0.0) > 0.0}
    pressors = ", ".join(f"{d} {v:g} µg/kg/min" for d, v in running.items()) or "no vasopressor"
    lactate = f"lactate {x['lactate']:g} mmol/L" if "lactate" in x else "no lactate in 24 h"
    verdict = {True: "yes", False: "no", None: "unknown"}[shock]
    needs = "it needs sepsis, a vasopressor and lactate > 2"
    return f"Septic shock: {verdict} ({pressors}; {lactate}; {needs})."


def organ_scores(obs: Sequence[Any], pid: str, *, infection: bool) -> dict[str, Any]:
    """The panel's document from ``pid``'s stored observations ``obs`` (any codes; the score
    inputs are picked out): ``times`` with ``total``, the six ``components``, ``sepsis`` and
    ``septic_shock`` per time, ``missing`` (times not scored, and why) and ``latest`` (the
    newest scored time's inputs and a ``template`` sentence with ``{at}`` for its time)."""
    records = _records(obs, pid)
    times = sorted({r.time for r in records})[-MAX_TIMES:]
    doc: dict[str, Any] = {
        "patient": pid, "has_scores": bool(records), "baseline": 0, "infection": infection,
        "references": REFERENCES, "times": [], "total": [],
        "components": {p: [] for p in SOFA_PARTS}, "sepsis": [], "septic_shock": [],
        "missing": [], "latest": None,
    }  # fmt: skip
    last: tuple[datetime, dict[str, float], Any, bool, bool | None] | None = None
    for t in times:
        try:
            s = sofa_at(records, t)
        except DataError as exc:
            doc["missing"].append({"time": _iso(t), "text": str(exc)})
            continue
        x = latest_score_inputs(records, t)
        total = int(s.total)
        sepsis = bool(sepsis3(total, 0, infection=infection))
        doses = {d: x[d] for d in VASOPRESSORS if d in x}
        shock = bool(septic_shock(doses, x["lactate"], sepsis=sepsis)) if "lactate" in x else None
        doc["times"].append(_iso(t))
        doc["total"].append(total)
        for p in SOFA_PARTS:
            doc["components"][p].append(int(getattr(s, p)))
        doc["sepsis"].append(sepsis)
        doc["septic_shock"].append(shock)
        last = (t, x, s, sepsis, shock)
    if last is not None:
        t, x, s, sepsis, shock = last
        parts = ", ".join(f"{p} {int(getattr(s, p))}" for p in SOFA_PARTS)
        if sepsis:
            why = "a rise of 2 points or more from a baseline of 0, with a suspected infection"
        elif int(s.total) >= 2:
            why = "a rise of 2 points or more, but no suspected infection: this twin models none"
        else:
            why = "less than 2 points above a baseline of 0"
        template = (
            f"SOFA {int(s.total)} at {{at}} ({parts}). Sepsis-3: {'yes' if sepsis else 'no'} "
            f"({why}). {_shock_text(x, shock)}"
        )
        doc["latest"] = {
            "time": _iso(t), "total": int(s.total), "sepsis": sepsis, "septic_shock": shock,
            "ventilated": "peep" in x, "inputs": _inputs(x), "template": template,
            "text": template.replace("{at}", f"{_iso(t)[11:16]} UTC"),
        }  # fmt: skip
    return doc
