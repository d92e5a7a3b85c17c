"""ten Tusscher-Panfilov 2006: the human ventricular (epicardial) cell on a monodomain tissue.

Physical units: ``V`` in mV, time in ms, space in mm, currents in pA/pF (= mV/ms),
concentrations in mM. The tissue equation is ``C_m chi dV/dt = div(sigma grad V) - C_m chi
(I_ion + I_stim')``, i.e. ``dV/dt = div(D grad V) - I_ion + s`` with ``D = sigma / (chi C_m)``
(``D``, ``D_ratio`` declared per model; the defaults are the Niederer et al. 2011 benchmark's
conductivities with its chi = 140 /mm and C_m = 0.01 uF/mm^2) and the stimulus ``s`` the
stimulus current density over ``chi C_m`` (mV/ms; the benchmark's 50 000 uA/cm^3 is 35.7 mV/ms).

The ionic current (ten Tusscher & Panfilov 2006, Am J Physiol Heart Circ Physiol 291:H1088,
appendix; the epicardial ``I_to`` inactivation and ``g_to``, ``g_Ks`` of the epicardial cell)::

    I_ion = I_Na + I_K1 + I_to + I_Kr + I_Ks + I_CaL + I_NaCa + I_NaK + I_pCa + I_pK + I_bCa
            + I_bNa

with the twelve Hodgkin-Huxley gates ``m, h, j`` (I_Na), ``xr1, xr2`` (I_Kr), ``xs`` (I_Ks),
``r, s`` (I_to), ``d, f, f2, fCass`` (I_CaL), the ryanodine-receptor recovery ``R'`` and the
concentrations ``Na_i, K_i, Ca_i, Ca_SR, Ca_ss`` (the three calcium pools with rapid
buffering: ``dCa/dt = J / (1 + Buf K_buf / (Ca + K_buf)^2)``). ``I_CaL``'s Goldman-Hodgkin-Katz
factor ``(V - 15) / (exp(2 (V - 15) F / RT) - 1)`` is written as ``RT / (2F) z / expm1(z)``
(the same function, finite at V = 15 mV).

**Scheme** within the operator-split substep of :mod:`._tissue`: the gates and ``R'`` (linear
in themselves at fixed ``V`` and ``Ca_ss``) relax exactly towards their steady state over the
substep (Rush & Larsen 1978, IEEE Trans Biomed Eng 25:389), ``V`` and the concentrations
advance by forward Euler with the currents at the start of the substep. The stimulus enters
``V`` only (not ``K_i``: in tissue it is an extracellular current).

**Border zone**: ``I_Kr`` and ``I_Ks`` are divided by ``bz_apd`` (a longer action potential;
reduced repolarising currents in the remodelled border zone as in Arevalo et al. 2016, Nat
Commun 7:11437; the factor is a medtwin parameter), and diffusivity times ``bz_D``.

Non-excitable cells hold the rest state (their logarithms stay finite) and never change.
``activation_threshold`` is 0 mV, the benchmark's activation time.

References
----------
ten Tusscher KHWJ, Panfilov AV. Alternans and spiral breakup in a human ventricular tissue
model. Am J Physiol Heart Circ Physiol 291:H1088-H1100, 2006.
Niederer SA et al. Verification of cardiac tissue electrophysiology simulators using an
N-version benchmark. Phil Trans R Soc A 369:4331-4351, 2011.
Rush S, Larsen H. A practical algorithm for solving dynamic membrane equations. IEEE Trans
Biomed Eng 25:389-392, 1978.
"""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._base import declared
from .._registry import register_model
from ._declarations import TEN_TUSSCHER
from ._tissue import MonodomainTissue

__all__ = ["REST", "TenTusscher", "currents", "derivatives", "rates"]

R_GAS = 8314.472  # mJ/(K mol): with F in C/mol, R T / F is in mV
FARADAY = 96485.3415  # C/mol

# (name, unit, description, value at rest): the epicardial cell's initial state of the model's
# CellML encoding (ten Tusscher & Panfilov 2006), the Niederer et al. 2011 benchmark's start
_STATES = (
    ("V", "mV", "transmembrane potential of a cell", -85.23),
    ("m", "1", "I_Na activation gate", 0.00172),
    ("h", "1", "I_Na fast inactivation gate", 0.7444),
    ("j", "1", "I_Na slow inactivation gate", 0.7045),
    ("xr1", "1", "I_Kr activation gate", 0.00621),
    ("xr2", "1", "I_Kr inactivation gate", 0.4712),
    ("xs", "1", "I_Ks activation gate", 0.0095),
    ("r", "1", "I_to activation gate", 2.42e-8),
    ("s", "1", "I_to inactivation gate", 0.999998),
    ("d", "1", "I_CaL activation gate", 3.373e-5),
    ("f", "1", "I_CaL voltage inactivation gate", 0.7888),
    ("f2", "1", "I_CaL slow voltage inactivation gate", 0.9755),
    ("fCass", "1", "I_CaL calcium inactivation gate", 0.9953),
    ("Rp", "1", "ryanodine receptor recovery (R')", 0.9073),
    ("Na_i", "mM", "intracellular sodium", 8.604),
    ("K_i", "mM", "intracellular potassium", 136.89),
    ("Ca_i", "mM", "free cytoplasmic calcium", 0.000126),
    ("Ca_SR", "mM", "free sarcoplasmic-reticulum calcium", 3.64),
    ("Ca_ss", "mM", "free subspace calcium", 0.00036),
)
REST = {name: value for name, _u, _d, value in _STATES}
_GATES = ("m", "h", "j", "xr1", "xr2", "xs", "r", "s", "d", "f", "f2", "fCass")
_N_GATES = len(_GATES)


def _sig(x):
    return 1.0 / (1.0 + jnp.exp(x))


def rates(V: Array, Ca_ss: Array) -> dict[str, tuple[Array, Array]]:
    """Steady state and time constant (ms) of each gate at ``V`` (mV) and ``Ca_ss`` (mM)."""
    out = {}
    a_m = _sig((-60.0 - V) / 5.0)
    b_m = 0.1 * _sig((V + 35.0) / 5.0) + 0.1 * _sig((V - 50.0) / 200.0)
    out["m"] = (_sig((-56.86 - V) / 9.03) ** 2, a_m * b_m)
    h_inf = _sig((V + 71.55) / 7.43) ** 2
    low = V < -40.0
    a_h = jnp.where(low, 0.057 * jnp.exp(-(V + 80.0) / 6.8), 0.0)
    b_h = jnp.where(
        low,
        2.7 * jnp.exp(0.079 * V) + 3.1e5 * jnp.exp(0.3485 * V),
        0.77 / (0.13 * (1.0 + jnp.exp(-(V + 10.66) / 11.1))),
    )
    out["h"] = (h_inf, 1.0 / (a_h + b_h))
    a_j = jnp.where(
        low,
        (-2.5428e4 * jnp.exp(0.2444 * V) - 6.948e-6 * jnp.exp(-0.04391 * V))
        * (V + 37.78)
        * _sig(0.311 * (V + 79.23)),
        0.0,
    )
    b_j = jnp.where(
        low,
        0.02424 * jnp.exp(-0.01052 * V) * _sig(-0.1378 * (V + 40.14)),
        0.6 * jnp.exp(0.057 * V) * _sig(-0.1 * (V + 32.0)),
    )
    out["j"] = (h_inf, 1.0 / (a_j + b_j))
    out["xr1"] = (
        _sig((-26.0 - V) / 7.0),
        450.0 * _sig((-45.0 - V) / 10.0) * 6.0 * _sig((V + 30.0) / 11.5),
    )
    out["xr2"] = (
        _sig((V + 88.0) / 24.0),
        3.0 * _sig((-60.0 - V) / 20.0) * 1.12 * _sig((V - 60.0) / 20.0),
    )
    out["xs"] = (
        _sig((-5.0 - V) / 14.0),
        1400.0 / jnp.sqrt(1.0 + jnp.exp((5.0 - V) / 6.0)) * _sig((V - 35.0) / 15.0) + 80.0,
    )
    out["r"] = (_sig((20.0 - V) / 6.0), 9.5 * jnp.exp(-((V + 40.0) ** 2) / 1800.0) + 0.8)
    out["s"] = (
        _sig((V + 20.0) / 5.0),
        85.0 * jnp.exp(-((V + 45.0) ** 2) / 320.0) + 5.0 * _sig((V - 20.0) / 5.0) + 3.0,
    )
    a_d = 1.4 * _sig((-35.0 - V) / 13.0) + 0.25
    b_d = 1.4 * _sig((V + 5.0) / 5.0)
    out["d"] = (_sig((-8.0 - V) / 7.5), a_d * b_d + _sig((50.0 - V) / 20.0))
    out["f"] = (
        _sig((V + 20.0) / 7.0),
        1102.5 * jnp.exp(-((V + 27.0) ** 2) / 225.0)
        + 200.0 * _sig((13.0 - V) / 10.0)
        + 180.0 * _sig((V + 30.0) / 10.0)
        + 20.0,
    )
    out["f2"] = (
        0.67 * _sig((V + 35.0) / 7.0) + 0.33,
        562.0 * jnp.exp(-((V + 27.0) ** 2) / 240.0)
        + 31.0 * _sig((25.0 - V) / 10.0)
        + 80.0 * _sig((V + 30.0) / 10.0),
    )
    c2 = (Ca_ss / 0.05) ** 2
    out["fCass"] = (0.6 / (1.0 + c2) + 0.4, 80.0 / (1.0 + c2) + 2.0)
    return out


def currents(V, g: dict, c: dict, p, border) -> dict[str, Array]:
    """The membrane currents (pA/pF) at ``V`` (mV) with gates ``g`` and concentrations ``c``
    (dicts by state name) and parameters ``p`` (named); ``border`` 1.0 in the border zone."""
    rtf = R_GAS * p.T / FARADAY  # mV
    E_Na = rtf * jnp.log(p.Na_o / c["Na_i"])
    E_K = rtf * jnp.log(p.K_o / c["K_i"])
    E_Ca = 0.5 * rtf * jnp.log(p.Ca_o / c["Ca_i"])
    E_Ks = rtf * jnp.log((p.K_o + p.p_KNa * p.Na_o) / (c["K_i"] + p.p_KNa * c["Na_i"]))
    slow = 1.0 / (1.0 + (p.bz_apd - 1.0) * border)
    ko = jnp.sqrt(p.K_o / 5.4)
    a_k1 = 0.1 / (1.0 + jnp.exp(0.06 * (V - E_K - 200.0)))
    b_k1 = (3.0 * jnp.exp(0.0002 * (V - E_K + 100.0)) + jnp.exp(0.1 * (V - E_K - 10.0))) / (
        1.0 + jnp.exp(-0.5 * (V - E_K))
    )
    z = 2.0 * (V - 15.0) / rtf
    small = jnp.abs(z) < 1e-6
    zs = jnp.where(small, 1.0, z)
    ghk = jnp.where(small, 1.0 - 0.5 * z, zs / jnp.expm1(zs))  # z / (e^z - 1)
    ez = jnp.exp(z)
    e_g = jnp.exp(p.gamma * V / rtf)
    e_g1 = jnp.exp((p.gamma - 1.0) * V / rtf)
    out = {
        "I_Na": p.g_Na * g["m"] ** 3 * g["h"] * g["j"] * (V - E_Na),
        "I_K1": p.g_K1 * ko * a_k1 / (a_k1 + b_k1) * (V - E_K),
        "I_to": p.g_to * g["r"] * g["s"] * (V - E_K),
        "I_Kr": slow * p.g_Kr * ko * g["xr1"] * g["xr2"] * (V - E_K),
        "I_Ks": slow * p.g_Ks * g["xs"] ** 2 * (V - E_Ks),
        # g_CaL 4 (V - 15) F^2 / RT (...) / (e^z - 1) = g_CaL 2 F (...) z / (e^z - 1)
        "I_CaL": p.g_CaL * g["d"] * g["f"] * g["f2"] * g["fCass"] * 2.0 * FARADAY
        * (0.25 * c["Ca_ss"] * ez - p.Ca_o) * ghk,
        "I_NaCa": p.k_NaCa
        * (e_g * c["Na_i"] ** 3 * p.Ca_o - e_g1 * p.Na_o**3 * c["Ca_i"] * p.alpha_NaCa)
        / ((p.Km_Nai**3 + p.Na_o**3) * (p.Km_Ca + p.Ca_o) * (1.0 + p.k_sat * e_g1)),
        "I_NaK": p.P_NaK * p.K_o / (p.K_o + p.Km_K) * c["Na_i"] / (c["Na_i"] + p.Km_Na)
        / (1.0 + 0.1245 * jnp.exp(-0.1 * V / rtf) + 0.0353 * jnp.exp(-V / rtf)),
        "I_pCa": p.g_pCa * c["Ca_i"] / (c["Ca_i"] + p.K_pCa),
        "I_pK": p.g_pK * (V - E_K) / (1.0 + jnp.exp((25.0 - V) / 5.98)),
        "I_bNa": p.g_bNa * (V - E_Na),
        "I_bCa": p.g_bCa * (V - E_Ca),
    }  # fmt: skip
    return out


def derivatives(
    V, g: dict, c: dict, p, border
) -> tuple[Array, dict[str, Array], tuple[Array, Array]]:
    """``dV/dt`` (without diffusion and stimulus), the concentrations' rates and ``R'``'s rate
    pieces: returns ``(dV, dc, (k_closed, k_open))`` with ``dR'/dt = k_open (1 - R') -
    k_closed R'``."""
    i = currents(V, g, c, p, border)
    Ca_i, Ca_SR, Ca_ss, Rp = c["Ca_i"], c["Ca_SR"], c["Ca_ss"], g["Rp"]
    kcasr = p.max_sr - (p.max_sr - p.min_sr) / (1.0 + (p.EC / Ca_SR) ** 2)
    k1, k2 = p.k1p / kcasr, p.k2p * kcasr
    O = k1 * Ca_ss**2 * Rp / (p.k3 + k1 * Ca_ss**2)  # the paper's name
    I_rel = p.V_rel * O * (Ca_SR - Ca_ss)
    I_up = p.V_maxup / (1.0 + p.K_up**2 / Ca_i**2)
    I_leak = p.V_leak * (Ca_SR - Ca_i)
    I_xfer = p.V_xfer * (Ca_ss - Ca_i)
    cvf = p.Cm_cell / (p.V_c * FARADAY)  # pA/pF -> mM/ms
    dc = {
        "Na_i": -(i["I_Na"] + i["I_bNa"] + 3.0 * i["I_NaK"] + 3.0 * i["I_NaCa"]) * cvf,
        "K_i": -(i["I_K1"] + i["I_to"] + i["I_Kr"] + i["I_Ks"] - 2.0 * i["I_NaK"] + i["I_pK"])
        * cvf,
        "Ca_i": (
            -(i["I_bCa"] + i["I_pCa"] - 2.0 * i["I_NaCa"]) * cvf / 2.0
            + (I_leak - I_up) * p.V_sr / p.V_c
            + I_xfer
        )
        / (1.0 + p.Buf_c * p.K_bufc / (Ca_i + p.K_bufc) ** 2),
        "Ca_SR": (I_up - I_rel - I_leak) / (1.0 + p.Buf_sr * p.K_bufsr / (Ca_SR + p.K_bufsr) ** 2),
        "Ca_ss": (
            -i["I_CaL"] * p.Cm_cell / (2.0 * p.V_ss * FARADAY)
            + I_rel * p.V_sr / p.V_ss
            - I_xfer * p.V_c / p.V_ss
        )
        / (1.0 + p.Buf_ss * p.K_bufss / (Ca_ss + p.K_bufss) ** 2),
    }
    total = i["I_Na"]
    for name in list(i)[1:]:
        total = total + i[name]
    return -total, dc, (k2 * Ca_ss, p.k4)


@declared(TEN_TUSSCHER)
class TenTusscher(MonodomainTissue):
    """ten Tusscher-Panfilov 2006 (epicardial cell) on a monodomain tissue in mV, ms and mm.
    See the module docstring for the equations and scheme and
    :class:`~medtwin.models.cardiology.MonodomainTissue` for the grid, labels, fibres and
    stimulus. Default grid: a 32 x 32 sheet at 0.2 mm."""

    _default_grid: ClassVar[tuple[tuple[int, ...], float]] = ((32, 32), 0.2)
    # the tissue's states (19 per cell, per instance), kept over the declaration's empty tuple
    states = MonodomainTissue.states
    _cell_states: ClassVar[tuple[tuple[str, str, str], ...]] = tuple(
        (f"{name}_", unit, description) for name, unit, description, _v in _STATES
    )
    activation_threshold: ClassVar[float] = 0.0  # mV (Niederer et al. 2011)

    def reaction(
        self, u: Array, w: tuple[Array, ...], p, dt: float, border: Array
    ) -> tuple[Array, tuple[Array, ...]]:
        names = [s[0] for s in _STATES]
        x = dict(zip(names[1:], w, strict=True))
        dV, dc, (k_closed, k_open) = derivatives(u, x, x, p, border)
        gates = []
        for name, (inf, tau) in rates(u, x["Ca_ss"]).items():
            gates.append(inf + (x[name] - inf) * jnp.exp(-dt / tau))
        k = k_closed + k_open
        r_inf = k_open / k
        rp = r_inf + (x["Rp"] - r_inf) * jnp.exp(-dt * k)
        conc = [x[n] + dt * dc[n] for n in names[_N_GATES + 2 :]]
        return u + dt * dV, (*gates, rp, *conc)

    def rest_state(self, params: Array) -> tuple[ArrayLike, ...]:
        return tuple(jnp.full(self.shape, v) for *_n, v in _STATES)

    def inert_state(self, params: Array) -> tuple[ArrayLike, ...]:
        return self.rest_state(params)

    def rate_bound(self) -> float:
        # forward Euler on V: an estimate of |dI_ion/dV|, the sum of the largest conductances
        # (I_Na's gates at most 1) plus 2 /ms for I_CaL's and the rectifiers' slopes; the gates
        # and R' are exact over a substep (Rush-Larsen), the concentrations slower than 5 /ms
        hi = {k: self._spec(k).bounds[1] for k in ("g_Na", "g_K1", "g_to", "g_Kr", "g_Ks")}
        return sum(hi.values()) + 2.0


register_model(TenTusscher)
