"""The declarations of the cardiac tissue models (:class:`~medtwin.models.Declaration`):
Aliev-Panfilov 1996, Mitchell-Schaeffer 2003 and ten Tusscher-Panfilov 2006 on a monodomain
tissue, with parameters, units, bounds and references. Read without loading JAX; the
equations are in ``aliev_panfilov.py``, ``mitchell_schaeffer.py`` and ``ten_tusscher.py``, the
tissue scheme in ``_tissue.py``.

Units: time in ms, space in mm. The two-variable models' potential is the dimensionless ``u``
(0 at rest, about 1 at the peak of the action potential) and their states are two per grid
cell; ten Tusscher-Panfilov's is in mV, with 19 states per cell (potential, 13 gates and 5
concentrations). The states are declared per instance.
"""

from __future__ import annotations

from .._noise import GaussianNoise
from .._spec import Declaration, InputSpec, ObservableSpec, ParameterSpec

__all__ = ["ALIEV_PANFILOV", "MITCHELL_SCHAEFFER", "TEN_TUSSCHER"]

_AP96 = "Aliev & Panfilov 1996, Chaos Solitons Fractals 7:293"
_MS03 = "Mitchell & Schaeffer 2003, Bull Math Biol 65:767"
_MT = "medtwin assumption"
_TP06 = "ten Tusscher & Panfilov 2006, Am J Physiol Heart Circ Physiol 291:H1088, Table 1"
_TP04 = "ten Tusscher et al. 2004, Am J Physiol Heart Circ Physiol 286:H1573, Table 1"
_N11 = "Niederer et al. 2011, Phil Trans R Soc A 369:4331 (benchmark definition)"


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


# ---- ten Tusscher-Panfilov 2006, epicardial cell ------------------------------------------
# Niederer et al. 2011: intra- and extracellular conductivities (S/m) 0.17 / 0.62 along and
# 0.019 / 0.24 across the fibres, monodomain sigma = sigma_i sigma_e / (sigma_i + sigma_e),
# chi = 140 /mm, C_m = 0.01 uF/mm^2; D = sigma / (chi C_m) in mm^2/ms (1 S/m = 1 mS/mm).
_CHI_CM = 140.0 * 0.01  # uF/mm^3
_SIGMA_L = 0.17 * 0.62 / (0.17 + 0.62)  # S/m, 0.1334
_SIGMA_T = 0.019 * 0.24 / (0.019 + 0.24)  # S/m, 0.0176
_TT_D = _SIGMA_L / _CHI_CM  # 0.0953 mm^2/ms


def _tt_tissue() -> tuple[ParameterSpec, ...]:
    """The shared tissue parameters with the benchmark's conduction."""
    replace = {
        "D": ParameterSpec(
            "D",
            "mm2/ms",
            _TT_D,
            (0.005, 0.5),
            None,
            "monodomain diffusivity along the fibres, sigma_l / (chi C_m) (0.1334 S/m over "
            "chi C_m = 1.4 uF/mm^3)",
            _N11,
        ),
        "D_ratio": ParameterSpec(
            "D_ratio",
            "1",
            _SIGMA_T / _SIGMA_L,
            (0.05, 1.0),
            None,
            "transverse / longitudinal diffusivity (0.0176 / 0.1334 S/m)",
            _N11,
        ),
        "bz_apd": ParameterSpec(
            "bz_apd",
            "1",
            1.2,
            (1.0, 2.0),
            None,
            "border-zone divisor of I_Kr and I_Ks (longer action potential)",
            f"{_MT}; reduced border-zone I_Kr and I_Ks as in Arevalo et al. 2016, Nat Commun "
            "7:11437",
        ),
    }
    return tuple(replace.get(s.name, s) for s in _tissue(_TT_D, 0.5, "benchmark"))


def _p(name, unit, default, description, ref=_TP06, lo=None, hi=None):
    lo = default / 10.0 if lo is None else lo
    hi = default * 10.0 if hi is None else hi
    return ParameterSpec(name, unit, default, (lo, hi), None, description, ref)


_TT_PARAMETERS = (
    *_tt_tissue(),
    _p("T", "K", 310.0, "temperature", lo=290.0, hi=320.0),
    _p("Cm_cell", "nF", 0.185, "cell capacitance (185 pF)"),
    _p("V_c", "nL", 0.016404, "cytoplasmic volume (16 404 um^3)"),
    _p("V_sr", "nL", 0.001094, "sarcoplasmic reticulum volume (1094 um^3)"),
    _p("V_ss", "nL", 5.468e-5, "subspace volume (54.68 um^3)"),
    _p("K_o", "mM", 5.4, "extracellular potassium", lo=2.0, hi=12.0),
    _p("Na_o", "mM", 140.0, "extracellular sodium", lo=100.0, hi=180.0),
    _p("Ca_o", "mM", 2.0, "extracellular calcium", lo=0.5, hi=5.0),
    _p("g_Na", "nS/pF", 14.838, "maximal I_Na conductance", lo=1.0, hi=20.0),
    _p("g_K1", "nS/pF", 5.405, "maximal I_K1 conductance", lo=0.5, hi=10.0),
    _p("g_to", "nS/pF", 0.294, "maximal I_to conductance (epicardial)", lo=0.0, hi=1.0),
    _p("g_Kr", "nS/pF", 0.153, "maximal I_Kr conductance", lo=0.0, hi=0.5),
    _p("g_Ks", "nS/pF", 0.392, "maximal I_Ks conductance (epicardial)", lo=0.0, hi=1.0),
    _p("p_KNa", "1", 0.03, "relative I_Ks permeability to Na+"),
    _p("g_CaL", "cm3/(uF.ms)", 3.98e-5, "maximal I_CaL conductance"),
    _p("k_NaCa", "pA/pF", 1000.0, "maximal I_NaCa"),
    _p("gamma", "1", 0.35, "voltage dependence of I_NaCa", lo=0.0, hi=1.0),
    _p("Km_Ca", "mM", 1.38, "Ca_i half-saturation of I_NaCa"),
    _p("Km_Nai", "mM", 87.5, "Na_i half-saturation of I_NaCa"),
    _p("k_sat", "1", 0.1, "saturation factor of I_NaCa"),
    _p("alpha_NaCa", "1", 2.5, "factor enhancing the outward I_NaCa"),
    _p("P_NaK", "pA/pF", 2.724, "maximal I_NaK"),
    _p("Km_K", "mM", 1.0, "K_o half-saturation of I_NaK"),
    _p("Km_Na", "mM", 40.0, "Na_i half-saturation of I_NaK"),
    _p("g_pK", "nS/pF", 0.0146, "maximal I_pK conductance"),
    _p("g_pCa", "pA/pF", 0.1238, "maximal I_pCa"),
    _p("K_pCa", "mM", 0.0005, "half-saturation of I_pCa"),
    _p("g_bNa", "nS/pF", 0.00029, "maximal I_bNa conductance"),
    _p("g_bCa", "nS/pF", 0.000592, "maximal I_bCa conductance"),
    _p("V_maxup", "mM/ms", 0.006375, "maximal I_up"),
    _p("K_up", "mM", 0.00025, "half-saturation of I_up"),
    _p("V_rel", "1/ms", 0.102, "maximal I_rel conductance"),
    _p("k1p", "1/(mM2.ms)", 0.15, "R to O and RI to I I_rel transition rate"),
    _p("k2p", "1/(mM.ms)", 0.045, "O to I and R to RI I_rel transition rate"),
    _p("k3", "1/ms", 0.06, "O to R and I to RI I_rel transition rate"),
    _p("k4", "1/ms", 0.005, "I to O and RI to I I_rel transition rate"),
    _p("EC", "mM", 1.5, "Ca_SR half-saturation constant of k_casr"),
    _p("max_sr", "1", 2.5, "maximum of k_casr", lo=1.0),
    _p("min_sr", "1", 1.0, "minimum of k_casr", lo=0.1, hi=2.5),
    _p("V_leak", "1/ms", 0.00036, "maximal I_leak"),
    _p("V_xfer", "1/ms", 0.0038, "maximal I_xfer"),
    _p("Buf_c", "mM", 0.2, "total cytoplasmic buffer concentration"),
    _p("K_bufc", "mM", 0.001, "Ca_i half-saturation of the cytoplasmic buffer"),
    _p("Buf_sr", "mM", 10.0, "total sarcoplasmic buffer concentration"),
    _p("K_bufsr", "mM", 0.3, "Ca_SR half-saturation of the sarcoplasmic buffer"),
    _p("Buf_ss", "mM", 0.4, "total subspace buffer concentration"),
    _p("K_bufss", "mM", 0.00025, "Ca_ss half-saturation of the subspace buffer"),
)

TEN_TUSSCHER = Declaration(
    name="ten-tusscher",
    aliases=("ten-tusscher-panfilov-2006", "tp06"),
    title="ten Tusscher-Panfilov 2006 monodomain tissue (human epicardial ventricular cell)",
    reference="ten Tusscher KHWJ, Panfilov AV. Am J Physiol Heart Circ Physiol "
    "291(3):H1088-H1100 (2006)",
    time_unit="ms",
    states=(),  # V, 13 gates and 5 concentrations per grid cell: TenTusscher.states
    parameters=_TT_PARAMETERS,
    inputs=(
        InputSpec(
            "stimulus",
            "mV/ms",
            "stimulus current density at the pacing site over chi C_m (Niederer et al. "
            "2011: 50 000 uA/cm^3 over 1.4 uF/mm^3 is 35.7 mV/ms for 2 ms)",
        ),
    ),
    observables=(
        ObservableSpec(
            "excited_fraction",
            "1",
            None,
            "fraction of the excitable tissue with V > 0 mV",
            GaussianNoise(0.02),
        ),
    ),
    model="medtwin.models.cardiology.ten_tusscher:TenTusscher",
)
