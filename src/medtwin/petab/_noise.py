"""PEtab noise models: the negative log-likelihood of one measurement.

For a measurement ``m``, a simulated observable ``y`` and a noise parameter ``sigma`` (the
value of the observable's ``noiseFormula``), with the observable's transformation
``f`` (``lin``: ``f(x) = x``; ``log``: ``ln x``; ``log10``: ``log10 x``) applied to both:

* ``normal``:  ``0.5 ln(2 pi sigma^2) + 0.5 ((f(y) - f(m)) / sigma)^2 + ln J``
* ``laplace``: ``ln(2 sigma) + |f(y) - f(m)| / sigma + ln J``

where ``J = |f'(m)|^-1`` makes the density one of ``m`` itself: ``J = 1`` for ``lin``,
``m`` for ``log`` and ``m ln 10`` for ``log10``. This is PEtab's definition
(``petab.v1.calculate.calculate_single_llh``), so ``sigma`` is the standard deviation (normal)
or the scale (Laplace) on the transformed scale.

References
----------
PEtab v1 format specification, "Noise distributions"
(https://petab.readthedocs.io/en/latest/v1/documentation_data_format.html#noise-distributions).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ..errors import DataError

__all__ = ["DISTRIBUTIONS", "TRANSFORMATIONS", "neg_log_likelihood"]

TRANSFORMATIONS = ("lin", "log", "log10")
"""Observable transformations; an observable's code is its index here."""
DISTRIBUTIONS = ("normal", "laplace")
"""Noise distributions; an observable's code is its index here."""

_LN10 = math.log(10.0)


def code(value: str, allowed: tuple[str, ...], column: str, oid: str) -> int:
    """The code of a ``column`` cell of observable ``oid``."""
    if value not in allowed:
        raise DataError(
            f"Observable {oid!r} has {column} {value!r}; one of {', '.join(allowed)} is "
            "expected. Fix the observable table."
        )
    return allowed.index(value)


def neg_log_likelihood(
    measurement: Float[ArrayLike, " n"],
    simulation: Float[ArrayLike, " n"],
    sigma: Float[ArrayLike, " n"],
    transformation: int,
    distribution: int,
) -> Float[Array, " n"]:
    """``-log p(measurement | simulation, sigma)`` per point (see the module docstring);
    ``transformation`` and ``distribution`` are codes (indices into :data:`TRANSFORMATIONS`
    and :data:`DISTRIBUTIONS`), the same for every point."""
    m = jnp.asarray(measurement, jnp.float64)
    y = jnp.asarray(simulation, jnp.float64)
    s = jnp.asarray(sigma, jnp.float64)
    if transformation == 0:
        r, log_j = y - m, jnp.zeros_like(m)
    elif transformation == 1:
        r, log_j = jnp.log(y) - jnp.log(m), jnp.log(m)
    else:
        r, log_j = jnp.log10(y) - jnp.log10(m), jnp.log(m * _LN10)
    if distribution == 0:
        return 0.5 * jnp.log(2.0 * jnp.pi * s**2) + 0.5 * (r / s) ** 2 + log_j
    return jnp.log(2.0 * s) + jnp.abs(r) / s + log_j
