"""A voxelised left-ventricle-like shell: a truncated prolate-ellipsoidal wall with rule-based
fibres, on which the tissue models run.

**Geometry** (mm; long axis along z, apex down): the wall lies between the endocardial
ellipsoid ``(x^2 + y^2) / a_endo^2 + z^2 / c_endo^2 = 1`` and the epicardial one with radii
``a_endo + thickness`` and ``c_endo + thickness``, below the basal plane ``z = base`` (the
ellipsoids' centre is ``z = 0``). A voxel belongs to the wall when its centre does. The
grid's box holds the wall with ``margin`` empty voxels around it; :attr:`LVShell.offset` is
the position of the ellipsoids' centre in the grid's cell-centre coordinates.

**Transmural depth** ``e`` (0 on the endocardium, 1 on the epicardium) of a point is the
``e`` for which it lies on the ellipsoid with radii ``a_endo + e t`` and ``c_endo + e t``
(found by bisection; the ellipsoids are nested, so the root is unique).

**Fibres** (Streeter et al. 1969, Circ Res 24:339; the rule-based method of Bayer et al.
2012, Ann Biomed Eng 40:2243): in the wall's tangent plane, at the helix angle ``alpha``
from the circumferential direction ``e_c`` towards the longitudinal one ``e_l`` (the
meridian's tangent pointing from apex to base), rotating linearly through the wall from
``endo_deg`` (+60) to ``epi_deg`` (-60): ``f = cos(alpha) e_c + sin(alpha) e_l``.

**What the tissue takes.** :meth:`LVShell.model` builds a tissue on the wall with the full
3D fibre vectors :attr:`LVShell.fibres` (``fibres=`` of
:class:`~medtwin.models.cardiology.MonodomainTissue`), so the conduction tensor has the
longitudinal (out-of-plane) component of ``f`` and its x-z and y-z cross terms; the eikonal
solver takes the same vectors. :attr:`LVShell.theta`, the angle of ``f``'s projection on the
x-y plane, is what a tissue with in-plane fibres would take instead; it drops the
longitudinal component and is kept for comparison (the tests show that it matters).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, TypeVar

import numpy as np

from ...errors import ModelError
from ._tissue import HEALTHY, OUTSIDE, MonodomainTissue

_T = TypeVar("_T", bound=MonodomainTissue)

__all__ = ["LVShell", "lv_shell"]


@dataclasses.dataclass(frozen=True, eq=False)
class LVShell:
    """A voxelised LV-like shell (see the module docstring): ``labels`` (``HEALTHY`` in the
    wall, ``OUTSIDE`` elsewhere), ``depth`` (transmural 0..1, NaN outside), ``helix``
    (radians, NaN outside), ``fibres`` (unit vectors ``(3, *shape)``, zero outside; what
    :meth:`model` hands the tissue), ``theta`` (the angle of the fibres' x-y projection, 0
    outside), ``spacing`` (mm) and ``offset`` (mm, the ellipsoids' centre in cell-centre
    coordinates)."""

    labels: np.ndarray
    depth: np.ndarray
    helix: np.ndarray
    fibres: np.ndarray
    theta: np.ndarray
    spacing: float
    offset: tuple[float, float, float]

    @property
    def mask(self) -> np.ndarray:
        """True in the wall."""
        return self.labels != OUTSIDE

    @property
    def shape(self) -> tuple[int, ...]:
        return self.labels.shape

    def model(self, tissue: type[_T], **options: Any) -> _T:
        """The ionic model ``tissue`` (a :class:`MonodomainTissue` subclass, e.g.
        ``AlievPanfilov``) on this wall: its grid, ``labels`` and 3D ``fibres``; ``options``
        are the tissue's other keywords (``D_max``, ``dt``, ...) or a replacement ``labels``
        (a scar drawn on the wall)."""
        if not (isinstance(tissue, type) and issubclass(tissue, MonodomainTissue)):
            raise ModelError(
                "LVShell.model() needs a tissue model class (a MonodomainTissue subclass such "
                f"as AlievPanfilov or MitchellSchaeffer). Got {tissue!r}."
            )
        if "fibres" in options:
            raise ModelError(
                "LVShell.model() passes the shell's own 3D fibres; build the tissue directly "
                "(tissue(shell.shape, shell.spacing, labels=..., fibres=...)) for others."
            )
        kw = {"labels": self.labels, **options}
        return tissue(self.shape, self.spacing, fibres=self.fibres, **kw)


def _depth(rxy: np.ndarray, z: np.ndarray, a: float, c: float, t: float) -> np.ndarray:
    """The transmural depth by bisection on ``g(e) = rxy^2/(a+et)^2 + z^2/(c+et)^2 - 1``
    (decreasing in ``e``)."""
    lo, hi = np.zeros_like(rxy), np.ones_like(rxy)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        g = rxy**2 / (a + mid * t) ** 2 + z**2 / (c + mid * t) ** 2 - 1.0
        lo, hi = np.where(g > 0, mid, lo), np.where(g > 0, hi, mid)
    return 0.5 * (lo + hi)


def lv_shell(
    spacing: float = 1.0,
    *,
    a_endo: float = 20.0,
    c_endo: float = 40.0,
    thickness: float = 8.0,
    base: float = 10.0,
    endo_deg: float = 60.0,
    epi_deg: float = -60.0,
    margin: int = 1,
) -> LVShell:
    """A truncated ellipsoidal LV-like shell on a grid of ``spacing`` mm: endocardial short and
    long radii ``a_endo``, ``c_endo`` (mm), wall ``thickness`` (mm), basal plane ``base`` (mm
    above the centre, below ``c_endo``), fibre helix from ``endo_deg`` to ``epi_deg``. The
    defaults are adult-sized (an endocardial diameter of 40 mm, an 8 mm wall); a test uses a
    smaller one. See the module docstring."""
    vals = {"spacing": spacing, "a_endo": a_endo, "c_endo": c_endo, "thickness": thickness}
    for k, v in vals.items():
        if not (math.isfinite(v) and v > 0):
            raise ModelError(f"lv_shell() needs {k} > 0 (mm). Got {v!r}.")
    if not (-c_endo < base < c_endo):
        raise ModelError(
            f"lv_shell() needs the basal plane between the apex and the top of the cavity: "
            f"-c_endo < base < c_endo = {c_endo:g} mm. Got base = {base!r}."
        )
    if thickness < 2 * spacing:
        raise ModelError(
            f"lv_shell() needs a wall of at least two voxels: thickness >= 2 spacing = "
            f"{2 * spacing:g} mm. Got {thickness:g} mm; refine the spacing."
        )
    a_epi, c_epi = a_endo + thickness, c_endo + thickness
    h = float(spacing)
    nxy = 2 * math.ceil(a_epi / h) + 2 * margin
    nz = math.ceil((base + c_epi) / h) + 2 * margin
    # the centre of the ellipsoids in cell-centre coordinates (i + 0.5) h
    offset = (0.5 * nxy * h, 0.5 * nxy * h, (margin + 0.5) * h + c_epi - 0.5 * h)
    ax = [(np.arange(n) + 0.5) * h - o for n, o in zip((nxy, nxy, nz), offset, strict=True)]
    x, y, z = np.meshgrid(*ax, indexing="ij")
    rxy = np.hypot(x, y)
    inside_epi = rxy**2 / a_epi**2 + z**2 / c_epi**2 <= 1.0
    outside_endo = rxy**2 / a_endo**2 + z**2 / c_endo**2 > 1.0
    wall = inside_epi & outside_endo & (z <= base)
    e = np.where(wall, _depth(rxy, z, a_endo, c_endo, thickness), np.nan)
    alpha = np.deg2rad(endo_deg + (epi_deg - endo_deg) * e)
    # circumferential e_c = (-y, x, 0) / rxy; on the axis (the apex) any horizontal direction
    safe = np.where(rxy > 0, rxy, 1.0)
    ec = np.stack([np.where(rxy > 0, -y / safe, 0.0), np.where(rxy > 0, x / safe, 1.0), 0 * x])
    # meridian tangent, apex -> base, of the ellipsoid through the point: (a_e, c_e) radii
    a_e, c_e = a_endo + e * thickness, c_endo + e * thickness
    # on x = a sin(s) n, z = -c cos(s) (s from the apex): d/ds = (a cos(s) n, c sin(s))
    cos_s = np.clip(-z / np.where(wall, c_e, 1.0), -1.0, 1.0)
    sin_s = np.sqrt(1.0 - cos_s**2)
    n_xy = np.stack([ec[1], -ec[0]])  # outward horizontal unit vector (x, y) / rxy
    el = np.stack([a_e * cos_s * n_xy[0], a_e * cos_s * n_xy[1], c_e * sin_s])
    el = el / np.where(wall, np.linalg.norm(el, axis=0), 1.0)
    f = np.cos(alpha) * ec + np.sin(alpha) * el
    f = np.where(wall[None], f, 0.0)
    theta = np.where(wall, np.arctan2(f[1], f[0]), 0.0)
    labels = np.where(wall, HEALTHY, OUTSIDE).astype(np.int32)
    return LVShell(
        labels=labels,
        depth=e,
        helix=np.where(wall, alpha, np.nan),
        fibres=f,
        theta=theta,
        spacing=h,
        offset=offset,
    )
