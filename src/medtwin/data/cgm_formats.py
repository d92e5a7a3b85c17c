"""CGM files as people have them: Dexcom Clarity and LibreView CSV exports, Nightscout
``entries`` JSON, and medtwin's plain CSV -- the format detected from the file and reported.

:func:`read_cgm` reads any of them into a :class:`CgmFile`: glucose in mg/dL, censoring flags,
the insulin and carbohydrates the file carries, times as minutes from the record's first
instant (``origin``, UTC) -- the twin's time axis -- and the wall-clock instants for the store.
:func:`medtwin.data.read_cgm_csv` turns it into ``Observations`` of ``sc_glucose``.

Layouts (written from these published descriptions; the fixtures in ``tests/data/cgm`` are
made up, not patients):

- **plain** -- ``time,glucose_mg_dl``: minutes, a number, empty/NaN for a gap, ``LO``/``HI``.
- **Dexcom Clarity CSV** (``dexcom-clarity``) -- header ``Index, Timestamp
  (YYYY-MM-DDThh:mm:ss), Event Type, Event Subtype, Patient Info, Device Info, Source Device
  ID, Glucose Value (mg/dL), Insulin Value (u), Carb Value (grams), Duration (hh:mm:ss),
  Glucose Rate of Change (mg/dL/min), Transmitter Time (Long Integer), Transmitter ID``
  (``mmol/L`` in the two glucose columns where the account shows mmol/L), first rows of
  patient, device and alert settings, then one row per event: ``EGV`` (a sensor reading,
  ``Low``/``High`` outside 40-400 mg/dL), ``Calibration``, ``Insulin`` (subtype Fast-/
  Long-Acting), ``Carbs``, ``Exercise``, ``Health``, ``Alert``. Source: the example export in
  "What are the differences between patient and provider CGM exports?", University of
  Michigan Depression Center knowledge base (teamdynamix.umich.edu, question 100073, 2025);
  Dexcom CLARITY User Guide (LBL014292).
- **LibreView CSV** (``libreview``) -- a first line of metadata (``Glucose Data,Generated
  on,...``), then ``Device, Serial Number, Device Timestamp, Record Type, Historic Glucose
  mg/dL, Scan Glucose mg/dL, Non-numeric Rapid-Acting Insulin, Rapid-Acting Insulin (units),
  Non-numeric Food, Carbohydrates (grams), Carbohydrates (servings), Non-numeric Long-Acting
  Insulin, Long-Acting Insulin Value (units), Notes, Strip Glucose mg/dL, Ketone mmol/L, ...``
  (``mmol/L`` in the glucose columns outside the US). Record Type 0 = historic glucose (the
  sensor's own 15-minute series), 1 = scan, 2 = strip, 4 = insulin, 5 = food, 6 = notes.
  Device Timestamp is local time, ``MM-DD-YYYY hh:mm AM/PM`` (US) or ``DD-MM-YYYY HH:MM``.
  Source: J. Phelps, "Notes on the Abbott LibreView CSV export format" (GitHub gist
  55caff791669a6130dd61a48771098eb); the LibreView "Download Glucose Data" export.
- **Nightscout entries JSON** (``nightscout``) -- the array ``/api/v1/entries.json`` returns:
  ``{"type": "sgv", "sgv": 118, "date": 1700188357089, "dateString":
  "2023-11-17T03:32:37.089+0100", "direction": "Flat", "device": "..."}``; ``type`` also
  ``mbg`` (meter) and ``cal``. Sources: the Nightscout API (cgm-remote-monitor
  ``lib/server/swagger.yaml``, entries); its ``errorcodes`` plugin (sgv below 39 are Dexcom
  error codes, not glucose).

Rules, each with a test in ``tests/unit/data/test_cgm_formats.py``:

- **Units.** mg/dL or mmol/L as the header names it, converted once through the curated LOINC
  table (:mod:`medtwin.data.units`, x 18.0156 for mmol/L).
- **Time zones.** Clarity and LibreView write local wall-clock time without an offset: give
  ``tz`` (an IANA name, ``--tz`` on the command line); without it they are read as UTC and a
  note says so. A local time repeated when clocks go back is read in file order (the first
  pass, then the second once the times go backwards). Nightscout's ``date`` is UTC; a
  ``dateString`` with an offset is that instant. Everything ends as UTC instants and minutes
  from the first one.
- **Which readings.** Clarity: ``EGV`` rows only (calibrations are fingersticks, alerts and
  settings no readings). LibreView: historic glucose only -- the sensor records it every
  15 min whether or not anyone scans; scans come at times the wearer chooses (more often when
  something feels wrong), so a series mixing them is sampled unevenly and informatively, and
  each scan repeats what the next historic point records. Nightscout: ``sgv`` entries.
- **Low/High.** Censored at the device's range, the value being the limit: Dexcom 40/400 mg/dL,
  Libre 40/500 mg/dL, Nightscout's LOW (sgv 39) at 40; the observation model's LO/HI
  censoring (``medtwin.assimilate``) takes them as bounds, not values.
- **Duplicates and order.** One reading per instant (to the millisecond): the first in file
  order is kept, later ones counted as duplicates (overlapping exports, two uploaders). Rows
  out of time order are sorted (``reordered``). Identical events (time, kind, amount) count once.
- **Gaps** stay gaps: nothing is interpolated; the forecast scores only readings that exist.
- **Sensor warm-up.** A new sensor session starts where the Dexcom transmitter ID changes or
  after a gap of at least :data:`SESSION_GAP` minutes (a sensor change: the devices report
  nothing while a new sensor warms up, Dexcom G6 2 h, G7 30 min, Libre 1 h). Readings in the
  first ``warmup`` minutes of such a session (default :data:`WARMUP`) are dropped and counted:
  the first hours of a sensor are its least accurate. The file's first reading starts no
  session (the sensor may have been running for days); ``warmup=0`` keeps everything.
- **Events.** Clarity ``Insulin`` (Fast-Acting) and LibreView rapid-acting insulin are boluses
  (U), Clarity ``Carbs`` and LibreView carbohydrates (grams) meals (g) -- the kinds of the
  plain events CSV. Long-acting insulin is skipped and counted: the model's ``basal`` is a pump
  rate (U/h), not an injected dose. Nightscout entries carry no events.
- **Plain CSV** rows are taken as written (the filter's ``prepare`` drops gaps and duplicates
  and sorts, with its report): ``read_cgm_csv`` reads it as it did before device files (its
  values through ``medtwin.assimilate.observations``); :func:`read_cgm` reads it for the
  store, where ``start`` gives minute 0 an instant.

A file that is none of these is refused with the formats tried and its first line; a file
with no glucose reading is refused. Nothing is returned half-read.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from ..errors import DataError
from . import _cgm_parsers as p
from .records import EventRecord, ObservationRecord

__all__ = ["CGM_FORMATS", "SESSION_GAP", "WARMUP", "CgmEvent", "CgmFile", "cgm_format",
           "read_cgm"]  # fmt: skip

CGM_FORMATS: Mapping[str, str] = MappingProxyType({
    "plain": "plain CSV (time,glucose_mg_dl)",
    "dexcom-clarity": "Dexcom Clarity CSV export",
    "libreview": "LibreView (FreeStyle Libre) CSV export",
    "nightscout": "Nightscout entries JSON",
})  # fmt: skip
"""The formats :func:`read_cgm` detects: name -> what the command line and the API report."""

SESSION_GAP = 120.0  # min: a gap at least this long may be a sensor change
WARMUP = 60.0  # min: readings dropped at the start of a new sensor session
_LOINC_CGM = "99504-3"  # glucose in interstitial fluid: the CGM's sc_glucose
_Reading = tuple[datetime, float, int, str | None]  # instant, mg/dL, censored, sensor id

_TRIED = (
    "plain CSV (header time,glucose_mg_dl); Dexcom Clarity CSV (header Index,Timestamp "
    "(YYYY-MM-DDThh:mm:ss),Event Type,...,Glucose Value (mg/dL),...); LibreView CSV (a metadata "
    "line, then Device,Serial Number,Device Timestamp,Record Type,Historic Glucose mg/dL,...); "
    'Nightscout entries JSON ([{"type": "sgv", "sgv": ..., "date": ...}, ...])'
)


@dataclass(frozen=True)
class CgmEvent:
    """An insulin bolus (U) or meal (g carbohydrate) of a CGM file: ``time`` in minutes on the
    file's axis, ``stamp`` the wall-clock instant (UTC; None in a plain CSV)."""

    time: float
    kind: str
    amount: float
    stamp: datetime | None = None


@dataclass(frozen=True)
class CgmFile:
    """The readings and events of one CGM file. ``times`` are minutes from ``origin`` (the
    first instant of the file, UTC; None for a plain CSV, whose times are minutes already),
    ``values`` mg/dL (NaN for a gap of a plain CSV; the limit where censored), ``censored``
    -1/0/+1 (LO/none/HI), ``stamps`` the UTC instants (None without an origin). ``skipped``
    counts the rows not taken, by reason; ``notes`` say how the file was read."""

    format: str
    name: str
    times: np.ndarray
    values: np.ndarray
    censored: np.ndarray
    events: tuple[CgmEvent, ...]
    origin: datetime | None
    stamps: tuple[datetime, ...] | None
    skipped: Mapping[str, int]
    reordered: bool
    notes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.times)

    @property
    def label(self) -> str:
        """What the format is called when reported (``Dexcom Clarity CSV export``)."""
        return CGM_FORMATS[self.format]

    def summary(self) -> str:
        """One line for the command line: the format, what was taken and skipped, the notes."""
        n_cens = int(np.count_nonzero(self.censored))
        span = ""
        if self.stamps:
            span = f" from {self.stamps[0]:%Y-%m-%d %H:%M} to {self.stamps[-1]:%Y-%m-%d %H:%M} UTC"
        skipped = ", ".join(f"{n} {why}" for why, n in self.skipped.items()) or "nothing"
        notes = f"; {'; '.join(self.notes)}" if self.notes else ""
        return (f"Read {self.name} as a {self.label}: {len(self)} glucose readings ({n_cens} "
                f"censored LO/HI){span}, {len(self.events)} events; skipped {skipped}"
                f"{'; rows reordered by time' if self.reordered else ''}{notes}.")  # fmt: skip

    def records(
        self, patient_ref: str, *, source: str = "cgm"
    ) -> tuple[tuple[ObservationRecord, ...], tuple[EventRecord, ...]]:
        """The readings (LOINC 99504-3, mg/dL, censoring kept; gaps left out) and events as
        store records of ``patient_ref``. A record's ``source_id`` is ``source``, the format
        and the instant, so the same file sent twice is stored once."""
        if self.stamps is None:
            raise DataError(
                f"{self.name} is a plain CSV: its times are minutes from an unknown start. "
                "Give the start (a date and time with its offset) to store it."
            )
        obs = tuple(
            ObservationRecord(
                f"{source}:{self.format}:{t.isoformat()}",
                patient_ref,
                _LOINC_CGM,
                t,
                float(v),
                "mg/dL",
                int(c),
            )
            for t, v, c in zip(self.stamps, self.values, self.censored, strict=True)
            if v == v
        )
        events = tuple(
            EventRecord(
                f"{source}:{self.format}:{e.kind}:{e.stamp.isoformat()}:{e.amount:g}",
                patient_ref,
                e.kind,
                e.stamp,
                e.amount,
            )
            for e in self.events
            if e.stamp is not None
        )
        return obs, events


def _text(source: Path | bytes, name: str) -> str:
    if isinstance(source, bytes):
        raw = source
    else:
        path = Path(source)
        if not path.is_file():
            raise DataError(
                f"No such file: {str(path)!r}. Expected a CGM file: "
                f"{', '.join(CGM_FORMATS.values())}."
            )
        raw = path.read_bytes()
    codec = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{name}: not text in UTF-8 (invalid byte at offset {exc.start}). Send the CGM file "
            "as its app exports it (CSV or JSON, UTF-8)."
        ) from None


def _first_line(text: str) -> str:
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    return (line[:80] + "...") if len(line) > 80 else line or "(empty file)"


def _cells(line: str) -> list[str]:
    return [c.strip() for c in next(csv.reader([line]), [])]


def _detect(text: str, name: str) -> tuple[str, int]:
    """(format, header line index) of ``text``; a DataError naming the formats tried."""
    lines = text.splitlines()
    head = [_cells(ln) for ln in lines[:2]]
    first = head[0] if head else []
    if first[:1] == ["time"]:
        return "plain", 0
    if (
        p.CLARITY_TIME in first
        and "Event Type" in first
        and any(c.startswith("Glucose Value (") for c in first)
    ):
        return "dexcom-clarity", 0
    for i, cells in enumerate(head):
        if {"Device Timestamp", "Record Type"} <= set(cells) and any(
            c.startswith("Historic Glucose ") for c in cells
        ):
            return "libreview", i
    if text.lstrip().startswith("["):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            doc = None
        if isinstance(doc, list) and all(
            isinstance(e, dict) and ("sgv" in e or "type" in e) for e in doc
        ):
            return "nightscout", 0
    raise DataError(
        f"{name} is none of the CGM formats medtwin reads. Tried: {_TRIED}. Its first line "
        f"reads {_first_line(text)!r}. Send the file as Clarity, LibreView or Nightscout "
        "export it (unedited), or write it as the plain CSV time,glucose_mg_dl."
    )


def cgm_format(source: Path | bytes, *, name: str | None = None) -> str:
    """The format of a CGM file (a key of :data:`CGM_FORMATS`), or a :class:`DataError`
    naming the formats tried and the file's first line."""
    name = name or (Path(source).name if not isinstance(source, bytes) else "the CGM file")
    return _detect(_text(source, name), name)[0]


def _zone(tz: str | None) -> tuple[p.Clock, str | None]:
    if tz is None:
        return p.Clock(UTC), "local times read as UTC (no time zone given)"
    try:
        return p.Clock(ZoneInfo(tz)), f"local times in {tz}"
    except (ZoneInfoNotFoundError, ValueError):
        raise DataError(
            f"Unknown time zone {tz!r}. Give an IANA name, e.g. Europe/Berlin or "
            "America/New_York (the zone the CGM app or reader was set to)."
        ) from None


def read_cgm(
    source: Path | bytes,
    *,
    name: str | None = None,
    tz: str | None = None,
    warmup: float = WARMUP,
    start: datetime | None = None,
) -> CgmFile:
    """Read a CGM file (a path, or the bytes of an upload named ``name``) of any format of
    :data:`CGM_FORMATS`, detected from its content. ``tz``: the IANA zone of the local times
    of Clarity and LibreView files; ``warmup``: minutes dropped at the start of a new sensor
    session; ``start``: the instant (timezone-aware) minute 0 of a plain CSV stands for, so its
    readings can be stored. The rules are in the module docstring."""
    name = name or (Path(source).name if not isinstance(source, bytes) else "the CGM file")
    if not (warmup >= 0 and warmup == warmup):
        raise DataError(f"warmup must be minutes >= 0 (0 keeps every reading). Got {warmup!r}.")
    if start is not None and start.tzinfo is None:
        raise DataError(f"start must carry its UTC offset (e.g. 2024-03-01T08:00:00+01:00). "
                        f"Got {start.isoformat()}.")  # fmt: skip
    text = _text(source, name)
    fmt, header = _detect(text, name)
    if start is not None and fmt != "plain":
        raise DataError(
            f"{name} is a {CGM_FORMATS[fmt]}: its rows carry their own times, so a start applies "
            "only to a plain CSV (minutes from the start). Leave the start out."
        )
    if fmt == "plain":
        return _plain(p.plain(text, name), name, start)
    clock, zone_note = _zone(tz)
    if fmt == "dexcom-clarity":
        parsed = p.clarity(text, name, clock)
    elif fmt == "libreview":
        parsed = p.libreview(text, name, clock, header)
    else:
        parsed = p.nightscout(text, name, clock)
    if zone_note and fmt != "nightscout":
        parsed.notes.append(zone_note)
    return _finish(fmt, name, parsed, warmup)


def _plain(parsed: p.Parsed, name: str, start: datetime | None) -> CgmFile:
    times = np.array([float(t) for t, *_ in parsed.readings])  # type: ignore[arg-type]
    origin = start.astimezone(UTC) if start is not None else None
    stamps = None if origin is None else tuple(origin + timedelta(minutes=t) for t in times)
    return CgmFile("plain", name, times, np.array([r[1] for r in parsed.readings]),
                   np.array([r[2] for r in parsed.readings], dtype=np.int8), (), origin, stamps,
                   MappingProxyType({}), False, ())  # fmt: skip


def _finish(fmt: str, name: str, parsed: p.Parsed, warmup: float) -> CgmFile:
    skipped: Counter[str] = Counter(parsed.skipped)
    seen: set[datetime] = set()
    kept: list[_Reading] = []
    for t, v, c, sensor in parsed.readings:  # file order: the first reading of an instant wins
        assert isinstance(t, datetime)  # a device format's rows carry instants
        key = t.replace(microsecond=t.microsecond // 1000 * 1000)
        if key in seen:
            skipped["duplicate times"] += 1
            continue
        seen.add(key)
        kept.append((t, v, c, sensor))
    reordered = any(b[0] < a[0] for a, b in pairwise(kept))
    kept.sort(key=lambda r: r[0])
    kept = _drop_warmup(kept, warmup, skipped)
    if not kept:
        raise DataError(
            f"{name}: a {CGM_FORMATS[fmt]} with no glucose reading to use "
            f"({', '.join(f'{n} {why}' for why, n in skipped.items()) or 'no rows'}). Export a "
            "period in which the sensor was worn."
        )
    unique = {(t, k, a) for t, k, a in parsed.events if isinstance(t, datetime)}
    events = sorted(unique, key=lambda e: (e[0], e[1]))
    if len(events) < len(parsed.events):
        skipped["duplicate events"] += len(parsed.events) - len(events)
    origin = min([kept[0][0]] + ([events[0][0]] if events else []))

    def minutes(t: datetime) -> float:
        return (t - origin).total_seconds() / 60.0

    return CgmFile(
        fmt, name,
        np.array([minutes(r[0]) for r in kept]),
        np.array([r[1] for r in kept]),
        np.array([r[2] for r in kept], dtype=np.int8),
        tuple(CgmEvent(minutes(t), k, a, t) for t, k, a in events),
        origin, tuple(r[0] for r in kept), MappingProxyType(dict(skipped)),
        reordered, tuple(parsed.notes),
    )  # fmt: skip


def _drop_warmup(kept: list[_Reading], warmup: float, skipped: Counter[str]) -> list[_Reading]:
    """``kept`` (in time order) without the readings of the first ``warmup`` minutes of each
    new sensor session (a transmitter change or a gap of at least SESSION_GAP minutes)."""
    if warmup <= 0:
        return kept
    out, session = [], None
    for i, (t, _, _, sensor) in enumerate(kept):
        if i > 0:
            prev_t, prev_sensor = kept[i - 1][0], kept[i - 1][3]
            changed = sensor is not None and prev_sensor is not None and sensor != prev_sensor
            if changed or (t - prev_t).total_seconds() / 60.0 >= SESSION_GAP:
                session = t
        if session is not None and (t - session).total_seconds() / 60.0 < warmup:
            skipped["warm-up readings (new sensor session)"] += 1
            continue
        out.append(kept[i])
    return out
