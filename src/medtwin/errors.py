"""The one exception tree of medtwin.

Every error a user can cause derives from :class:`MedtwinError`, and its message says what was
expected, what was received and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "CredibilityError",
    "DataError",
    "FhirError",
    "LimitError",
    "MedtwinError",
    "ModelError",
    "RegimenError",
    "SimulationError",
    "StoreError",
    "UnknownModelError",
    "UnknownPatientError",
]


class MedtwinError(Exception):
    """Base class of every error medtwin raises on purpose."""


class ModelError(MedtwinError, ValueError):
    """A model or its parameters are not usable (unknown name, NaN value, wrong shape)."""


class UnknownModelError(ModelError, KeyError):
    """A model name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(MedtwinError, ValueError):
    """Input data that cannot be used as given (malformed time, wrong unit, non-numeric value)."""


class UnknownPatientError(DataError, KeyError):
    """A named parameter set (virtual patient) that does not exist."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class CredibilityError(DataError):
    """A credibility assessment that cannot be made as asked (a malformed context of use, a
    factor name not in V&V 40, a model that declares no evidence)."""


class RegimenError(DataError):
    """A regimen event that is invalid or falls outside the simulated horizon."""


class SimulationError(MedtwinError, ValueError):
    """Arguments of simulate()/advance() that cannot describe a simulation (t1 <= t0, bad grid)."""


class FhirError(DataError):
    """A FHIR resource or bundle that cannot be ingested. ``issues`` lists each problem as
    ``(code, expression, diagnostics)``: the FHIR issue-type code (``invalid``, ``required``,
    ``code-invalid``, ``not-supported``, ``too-long``, ...), the FHIRPath of the failing element
    and a message saying what was expected and what came. The service returns them as an
    OperationOutcome."""

    def __init__(self, issues: list[tuple[str, str, str]]):
        self.issues = list(issues)
        super().__init__("; ".join(f"{expr}: {msg}" for _, expr, msg in self.issues))


class LimitError(DataError):
    """A request parameter outside its declared bound (``medtwin.limits``): too much work asked
    for (particles, horizon, options), or not a finite number. ``name`` is the parameter."""

    def __init__(self, message: str, name: str = "") -> None:
        super().__init__(message)
        self.name = name


class StoreError(MedtwinError):
    """The store cannot do what was asked (missing key file, unknown record, schema out of date)."""


class AccessDenied(MedtwinError, PermissionError):
    """The caller's role or grants do not allow this read or write."""
