"""The mapping document of an imported model: how an SBML document becomes a twin.

An SBML document says what a model computes; it does not say which laboratory measurement
each output is, in which unit, how noisy, nor which parameters a twin should learn. A
modeller writes that in a small mapping document (JSON or YAML), checked here with pydantic
(:class:`ModelMapping`) before anything is parsed, simulated or stored::

    {
      "name": "dallaman-meal",
      "time_unit": "min",
      "outputs": [
        {"output": "G", "loinc": "2339-0", "unit": "mg/dL",
         "noise": {"absolute": 5.0, "relative": 0.05}, "description": "plasma glucose"}
      ],
      "free": [{"parameter": "k_p2", "median": 0.0021, "sigma": 0.3}],
      "drift": 0.02
    }

* ``name``: the medtwin model name (lower-case letters, digits, ``-``, ``_`` and ``.``, at
  most 64 characters), the name a twin configuration uses;
* ``time_unit``: the document's time unit (``min`` or ``h``, the units a live twin runs in)
  where the document declares none medtwin knows or declares it wrongly (SBML Level 2's
  default is the second; BIOMD0000000379 is timed in minutes);
* ``outputs``: what the model observes. ``output`` is an SBML id, ``amount(S)`` or
  ``concentration(S)``; ``loinc`` the LOINC code that measures it (its check digit is
  checked), ``unit`` its UCUM unit (for a code of the curated table,
  :data:`medtwin.data.units.CURATED`, the code's canonical unit: ingestion converts every
  reading to it), ``noise`` the measurement noise ``sd = sqrt(absolute**2 + (relative *
  y)**2)`` (``absolute`` in ``unit``, ``relative`` a fraction);
* ``free`` (optional): the parameters a twin learns, each with its log-normal prior
  (``median`` in the parameter's unit, ``sigma`` the sd of its logarithm);
* ``drift`` (optional, default 0): the particle filter's parameter drift per sqrt(hour).

:meth:`ModelMapping.load_options` turns a checked mapping into the options of
:func:`medtwin.sbml.load_sbml` (observables with LOINC codes, units and noise, priors, twin
defaults), and :func:`imported_model` builds the model class from the document's bytes and
the mapping; ids the document lacks are refused there with the ids it has. The store keeps a
site's imported models as rows; :func:`register_stored` turns one into a registered model
class and :func:`watch` lets the model registry ask the store on a miss (the store knows no
model, only its rows).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..errors import DataError, MedtwinError
from ..models._base import AbstractModel
from ..models._noise import GaussianNoise
from ..models._priors import LogNormal
from ..models._registry import add_model_finder, register_model, remove_model_finder
from ..models._spec import ObservableSpec, TwinDefaults
from .units import CURATED, is_valid_loinc

try:  # the sbml extra: without it a mapping is still checked, and building says what to install
    from ..sbml import load_sbml
except ImportError:  # pragma: no cover - depends on the environment
    load_sbml = None  # type: ignore[assignment]

__all__ = [
    "MAX_MAPPING_BYTES",
    "FreeParameter",
    "ModelMapping",
    "Noise",
    "Output",
    "check_mapping",
    "imported_model",
    "read_mapping",
    "register_stored",
    "unwatch",
    "watch",
]

MAX_MAPPING_BYTES = 64 * 1024
"""The largest mapping document read (bytes); a real one is well under 2 KiB."""

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_OUTPUT = re.compile(
    r"^([A-Za-z_][A-Za-z0-9_]{0,127}|(amount|concentration)\([A-Za-z_]\w{0,127}\))$"
)
_UCUM = re.compile(r"^[!-~]{1,32}$")  # printable ASCII without spaces (UCUM's character set)


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number")
    return value


class Noise(_Doc):
    """Measurement noise: ``sd = sqrt(absolute**2 + (relative * y)**2)``; ``absolute`` in the
    output's unit, ``relative`` a fraction; both >= 0 and one of them > 0."""

    absolute: float = Field(ge=0.0)
    relative: float = Field(default=0.0, ge=0.0, le=10.0)

    @field_validator("absolute", "relative")
    @classmethod
    def _finite(cls, v: float) -> float:
        return _finite(v, "a noise level")

    @model_validator(mode="after")
    def _whole(self) -> Any:
        if self.absolute == 0 and self.relative == 0:
            raise ValueError(
                "noise needs absolute > 0 or relative > 0 (both are 0: every reading would be "
                "exact). Give the assay's error, e.g. {'absolute': 5, 'relative': 0.05}"
            )
        return self


class Output(_Doc):
    """One observed output: the SBML ``output``, its LOINC code, UCUM unit and noise."""

    output: str
    loinc: str
    unit: str
    noise: Noise
    description: str = Field(default="", max_length=200)

    @field_validator("output")
    @classmethod
    def _output(cls, v: str) -> str:
        if not _OUTPUT.match(v):
            raise ValueError(
                f"output must be an SBML id, amount(S) or concentration(S) of a species S; "
                f"got {v[:60]!r}"
            )
        return v

    @field_validator("loinc")
    @classmethod
    def _loinc(cls, v: str) -> str:
        if not is_valid_loinc(v):
            raise ValueError(
                f"loinc must be a LOINC code NNNNN-C whose check digit C is right (e.g. 2339-0 "
                f"for blood glucose); got {v[:40]!r}. Look the code up at https://loinc.org"
            )
        row = CURATED.get(v)
        if row is not None and row.event is not None:
            raise ValueError(
                f"LOINC {v} records a {row.event} (an intake), not a measurement; map an output "
                "to the code of what is measured"
            )
        if row is not None and row.canonical_code != v:
            raise ValueError(
                f"LOINC {v} is stored under its canonical code {row.canonical_code} (readings "
                f"are converted at ingestion); map the output to {row.canonical_code}"
            )
        return v

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        if not _UCUM.match(v):
            raise ValueError(
                f"unit must be a UCUM code (1-32 printable characters, no spaces, e.g. mg/dL, "
                f"mmol/L, 10*3/uL); got {v[:40]!r}"
            )
        return v

    @model_validator(mode="after")
    def _whole(self) -> Any:
        row = CURATED.get(self.loinc)
        if row is not None and row.canonical_unit != self.unit:
            raise ValueError(
                f"LOINC {self.loinc} ({row.display}) is stored in {row.canonical_unit} (ingestion "
                f"converts every reading to it); the mapping says {self.unit!r}. Use "
                f"{row.canonical_unit!r} and write the model's output in that unit"
            )
        return self

    def spec(self) -> ObservableSpec:
        """The model's :class:`~medtwin.models.ObservableSpec` for this output."""
        noise = GaussianNoise(self.noise.absolute, self.noise.relative)
        return ObservableSpec(self.output, self.unit, self.loinc,
                              self.description or f"SBML {self.output}", noise)  # fmt: skip


class FreeParameter(_Doc):
    """A parameter the twin learns, with its log-normal prior (``median`` in the parameter's
    unit, ``sigma`` the sd of its logarithm)."""

    parameter: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
    median: float = Field(gt=0.0)
    sigma: float = Field(gt=0.0, le=5.0)

    @field_validator("median", "sigma")
    @classmethod
    def _finite(cls, v: float) -> float:
        return _finite(v, "a prior's median and sigma")


class ModelMapping(_Doc):
    """The mapping document (see the module docstring)."""

    name: str
    kind: Literal["sbml"] = "sbml"
    time_unit: Literal["min", "h"] | None = None
    outputs: list[Output] = Field(min_length=1, max_length=32)
    free: list[FreeParameter] = Field(default_factory=list, max_length=32)
    drift: float = Field(default=0.0, ge=0.0, le=10.0)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError(
                "name must be 1-64 characters of lower-case letters, digits, '-', '_' and '.', "
                f"starting with a letter or digit (e.g. 'dallaman-meal'); got {v[:70]!r}"
            )
        return v

    @model_validator(mode="after")
    def _whole(self) -> Any:
        for what, keys in (
            ("output", [o.output for o in self.outputs]),
            ("LOINC code", [o.loinc for o in self.outputs]),
            ("free parameter", [f.parameter for f in self.free]),
        ):
            twice = sorted({k for k in keys if keys.count(k) > 1})
            if twice:
                raise ValueError(
                    f"each {what} may appear once in a mapping; {twice[:5]} appear more than "
                    "once. Keep one entry for each"
                )
        return self

    def load_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`medtwin.sbml.load_sbml` this mapping gives."""
        defaults = TwinDefaults(prior="spec", free=tuple(f.parameter for f in self.free),
                                drift=self.drift)  # fmt: skip
        return {
            "name": self.name,
            "observables": [o.spec() for o in self.outputs],
            "time_unit": self.time_unit,
            "priors": {f.parameter: LogNormal(f.median, f.sigma) for f in self.free},
            "twin_defaults": defaults,
        }

    def canonical_json(self) -> str:
        """The mapping as stored: sorted keys, defaults written out, no spaces."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def _one_line(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "the document"
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return "; ".join(parts) + more


def check_mapping(doc: object) -> ModelMapping:
    """A parsed mapping document (a dict) checked as a :class:`ModelMapping`; DataError
    naming the first problems otherwise."""
    if isinstance(doc, ModelMapping):
        return doc
    if not isinstance(doc, dict):
        raise DataError(
            f"A model mapping must be a JSON object (or YAML mapping). Got "
            f"{type(doc).__name__}. See docs/sbml.md for an example."
        )
    try:
        return ModelMapping.model_validate(doc)
    except ValidationError as exc:
        raise DataError(f"The model mapping is not valid: {_one_line(exc)}.") from None


def read_mapping(text: str | bytes) -> ModelMapping:
    """A mapping document from its JSON or YAML text (at most :data:`MAX_MAPPING_BYTES`;
    YAML anchors and aliases are refused, so a small document cannot expand)."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if len(data) > MAX_MAPPING_BYTES:
        raise DataError(
            f"The model mapping has {len(data)} bytes; at most {MAX_MAPPING_BYTES} are read. A "
            "mapping lists outputs and free parameters only: check that the right file is given."
        )
    body = data.decode("utf-8-sig", errors="strict").strip()
    if body.startswith("{"):
        try:
            doc = json.loads(body)
        except json.JSONDecodeError as exc:
            raise DataError(f"The model mapping is not valid JSON: {exc}.") from None
    else:
        doc = _yaml(body)
    return check_mapping(doc)


def _yaml(text: str) -> object:
    try:
        import yaml
    except ImportError:  # pragma: no cover - depends on the environment
        raise DataError(
            "A YAML model mapping needs PyYAML: pip install 'medtwin[cli]' (or give JSON)."
        ) from None

    class _NoAliases(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise DataError("The model mapping uses a YAML alias (*name); write it out.")
            return super().compose_node(parent, index)

    try:
        return yaml.load(text, Loader=_NoAliases)  # a SafeLoader, without aliases
    except yaml.YAMLError as exc:
        raise DataError(f"The model mapping is not valid YAML or JSON: {exc}.") from None


def imported_model(document: bytes | str, mapping: ModelMapping) -> type[AbstractModel]:
    """The model class of an SBML ``document`` under ``mapping`` (cached by the document's
    hash and the mapping, so the same pair gives the same class). DataError for a document
    that cannot be read or imported, or a mapping that does not fit it (an id it lacks, a
    time unit a live twin cannot run)."""
    if load_sbml is None:  # pragma: no cover - depends on the environment
        raise DataError(
            f"The model {mapping.name!r} is an imported SBML model, which needs python-libsbml: "
            "pip install 'medtwin[sbml]'."
        )
    try:
        cls = load_sbml(document, **mapping.load_options())
    except DataError:
        raise
    except MedtwinError as exc:
        raise DataError(
            f"The mapping of {mapping.name!r} does not fit the document: {exc}"
        ) from None
    if cls.time_unit not in ("min", "h"):
        raise DataError(
            f"The SBML document of {mapping.name!r} is timed in {cls.time_unit!r}; a twin runs "
            "in min or h. If the document's time is minutes or hours (SBML Level 2 defaults to "
            'seconds), say so in the mapping: "time_unit": "min" or "h".'
        )
    return cls


def register_stored(document: bytes, mapping: str) -> str:
    """Build the model class of a stored document and mapping (JSON text, as stored) and
    register it in this process (:func:`medtwin.models.register_model`); returns its name."""
    cls = register_model(imported_model(document, read_mapping(mapping)))
    return cls.name


def watch(find: Callable[[str], object]) -> None:
    """Let the model registry call ``find(name)`` for a name it does not know (``find``
    registers the model with :func:`register_stored` if it holds it)."""
    add_model_finder(find)


def unwatch(find: Callable[[str], object]) -> None:
    """Stop :func:`watch`."""
    remove_model_finder(find)
