"""``draw_quantiles`` gives numpy's ``nanquantile`` numbers bit for bit (it sorts once instead
of partitioning per level): the stored forecasts, alerts and bands do not change."""

import numpy as np
import pytest

from medtwin.forecast import draw_quantiles
from medtwin.loop import QUANTILES


@pytest.mark.parametrize("shape", [(200, 1, 13), (200, 3, 25), (1000, 2, 7), (7, 1, 5), (1, 1, 3),
                                   (2, 4), (16,)])  # fmt: skip
@pytest.mark.parametrize("levels", [QUANTILES, [0.5, 0.25, 0.75, 0.1, 0.9, 0.025, 0.975], 0.5,
                                    [0.0, 1.0, 0.5]])  # fmt: skip
def test_equal_to_numpy_bit_for_bit(shape, levels):
    rng = np.random.default_rng(len(shape) * 1000 + shape[0])
    a = rng.lognormal(5.0, 0.3, size=shape)
    a.flat[::7] = np.round(a.flat[::7])  # ties
    ref = np.nanquantile(a, levels, axis=0)
    got = draw_quantiles(a, levels)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    assert np.array_equal(got, ref)
    ax = a.ndim - 1  # another axis
    assert np.array_equal(draw_quantiles(a, levels, axis=ax), np.nanquantile(a, levels, axis=ax))


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # inf - inf, as numpy's
def test_infinite_and_missing_draws():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(50, 2, 4))
    a[3, 0, 1], a[7, 1, 2] = np.inf, -np.inf
    assert np.array_equal(draw_quantiles(a, QUANTILES), np.nanquantile(a, QUANTILES, axis=0),
                          equal_nan=True)  # fmt: skip
    a[5, 1, 3] = np.nan  # NaN draws are left out, as nanquantile leaves them out
    assert np.array_equal(draw_quantiles(a, QUANTILES), np.nanquantile(a, QUANTILES, axis=0),
                          equal_nan=True)  # fmt: skip
