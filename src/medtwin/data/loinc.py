"""The LOINC codes the twins read: the curated table (:data:`medtwin.data.units.CURATED`) and
every code a registered model's observables declare that the table lacks.

A model a user registers reads its own measurements this way, with no edit here: its declared
unit is the one unit accepted (no conversion) and any finite value is physically possible.
The registry is read on each lookup, so a model registered after import is seen; the built-in
models' declarations are read without loading JAX.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from ..models import list_declarations
from .units import CURATED, LoincCode, UnitConversion, is_valid_loinc

__all__ = ["LOINC"]


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
