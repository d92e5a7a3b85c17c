"""Phantoms for programmed stimulation and ablation: a 2D sheet with a scar and a conducting
channel through it, and a homogeneous sheet, with the Mitchell-Schaeffer parameters that make
a border-zone channel a reentry circuit at realistic sizes.

**Geometry** (mm, x along the sheet's long side): a rectangular scar of ``scar`` = (length,
height) centred on the sheet, crossed along x through its middle by a channel of width
``channel_width`` labelled healthy or border zone. The default sheet is 50 x 30 mm with a
34 x 12 mm scar and a 2 mm channel: infarct scars of several centimetres crossed by surviving
bundles a few millimetres wide, as mapped in patients (de Bakker et al. 1988).

**Why Mitchell-Schaeffer, and these parameters** (:data:`PHANTOM_PARAMETERS`). A reentry
circuit sustains itself when the time the wave takes around it exceeds the refractory period
of the tissue it re-enters. Aliev-Panfilov's wavelength at its published parameters (0.55 m/s x
~300 ms) needs circuits of tens of centimetres; Mitchell-Schaeffer's steep restitution (its
gate recovers with ``tau_open``) lets a circuit of a few centimetres sustain, and its thin
front is resolved at 0.5 mm. The membrane constants are the published ones (Mitchell &
Schaeffer 2003); medtwin chooses:

* ``D`` = 0.212 mm^2/ms, isotropic (``D_ratio`` = 1): 0.49 m/s in healthy tissue on this grid
  (0.50 analytic), a physiological longitudinal conduction velocity. A 2D sheet has no fibre
  architecture to represent, so conduction is isotropic.
* ``bz_D`` = 0.1: border-zone diffusivity 90 % lower, conduction about a third of healthy
  (0.14 m/s measured on this grid), the slow conduction of surviving bundles in scar
  (de Bakker et al. 1988). Arevalo et al. 2016 lowered the border zone's transverse
  conductivity by 90 %; the phantom applies the reduction to both directions (the model's
  border-zone factor is isotropic). Reductions of 50-90 % are the range used in image-based
  models (review: Connolly & Bishop 2016).
* ``bz_apd`` = 1.5: the border zone's gate closes 1.5x more slowly, so its action potential
  and refractory period are about 1.5x longer. Prolonged refractoriness of surviving
  infarct-zone myocytes is what makes a premature beat block in them (Janse & Wit 1989);
  Arevalo et al. 2016 model it by remodelled currents. With 1.2 (S2 and S3 after a 400 ms
  train) or 1.3 (S2 after 600 ms) the protocol induced nothing from the left site of the
  default phantom: the premature beats entered the channel from both ends.
* ``stim_r`` = 1.5 mm: a pacing electrode's capture area, well above the critical radius.

On this phantom the reentry through the border-zone channel has a cycle length near 460 ms
(a VT of ~130 beats/min); a healthy channel conducts at the sheet's speed and no circuit
through it outlasts the refractory period.

References
----------
Mitchell CC, Schaeffer DG. Bull Math Biol 65(5):767-793, 2003.
de Bakker JMT et al. Reentry as a cause of ventricular tachycardia in patients with chronic
ischemic heart disease: electrophysiologic and anatomic correlation. Circulation 77:589, 1988.
Arevalo HJ et al. Arrhythmia risk stratification of patients after myocardial infarction using
personalized heart models. Nat Commun 7:11437, 2016.
Connolly AJ, Bishop MJ. Computational representations of myocardial infarct scars and
implications for arrhythmogenesis. Clin Med Insights Cardiol 10(S1):27-40, 2016.
Janse MJ, Wit AL. Electrophysiological mechanisms of ventricular arrhythmias resulting from
myocardial ischemia and infarction. Physiol Rev 69:1049-1169, 1989.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...errors import ModelError
from ._tissue import BORDER, HEALTHY, SCAR, MonodomainTissue
from .mitchell_schaeffer import MitchellSchaeffer

__all__ = ["PHANTOM_PARAMETERS", "Phantom", "homogeneous_sheet", "scar_channel_sheet"]

PHANTOM_PARAMETERS: dict[str, float] = {
    "D": 0.212,
    "D_ratio": 1.0,
    "bz_D": 0.1,
    "bz_apd": 1.5,
    "stim_r": 1.5,
}
_DT = 0.05  # ms: under the stability bound (0.053 ms) at h = 0.5 mm and D = 0.212 mm^2/ms


@dataclass(frozen=True, eq=False)
class Phantom:
    """A labelled 2D sheet: ``labels`` (an integer grid, the tissue labels of
    :mod:`._tissue`), ``spacing`` (mm), ``channel`` (True in the channel's cells; all False on
    a homogeneous sheet) and the pacing sites a protocol uses on it (``sites``, mm)."""

    labels: np.ndarray
    spacing: float
    channel: np.ndarray
    sites: np.ndarray = field(repr=False)

    @property
    def size(self) -> tuple[float, ...]:
        """The sheet's extent (mm) along each axis."""
        return tuple(n * self.spacing for n in self.labels.shape)

    def model(self, *, dt: float = _DT) -> MonodomainTissue:
        """The Mitchell-Schaeffer tissue on this sheet, its stability bound computed for
        ``PHANTOM_PARAMETERS['D']`` (run it with those parameters: :meth:`params`)."""
        tissue: type[MonodomainTissue] = MitchellSchaeffer
        return tissue(
            self.labels.shape,
            self.spacing,
            labels=self.labels,
            D_max=PHANTOM_PARAMETERS["D"],
            dt=dt,
        )

    def params(self, model: MonodomainTissue, **values: float) -> np.ndarray:
        """The model's parameter vector with :data:`PHANTOM_PARAMETERS` (and ``values``)."""
        return np.asarray(model.make_params(None, **{**PHANTOM_PARAMETERS, **values}))


def _check_size(name: str, size: tuple[float, float], spacing: float) -> tuple[int, int]:
    if not (math.isfinite(spacing) and spacing > 0):
        raise ModelError(f"{name}() needs a spacing > 0 (mm). Got {spacing!r}.")
    if len(size) != 2 or not all(math.isfinite(s) and s >= 4 * spacing for s in size):
        raise ModelError(
            f"{name}() needs size = (x, y) in mm, each at least 4 cells of {spacing:g} mm. "
            f"Got {size!r}."
        )
    return round(size[0] / spacing), round(size[1] / spacing)


def _default_sites(size: tuple[float, float], margin: float) -> np.ndarray:
    """Five pacing sites on the healthy rim: left, right, the middle of both long sides and a
    corner (mm)."""
    w, h = size
    return np.array(
        [[margin, h / 2], [w - margin, h / 2], [w / 2, margin], [w / 2, h - margin],
         [margin, margin]]
    )  # fmt: skip


def scar_channel_sheet(
    size: tuple[float, float] = (50.0, 30.0),
    spacing: float = 0.5,
    *,
    scar: tuple[float, float] = (34.0, 12.0),
    channel_width: float = 2.0,
    channel_label: int = BORDER,
) -> Phantom:
    """A sheet with a scar crossed along x by a conducting channel (see the module docstring).
    ``channel_label``: ``BORDER`` (2) or ``HEALTHY`` (1); ``channel_width`` in mm (at least
    one cell)."""
    nx, ny = _check_size("scar_channel_sheet", size, spacing)
    if channel_label not in (HEALTHY, BORDER):
        raise ModelError(
            f"scar_channel_sheet() channel_label must be HEALTHY (1) or BORDER (2). Got "
            f"{channel_label!r}."
        )
    sx, sy = scar
    if not (0 < sx < size[0] - 4 * spacing and 0 < sy < size[1] - 4 * spacing):
        raise ModelError(
            f"scar_channel_sheet() needs a scar (length, height) inside the {size} mm sheet "
            f"with at least two healthy cells around it. Got scar = {scar!r}."
        )
    if not (spacing <= channel_width < sy - 2 * spacing):
        raise ModelError(
            f"scar_channel_sheet() channel_width must be at least one cell ({spacing:g} mm) "
            f"and leave scar on both sides (< {sy - 2 * spacing:g} mm). Got {channel_width!r}."
        )
    x, y = np.meshgrid((np.arange(nx) + 0.5) * spacing, (np.arange(ny) + 0.5) * spacing,
                       indexing="ij")  # fmt: skip
    cx, cy = nx * spacing / 2, ny * spacing / 2
    in_scar = (np.abs(x - cx) < sx / 2) & (np.abs(y - cy) < sy / 2)
    channel = in_scar & (np.abs(y - cy) < channel_width / 2)
    labels = np.full((nx, ny), HEALTHY, np.int32)
    labels[in_scar] = SCAR
    labels[channel] = channel_label
    return Phantom(labels, float(spacing), channel, _default_sites(size, 2.0))


def homogeneous_sheet(size: tuple[float, float] = (50.0, 30.0), spacing: float = 0.5) -> Phantom:
    """A sheet of healthy tissue only, with the same pacing sites as
    :func:`scar_channel_sheet`."""
    nx, ny = _check_size("homogeneous_sheet", size, spacing)
    labels = np.full((nx, ny), HEALTHY, np.int32)
    return Phantom(labels, float(spacing), np.zeros((nx, ny), bool), _default_sites(size, 2.0))
