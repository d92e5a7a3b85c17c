"""The curated LOINC table and the UCUM unit conversions medtwin applies at ingestion.

This module loads nothing but the standard library (the command line checks values against it
before any heavy import); :data:`medtwin.data.loinc.LOINC` adds the codes the registered
models declare.

Every value a twin reads is converted once, here, into the canonical unit of its observable
(the unit the models declare), from an allow-list of UCUM units per LOINC code. A unit that is
not on the list is refused, never guessed. Insulin units (UCUM ``U``, ``[iU]``) are never
converted to mass: their potency differs between preparations.

Conversions (canonical = factor * value + offset):

- glucose, mmol/L -> mg/dL: x 18.0156 (molar mass of glucose 180.156 g/mol, 10 dL per L);
- lactate, mg/dL -> mmol/L: / 9.008 (molar mass of lactate 90.08 g/mol);
- cholesterol (LDL-C, total), mmol/L -> mg/dL: x 38.665 (molar mass of cholesterol
  386.65 g/mol); LDL-C measured (18262-6), calculated (13457-7) or unspecified (2089-1) is
  stored under 18262-6;
- temperature, [degF] -> Cel: (F - 32) * 5/9; K -> Cel: K - 273.15;
- leukocytes, 10*9/L = 10*3/uL = /nL; /uL -> 10*3/uL: x 0.001.

References: LOINC 2.77 (https://loinc.org), the Unified Code for Units of Measure
(https://ucum.org/ucum), LOINC Users' Guide, appendix on Mod 10 check digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "CHOLESTEROL_MG_DL_PER_MMOL_L",
    "CURATED",
    "GLUCOSE_MG_DL_PER_MMOL_L",
    "INSULIN_BASAL_RANGE",
    "INSULIN_BOLUS_RANGE",
    "LACTATE_MG_DL_PER_MMOL_L",
    "LOINC_SYSTEM",
    "UCUM_SYSTEM",
    "LoincCode",
    "UnitConversion",
    "is_valid_loinc",
]

LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"

# What FHIR MedicationAdministration ingestion (and so the API) accepts of an insulin dose.
INSULIN_BOLUS_RANGE = (0.0, 300.0)  # U
INSULIN_BASAL_RANGE = (0.0, 50.0)  # U/h

GLUCOSE_MG_DL_PER_MMOL_L = 180.156 / 10.0  # 18.0156 (mg/dL) per (mmol/L)
LACTATE_MG_DL_PER_MMOL_L = 90.08 / 10.0  # 9.008 (mg/dL) per (mmol/L)
CHOLESTEROL_MG_DL_PER_MMOL_L = 386.65 / 10.0  # 38.665 (mg/dL) per (mmol/L)

_LOINC_RE = re.compile(r"^[1-9][0-9]{0,6}-[0-9]$")


def is_valid_loinc(code: str) -> bool:
    """True if ``code`` has the shape of a LOINC term code (``NNNNN-C``) and its check digit
    ``C`` is the Mod 10 (Luhn) check digit of ``NNNNN``."""
    if not isinstance(code, str) or not _LOINC_RE.match(code):
        return False
    body, check = code.split("-")
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # odd positions from the right are doubled
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10 == int(check)


@dataclass(frozen=True)
class UnitConversion:
    """``canonical = factor * value + offset``."""

    factor: float
    offset: float = 0.0

    def apply(self, value: float) -> float:
        return self.factor * value + self.offset


_SAME = UnitConversion(1.0)


@dataclass(frozen=True)
class LoincCode:
    """One row of the curated table: what a LOINC code becomes at ingestion.

    ``units`` maps each accepted UCUM code to its conversion into ``canonical_unit``;
    ``aliases`` maps human spellings (matched case-insensitively, only from
    ``Quantity.unit`` when ``Quantity.code`` is absent) to a UCUM code of ``units``.
    ``valid_range`` is the physically possible range in the canonical unit (inclusive).
    ``event`` names the regimen event kind (``EVENT_KINDS``) when the code is an intake
    rather than a measurement (carbohydrate -> ``"meal"``); ``whole``: only whole numbers
    (a score a model reads through an ordinal link)."""

    code: str
    display: str
    canonical_code: str
    canonical_unit: str
    units: Mapping[str, UnitConversion]
    valid_range: tuple[float, float]
    aliases: Mapping[str, str] = field(default_factory=dict)
    event: str | None = None
    whole: bool = False

    def match_unit(self, code: str | None, unit: str | None) -> tuple[str, UnitConversion] | None:
        """The UCUM code and conversion for a Quantity's ``code`` (exact, UCUM is case
        sensitive), or -- only when ``code`` is None -- its human ``unit``; None if refused."""
        if code is not None:
            conv = self.units.get(code)
            return None if conv is None else (code, conv)
        if unit is None:
            return None
        if unit in self.units:
            return unit, self.units[unit]
        low = unit.strip().lower()
        for key in self.units:
            if key.lower() == low:
                return key, self.units[key]
        alias = self.aliases.get(low)
        return None if alias is None else (alias, self.units[alias])


_GLUCOSE_UNITS = {
    "mg/dL": _SAME,
    "mg/dl": _SAME,
    "mmol/L": UnitConversion(GLUCOSE_MG_DL_PER_MMOL_L),
    "mmol/l": UnitConversion(GLUCOSE_MG_DL_PER_MMOL_L),
}
_LACTATE_UNITS = {
    "mmol/L": _SAME,
    "mmol/l": _SAME,
    "mg/dL": UnitConversion(1.0 / LACTATE_MG_DL_PER_MMOL_L),
    "mg/dl": UnitConversion(1.0 / LACTATE_MG_DL_PER_MMOL_L),
}
_GLUCOSE_RANGE = (0.0, 10_000.0)  # mg/dL: negative is impossible, > 10,000 is not blood
_CHOLESTEROL_UNITS = {
    "mg/dL": _SAME,
    "mg/dl": _SAME,
    "mmol/L": UnitConversion(CHOLESTEROL_MG_DL_PER_MMOL_L),
    "mmol/l": UnitConversion(CHOLESTEROL_MG_DL_PER_MMOL_L),
}
_CHOLESTEROL_RANGE = (0.0, 3000.0)  # mg/dL: homozygous FH reaches ~1,000


def _row(code, display, canonical_code, unit, units, valid_range, aliases=None, event=None):
    return LoincCode(
        code,
        display,
        canonical_code,
        unit,
        MappingProxyType(dict(units)),
        valid_range,
        MappingProxyType(dict(aliases or {})),
        event,
    )


_ROWS = (
    _row("2339-0", "Glucose [Mass/volume] in Blood", "2339-0", "mg/dL", _GLUCOSE_UNITS,
         _GLUCOSE_RANGE),
    _row("15074-8", "Glucose [Moles/volume] in Blood", "2339-0", "mg/dL", _GLUCOSE_UNITS,
         _GLUCOSE_RANGE),
    _row("99504-3", "Glucose [Mass/volume] in Interstitial fluid", "99504-3", "mg/dL",
         _GLUCOSE_UNITS, _GLUCOSE_RANGE),
    _row("8867-4", "Heart rate", "8867-4", "/min",
         {"/min": _SAME, "{beats}/min": _SAME, "{beat}/min": _SAME, "{Beats}/min": _SAME},
         (0.0, 400.0), {"bpm": "/min", "beats/min": "/min", "beats/minute": "/min"}),
    _row("8310-5", "Body temperature", "8310-5", "Cel",
         {"Cel": _SAME, "[degF]": UnitConversion(5.0 / 9.0, -32.0 * 5.0 / 9.0),
          "K": UnitConversion(1.0, -273.15)},
         (10.0, 50.0), {"°c": "Cel", "degc": "Cel", "°f": "[degF]", "degf": "[degF]"}),
    _row("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "6690-2", "10*3/uL",
         {"10*3/uL": _SAME, "10*9/L": _SAME, "/nL": _SAME, "10*3/mm3": _SAME,
          "/uL": UnitConversion(1e-3), "/mm3": UnitConversion(1e-3)},
         (0.0, 1000.0), {"10^3/ul": "10*3/uL", "10^9/l": "10*9/L", "k/ul": "10*3/uL"}),
    _row("2524-7", "Lactate [Moles/volume] in Serum or Plasma", "2524-7", "mmol/L",
         _LACTATE_UNITS, (0.0, 100.0)),
    _row("32693-4", "Lactate [Moles/volume] in Blood", "32693-4", "mmol/L", _LACTATE_UNITS,
         (0.0, 100.0)),
    _row("9059-7", "Carbohydrate intake Estimated", "9059-7", "g", {"g": _SAME},
         (0.0, 1000.0), {"gram": "g", "grams": "g"}, event="meal"),
    _row("18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay",
         "18262-6", "mg/dL", _CHOLESTEROL_UNITS, _CHOLESTEROL_RANGE),
    _row("13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
         "18262-6", "mg/dL", _CHOLESTEROL_UNITS, _CHOLESTEROL_RANGE),
    _row("2089-1", "Cholesterol in LDL [Mass/volume] in Serum or Plasma", "18262-6", "mg/dL",
         _CHOLESTEROL_UNITS, _CHOLESTEROL_RANGE),
    _row("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "2093-3", "mg/dL",
         _CHOLESTEROL_UNITS, _CHOLESTEROL_RANGE),
)  # fmt: skip

CURATED: Mapping[str, LoincCode] = MappingProxyType({r.code: r for r in _ROWS})
"""The curated table: LOINC code -> :class:`LoincCode`."""
