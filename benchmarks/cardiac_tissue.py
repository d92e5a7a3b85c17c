"""Aliev-Panfilov on a 512 x 512 sheet: medtwin's JAX step against a NumPy implementation of
the same scheme, a vmapped batch of pacing sites, and ten Tusscher-Panfilov 2006 node-steps per
second on the Niederer et al. 2011 slab.

Both run the same operator-split scheme (forward-Euler Aliev-Panfilov reaction at every node,
then one explicit finite-volume diffusion step with harmonic-mean faces, no flux through the
box) on the same grid (h = 0.25 mm, fibres along x, D = 2 mm^2/ms, D_ratio = 0.25) from the
same state (a plane front entering from the left edge), in this one invocation, timed
alternately (JAX, NumPy, JAX, ...) so that load from other processes hits both alike; the
script checks that they agree, then prints substeps per second and the ratio. Then a batch of
pacing sites runs as one vmapped ``simulate`` and prints cell-substeps per second. Last, ten
Tusscher-Panfilov 2006 (19 states per node) on the 20 x 7 x 3 mm benchmark slab at ``--tt-dx``
(default 0.2 mm: 100 x 35 x 15 nodes) and dt = 0.01 ms, from the moment of the corner stimulus,
prints node-steps (node-substeps) per second. On a machine whose JAX has a GPU, medtwin's
figures are the GPU's (the backend is printed); the NumPy peer always runs on the CPU.

    python benchmarks/cardiac_tissue.py [--n 512] [--ms 2] [--reps 3] [--batch 8 --bn 128]
                                        [--tt-dx 0.2 --tt-ms 2]
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

import medtwin  # noqa: F401  (float64)
from medtwin.models.cardiology import AlievPanfilov, TenTusscher
from medtwin.simulate import Infusion, Regimen, advance, simulate


def numpy_faces(Dcell: np.ndarray, h: float) -> list[np.ndarray]:
    """Harmonic-mean face coefficients D_face / h^2 between neighbours along each axis."""
    out = []
    for a in range(Dcell.ndim):
        lo = np.take(Dcell, np.arange(Dcell.shape[a] - 1), axis=a)
        hi = np.take(Dcell, np.arange(1, Dcell.shape[a]), axis=a)
        s = lo + hi
        out.append(np.where(s > 0, 2 * lo * hi / np.where(s > 0, s, 1.0), 0.0) / h**2)
    return out


def numpy_substeps(u, v, faces, p, dt, n):
    """The scheme of MonodomainTissue.step with the Aliev-Panfilov reaction, in NumPy."""
    s = dt / p["t_scale"]
    k, a, eps0, mu1, mu2 = p["k"], p["a"], p["eps0"], p["mu1"], p["mu2"]
    for _ in range(n):
        eps = eps0 + mu1 * v / (u + mu2)
        du = -k * u * (u - a) * (u - 1.0) - u * v
        v = v + s * eps * (-v - k * u * (u - a - 1.0))
        u = u + s * du
        div = np.zeros_like(u)
        for ax, f in enumerate(faces):
            flux = f * np.diff(u, axis=ax)
            lo = [slice(None)] * u.ndim
            hi = [slice(None)] * u.ndim
            lo[ax] = slice(0, -1)
            hi[ax] = slice(1, None)
            div[tuple(lo)] += flux
            div[tuple(hi)] -= flux
        u = u + dt * div
    return u, v


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--ms", type=int, default=2, help="horizon in ms (1 ms input steps)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8, help="pacing sites in the vmapped batch")
    ap.add_argument("--bn", type=int, default=128, help="sheet size of the batched run")
    ap.add_argument("--tt-dx", type=float, default=0.2, help="ten Tusscher slab spacing (mm)")
    ap.add_argument("--tt-ms", type=int, default=2, help="ten Tusscher horizon (ms)")
    args = ap.parse_args()
    n, h = args.n, 0.25
    model = AlievPanfilov((n, n), h, D_max=2.0)
    params = model.make_params(D=2.0, D_ratio=0.25)
    names = ("k", "a", "eps0", "mu1", "mu2", "t_scale")
    p = {k: float(params[model.param_index(k)]) for k in names}
    x = (np.arange(n) + 0.5) * h
    u0 = np.broadcast_to((x < 2.0)[:, None], (n, n)).astype(np.float64)
    v0 = np.zeros((n, n))
    y0 = jnp.asarray(np.concatenate([u0.ravel(), v0.ravel()]))
    steps = args.ms * model.substeps
    print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    print(f"sheet {n} x {n} = {n * n:,} cells, h = {h} mm, dt = {model.dt:.4g} ms, "
          f"{model.substeps} substeps/ms, {args.ms} ms = {steps} substeps")  # fmt: skip

    # fibres along x: D_xx = D, D_yy = D D_ratio (faces computed once, outside the timing)
    faces = [numpy_faces(np.full((n, n), 2.0), h)[0], numpy_faces(np.full((n, n), 0.5), h)[1]]

    def run_jax() -> float:
        t = time.perf_counter()
        advance(model, y0, params, None, 0.0, float(args.ms)).state.block_until_ready()
        return time.perf_counter() - t

    def run_numpy() -> float:
        t = time.perf_counter()
        numpy_substeps(u0, v0, faces, p, model.dt, steps)
        return time.perf_counter() - t

    ref = np.asarray(advance(model, y0, params, None, 0.0, 1.0).state)
    un, vn = numpy_substeps(u0, v0, faces, p, model.dt, model.substeps)
    err = float(np.max(np.abs(ref - np.concatenate([un.ravel(), vn.ravel()]))))
    run_jax()
    t_jax, t_np = [], []
    for _ in range(args.reps):
        t_jax.append(run_jax())
        t_np.append(run_numpy())
    ratios = [b / a for a, b in zip(t_jax, t_np, strict=True)]
    sps_jax, sps_np = steps / min(t_jax), steps / min(t_np)
    print(f"max |medtwin - numpy| after 1 ms: {err:.2e}")
    print(f"medtwin (JAX jit, {jax.default_backend()}): {sps_jax:9.1f} substeps/s "
          f"({sps_jax * n * n:.3g} cell-substeps/s; best of {args.reps}, via advance)")  # fmt: skip
    print(f"NumPy (CPU):                 {sps_np:9.1f} substeps/s (best of {args.reps})")
    print(
        f"ratio medtwin / NumPy: {sps_jax / sps_np:.1f}x (best/best); per interleaved pair: "
        + ", ".join(f"{r:.1f}" for r in ratios)
        + f"; median {np.median(ratios):.1f}x"
    )

    # a batch of pacing sites: one vmapped simulate over parameter vectors
    bn = args.bn
    bm = AlievPanfilov((bn, bn), h, D_max=2.0)
    rng = np.random.default_rng(0)
    sites = rng.uniform(0.1, bn * h - 0.1, size=(args.batch, 2))
    batch = bm.pacing_params(sites, D=2.0, stim_r=4.0)
    reg = Regimen([Infusion(0.0, "stimulus", 1.0, 2.0)])
    t1 = float(args.ms)
    simulate(bm, batch, reg, t1=t1, save_states=False)  # compile
    best = np.inf
    for _ in range(args.reps):
        t = time.perf_counter()
        tr = simulate(bm, batch, reg, t1=t1, save_states=False)
        np.asarray(tr.observables)
        best = min(best, time.perf_counter() - t)
    cells = args.batch * bn * bn * args.ms * bm.substeps
    print(f"vmapped batch of {args.batch} pacing sites on {bn} x {bn}: "
          f"{cells / best:.3g} cell-substeps/s (best of {args.reps}, {best:.2f} s)")  # fmt: skip

    # ten Tusscher-Panfilov 2006 on the Niederer et al. 2011 slab, 35.7 mV/ms in the corner cube
    shape = tuple(round(s / args.tt_dx) for s in (20.0, 7.0, 3.0))
    tm = TenTusscher(shape, args.tt_dx, dt=0.01, stimulus="box", D_max=0.1)
    tp = tm.make_params(stim_x=0.0, stim_y=0.0, stim_z=0.0, stim_r=1.5)
    y_tt = tm.initial_state(tp)
    treg = Regimen([Infusion(0.0, "stimulus", 50_000.0 / 1400.0, 2.0)])
    t_tt = float(args.tt_ms)
    advance(tm, y_tt, tp, treg, 0.0, t_tt).state.block_until_ready()  # compile
    best = np.inf
    for _ in range(args.reps):
        t = time.perf_counter()
        out = advance(tm, y_tt, tp, treg, 0.0, t_tt).state.block_until_ready()
        best = min(best, time.perf_counter() - t)
    assert np.isfinite(np.asarray(out)).all()
    node_steps = tm.n_cells * args.tt_ms * tm.substeps
    print(f"ten Tusscher 2006 on the {shape[0]} x {shape[1]} x {shape[2]} slab "
          f"({tm.n_cells:,} nodes, dt = {tm.dt:g} ms): {node_steps / best:.3g} node-steps/s "
          f"(best of {args.reps}, {best:.2f} s for {args.tt_ms} ms)")  # fmt: skip


if __name__ == "__main__":
    main()
