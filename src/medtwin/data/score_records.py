"""The clinical scores of a patient's stored records: the latest value of each score input
(:data:`medtwin.analysis.score_inputs.SCORE_INPUTS`) at a time, and the SOFA score of them.

Each input is the latest record of its code (or its other codes, :func:`medtwin.data.loinc.
score_input_of`) within ``window`` before ``at``. PaO2/FiO2 is the recorded Horowitz index
(50984-4) when there is one, else PaO2 / FiO2 of the latest of each; the patient counts as
ventilated when a PEEP setting (20077-4) lies in the window; a vasopressor's rate holds until its
next record (0 stops it). Records are in their canonical units already (converted at ingestion).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from ..analysis.score_inputs import SCORE_INPUTS, VASOPRESSORS
from ..analysis.scores import SOFA, sofa
from ..errors import DataError
from .loinc import LOINC
from .records import ObservationRecord

__all__ = ["latest_score_inputs", "sofa_at"]

DAY = timedelta(hours=24)


def latest_score_inputs(
    records: Iterable[ObservationRecord], at: datetime, *, window: timedelta = DAY
) -> dict[str, float]:
    """The latest value of each score input recorded in ``(at - window, at]``: keys of
    ``SCORE_INPUTS`` (``pf_ratio`` derived from PaO2 and FiO2 when not recorded) and the
    vasopressors by name (their latest rate at any time before ``at``)."""
    latest: dict[str, tuple[datetime, float]] = {}
    for r in records:
        if r.time > at:
            continue
        row = LOINC.get(r.code)
        code = row.canonical_code if row is not None else r.code
        name = _input_of(code)
        if name is None or (name not in VASOPRESSORS and r.time <= at - window):
            continue
        if name not in latest or r.time >= latest[name][0]:
            latest[name] = (r.time, float(r.value))
    out = {k: v for k, (_, v) in latest.items()}
    if "pf_ratio" not in out and "pao2" in out and "fio2" in out:
        out["pf_ratio"] = out["pao2"] / out["fio2"]
    return out


def _input_of(code: str) -> str | None:
    if code in VASOPRESSORS:
        return code
    return next((s.name for s in SCORE_INPUTS.values() if s.loinc == code), None)


def sofa_at(records: Iterable[ObservationRecord], at: datetime, *, window: timedelta = DAY) -> SOFA:
    """The SOFA score (:func:`medtwin.analysis.sofa`) of the latest inputs at ``at``;
    :class:`DataError` naming the inputs the window lacks."""
    x = latest_score_inputs(records, at, window=window)
    needed = ("pf_ratio", "platelets", "bilirubin", "map", "gcs", "creatinine")
    missing = [n for n in needed if n not in x]
    if missing:
        raise DataError(
            f"The SOFA score at {at.isoformat()} needs {', '.join(missing)} recorded within "
            f"{window} before it (PaO2/FiO2 or PaO2 and FiO2). Record them, or widen the window."
        )
    return sofa(
        pf_ratio=x["pf_ratio"], ventilated="peep" in x, platelets=x["platelets"],
        bilirubin=x["bilirubin"], map_mmhg=x["map"], gcs=x["gcs"],
        creatinine=x["creatinine"], urine_output=x.get("urine_output"),
        vasopressors={d: x[d] for d in VASOPRESSORS if d in x},
    )  # fmt: skip
