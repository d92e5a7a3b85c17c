"""De-identified export for researchers, and the rate at which a recipient may take one.

What leaves: per patient a study id, gender, an age, and the observations (LOINC code, value,
unit, censoring) and regimen events (kind, amount) with their times. Names, MRNs, pseudonyms,
source ids and free text (recommendations) never leave. The document names its recipient.

Dates, two modes:

* ``year`` (default; HIPAA Safe Harbor, 45 CFR 164.514(b)(2)(i)(C)): no date element finer than
  the year. A patient has a birth year and the year of their first record; every time is hours
  since that first record (a year per record would date the record that crosses New Year).
* ``shift``: every date of a patient moves by the same number of days (1-365, either direction),
  so intervals and times of day stay exact. The shift is drawn once per patient *and recipient*
  (OS RNG) and stored (``deid_shifts``); every later export for that recipient reuses it, so
  repeated exports reveal nothing new and cannot be averaged. Full (shifted) dates are kept:
  this is *not* Safe Harbor -- use it under a data use agreement or an expert determination.
  It needs a recipient.

Ages are the export year minus the birth year shown (the true one, or the shifted one), so an
age never changes on a (true) birthday and exports taken day after day cannot date it. Above 89
the age is ``"90+"`` and the birth year or date is withheld.

Study ids (``S`` + 12 hex digits) are random. For a named recipient they are drawn once per
patient and stored beside the shift, so a recipient follows a patient from one export to the
next (the data would link them anyway) while two recipients' ids never match; an export
without a recipient draws new ones each time. Patients are listed by study id, so the order
reveals neither the pseudonym nor the order of arrival.

The rate limit counts a recipient's successful ``export.deidentified`` audit entries in the last
hour (:func:`recent_exports`, one bounded indexed query), so it holds across service workers
and restarts.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import StoreError
from ._crypto import FieldCipher
from ._schema import AuditRow, DeidShiftRow, EventRow, ObservationRow, PatientRow

__all__ = [
    "DATE_MODES",
    "EXPORT_LIMIT_PER_HOUR",
    "ExportLimitReached",
    "check_rate",
    "export",
    "recent_exports",
]

DATE_MODES = ("year", "shift")
EXPORT_LIMIT_PER_HOUR = 6  # de-identified exports per recipient per rolling hour (the service)
MAX_AGE = 89  # ages above this are reported as "90+"
MAX_SHIFT_DAYS = 365
WINDOW = timedelta(hours=1)
SAFE_HARBOR = "HIPAA Safe Harbor (45 CFR 164.514(b)(2))"
SHIFTED = (
    "dates shifted per patient and recipient (not Safe Harbor: full dates are kept, shifted; "
    "use under a data use agreement / expert determination)"
)


class ExportLimitReached(StoreError):
    """A recipient asked for more exports in an hour than allowed; ``retry_after_s`` says when
    the next one will be."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _now() -> datetime:
    return datetime.now(UTC)


def recent_exports(session: Session, actor: str, limit: int) -> list[datetime]:
    """Times of ``actor``'s last ``limit`` (at most) successful de-identified exports within the
    last hour, newest first."""
    q = (
        select(AuditRow.time)
        .where(AuditRow.actor == actor, AuditRow.action == "export.deidentified")
        .where(AuditRow.outcome == "success", AuditRow.time > _now() - WINDOW)
        .order_by(AuditRow.time.desc())
        .limit(limit)
    )
    return list(session.execute(q).scalars())


def check_rate(session: Session, actor: str, limit: int, *, including: int = 0) -> None:
    """Raise :class:`ExportLimitReached` if ``actor`` has more than ``limit - 1 + including``
    exports in the last hour (``including=1`` once this export's own entry is written)."""
    if limit < 1:
        raise StoreError(f"The export limit must be at least 1 per hour. Got {limit}.")
    times = recent_exports(session, actor, limit + including)
    if len(times) < limit + including:
        return
    # The next export is allowed once the limit-th newest (other) export leaves the window.
    wait = (times[-1] + WINDOW - _now()).total_seconds()
    retry = max(1, math.ceil(wait))
    raise ExportLimitReached(
        f"At most {limit} de-identified exports per hour per recipient; {actor!r} has had "
        f"{limit} in the last hour. Try again in {retry} s.",
        retry,
    )


def _draw(rng: random.Random, taken: set[str]) -> tuple[int, str]:
    days = rng.randint(1, MAX_SHIFT_DAYS) * rng.choice((-1, 1))
    study = f"S{rng.getrandbits(48):012X}"
    while study in taken:
        study = f"S{rng.getrandbits(48):012X}"
    taken.add(study)
    return days, study


def _keys(
    session: Session, pids: list[str], recipient: str | None, rng: random.Random
) -> dict[str, tuple[int, str]]:
    """pid -> (shift in days, study id): the recipient's stored ones, new ones drawn and stored
    for patients they have not had yet; drawn afresh (not stored) without a recipient."""
    if recipient is None:
        taken: set[str] = set()
        return {pid: _draw(rng, taken) for pid in pids}
    rows = session.execute(select(DeidShiftRow).where(DeidShiftRow.researcher == recipient))
    out = {r.pid: (r.days, r.study_id) for r in rows.scalars()}
    taken = {study for _, study in out.values()}
    now = _now()
    for pid in pids:
        if pid not in out:
            days, study = out[pid] = _draw(rng, taken)
            session.add(DeidShiftRow(researcher=recipient, pid=pid, days=days,
                                     study_id=study, created_at=now))  # fmt: skip
    session.flush()
    return out


def _records(session: Session, pid: str) -> tuple[list[ObservationRow], list[EventRow]]:
    obs = session.execute(
        select(ObservationRow)
        .where(ObservationRow.pid == pid)
        .order_by(ObservationRow.time, ObservationRow.id)
    )
    evs = session.execute(
        select(EventRow).where(EventRow.pid == pid).order_by(EventRow.time, EventRow.id)
    )
    return list(obs.scalars()), list(evs.scalars())


def export(
    session: Session,
    cipher: FieldCipher,
    *,
    recipient: str | None = None,
    dates: str = "year",
    seed: int | None = None,
    as_of: date | None = None,
) -> dict[str, Any]:
    """The de-identified data set (a JSON-ready dict) for ``recipient`` (required for
    ``dates="shift"``). ``seed`` fixes the draws of new shifts and study ids (for tests; by
    default they come from the operating system's RNG); ``as_of`` is the date whose year ages
    are computed for (default: today, UTC)."""
    if dates not in DATE_MODES:
        raise StoreError(f"dates must be one of {', '.join(DATE_MODES)}. Got {dates!r}.")
    if recipient is not None and not 0 < len(recipient) <= 128:
        raise StoreError(f"The recipient must be a name of 1-128 characters. Got {recipient!r}.")
    if dates == "shift" and recipient is None:
        raise StoreError(
            "A date-shifted export keeps one shift per patient per recipient, so it needs the "
            "recipient's name (the researcher's user name; in the CLI --recipient NAME). Or "
            "export with dates='year'."
        )
    rng: random.Random = random.SystemRandom() if seed is None else random.Random(seed)
    year = (as_of or _now().date()).year
    rows = list(session.execute(select(PatientRow).order_by(PatientRow.pid)).scalars())
    keys = _keys(session, [p.pid for p in rows], recipient, rng)
    patients = []
    for p in rows:
        days, study = keys[p.pid]
        shift = timedelta(days=days)
        text = cipher.decrypt(p.birth_date, aad=f"patients.birth_date:{p.pid}")
        birth = date.fromisoformat(text) if text else None
        obs, evs = _records(session, p.pid)
        first = min([r.time for r in obs] + [r.time for r in evs], default=None)
        rec: dict[str, Any] = {"study_id": study, "gender": p.gender}
        when: Callable[[datetime], dict[str, Any]]
        if dates == "shift":
            shown = birth + shift if birth is not None else None
            rec.update(_age(year, shown, "birth_date", shown.isoformat() if shown else None))

            def shifted(t: datetime, shift: timedelta = shift) -> dict[str, Any]:
                return {"time": (t + shift).isoformat()}

            when = shifted
        else:
            rec.update(_age(year, birth, "birth_year", birth.year if birth else None))
            rec["first_year"] = first.year if first is not None else None

            def hours(t: datetime, first: datetime | None = first) -> dict[str, Any]:
                return {"hours": (t - (first or t)).total_seconds() / 3600.0}

            when = hours

        rec["observations"] = [
            {"code": r.code, **when(r.time), "value": r.value, "unit": r.unit,
             "censored": r.censored}
            for r in obs
        ]  # fmt: skip
        rec["events"] = [{"kind": r.kind, **when(r.time), "amount": r.amount} for r in evs]
        patients.append(rec)
    patients.sort(key=lambda r: r["study_id"])
    return {
        "format": "medtwin-deidentified/2",
        "method": SAFE_HARBOR if dates == "year" else SHIFTED,
        "dates": "year only" if dates == "year" else "shifted per patient and recipient",
        "recipient": recipient,
        "export_year": year,
        "patients": patients,
    }


def _age(year: int, birth: date | None, field: str, value: Any) -> dict[str, Any]:
    """``age`` (export year minus birth year) and the birth field, or ``"90+"`` and no birth
    field above 89."""
    if birth is None:
        return {"age": None}
    age = year - birth.year
    return {"age": "90+"} if age > MAX_AGE else {"age": age, field: value}
