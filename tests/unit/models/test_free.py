"""FreeParameters: the one log-scale transform of a model's free parameters (to_z / from_z)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.errors import ModelError
from medtwin.models import BergmanMinimal, FreeParameters, free_parameters

MODEL = BergmanMinimal()


def test_free_parameters_reads_indices_scale_and_bounds_from_the_specs():
    fp = free_parameters(MODEL, ("Ag", "tau_m"))
    idx = [MODEL.param_index("Ag"), MODEL.param_index("tau_m")]
    assert fp.index.tolist() == idx and fp.size == 2
    specs = [MODEL.parameters[i] for i in idx]
    assert fp.log.tolist() == [s.bounds[0] >= 0 for s in specs]
    assert fp.lower.tolist() == [s.bounds[0] for s in specs]
    np.testing.assert_array_equal(np.asarray(fp.base), np.asarray(MODEL.default_params()))
    with pytest.raises(ModelError):
        free_parameters(MODEL, ("no_such_parameter",))


def test_log_scale_round_trip_writes_only_the_free_entries():
    base = np.array([2.0, -3.0, 5.0, 7.0])
    fp = FreeParameters(np.array([0, 1, 3]), base, np.array([True, False, True]))
    z = fp.to_z(base)
    np.testing.assert_array_equal(z, [np.log(2.0), -3.0, np.log(7.0)])
    out = fp.from_z(z + np.array([1.0, 1.0, 0.0]))
    np.testing.assert_allclose(out, [2.0 * np.e, -2.0, 5.0, 7.0], rtol=1e-15)
    assert base.tolist() == [2.0, -3.0, 5.0, 7.0]  # never written into
    # a log-scale value of 0 maps to log(1e-300), not -inf
    assert fp.to_z(np.array([0.0, 1.0, 1.0, 1.0]))[0] == pytest.approx(np.log(1e-300))


def test_numpy_in_numpy_out_jax_in_jax_out_and_batches_broadcast():
    base = np.array([1.0, 2.0, 3.0])
    fp = FreeParameters(np.array([2]), base, np.array([True]))
    z = np.array([[0.0], [1.0]])
    assert isinstance(fp.from_z(z), np.ndarray) and fp.from_z(z).shape == (2, 3)
    out = fp.from_z(jnp.asarray(z))
    assert isinstance(out, jax.Array)
    np.testing.assert_allclose(out, [[1.0, 2.0, 1.0], [1.0, 2.0, np.e]], rtol=1e-15)
    # each particle's own vector as the base
    rows = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_allclose(fp.from_z(z, rows), [[1.0, 2.0, 1.0], [4.0, 5.0, np.e]])


def test_jit_and_vmap_agree_with_the_batched_call():
    fp = free_parameters(MODEL, ("Ag", "VG", "tau_m"))
    z = fp.to_z(jnp.tile(MODEL.default_params(), (4, 1))) + jnp.linspace(-0.6, 0.0, 12).reshape(
        4, 3
    )
    batched = fp.from_z(z)
    np.testing.assert_array_equal(jax.jit(lambda f, x: f.from_z(x))(fp, z), batched)
    np.testing.assert_array_equal(eqx.filter_jit(fp.from_z)(z), batched)
    np.testing.assert_array_equal(jax.vmap(fp.from_z)(z), batched)
    np.testing.assert_allclose(jax.vmap(fp.to_z)(batched), z, rtol=1e-14)  # inside the bounds


def test_clip_and_z_bounds():
    fp = FreeParameters(
        np.array([0, 1]), np.zeros(2), np.array([True, False]), np.array([0.0, -1.0]),
        np.array([10.0, 1.0]),
    )  # fmt: skip
    np.testing.assert_array_equal(fp.from_z(np.array([np.log(20.0), 5.0])), [10.0, 1.0])
    unclipped = FreeParameters(fp.index, fp.base, fp.log, fp.lower, fp.upper, clip=False)
    np.testing.assert_allclose(unclipped.from_z(np.array([np.log(20.0), 5.0])), [20.0, 5.0])
    zlo, zhi = fp.z_bounds()
    assert zlo.tolist() == [-np.inf, -1.0] and zhi.tolist() == [np.log(10.0), 1.0]
    with pytest.raises(ModelError, match="needs lower and upper bounds"):
        FreeParameters(fp.index, fp.base, fp.log).z_bounds()
