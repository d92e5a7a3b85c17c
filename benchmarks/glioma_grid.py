"""Glioma PI solver on a 3D grid: medtwin's JAX step against a NumPy stencil of the same scheme.

Both run the same explicit finite-volume scheme (harmonic-mean face diffusivities on a brain
mask with white and grey matter, forward-Euler substeps) on the same grid and initial state,
in this one invocation, timed alternately (JAX, NumPy, JAX, ...) so that load from other
processes hits both alike; the script checks they agree, then prints substeps per second and the
ratio. On a machine whose JAX has a GPU, medtwin's figure is the GPU one (the backend is
printed); the NumPy peer always runs on the CPU.

The default horizon is four weeks (112 substeps), the order of the interval between two scans
that the twin's ``advance`` bridges; a shorter one adds the per-call cost (the face
coefficients, the copies of a 17 MB state in and out) to fewer substeps: at ``--days 8`` the
ratio on the 2-core CI-class machine was 4.5-5.7x, at 28 days 6.0-7.3x (2026-11-26).

    python benchmarks/glioma_grid.py [--n 128] [--days 28] [--reps 5]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import medtwin  # noqa: F401  (float64)
from medtwin.models.oncology import Glioma, synthetic_brain
from medtwin.simulate import advance


def numpy_step(c, faces, rho, hs, substeps):
    """The same scheme as Glioma.step, written as a straightforward NumPy stencil."""
    for _ in range(substeps):
        div = np.zeros_like(c)
        for a, f in enumerate(faces):
            flux = f * np.diff(c, axis=a)
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[a] = slice(0, -1)
            hi[a] = slice(1, None)
            div[tuple(lo)] += flux
            div[tuple(hi)] -= flux
        c = c + hs * (div + rho * c * (1.0 - c))
    return c


def numpy_faces(Dcell, h):
    out = []
    for a in range(3):
        lo = np.take(Dcell, np.arange(Dcell.shape[a] - 1), axis=a)
        hi = np.take(Dcell, np.arange(1, Dcell.shape[a]), axis=a)
        s = lo + hi
        out.append(np.where(s > 0, 2 * lo * hi / np.where(s > 0, s, 1.0), 0.0) / h**2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    n, h = args.n, 1.0
    mask, white = synthetic_brain((n, n, n), h)
    model = Glioma(3, (n, n, n), h, mask=mask, white=white)
    params = model.make_params(D=0.1, rho=0.05, R0=15.0)
    y0 = np.asarray(model.initial_state(params))
    p = model.named(params)
    print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind})")
    print(f"grid {n}^3 = {n**3:,} cells, h = {h} mm, {model.substeps} substeps/day")

    # NumPy peer's faces (computed once, outside the timing: it gets the cheaper deal).
    w = white
    Dcell = float(p.D) * (w + (1 - w) / float(p.D_ratio)) * mask
    faces = numpy_faces(Dcell, h)
    c0 = y0.reshape(model.shape)
    steps = args.days * model.substeps

    def run_jax() -> float:
        t = time.perf_counter()
        advance(model, y0, params, None, 0.0, float(args.days)).state.block_until_ready()
        return time.perf_counter() - t

    # The model's own step loop, jitted without the simulate kernel around it (no per-day
    # finite check, no state copies, no observation): the solver's ceiling.
    u0 = jnp.zeros(len(model.inputs))

    @jax.jit
    def days_loop(y, prm):
        return jax.lax.fori_loop(
            0, args.days, lambda k, y: model.step(k * 1.0, y, u0, prm, 1.0, None), y
        )

    def run_loop() -> float:
        t = time.perf_counter()
        days_loop(y0, params).block_until_ready()
        return time.perf_counter() - t

    def run_numpy() -> float:
        t = time.perf_counter()
        numpy_step(c0, faces, float(p.rho), 1.0 / model.substeps, steps)
        return time.perf_counter() - t

    # Compile first; then alternate the two so that a busy machine slows both alike.
    ref = np.asarray(advance(model, y0, params, None, 0.0, 1.0).state).reshape(model.shape)
    err = float(np.max(np.abs(ref - numpy_step(c0, faces, float(p.rho), 1.0 / model.substeps,
                                                model.substeps))))  # fmt: skip
    run_jax()
    run_loop()
    t_jax, t_loop, t_np = [], [], []
    for _ in range(args.reps):
        t_jax.append(run_jax())
        t_loop.append(run_loop())
        t_np.append(run_numpy())
    ratios = [b / a for a, b in zip(t_jax, t_np, strict=True)]
    sps_jax, sps_np = steps / min(t_jax), steps / min(t_np)
    print(f"max |medtwin - numpy| after 1 day: {err:.2e}")
    be = jax.default_backend()
    print(f"medtwin (JAX, {be}): {sps_jax:8.1f} substeps/s (best of {args.reps}, via advance)")
    print(
        f"  its step loop alone (jit):  {steps / min(t_loop):8.1f} substeps/s, "
        f"{min(t_np) / min(t_loop):.1f}x NumPy"
    )
    print(f"NumPy stencil (CPU):        {sps_np:8.1f} substeps/s (best of {args.reps})")
    print(
        f"ratio medtwin / NumPy: {sps_jax / sps_np:.1f}x (best/best); per interleaved pair: "
        + ", ".join(f"{r:.1f}" for r in ratios)
        + f"; median {np.median(ratios):.1f}x"
    )


if __name__ == "__main__":
    main()
