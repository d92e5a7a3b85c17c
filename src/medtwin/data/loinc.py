"""The LOINC codes the twins read: the curated table (:data:`medtwin.data.units.CURATED`) and
every code a registered model's observables declare that the table lacks.

A model a user registers reads its own measurements this way, with no edit here: its declared
unit is the one unit accepted (no conversion) and any finite value is physically possible.
The registry is read on each lookup, so a model registered after import is seen; the built-in
models' declarations are read without loading JAX.

A network twin's evidence codes (``medtwin.bn``: a network's registry entry declares them,
``NetworkEntry.loop``) join the table the same way -- LOINC codes (systolic pressure 8480-6, GCS
9269-2, ...) and the network's own codes in its code system (``stroke-lvo``, ...; read from a
coding of that system, :func:`extra_systems`), each in its one declared unit and within its
declared physically possible range. Reading them loads no inference library.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from ..models import list_declarations
from .units import CURATED, LOINC_SYSTEM, LoincCode, UnitConversion, is_valid_loinc

try:  # the bn extra (PyYAML for the networks' statements); without it no network codes
    from ..bn._registry import list_networks
except ImportError:  # pragma: no cover - the service extra includes bn
    list_networks = None  # type: ignore[assignment]

__all__ = ["LOINC", "code_system", "extra_systems"]


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
    for system, c, _ in _network_codes():
        if c == code:
            return system
    return LOINC_SYSTEM


def extra_systems() -> frozenset[str]:
    """The code systems besides LOINC whose codes the twins read (a network's own)."""
    return frozenset(s for s, _, _ in _network_codes() if s != LOINC_SYSTEM)


class _Table(Mapping[str, LoincCode]):
    """The curated table, then the registered models' own codes (read from the registry)."""

    def _rows(self) -> dict[str, LoincCode]:
        out = dict(CURATED)
        for decl in list_declarations():
            for spec in decl.observables:
                if spec.loinc and spec.loinc not in out and is_valid_loinc(spec.loinc):
                    out[spec.loinc] = LoincCode(
                        code=spec.loinc,
                        display=f"{spec.description or spec.name} (model {decl.name})",
                        canonical_code=spec.loinc,
                        canonical_unit=spec.unit,
                        units=MappingProxyType({spec.unit: UnitConversion(1.0)}),
                        valid_range=(-math.inf, math.inf),
                        aliases=MappingProxyType({}),
                    )
        for system, code, row in _network_codes():
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
