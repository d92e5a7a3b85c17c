"""The declarations of the cardiac tissue models (:class:`~medtwin.models.Declaration`):
Aliev-Panfilov 1996 and Mitchell-Schaeffer 2003 on a monodomain tissue, with parameters,
units, bounds and references. Read without loading JAX; the equations are in
``aliev_panfilov.py`` and ``mitchell_schaeffer.py``, the tissue scheme in ``_tissue.py``.

Units: time in ms, space in mm, the transmembrane potential as the model's dimensionless
variable ``u`` (0 at rest, about 1 at the peak of the action potential). The states are two
per grid cell (``u`` and the recovery variable), declared per instance.
"""

from __future__ import annotations

from .._noise import GaussianNoise
from .._spec import Declaration, InputSpec, ObservableSpec, ParameterSpec

__all__ = ["ALIEV_PANFILOV", "MITCHELL_SCHAEFFER"]

_AP96 = "Aliev & Panfilov 1996, Chaos Solitons Fractals 7:293"
_MS03 = "Mitchell & Schaeffer 2003, Bull Math Biol 65:767"
_MT = "medtwin assumption"


def _tissue(D: float, D_hi: float, conduction: str) -> tuple[ParameterSpec, ...]:
    """The tissue parameters both models share: conduction, anisotropy, border zone, stimulus
    site (the site is a parameter so that a batch of parameter vectors is a batch of sites)."""
    return (
        ParameterSpec(
            "D", "mm2/ms", D, (0.01, D_hi), None,
            f"monodomain diffusivity along the fibres in healthy tissue ({conduction})",
            f"{_MT}: chosen for a longitudinal conduction velocity near 0.5 m/s",
        ),
        ParameterSpec(
            "D_ratio", "1", 0.25, (0.05, 1.0), None,
            "transverse / longitudinal diffusivity (conduction-velocity ratio sqrt(D_ratio) "
            "= 1/2; ratios of 2-3 are reported in ventricular myocardium)",
            f"{_MT}; anisotropy as in Roberts et al. 1979, Circ Res 44:701",
        ),
        ParameterSpec(
            "bz_D", "1", 0.5, (0.05, 1.0), None,
            "border-zone diffusivity as a fraction of healthy (slower conduction)",
            f"{_MT}; reduced border-zone conduction as in Arevalo et al. 2016, Nat Commun "
            "7:11437",
        ),
        ParameterSpec(
            "bz_apd", "1", 1.2, (1.0, 2.0), None,
            "border-zone lengthening of the recovery time scale (longer action potential)",
            f"{_MT}; longer border-zone APD as in Arevalo et al. 2016, Nat Commun 7:11437",
        ),
        ParameterSpec("stim_x", "mm", 0.0, (-1e4, 1e4), None,
                      "stimulus site, x coordinate", f"{_MT}: pacing protocol"),
        ParameterSpec("stim_y", "mm", 0.0, (-1e4, 1e4), None,
                      "stimulus site, y coordinate (ignored on a 1D cable)",
                      f"{_MT}: pacing protocol"),
        ParameterSpec("stim_z", "mm", 0.0, (-1e4, 1e4), None,
                      "stimulus site, z coordinate (used on 3D grids only)",
                      f"{_MT}: pacing protocol"),
        ParameterSpec("stim_r", "mm", 1.0, (0.01, 50.0), None,
                      "stimulus radius: excitable cells within it receive the current",
                      f"{_MT}: pacing protocol"),
    )  # fmt: skip


_INPUTS = (
    InputSpec(
        "stimulus",
        "1/ms",
        "stimulus current at the pacing site, as the rate it raises u (an Infusion of "
        "amplitude a for 2 ms is a pulse; see cardiology.pulse)",
    ),
)

_OBSERVABLES = (
    ObservableSpec(
        "excited_fraction",
        "1",
        None,
        "fraction of the excitable tissue with u > 0.5",
        GaussianNoise(0.02),
    ),
)

_AP_PARAMETERS = (
    *_tissue(2.0, 6.0, "with t_scale = 12.9 ms"),
    ParameterSpec("k", "1", 8.0, (1.0, 20.0), None,
                  "excitation rate constant of the cubic term", _AP96),
    ParameterSpec("a", "1", 0.15, (0.01, 0.45), None, "excitation threshold", _AP96),
    ParameterSpec("eps0", "1", 0.002, (1e-4, 0.1), None,
                  "recovery rate far from the excited state", _AP96),
    ParameterSpec("mu1", "1", 0.2, (0.0, 1.0), None, "recovery-rate coefficient", _AP96),
    ParameterSpec("mu2", "1", 0.3, (0.01, 1.0), None, "recovery-rate offset", _AP96),
    ParameterSpec("t_scale", "ms", 12.9, (1.0, 50.0), None,
                  "one dimensionless time unit of the model in ms", _AP96),
)  # fmt: skip

_MS_PARAMETERS = (
    *_tissue(0.1, 1.0, "at tau_in = 0.3 ms"),
    ParameterSpec("tau_in", "ms", 0.3, (0.05, 2.0), None,
                  "time constant of the inward (depolarising) current", _MS03),
    ParameterSpec("tau_out", "ms", 6.0, (1.0, 30.0), None,
                  "time constant of the outward (repolarising) current", _MS03),
    ParameterSpec("tau_open", "ms", 120.0, (10.0, 500.0), None,
                  "gate opening (recovery) time constant", _MS03),
    ParameterSpec("tau_close", "ms", 150.0, (10.0, 500.0), None,
                  "gate closing time constant (sets the APD)", _MS03),
    ParameterSpec("v_gate", "1", 0.13, (0.01, 0.5), None, "gate switching potential",
                  _MS03),
)  # fmt: skip

ALIEV_PANFILOV = Declaration(
    name="aliev-panfilov",
    aliases=("aliev-panfilov-1996",),
    title="Aliev-Panfilov 1996 monodomain tissue (two-variable ventricular model)",
    reference="Aliev RR, Panfilov AV. Chaos Solitons Fractals 7(3):293-301 (1996)",
    time_unit="ms",
    states=(),  # u and v per grid cell: AlievPanfilov.states, per instance
    parameters=_AP_PARAMETERS,
    inputs=_INPUTS,
    observables=_OBSERVABLES,
    model="medtwin.models.cardiology.aliev_panfilov:AlievPanfilov",
)

MITCHELL_SCHAEFFER = Declaration(
    name="mitchell-schaeffer",
    aliases=("mitchell-schaeffer-2003",),
    title="Mitchell-Schaeffer 2003 monodomain tissue (two-current model)",
    reference="Mitchell CC, Schaeffer DG. Bull Math Biol 65(5):767-793 (2003)",
    time_unit="ms",
    states=(),  # u and h per grid cell: MitchellSchaeffer.states, per instance
    parameters=_MS_PARAMETERS,
    inputs=_INPUTS,
    observables=_OBSERVABLES,
    model="medtwin.models.cardiology.mitchell_schaeffer:MitchellSchaeffer",
)
