"""De-identified export for researchers (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)).

What leaves: per patient a study id (``S0001``, ... assigned in random order, so neither the
pseudonym nor the order of arrival survives), gender, age in whole years (``"90+"`` above 89,
with the birth date withheld), and the observations (LOINC code, value, unit, censoring) and
regimen events (kind, amount) with their times. Names, MRNs, pseudonyms, source ids and free
text (recommendations) never leave.

Dates, two modes:

* ``shift`` (default): every date of a patient moves by the same random number of days
  (1-365, either direction; a new draw per patient and per export, never stored), so intervals
  and times of day stay exact but no real date is disclosed;
* ``year``: every date is reduced to its year; times become hours since the patient's first
  record.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import StoreError
from ._crypto import FieldCipher
from ._schema import EventRow, ObservationRow, PatientRow

__all__ = ["DATE_MODES", "age_years", "export"]

DATE_MODES = ("shift", "year")
MAX_AGE = 89  # ages above this are reported as "90+"


def age_years(birth: date, on: date) -> int:
    """Completed years of age on ``on``."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def export(
    session: Session,
    cipher: FieldCipher,
    *,
    dates: str = "shift",
    seed: int | None = None,
    as_of: date | None = None,
) -> dict[str, Any]:
    """The de-identified data set (a JSON-ready dict). ``seed`` fixes the study-id order and
    the date shifts (for tests; by default they come from the operating system's RNG);
    ``as_of`` is the date ages are computed on (default: today, UTC)."""
    if dates not in DATE_MODES:
        raise StoreError(f"dates must be one of {', '.join(DATE_MODES)}. Got {dates!r}.")
    rng: random.Random = random.SystemRandom() if seed is None else random.Random(seed)
    on = as_of or datetime.now(UTC).date()
    rows = list(session.execute(select(PatientRow).order_by(PatientRow.pid)).scalars())
    rng.shuffle(rows)
    patients = []
    for i, p in enumerate(rows, start=1):
        shift = timedelta(days=rng.randint(1, 365) * rng.choice((-1, 1)))
        text = cipher.decrypt(p.birth_date, aad=f"patients.birth_date:{p.pid}")
        birth = date.fromisoformat(text) if text else None
        obs = list(
            session.execute(
                select(ObservationRow)
                .where(ObservationRow.pid == p.pid)
                .order_by(ObservationRow.time, ObservationRow.id)
            ).scalars()
        )
        evs = list(
            session.execute(
                select(EventRow).where(EventRow.pid == p.pid).order_by(EventRow.time, EventRow.id)
            ).scalars()
        )
        first = min([r.time for r in obs] + [r.time for r in evs], default=None)

        def when(t: datetime, shift: timedelta = shift, first: datetime | None = first) -> dict:
            if dates == "shift":
                return {"time": (t + shift).isoformat()}
            return {"year": t.year, "hours": (t - first).total_seconds() / 3600.0}

        rec: dict[str, Any] = {"study_id": f"S{i:04d}", "gender": p.gender}
        age = age_years(birth, on) if birth is not None else None
        if age is not None and age > MAX_AGE:
            rec["age"] = "90+"
        else:
            rec["age"] = age
            if birth is not None:
                if dates == "shift":
                    rec["birth_date"] = (birth + shift).isoformat()
                else:
                    rec["birth_year"] = birth.year
        rec["observations"] = [
            {
                "code": r.code,
                **when(r.time),
                "value": r.value,
                "unit": r.unit,
                "censored": r.censored,
            }
            for r in obs
        ]
        rec["events"] = [{"kind": r.kind, **when(r.time), "amount": r.amount} for r in evs]
        patients.append(rec)
    return {
        "format": "medtwin-deidentified/1",
        "method": "HIPAA Safe Harbor (45 CFR 164.514(b)(2))",
        "dates": "shifted per patient" if dates == "shift" else "year only",
        "export_year": on.year,
        "patients": patients,
    }
