"""The one exception tree of medtwin.

Every error a user can cause derives from :class:`MedtwinError`, and its message says what was
expected, what was received and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "MedtwinError",
    "ModelError",
    "RegimenError",
    "SimulationError",
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


class RegimenError(DataError):
    """A regimen event that is invalid or falls outside the simulated horizon."""


class SimulationError(MedtwinError, ValueError):
    """Arguments of simulate()/advance() that cannot describe a simulation (t1 <= t0, bad grid)."""
