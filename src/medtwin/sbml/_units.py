"""Unit strings for the quantities of an SBML model (UCUM-like: ``mol``, ``mmol/L``, ``1/min``).

SBML declares units by reference: a quantity's ``units`` (``substanceUnits`` for species) names
a ``unitDefinition`` of the model or a base unit (``mole``, ``litre``, ``second``, ...), and the
model's ``substanceUnits``/``volumeUnits``/``areaUnits``/``lengthUnits``/``timeUnits`` give the
defaults (SBML L3V2 core sections 4.2 and 4.4). A unit definition is a product of base units,
each ``(multiplier * 10**scale * kind) ** exponent`` (section 4.4). This module writes such a
product as a short string for :class:`~medtwin.models.ParameterSpec` and
:class:`~medtwin.models.StateSpec`; it converts nothing (SBML values are used in the units the
document declares). A quantity whose units the document leaves undeclared gets
:data:`UNDECLARED`.
"""

from __future__ import annotations

import math

import libsbml

__all__ = ["UNDECLARED", "amount_unit", "format_definition", "size_unit", "time_unit", "unit"]

UNDECLARED = "(undeclared)"

_SYMBOL = {
    "mole": "mol", "litre": "L", "liter": "L", "second": "s", "metre": "m", "meter": "m",
    "gram": "g", "kilogram": "kg", "dimensionless": "1", "item": "{item}", "ampere": "A",
    "kelvin": "K", "candela": "cd", "becquerel": "Bq", "coulomb": "C", "farad": "F",
    "gray": "Gy", "henry": "H", "hertz": "Hz", "joule": "J", "katal": "kat", "lumen": "lm",
    "lux": "lx", "newton": "N", "ohm": "Ohm", "pascal": "Pa", "radian": "rad", "siemens": "S",
    "sievert": "Sv", "steradian": "sr", "tesla": "T", "volt": "V", "watt": "W", "weber": "Wb",
    "avogadro": "{avogadro}",
}  # fmt: skip
_PREFIX = {-15: "f", -12: "p", -9: "n", -6: "u", -3: "m", -2: "c", -1: "d", 0: "", 3: "k"}
_TIME = {1.0: "s", 60.0: "min", 3600.0: "h", 86400.0: "d"}


def _factor(u: libsbml.Unit) -> tuple[str, float]:
    kind = libsbml.UnitKind_toString(u.getKind())
    sym = _SYMBOL.get(kind, kind)
    scale, mult = u.getScale(), u.getMultiplier()
    if kind == "second" and (mult * 10.0**scale) in _TIME:
        text = _TIME[mult * 10.0**scale]
    elif mult == 1.0 and scale in _PREFIX and sym not in ("1", "kg"):
        text = _PREFIX[scale] + sym
    elif mult == 1.0 and scale == 0:
        text = sym
    else:
        factor = mult * 10.0**scale
        text = f"({factor:g} {sym})"
    return text, float(u.getExponent())


def _power(text: str, exponent: float) -> str:
    e = abs(exponent)
    if e == 1.0:
        return text
    return f"{text}{int(e) if float(e).is_integer() else f'^{e:g}'}"


def format_definition(ud: libsbml.UnitDefinition) -> str:
    """``ud`` as a string: numerator factors joined by ``.``, then ``/`` and the denominator."""
    num: list[str] = []
    den: list[str] = []
    for i in range(ud.getNumUnits()):
        text, exponent = _factor(ud.getUnit(i))
        if text == "1" or exponent == 0 or math.isnan(exponent):
            continue
        (num if exponent > 0 else den).append(_power(text, exponent))
    top = ".".join(num) or "1"
    if not den:
        return top
    return f"{top}/{den[0]}" if len(den) == 1 else f"{top}/({'.'.join(den)})"


def unit(model: libsbml.Model, ref: str) -> str:
    """The string of a units reference (a unitDefinition id or a base unit name)."""
    if not ref:
        return UNDECLARED
    ud = model.getUnitDefinition(ref)
    if ud is not None:
        return format_definition(ud)
    return _SYMBOL.get(ref, ref)


def amount_unit(model: libsbml.Model, species: libsbml.Species) -> str:
    """The substance unit of ``species`` (its own ``substanceUnits``, else the model's)."""
    return unit(model, species.getSubstanceUnits() or model.getSubstanceUnits())


def size_unit(model: libsbml.Model, comp: libsbml.Compartment | None) -> str:
    """The unit of a compartment's size (its own ``units``, else the model's default for its
    spatial dimensions)."""
    if comp is None:
        return UNDECLARED
    if comp.getUnits():
        return unit(model, comp.getUnits())
    dims = comp.getSpatialDimensionsAsDouble() if comp.isSetSpatialDimensions() else 3.0
    ref = {3.0: model.getVolumeUnits(), 2.0: model.getAreaUnits(), 1.0: model.getLengthUnits()}
    return unit(model, ref.get(dims, ""))


def time_unit(model: libsbml.Model) -> str:
    """The model's time unit: ``s``, ``min``, ``h`` or ``d`` where the declaration is one of
    these (medtwin's time units, :mod:`medtwin.timeunits`), else its string."""
    return unit(model, model.getTimeUnits())
