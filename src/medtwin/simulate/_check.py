"""check_model(): the conformance checks every registered model must pass.

Like scikit-learn's ``check_estimator``: a model author runs ``check_model(MyModel())`` and
every registered model runs through it in ``tests/conformance``.
"""

from __future__ import annotations

import math
from typing import NoReturn

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ModelError
from ..models._base import AbstractModel, AbstractODEModel, AbstractSteppedModel
from ._simulate import advance, simulate

__all__ = ["check_model"]


def _fail(model: AbstractModel, what: str) -> NoReturn:
    raise ModelError(f"check_model({model.name!r}): {what}")


def check_model(model: AbstractModel, *, horizon_steps: int = 60) -> None:
    """Raise :class:`ModelError` naming the first declaration or behaviour that breaks the
    model interface. Runs a short simulation, so it also compiles the model once."""

    if not isinstance(model, (AbstractODEModel, AbstractSteppedModel)):
        _fail(model, "subclass AbstractODEModel or AbstractSteppedModel.")
    for attr in ("name", "title", "reference", "time_unit"):
        if not getattr(model, attr, ""):
            _fail(model, f"class attribute {attr!r} is empty.")
    for group in ("states", "parameters", "inputs", "observables"):
        names = [s.name for s in getattr(model, group)]
        if len(set(names)) != len(names):
            _fail(model, f"{group} have duplicate names: {names}.")
        for spec in getattr(model, group):
            if not spec.unit:
                _fail(model, f"{group[:-1]} {spec.name!r} has no unit.")
    if not model.observables:
        _fail(model, "declares no observables.")
    for p in model.parameters:
        lo, hi = p.bounds
        if not (lo <= p.default <= hi):
            _fail(model, f"default of {p.name!r} ({p.default:g}) lies outside {p.bounds}.")
        if not p.reference:
            _fail(model, f"parameter {p.name!r} has no reference.")
    if not (isinstance(model.input_dt, float | int) and model.input_dt > 0):
        _fail(model, f"input_dt must be a positive number. Got {model.input_dt!r}.")

    params = model.default_params()
    y0 = model.initial_state(params)
    if y0.shape != (model.n_states,) or not bool(jnp.all(jnp.isfinite(y0))):
        _fail(model, f"initial_state() must be finite with shape ({model.n_states},).")
    obs = model.observe(0.0, y0, params)
    if obs.shape != (len(model.observables),):
        _fail(model, f"observe() must return shape ({len(model.observables)},). Got {obs.shape}.")
    if model.baseline_inputs(params).shape != (len(model.inputs),):
        _fail(model, "baseline_inputs() must return one rate per input.")

    key = jax.random.key(0) if model.stochastic else None
    t1 = horizon_steps * model.input_dt
    batch = jnp.stack([params, params])
    traj = simulate(model, batch, t1=t1, key=key)
    if not bool(jnp.all(traj.ok)):
        _fail(model, f"a {t1:g} {model.time_unit} run at the defaults failed: {traj.status}.")
    single = simulate(model, params, t1=t1, key=key)
    if not np.allclose(single.observables, traj.observables[0], rtol=1e-10, atol=1e-12):
        _fail(model, "a batched run and a single run of the same member differ.")
    half = round(horizon_steps / 2) * model.input_dt
    states = single.states
    if states is None:
        _fail(model, "simulate() saved no states (save_states=True is its default).")
    mid = advance(model, states[0], params, None, 0.0, half)
    end = advance(model, mid.state, params, None, half, t1)
    if not np.allclose(end.state, states[-1], rtol=1e-10, atol=1e-12):
        _fail(model, "two chained advance() calls differ from one simulate().")
    if math.isnan(float(jnp.sum(traj.observables))):
        _fail(model, "observables are NaN at the defaults.")
