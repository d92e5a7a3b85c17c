"""The LOINC codes the twins read: the curated table (:data:`medtwin.data.units.CURATED`) and
every code a registered model's observables declare that the table lacks.

A model a user registers reads its own measurements this way, with no edit here: its declared
unit is the one unit accepted (no conversion) and any finite value is physically possible, or
what its noise model can produce (``NoiseModel.support``: a SOFA total read through an ordinal
link is a whole number 0-24).
The registry is read on each lookup, so a model registered after import is seen; the built-in
models' declarations are read without loading JAX.

A network twin's evidence codes (``medtwin.bn``: a network's registry entry declares them,
``NetworkEntry.loop``) join the table the same way -- LOINC codes (systolic pressure 8480-6, GCS
9269-2, ...) and the network's own codes in its code system (``stroke-lvo``, ...; read from a
coding of that system, :func:`extra_systems`), each in its one declared unit and within its
declared physically possible range. Reading them loads no inference library.

The inputs of the clinical scores (:data:`medtwin.analysis.score_inputs.SCORE_INPUTS`: PaO2,
FiO2, PaO2/FiO2, PEEP, platelets, bilirubin, MAP, GCS, creatinine, urine output, lactate) join
with their UCUM units and conversions, and their other codes (creatinine in blood, 38483-4, is
read as 2160-0); a vasopressor's infusion rate, which has no LOINC code, is stored under the
drug's name in medtwin's score-input code system (:data:`SCORE_SYSTEM`, :func:`vasopressor_code`),
in ug/kg/min (``data.fhir`` reads it from a MedicationAdministration).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from ..analysis.score_inputs import SCORE_INPUTS, VASOPRESSORS, ScoreInput
from ..models import list_declarations
from .units import CURATED, LOINC_SYSTEM, LoincCode, UnitConversion, is_valid_loinc

try:  # the bn extra (PyYAML for the networks' statements); without it no network codes
    from ..bn._registry import list_networks
except ImportError:  # pragma: no cover - the service extra includes bn
    list_networks = None  # type: ignore[assignment]

__all__ = [
    "LOINC",
    "SCORE_SYSTEM",
    "code_system",
    "extra_systems",
    "score_input_of",
    "vasopressor_code",
]

SCORE_SYSTEM = "https://medtwin.org/fhir/CodeSystem/score-input"
"""The code system of the score inputs without a LOINC code (a vasopressor's rate)."""


def vasopressor_code(drug: str) -> str:
    """The stored code of ``drug``'s infusion rate (ug/kg/min): the drug's name."""
    if drug not in VASOPRESSORS:
        raise KeyError(drug)
    return drug


def _score_row(spec: ScoreInput, code: str, display: str) -> LoincCode:
    return LoincCode(
        code=code,
        display=display,
        canonical_code=spec.loinc or code,
        canonical_unit=spec.unit,
        units=MappingProxyType({u: UnitConversion(f) for u, f in spec.units.items()}),
        valid_range=spec.valid_range,
        aliases=MappingProxyType({}),
    )


def _score_codes() -> list[tuple[str, str, LoincCode]]:
    """(system, code, row) of every score input: its LOINC code and its other codes, a
    vasopressor's rate under the drug's name in :data:`SCORE_SYSTEM`."""
    out = []
    for spec in SCORE_INPUTS.values():
        if spec.loinc is not None:
            out.append((LOINC_SYSTEM, spec.loinc, _score_row(spec, spec.loinc, spec.display)))
            out += [(LOINC_SYSTEM, c, _score_row(spec, c, d)) for c, d in spec.also]
    vaso = SCORE_INPUTS["vasopressor"]
    for drug in VASOPRESSORS:
        row = _score_row(vaso, vasopressor_code(drug), f"{drug.capitalize()} infusion rate")
        out.append((SCORE_SYSTEM, drug, row))
    return out


def score_input_of(code: str) -> str | None:
    """The score input (a key of ``SCORE_INPUTS``, or ``vasopressor``) a stored ``code`` is,
    else None."""
    if code in VASOPRESSORS:
        return "vasopressor"
    for spec in SCORE_INPUTS.values():
        if spec.loinc == code:
            return spec.name
    return None


def _network_codes() -> list[tuple[str, str, LoincCode]]:
    """(system, code, row) of every code a registered network twin takes."""
    out = []
    for entry in list_networks() if list_networks is not None else ():
        for c in entry.loop.codes if entry.loop is not None else ():
            row = LoincCode(
                code=c.code,
                display=f"{c.display} (network {entry.name})",
                canonical_code=c.code,
                canonical_unit=c.unit,
                units=MappingProxyType({c.unit: UnitConversion(1.0)}),
                valid_range=c.valid,
                aliases=MappingProxyType({}),
            )
            out.append((c.system, c.code, row))
    return out


def code_system(code: str) -> str:
    """The coding system of a stored ``code``: a network's own system for its own codes, else
    LOINC (what a stored observation is rendered back to FHIR with)."""
    for system, c, _ in (*_network_codes(), *_score_codes()):
        if c == code:
            return system
    return LOINC_SYSTEM


def extra_systems() -> frozenset[str]:
    """The code systems besides LOINC whose codes are read (a network's own, the score
    inputs')."""
    return frozenset(s for s, _, _ in (*_network_codes(), *_score_codes()) if s != LOINC_SYSTEM)


class _Table(Mapping[str, LoincCode]):
    """The curated table, then the registered models' own codes (read from the registry)."""

    def _rows(self) -> dict[str, LoincCode]:
        out = dict(CURATED)
        for decl in list_declarations():
            for spec in decl.observables:
                if spec.loinc and spec.loinc not in out and is_valid_loinc(spec.loinc):
                    lo, hi, whole = spec.noise.support if spec.noise else (-math.inf, math.inf,
                                                                          False)  # fmt: skip
                    out[spec.loinc] = LoincCode(
                        code=spec.loinc,
                        display=f"{spec.description or spec.name} (model {decl.name})",
                        canonical_code=spec.loinc,
                        canonical_unit=spec.unit,
                        units=MappingProxyType({spec.unit: UnitConversion(1.0)}),
                        valid_range=(lo, hi),
                        aliases=MappingProxyType({}),
                        whole=whole,
                    )
        for system, code, row in (*_network_codes(), *_score_codes()):
            if code not in out and (system != LOINC_SYSTEM or is_valid_loinc(code)):
                out[code] = row
        return out

    def __getitem__(self, code: str) -> LoincCode:
        return self._rows()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows())

    def __len__(self) -> int:
        return len(self._rows())


LOINC: Mapping[str, LoincCode] = _Table()
"""LOINC code -> :class:`~medtwin.data.units.LoincCode` (what the twins read): the curated
table and the codes the registered models declare."""
