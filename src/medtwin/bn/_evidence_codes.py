"""What a network twin offers the twin loop: the coded measurements it takes as evidence, and
how a stored value becomes one of a node's states.

A stored observation carries a code (LOINC where one exists), a time and a number in the code's
unit (``medtwin.data`` converts units once, at ingestion). An :class:`EvidenceCode` maps that
number to a state of one node: a measured quantity is *binned* (:class:`Bins`: each cut says
which side its own value falls on), a coded finding is an integer *level* (0 no / 1 yes; a
score; :class:`Levels`). A value that maps to no state is refused naming the code, the value
and the states expected. A :class:`NetworkLoop` is the list of a network's codes; the
network's registry entry (``medtwin.bn.list_networks``) carries it, and the twin loop reads it
(``medtwin.loop``), so no model name appears in the loop.

The stroke twin's codes (:data:`STROKE_LOOP`): systolic blood pressure LOINC 8480-6 (mm[Hg]),
blood glucose LOINC 2339-0 (mg/dL; mmol/L converted at ingestion), Glasgow Coma Scale total
LOINC 9269-2 ({score}, 3..15) and modified Rankin Scale LOINC 75859-9 ({score}, 0..6). The
other nodes have, to our knowledge, no LOINC code that carries a number; they come as
medtwin's own codes in :data:`SYSTEM` (documented in docs/bn.md): ``stroke-lvo`` (large-vessel
occlusion on CT/MR angiography, 1 yes / 0 no), ``stroke-ott`` (onset-to-treatment time,
min), ``stroke-ivt`` and ``stroke-mt`` (intravenous thrombolysis / mechanical
thrombectomy given, 1 / 0),
``stroke-sich`` (symptomatic intracranial haemorrhage, 1 / 0) and ``stroke-oedema``
(space-occupying cerebral oedema, 1 / 0).

This module loads no inference library: the data layer reads the codes to accept them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import DataError

__all__ = ["STROKE_LOOP", "SYSTEM", "Bins", "EvidenceCode", "Levels", "NetworkLoop"]

SYSTEM = "https://medtwin.org/fhir/CodeSystem/bn-evidence"
LOINC = "http://loinc.org"


@dataclass(frozen=True)
class Bins:
    """A quantity binned into ordered states: ``cuts`` (ascending) split the line into
    ``len(cuts) + 1`` states; ``upper[i]`` says whether the value ``cuts[i]`` itself belongs
    to the state above the cut."""

    cuts: tuple[float, ...]
    upper: tuple[bool, ...]

    def index(self, value: float) -> int:
        k = 0
        for cut, up in zip(self.cuts, self.upper, strict=True):
            if value > cut or (value == cut and up):
                k += 1
        return k


@dataclass(frozen=True)
class Levels:
    """Integer levels ``first, first + 1, ...``; ``per_state[k]`` the levels of state ``k``
    (a GCS total 3..15 in three bands; 0/1 for no/yes)."""

    first: int
    per_state: tuple[int, ...]

    def index(self, value: float) -> int | None:
        if value != math.floor(value):
            return None
        level = int(value) - self.first
        for k, n in enumerate(self.per_state):
            if 0 <= level < n:
                return k
            level -= n
        return None

    @property
    def range(self) -> tuple[int, int]:
        return self.first, self.first + sum(self.per_state) - 1


@dataclass(frozen=True)
class EvidenceCode:
    """One code a network takes: the stored ``code`` (LOINC, or one of :data:`SYSTEM`), its
    coding ``system``, the ``node`` it informs, the ``unit`` of its value (UCUM), a display
    name, the physically possible ``valid`` range, and the map to the node's ``states``."""

    code: str
    system: str
    node: str
    unit: str
    display: str
    valid: tuple[float, float]
    states: tuple[str, ...]
    rule: Bins | Levels

    def state(self, value: float) -> str:
        """The state ``value`` maps to; a :class:`DataError` naming the code if none."""
        lo, hi = self.valid
        k = None
        if isinstance(value, int | float) and math.isfinite(value) and lo <= value <= hi:
            k = self.rule.index(float(value))
        if k is None:
            if isinstance(self.rule, Levels):
                a, b = self.rule.range
                want = f"an integer in {a}..{b}"
            else:
                want = f"a number in [{lo:g}, {hi:g}]"
            raise DataError(
                f"{self.display} ({self.code}, node {self.node!r}): expected {want} "
                f"{self.unit}. Got {value!r}, which is no state of {self.node!r} "
                f"({', '.join(self.states)})."
            )
        return self.states[k]


@dataclass(frozen=True)
class NetworkLoop:
    """What a network offers the twin loop: the codes it takes (one node each), and whether
    it decides (``recommends``: its options ranked by :func:`medtwin.bn.recommend`)."""

    codes: tuple[EvidenceCode, ...]
    recommends: bool = False

    def for_code(self, code: str) -> EvidenceCode | None:
        for c in self.codes:
            if c.code == code:
                return c
        return None


_YES_NO = Levels(0, (1, 1))


def _flag(code: str, node: str, display: str) -> EvidenceCode:
    return EvidenceCode(code, SYSTEM, node, "1", display, (0.0, 1.0), ("no", "yes"), _YES_NO)


# The states are those of medtwin.bn._stroke.STATES (tests/unit/bn/test_stroke_loop.py checks it).
STROKE_LOOP = NetworkLoop(
    (
        EvidenceCode("8480-6", LOINC, "sbp", "mm[Hg]", "Systolic blood pressure", (0.0, 400.0),
                     ("<140", "140-185", ">185"), Bins((140.0, 185.0), (True, False))),
        EvidenceCode("2339-0", LOINC, "glucose", "mg/dL", "Glucose [Mass/volume] in Blood",
                     (0.0, 2000.0), ("<50", "50-180", ">180"), Bins((50.0, 180.0), (True, False))),
        EvidenceCode("9269-2", LOINC, "gcs", "{score}", "Glasgow Coma Scale total", (3.0, 15.0),
                     ("3-8", "9-12", "13-15"), Levels(3, (6, 4, 3))),
        EvidenceCode("75859-9", LOINC, "mrs", "{score}", "Modified Rankin Scale", (0.0, 6.0),
                     tuple(str(k) for k in range(7)), Levels(0, (1,) * 7)),
        _flag("stroke-lvo", "lvo", "Large-vessel occlusion"),
        EvidenceCode("stroke-ott", SYSTEM, "ott", "min", "Onset-to-treatment time",
                     (0.0, 10080.0),
                     ("0-60", "60-120", "120-180", "180-270", "270-378", "378-480", ">480"),
                     Bins((60.0, 120.0, 180.0, 270.0, 378.0, 480.0), (True,) * 6)),
        _flag("stroke-ivt", "ivt", "Intravenous thrombolysis given"),
        _flag("stroke-mt", "mt", "Mechanical thrombectomy given"),
        _flag("stroke-sich", "sich", "Symptomatic intracranial haemorrhage"),
        _flag("stroke-oedema", "oedema", "Space-occupying cerebral oedema"),
    ),
    recommends=True,
)  # fmt: skip
