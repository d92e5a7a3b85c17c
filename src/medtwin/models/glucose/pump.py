"""Insulin pump: what a commanded basal rate and bolus become when a pump delivers them.

The pump sits between the controller and the patient model. It takes a basal rate in U/h and
a bolus in U, as pumps are programmed, and returns what it actually delivers:

* NaN and negative requests deliver nothing (0); a NaN command is treated as "no command".
* Requests above the pump's maximum are capped at the maximum.
* The rest is quantised **down** to the pump's increment (0.05 U/h, 0.05 U): a pump never
  gives more insulin than asked, so the delivery is the largest grid step not above the
  request, i.e. within one increment below it. Requests within 1e-9 increments of a grid step
  count as that step (float round-off: 0.15 / 0.05 = 2.9999999999999996), and the result is
  then capped at the request itself, so it never exceeds the request even by one ulp.

:meth:`InsulinPump.command` turns both into the patient model's ``insulin`` input (U/min) for one
input step of ``dt`` minutes (1 min for UVA/Padova): ``basal / 60 + bolus / dt``, i.e. the bolus
is delivered within that step.

Units of simglucose's ``pump_params.csv`` (the preset numbers): simglucose converts the command
(U/min) to pmol/min before rounding to ``inc_*`` and compares the U/min result with ``max_*``,
so its increment is effectively 0.05 pmol (no quantisation) and its cap 30-75 U/min. The numbers
are those of the real devices in clinical units, which is how they are used here: basal
0-30 U/h (Insulet OmniPod) / 0-35 U/h (Deltec Cozmo) in 0.05 U/h steps; bolus 0-30 U (Insulet)
/ 0-75 U (Cozmo) in 0.05 U steps.

References
----------
Xie J. simglucose v0.2.1, 2018 (MIT): ``params/pump_params.csv`` (also
``medtwin/data/params/simglucose_pump_params.csv``).
"""

from __future__ import annotations

import functools
import math
from types import MappingProxyType

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ...errors import ModelError

__all__ = ["PUMP_PRESETS", "InsulinPump", "pump_preset"]

Request = Float[ArrayLike, "..."]
Delivered = Float[Array, "..."]

_ROUND_OFF = 1e-9  # in increments: requests this close below a grid step count as on it


class InsulinPump(eqx.Module):
    """An insulin pump; configuration only (defaults: Insulet OmniPod).

    Attributes
    ----------
    max_basal : largest basal rate, U/h.
    basal_increment : basal rate resolution, U/h.
    max_bolus : largest single bolus, U.
    bolus_increment : bolus resolution, U.
    """

    max_basal: float = eqx.field(default=30.0, static=True)
    basal_increment: float = eqx.field(default=0.05, static=True)
    max_bolus: float = eqx.field(default=30.0, static=True)
    bolus_increment: float = eqx.field(default=0.05, static=True)

    def __check_init__(self) -> None:
        for name in ("max_basal", "basal_increment", "max_bolus", "bolus_increment"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ModelError(f"InsulinPump needs {name} > 0 and finite. Got {value!r}.")

    def deliver_basal(self, rate_u_per_h: Request) -> Delivered:
        """Delivered basal rate in U/h for a requested rate in U/h (any shape)."""
        return _quantise(rate_u_per_h, self.basal_increment, self.max_basal)

    def deliver_bolus(self, units: Request) -> Delivered:
        """Delivered bolus in U for a requested bolus in U (any shape)."""
        return _quantise(units, self.bolus_increment, self.max_bolus)

    def command(
        self, basal_u_per_h: Request, bolus_u: Request = 0.0, *, dt: float = 1.0
    ) -> Delivered:
        """The patient model's insulin input in U/min over one step of ``dt`` min (default 1):
        delivered basal (U/h) / 60 plus delivered bolus (U) / dt. Shapes broadcast."""
        return self.deliver_basal(basal_u_per_h) / 60.0 + self.deliver_bolus(bolus_u) / dt


def _quantise(request: Request, increment: float, maximum: float) -> Delivered:
    """max(k * increment) <= min(request, maximum), k integer >= 0; NaN -> 0."""
    return _quantise_jit(jnp.asarray(request, dtype=jnp.float64), increment, maximum)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _quantise_jit(x: Array, increment: float, maximum: float) -> Array:
    x = jnp.clip(jnp.where(jnp.isnan(x), 0.0, x), 0.0, maximum)
    steps = jnp.floor(x / increment + _ROUND_OFF)
    return jnp.minimum(steps * increment, x)


# simglucose 0.2.11 params/pump_params.csv (all mins are 0, sample_time 1 min), read in clinical
# units: bolus in U, basal in U/h.
PUMP_PRESETS = MappingProxyType(
    {
        "Cozmo": MappingProxyType(
            {"max_bolus": 75.0, "inc_bolus": 0.05, "max_basal": 35.0, "inc_basal": 0.05}
        ),
        "Insulet": MappingProxyType(
            {"max_bolus": 30.0, "inc_bolus": 0.05, "max_basal": 30.0, "inc_basal": 0.05}
        ),
    }
)


def pump_preset(name: str) -> InsulinPump:
    """The insulin pump ``name`` ("Cozmo", "Insulet") of simglucose's pump_params.csv."""
    if name not in PUMP_PRESETS:
        raise ModelError(f"No pump preset {name!r}. Expected one of: {', '.join(PUMP_PRESETS)}.")
    row = PUMP_PRESETS[name]
    return InsulinPump(
        max_basal=row["max_basal"],
        basal_increment=row["inc_basal"],
        max_bolus=row["max_bolus"],
        bolus_increment=row["inc_bolus"],
    )
