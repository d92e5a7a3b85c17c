"""The PEtab parameter table: scales, bounds, nominal values, estimate flags and priors.

:class:`Parameters` holds the table's columns as arrays and maps between the two views of
the estimated parameters (style rule 21, one transform in one place):

* ``z`` -- the estimated parameters on their ``parameterScale`` (``lin``: the value, ``log``:
  its natural logarithm, ``log10``: its decimal logarithm), the vector an optimiser moves;
* ``values`` -- every parameter of the table in linear units: the nominal values with the
  estimated entries replaced by ``from_z(z)``.

``nominalValue``, ``lowerBound`` and ``upperBound`` are in linear units (PEtab v1).

Priors (``objectivePriorType``/``objectivePriorParameters``): :meth:`Parameters.neg_log_prior`
is the sum over estimated parameters of ``-log p``, the density of the prior in the
variable it is stated for -- the linear value for ``normal``, ``laplace``, ``logNormal``,
``logLaplace`` and ``uniform``; the scaled value ``z`` for ``parameterScaleNormal``,
``parameterScaleLaplace`` and ``parameterScaleUniform``. A parameter without a prior
contributes 0 (PEtab's default, ``parameterScaleUniform`` within the bounds). The
likelihood itself (:func:`~medtwin.petab.PetabProblem.nllh`) excludes priors, as PEtab's and
AMICI's ``llh`` do.

References
----------
PEtab v1 format specification, "Parameter table" and "Prior distributions"
(https://petab.readthedocs.io/en/latest/v1/documentation_data_format.html).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ..errors import DataError

__all__ = ["PRIORS", "SCALES", "Parameters"]

SCALES = ("lin", "log", "log10")
"""PEtab parameter scales; a parameter's scale code is its index here."""

PRIORS = (
    "uniform",
    "normal",
    "laplace",
    "logNormal",
    "logLaplace",
    "parameterScaleUniform",
    "parameterScaleNormal",
    "parameterScaleLaplace",
)
"""PEtab v1 objective prior types; a parameter's prior code is its index here (-1: none)."""

_LN10 = math.log(10.0)


def scale_code(name: object, pid: str) -> int:
    """The code of a ``parameterScale`` cell (empty: ``lin``)."""
    if name is None or (isinstance(name, float) and math.isnan(name)) or name == "":
        return 0
    if name not in SCALES:
        raise DataError(
            f"Parameter {pid!r} has parameterScale {name!r}; one of {', '.join(SCALES)} is "
            "expected. Fix the parameter table."
        )
    return SCALES.index(str(name))


def prior_code(name: object, pid: str) -> int:
    """The code of an ``objectivePriorType`` cell (-1: none)."""
    if name is None or (isinstance(name, float) and math.isnan(name)) or name == "":
        return -1
    if name not in PRIORS:
        raise DataError(
            f"Parameter {pid!r} has objectivePriorType {name!r}; one of {', '.join(PRIORS)} is "
            "expected. Fix the parameter table."
        )
    return PRIORS.index(str(name))


def _from_scale(z: Array, code: Array) -> Array:
    # each branch gets a harmless argument where it is not taken, so no inf/NaN reaches the
    # gradient through jnp.where
    lin = code == 0
    return jnp.where(
        lin,
        z,
        jnp.where(code == 1, jnp.exp(jnp.where(code == 1, z, 0.0)),
                  jnp.power(10.0, jnp.where(code == 2, z, 0.0))),
    )  # fmt: skip


def _to_scale(x: np.ndarray, code: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(code == 0, x, np.where(code == 1, np.log(x), np.log10(x)))


class Parameters(eqx.Module):
    """The parameter table as arrays (see the module docstring). Every array is indexed by
    table row (``ids``); ``estimated`` holds the rows of the estimated parameters, in the
    order of ``z``."""

    ids: tuple[str, ...] = eqx.field(static=True)
    scale: np.ndarray  # int [n]: index into SCALES
    lower: np.ndarray  # [n], linear units
    upper: np.ndarray  # [n], linear units
    nominal: np.ndarray  # [n], linear units
    estimated: np.ndarray  # int [k]: rows of the estimated parameters
    prior: np.ndarray  # int [n]: index into PRIORS, -1 for none
    prior_args: np.ndarray  # [n, 2]: the prior's two parameters (NaN where none)

    @property
    def estimated_ids(self) -> tuple[str, ...]:
        """The ids of the estimated parameters, in the order of ``z``."""
        return tuple(self.ids[i] for i in self.estimated)

    def index(self, pid: str) -> int:
        """The row of parameter ``pid``."""
        try:
            return self.ids.index(pid)
        except ValueError:
            raise DataError(
                f"The PEtab problem has no parameter {pid!r} in its parameter table. Expected "
                f"one of: {', '.join(self.ids)}. Add a row for it."
            ) from None

    def to_z(self, values: Float[ArrayLike, " n"] | None = None) -> np.ndarray:
        """The estimated parameters of ``values`` (linear units, one per table row; default
        the nominal values) on their scales (NumPy)."""
        x = self.nominal if values is None else np.asarray(values, np.float64)
        return _to_scale(x[self.estimated], self.scale[self.estimated])

    def from_z(self, z: Float[ArrayLike, " k"]) -> Float[Array, " n"]:
        """Every parameter in linear units: the nominal values with the estimated ones set
        from ``z`` (JAX; differentiable)."""
        z = jnp.asarray(z, jnp.float64)
        if z.shape != (len(self.estimated),):
            raise DataError(
                f"The estimated parameters must be a vector of {len(self.estimated)} values "
                f"({', '.join(self.estimated_ids)}), on their parameterScale. Got shape "
                f"{z.shape}."
            )
        x = _from_scale(z, jnp.asarray(self.scale[self.estimated]))
        return jnp.asarray(self.nominal).at[jnp.asarray(self.estimated)].set(x)

    def z_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The bounds of ``z`` (the table's bounds on each parameter's scale)."""
        s = self.scale[self.estimated]
        return (_to_scale(self.lower[self.estimated], s),
                _to_scale(self.upper[self.estimated], s))  # fmt: skip

    def neg_log_prior(self, z: Float[ArrayLike, " k"]) -> Float[Array, ""]:
        """``-log`` of the prior density at ``z`` (see the module docstring)."""
        z = jnp.asarray(z, jnp.float64)
        rows = self.estimated
        code = self.prior[rows]
        if not np.any(code >= 0):
            return jnp.float64(0.0)
        x = _from_scale(z, jnp.asarray(self.scale[rows]))
        a = jnp.asarray(np.nan_to_num(self.prior_args[rows, 0]))
        b = jnp.asarray(np.nan_to_num(self.prior_args[rows, 1], nan=1.0))
        total = jnp.float64(0.0)
        for i, c in enumerate(code):
            if c < 0:
                continue
            name = PRIORS[c]
            v = z[i] if name.startswith("parameterScale") else x[i]
            total = total + _neg_log_density(name, v, a[i], b[i])
        return total


def _neg_log_density(name: str, v: Array, a: Array, b: Array) -> Array:
    """``-log p(v)`` of one prior; ``a``, ``b``: its two parameters (PEtab's order)."""
    if name in ("uniform", "parameterScaleUniform"):
        return -jnp.log(1.0 / (b - a))
    if name in ("normal", "parameterScaleNormal"):
        return 0.5 * jnp.log(2 * jnp.pi * b**2) + 0.5 * ((v - a) / b) ** 2
    if name in ("laplace", "parameterScaleLaplace"):
        return jnp.log(2 * b) + jnp.abs(v - a) / b
    if name == "logNormal":
        lv = jnp.log(v)
        return 0.5 * jnp.log(2 * jnp.pi * b**2) + lv + 0.5 * ((lv - a) / b) ** 2
    assert name == "logLaplace"
    lv = jnp.log(v)
    return jnp.log(2 * b) + lv + jnp.abs(lv - a) / b
