"""Programmed electrical stimulation (PES), the definition of an induced reentrant VT, and the
inducibility score.

**Protocol** (:class:`PESProtocol`), after the clinical protocol that Arevalo et al. 2016
reproduced in personalised hearts: a drive train of ``n_s1`` S1 beats at ``s1_cycle`` ms (600 ms
by default; the clinic's drive train is 8 beats), then up to three extrastimuli S2-S4. For
each extrastimulus the candidate coupling intervals (ms after the previous stimulus) are tried
in decreasing order, as the clinic decrements them; here all candidates of a stage run at
once, batched over (pacing site x coupling) in one vmapped computation. A site stops at the
first stage where a coupling induces VT; otherwise its extrastimulus is fixed at the shortest
coupling that still captured (the clinic's "just above refractoriness") and the next
extrastimulus is added. A site where no candidate captures stops too. The model's time is in
ms, so the clinic's intervals apply unchanged; only the drive-train length is a parameter
(tests use short trains to save time).

**Capture**: the extrastimulus captured when a cell at ``capture_distance`` mm beyond the
stimulated disc activates within ``capture_window`` ms of the pulse.

**Induced reentrant VT** (:class:`VTDefinition`): the run continues for ``sustained_ms`` after
the last stimulus. At a recording site (by default the pacing sites: the catheter
electrodes) the activations after the last stimulus must number at least ``min_beats``, their
cycle length (median interval, the first interval after the stimulus left out) must lie in
``cycle_length`` (default 200-600 ms: faster than 100 beats/min, slower than flutter), and the
last must fall within one maximal cycle length of ``sustained_ms`` (still active then). VT is
induced when any recording site shows it. An activation is the upward crossing of
``threshold`` (by default the model's ``activation_threshold``), interpolated in time.

**Inducibility score**: the fraction of pacing sites whose protocol induces VT, with an exact
(Clopper-Pearson) binomial interval: the number of sites is small (Arevalo et al. paced 19),
where the exact interval is the conservative choice.

**Recording** runs the tissue's own ``step`` in a ``lax.scan`` over the 1-ms input steps,
vmapped over members, keeping per member only the last two activation times of every cell
(the reentry's activation sequence, for :mod:`.ablation`) and the recent activation times at
the probe cells: no grid of states is stored over time.

References
----------
Arevalo HJ et al. Arrhythmia risk stratification of patients after myocardial infarction using
personalized heart models. Nat Commun 7:11437, 2016.
Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the case of the
binomial. Biometrika 26:404-413, 1934.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike
from scipy import stats

from ...errors import ModelError
from ._tissue import MonodomainTissue

__all__ = ["Inducibility", "PESProtocol", "VTDefinition", "programmed_stimulation"]

_N_CAPTURE = 8  # probe cells on the capture ring of each site


def _positive(name: str, value: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ModelError(f"{name} must be a finite number > 0. Got {value!r}.")
    return v


@dataclass(frozen=True)
class PESProtocol:
    """The stimulation protocol (ms; see the module docstring). ``couplings``: one tuple of
    candidate coupling intervals per extrastimulus (S2, S3, S4: one to three tuples), each
    strictly decreasing and positive."""

    s1_cycle: float = 600.0
    n_s1: int = 8
    couplings: tuple[tuple[float, ...], ...] = (
        tuple(float(c) for c in range(400, 199, -20)),
        tuple(float(c) for c in range(380, 199, -20)),
        tuple(float(c) for c in range(360, 199, -20)),
    )
    pulse_ms: float = 2.0
    amplitude: float = 1.0
    capture_window: float = 100.0
    capture_distance: float = 2.0

    def __post_init__(self) -> None:
        _positive("PESProtocol s1_cycle (ms)", self.s1_cycle)
        if not (isinstance(self.n_s1, int) and self.n_s1 >= 1):
            raise ModelError(f"PESProtocol n_s1 must be an integer >= 1. Got {self.n_s1!r}.")
        for name in ("pulse_ms", "amplitude", "capture_window", "capture_distance"):
            _positive(f"PESProtocol {name}", getattr(self, name))
        c = self.couplings
        if not (isinstance(c, tuple | list) and 1 <= len(c) <= 3):
            raise ModelError(
                "PESProtocol couplings must hold one to three tuples of coupling intervals "
                f"(S2, S3, S4). Got {c!r}."
            )
        for k, stage in enumerate(c):
            s = np.asarray(stage, dtype=np.float64)
            if s.ndim != 1 or s.size == 0 or not np.isfinite(s).all():
                raise ModelError(
                    f"PESProtocol couplings for S{k + 2} must be a non-empty tuple of numbers "
                    f"(ms). Got {stage!r}."
                )
            if (s <= self.pulse_ms).any() or (np.diff(s) >= 0).any():
                raise ModelError(
                    f"PESProtocol couplings for S{k + 2} must be positive, longer than the "
                    f"{self.pulse_ms:g} ms pulse, and strictly decrementing (the clinical "
                    f"protocol shortens them step by step). Got {tuple(s.tolist())}; e.g. "
                    "(400, 380, 360)."
                )


@dataclass(frozen=True)
class VTDefinition:
    """What counts as an induced reentrant VT (see the module docstring): ``cycle_length``
    (lo, hi) in ms, ``sustained_ms`` after the last stimulus, ``min_beats`` activations after
    it, ``threshold`` the activation level of the potential (None: the model's
    ``activation_threshold``, the midpoint of its action potential)."""

    cycle_length: tuple[float, float] = (200.0, 600.0)
    sustained_ms: float = 2000.0
    min_beats: int = 3
    threshold: float | None = None

    def __post_init__(self) -> None:
        lo, hi = (float(x) for x in self.cycle_length)
        if not (0 < lo < hi and math.isfinite(hi)):
            raise ModelError(
                f"VTDefinition cycle_length must be (lo, hi) ms with 0 < lo < hi. Got "
                f"{self.cycle_length!r}."
            )
        if not _positive("VTDefinition sustained_ms", self.sustained_ms) >= hi:
            raise ModelError(
                f"VTDefinition sustained_ms must be at least the longest cycle length {hi:g} "
                f"ms. Got {self.sustained_ms!r}."
            )
        if not (isinstance(self.min_beats, int) and self.min_beats >= 2):
            raise ModelError(
                f"VTDefinition min_beats must be an integer >= 2. Got {self.min_beats!r}."
            )

    @property
    def buffer(self) -> int:
        """How many recent activations per probe cell a recording keeps."""
        return math.ceil(self.sustained_ms / self.cycle_length[0]) + 4

    def evaluate(
        self, times: np.ndarray, t_last: np.ndarray, t_end: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``times`` (members, sites, K): activation times at the recording sites (NaN
        padded); ``t_last``, ``t_end`` (members,): the last stimulus and the end of the run.
        Returns (VT induced, cycle length ms or NaN) per member."""
        lo, hi = self.cycle_length
        b = times.shape[0]
        induced = np.zeros(b, bool)
        cl = np.full(b, np.nan)
        for m in range(b):  # host-side bookkeeping on a few numbers per member
            cls = []
            for tr in times[m]:
                after = np.sort(tr[np.isfinite(tr) & (tr > t_last[m])])
                if after.size < self.min_beats:
                    continue
                gaps = np.diff(after)[1:] if after.size > 2 else np.diff(after)
                c = float(np.median(gaps))
                if lo <= c <= hi and after[-1] >= t_end[m] - hi:
                    cls.append(c)
            if cls:
                induced[m], cl[m] = True, float(np.median(cls))
        return induced, cl


@dataclass(frozen=True, eq=False)
class Inducibility:
    """The result of :func:`programmed_stimulation`: per pacing site (rows of ``sites``, mm)
    whether VT was induced, its cycle length (ms, NaN if none), the extrastimulus couplings of
    the inducing (or last) run, the last two activation times of every cell at the end of the
    inducing run (``activation``: (sites, 2, *grid), ms, NaN where none) and its end time
    ``t_end``; the score (fraction of sites inducing) and its ``confidence`` interval
    ``interval`` (Clopper-Pearson). ``ok`` is False for a site whose run became non-finite."""

    sites: np.ndarray
    induced: np.ndarray
    cycle_length: np.ndarray
    couplings: tuple[tuple[float, ...], ...]
    activation: np.ndarray
    t_end: np.ndarray
    ok: np.ndarray
    score: float
    interval: tuple[float, float]
    confidence: float


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact binomial interval of ``k`` successes in ``n`` trials (Clopper & Pearson 1934)."""
    if not (0 <= k <= n and n >= 1 and 0 < confidence < 1):
        raise ModelError(
            f"clopper_pearson() needs 0 <= k <= n, n >= 1 and 0 < confidence < 1. Got k={k}, "
            f"n={n}, confidence={confidence}."
        )
    a = 1.0 - confidence
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


@eqx.filter_jit
def _record(
    model: MonodomainTissue,
    params: Array,
    y0: Array,
    t0: Array,
    stim: Array,
    probes: Array,
    threshold: float,
    keep: int,
) -> tuple[Array, Array, Array, Array]:
    """Run each member (vmapped) over ``stim.shape[1]`` input steps from ``y0`` at ``t0`` with
    the stimulus rates ``stim`` (members, steps). Returns the final states, the last and
    previous activation times of every cell and the last ``keep`` activation times at the
    ``probes`` cells (members, probes, keep), NaN where none."""
    dt = model.input_dt
    n = model.n_cells

    def one(p, y, s, pr):
        def body(carry, k):
            y, last, prev, buf = carry
            t = t0 + k * dt
            y1 = model.step(t, y, s[k][None], p, dt, None)
            ua = model.field(y)[0].reshape(-1)
            ub = model.field(y1)[0].reshape(-1)
            up = (ua < threshold) & (ub >= threshold)
            tc = t + dt * (threshold - ua) / jnp.where(ub != ua, ub - ua, 1.0)
            prev = jnp.where(up, last, prev)
            last = jnp.where(up, tc, last)
            shifted = jnp.concatenate([buf[:, 1:], tc[pr][:, None]], axis=1)
            buf = jnp.where(up[pr][:, None], shifted, buf)
            return (y1, last, prev, buf), None

        nan = jnp.full(n, jnp.nan)
        init = (y, nan, nan, jnp.full((pr.shape[0], keep), jnp.nan))
        (y, last, prev, buf), _ = jax.lax.scan(body, init, jnp.arange(s.shape[0]))
        return y, last, prev, buf

    return jax.vmap(one)(params, y0, stim, probes)


def _stim(
    times: list[list[float]], t0: float, steps: int, dt: float, proto: PESProtocol
) -> np.ndarray:
    """Stimulus rates (members, steps): ``amplitude`` over [t, t + pulse_ms) of each pulse."""
    ts = t0 + dt * np.arange(steps)
    out = np.zeros((len(times), steps))
    for i, pulses in enumerate(times):
        for t in pulses:
            out[i] += proto.amplitude * ((ts >= t - 1e-9) & (ts < t + proto.pulse_ms - 1e-9))
    return out


def _nearest_cells(model: MonodomainTissue, points: np.ndarray) -> np.ndarray:
    """The flat index of the excitable cell nearest each point (mm)."""
    grid = np.stack(np.meshgrid(*model.centres(), indexing="ij"), -1).reshape(-1, len(model.shape))
    live = np.flatnonzero(np.asarray(model.excitable()).reshape(-1))
    d = np.linalg.norm(grid[live][None] - points[:, None], axis=-1)
    return live[np.argmin(d, axis=1)]


def _capture_cells(model: MonodomainTissue, site: np.ndarray, radius: float) -> np.ndarray:
    """``_N_CAPTURE`` excitable cells nearest the ring of ``radius`` mm around ``site``."""
    grid = np.stack(np.meshgrid(*model.centres(), indexing="ij"), -1).reshape(-1, len(model.shape))
    live = np.flatnonzero(np.asarray(model.excitable()).reshape(-1))
    d = np.abs(np.linalg.norm(grid[live] - site, axis=-1) - radius)
    pick = live[np.argsort(d, kind="stable")[: 4 * _N_CAPTURE]]
    return pick[:: max(1, len(pick) // _N_CAPTURE)][:_N_CAPTURE]


def _on_grid(name: str, value: float, dt: float) -> None:
    if abs(value / dt - round(value / dt)) > 1e-9:
        raise ModelError(
            f"programmed_stimulation() needs {name} on the model's {dt:g} ms input grid. Got "
            f"{value:g} ms; use a multiple of {dt:g}."
        )


def programmed_stimulation(
    model: MonodomainTissue,
    params: ArrayLike,
    sites: ArrayLike,
    *,
    protocol: PESProtocol | None = None,
    definition: VTDefinition | None = None,
    recording_sites: ArrayLike | None = None,
    confidence: float = 0.95,
) -> Inducibility:
    """Run the PES ``protocol`` from every pacing site (``sites``: (n, dim) mm) on ``model``
    with the parameter vector ``params`` (the pacing site is set per site), batched over
    (site x coupling), and score inducibility by ``definition``. See the module docstring."""
    proto = protocol or PESProtocol()
    vt = definition or VTDefinition()
    s = np.asarray(sites, dtype=np.float64)
    if s.size == 0:
        raise ModelError(
            "programmed_stimulation() needs at least one pacing site. Got an empty site list; "
            f"pass (n, {len(model.shape)}) coordinates in mm."
        )
    s = np.atleast_2d(s)
    P = np.asarray(model.pacing_params(s, params))  # refuses sites on no excitable tissue
    n_sites, dt = len(s), model.input_dt
    for name, v in (("s1_cycle", proto.s1_cycle), ("pulse_ms", proto.pulse_ms)):
        _on_grid(name, v, dt)
    for stage in proto.couplings:
        for c in stage:
            _on_grid("every coupling interval", float(c), dt)
    rec = np.atleast_2d(np.asarray(s if recording_sites is None else recording_sites, float))
    rec_cells = _nearest_cells(model, rec)
    r_stim = float(P[0, model.param_index("stim_r")])
    probes = np.stack([
        np.concatenate([rec_cells, _capture_cells(model, site, r_stim + proto.capture_distance)])
        for site in s
    ])  # fmt: skip
    n_rec, keep = len(rec_cells), vt.buffer
    thr = float(model.activation_threshold if vt.threshold is None else vt.threshold)

    # the S1 drive train, once per site
    t_s1 = (proto.n_s1 - 1) * proto.s1_cycle
    t_pre = t_s1 + proto.pulse_ms
    steps = round(t_pre / dt)
    y0 = jax.vmap(model.initial_state)(jnp.asarray(P))
    s1 = [[k * proto.s1_cycle for k in range(proto.n_s1)]] * n_sites
    y_pre, *_ = _record(model, jnp.asarray(P), y0, jnp.float64(0.0),
                        jnp.asarray(_stim(s1, 0.0, steps, dt, proto)),
                        jnp.asarray(probes), thr, keep)  # fmt: skip

    induced = np.zeros(n_sites, bool)
    ok = np.ones(n_sites, bool)
    cl = np.full(n_sites, np.nan)
    act = np.full((n_sites, 2, *model.shape), np.nan)
    t_end_site = np.full(n_sites, np.nan)
    fixed: list[list[float]] = [[] for _ in range(n_sites)]
    tried: list[tuple[float, ...]] = [() for _ in range(n_sites)]
    active = np.ones(n_sites, bool)
    for stage in proto.couplings:
        members = [(i, float(c)) for i in np.flatnonzero(active) for c in stage]
        if not members:
            break
        idx = np.array([i for i, _ in members])
        seqs = [[*fixed[i], c] for i, c in members]
        pulses = [list(t_s1 + np.cumsum(q)) for q in seqs]
        t_last = np.array([p[-1] for p in pulses])
        t_end = float(t_last.max()) + vt.sustained_ms
        steps = round((t_end - t_pre) / dt)
        stim = jnp.asarray(_stim(pulses, t_pre, steps, dt, proto))
        y, last_j, prev_j, buf_j = _record(model, jnp.asarray(P[idx]), y_pre[idx],
                                           jnp.float64(t_pre), stim, jnp.asarray(probes[idx]),
                                           thr, keep)  # fmt: skip
        finite = np.asarray(jnp.all(jnp.isfinite(y), axis=1))
        buf = np.asarray(buf_j)
        cap_times = buf[:, n_rec:]
        captured = np.any(
            (cap_times >= t_last[:, None, None])
            & (cap_times <= t_last[:, None, None] + proto.capture_window),
            axis=(1, 2),
        )
        # every member runs to the batch's end: "sustained" is judged there, at >= sustained_ms
        is_vt, cyc = vt.evaluate(buf[:, :n_rec], t_last, np.full(len(members), t_end))
        is_vt &= finite & captured
        last, prev = np.asarray(last_j), np.asarray(prev_j)
        for i in np.flatnonzero(active):
            mine = np.flatnonzero(idx == i)
            ok[i] &= bool(finite[mine].all())
            hit = mine[is_vt[mine]]
            if hit.size:
                m = hit[0]  # the longest coupling that induced
                induced[i], cl[i], active[i] = True, cyc[m], False
                act[i, 0] = last[m].reshape(model.shape)
                act[i, 1] = prev[m].reshape(model.shape)
                t_end_site[i] = t_end
                tried[i] = tuple(seqs[m])
                continue
            cap = mine[captured[mine] & finite[mine]]
            tried[i] = tuple(seqs[mine[-1]])
            if cap.size == 0:
                active[i] = False  # no extrastimulus captured: the protocol ends here
            else:
                fixed[i].append(members[cap[-1]][1])  # the shortest coupling that captured
    k = int(induced.sum())
    return Inducibility(
        sites=s,
        induced=induced,
        cycle_length=cl,
        couplings=tuple(tried),
        activation=act,
        t_end=t_end_site,
        ok=ok,
        score=k / n_sites,
        interval=clopper_pearson(k, n_sites, confidence),
        confidence=float(confidence),
    )
