"""Fisher information of the free parameters: its eigen-decomposition, numerical rank,
condition number, Wald standard errors and poorly determined combinations.

Part of :mod:`medtwin.analysis._identifiability` (the module, whose docstring gives the
method and references); :func:`_fisher` takes that module's compiled likelihood. Units: the
FIM is on the estimation scale ``z`` (log of a parameter whose lower bound is >= 0, the
parameter itself otherwise), so a Wald sd of 1.0 on the log scale is a factor e.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ModelError

if TYPE_CHECKING:
    from ._identifiability import _Likelihood

__all__ = ["Combination", "FisherInformation"]


_TIE = 1e-8  # loadings (unit eigenvectors) closer than this are equal for the sign choice


@dataclass(frozen=True)
class Combination:
    """A poorly determined direction: ``sum(loadings[name] * z_name)`` (``z`` = log of the
    parameter, or the parameter itself when it may be negative) with Wald sd ``sd``."""

    eigenvalue: float
    sd: float
    loadings: dict[str, float]

    def __str__(self) -> str:
        # Largest printed loading first; equal printed loadings keep the parameters' order, so
        # a tie such as (1, 1)/sqrt(2) prints the same whichever way round-off breaks it.
        terms = [
            f"{'+' if w >= 0 else '-'}{abs(w):.2f}*{n}"
            for n, w in sorted(self.loadings.items(), key=lambda kv: -round(abs(kv[1]), 2))
            if abs(w) >= 0.05
        ]
        return " ".join(terms).lstrip("+") + f" (sd {self.sd:.3g})"


@dataclass(frozen=True, eq=False)
class FisherInformation:
    """The FIM of the free parameters at ``point`` on the estimation scale (``log[j]``: log)."""

    names: tuple[str, ...]
    log: tuple[bool, ...]
    point: np.ndarray  # natural units
    matrix: np.ndarray  # [P, P]
    eigenvalues: np.ndarray  # descending
    eigenvectors: np.ndarray  # columns, matching eigenvalues
    rank: int
    condition: float  # largest / smallest eigenvalue; inf whenever rank < P (by the rank test)
    rtol: float
    n_observations: int

    @property
    def standard_errors(self) -> np.ndarray:
        """Wald standard errors on the estimation scale; ``inf`` for parameters that load on a
        direction beyond the numerical rank."""
        v, lam = self.eigenvectors, self.eigenvalues
        good = np.arange(len(lam)) < self.rank
        var = (v[:, good] ** 2) @ (1.0 / lam[good])
        null = np.any(np.abs(v[:, ~good]) > 1e-3, axis=1)
        return np.where(null, np.inf, np.sqrt(var))

    def poorly_determined(self, max_sd: float = 1.0) -> tuple[Combination, ...]:
        """Eigen-directions whose Wald sd exceeds ``max_sd`` (1.0 on the log scale: a factor
        e), those beyond the numerical rank included, worst first."""
        out = []
        for k in range(len(self.eigenvalues) - 1, -1, -1):
            lam = float(self.eigenvalues[k])
            sd = 1.0 / math.sqrt(lam) if k < self.rank and lam > 0 else math.inf
            if sd > max_sd:
                # Sign: the largest loading is positive; among loadings equal to it within
                # _TIE (e.g. the (1, -1)/sqrt(2) of a product), the first parameter's, so
                # round-off does not flip the sign from one CPU to another.
                v = self.eigenvectors[:, k]
                top = int(np.flatnonzero(np.abs(v) >= np.max(np.abs(v)) - _TIE)[0])
                vec = v * np.sign(v[top])
                label = [
                    f"log {n}" if lg else n for n, lg in zip(self.names, self.log, strict=True)
                ]
                out.append(Combination(lam, sd, dict(zip(label, vec.tolist(), strict=True))))
        return tuple(out)


def _fisher(lik: _Likelihood, z: np.ndarray, method: str, rtol: float) -> FisherInformation:
    if method == "jacfwd":
        jac, mu = lik.jacobian(z)
    elif method == "finite-difference":
        h = 1e-5 * np.maximum(1.0, np.abs(z))
        steps = np.concatenate([z[None], z + np.diag(h), z - np.diag(h)])
        y = np.asarray(lik.predict_batch(jnp.asarray(steps)))  # one batched run
        mu, jac = y[0], ((y[1 : len(z) + 1] - y[len(z) + 1 :]) / (2 * h[:, None])).T
    else:
        raise ModelError(f"method must be 'jacfwd' or 'finite-difference'. Got {method!r}.")
    weight = np.zeros_like(mu)
    for sel, noise in lik.groups:
        if not hasattr(noise, "sd"):
            raise ModelError(
                f"The Fisher information needs a Gaussian noise model with sd(); "
                f"{type(noise).__name__} has none. Use profile_likelihood() instead."
            )
        m = jnp.asarray(mu[sel])
        sd = np.asarray(noise.sd(m))
        dsd = np.asarray(jax.vmap(jax.grad(lambda x, nz=noise: nz.sd(x)))(m))
        weight[sel] = (1.0 + 2.0 * dsd**2) / sd**2
    weight = np.where(lik.cens == 0, weight, 0.0)
    if not np.all(np.isfinite(jac[weight > 0])):
        raise ModelError("The predicted observables are not finite at this point; no FIM.")
    fim = jac.T @ (weight[:, None] * jac)
    lam, vec = np.linalg.eigh(fim)
    lam, vec = lam[::-1], vec[:, ::-1]
    rank = int(np.sum(lam > rtol * max(lam[0], 0.0))) if lam[0] > 0 else 0
    # Numerically singular (rank below full at rtol): infinite, whatever sign and size
    # round-off gives the smallest eigenvalue on this CPU.
    cond = float(lam[0] / lam[-1]) if rank == lam.size and lam[-1] > 0 else math.inf
    return FisherInformation(
        lik.free, tuple(bool(v) for v in lik.log), lik.natural(z), fim, lam, vec, rank,
        cond, float(rtol), int(np.count_nonzero(weight)),
    )  # fmt: skip
