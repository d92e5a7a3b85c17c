"""The declaration of the glioma proliferation-invasion model
(:class:`~medtwin.models.Declaration`): parameters with units, bounds, priors and references,
inputs and observables (the states are the grid's cells, declared per instance). Read without
loading JAX; the equations and the scheme are in ``glioma.py``."""

from __future__ import annotations

from .._noise import GaussianNoise
from .._priors import LogNormal
from .._spec import Declaration, InputSpec, ObservableSpec, ParameterSpec

__all__ = ["GLIOMA"]

# ---- Glioma (glioma.py) ----------------------------------------

_S00 = "Swanson et al. 2000, Cell Prolif 33:317"
_S08 = "Swanson et al. 2008, Br J Cancer 98:113; Harpold et al. 2007, J Neuropathol Exp Neurol"
_R10 = "Rockne et al. 2010, Phys Med Biol 55:3271"
_MT = "medtwin assumption"

_PARAMETERS = (
    ParameterSpec(
        "D", "mm2/d", 0.1, (0.005, 0.5), LogNormal(0.08, 0.8),
        "diffusion (invasion) coefficient in white matter; ~0.04-0.2 mm^2/day",
        f"{_S08}; {_S00}",
    ),
    ParameterSpec(
        "D_ratio", "1", 5.0, (1.0, 20.0), None,
        "D_white / D_grey", _S00,
    ),
    ParameterSpec(
        "rho", "1/d", 0.05, (0.001, 0.5), LogNormal(0.04, 0.8),
        "net proliferation rate; ~0.02-0.1 /day", _S08,
    ),
    ParameterSpec(
        "alpha", "1/Gy", 0.05, (0.001, 1.0), LogNormal(0.05, 0.5),
        "linear-quadratic radiosensitivity alpha (fitted per patient in Rockne 2010; the "
        "default is a medtwin choice)", _R10,
    ),
    ParameterSpec("alpha_beta", "Gy", 10.0, (1.0, 30.0), None, "alpha/beta ratio", _R10),
    ParameterSpec(
        "R0", "mm", 10.0, (0.5, 60.0), LogNormal(12.0, 0.5),
        "radius of the initial front (c = K/2)", f"{_MT}: initial condition of the twin",
    ),
    ParameterSpec(
        "thr_t1", "1", 0.8, (0.3, 0.99), None,
        "T1-gadolinium detection threshold, fraction of K", _S08,
    ),
    ParameterSpec(
        "thr_t2", "1", 0.16, (0.01, 0.5), None,
        "T2/FLAIR detection threshold, fraction of K", _S08,
    ),
)  # fmt: skip


GLIOMA = Declaration(
    name="glioma",
    aliases=("swanson-pi",),
    title="Glioma proliferation-invasion with LQ radiotherapy (Swanson)",
    reference=(
        "Swanson KR et al. Cell Prolif 33:317 (2000); Br J Cancer 98:113 (2008); "
        "Rockne R et al. Phys Med Biol 55:3271 (2010)"
    ),
    time_unit="d",
    states=(),  # one density per grid cell: Glioma.states, per instance
    parameters=_PARAMETERS,
    inputs=(InputSpec("radiation", "Gy/d", "radiotherapy; a Dose of d Gy = 1 fraction"),),
    observables=(
        ObservableSpec(
            "radius_t1gd",
            "mm",
            None,
            "equivalent-sphere radius of the T1-gadolinium enhancing volume (c > thr_t1)",
            GaussianNoise(1.0),
        ),
        ObservableSpec(
            "radius_t2",
            "mm",
            None,
            "equivalent-sphere radius of the T2/FLAIR abnormal volume (c > thr_t2)",
            GaussianNoise(1.5),
        ),
    ),
    model="medtwin.models.oncology.glioma:Glioma",
    evidence="medtwin.credibility.evidence.glioma:EVIDENCE",
)
