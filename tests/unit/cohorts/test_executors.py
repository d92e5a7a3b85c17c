"""Executors: chunking, seeds, ordering, retries, and serial == process == Dask on a UVA/Padova
cohort (30 virtual patients in 3 chunks of 10, 6 h after a meal with a bolus, CGM-like noise
drawn from each chunk's seed)."""

from __future__ import annotations

import numpy as np
import pytest
from _cohort_fns import cohort_bg, die_once

from medtwin.cohorts import (
    DaskExecutor,
    ProcessExecutor,
    SerialExecutor,
    chunk_seeds,
    chunked,
    run_batched,
)
from medtwin.data import load_virtual_patients
from medtwin.errors import SimulationError


def _rows_plus_seed(rows: np.ndarray, seed: np.random.SeedSequence) -> np.ndarray:
    return rows[:, 0] + np.random.default_rng(seed).uniform(size=rows.shape[0])


def test_chunked_covers_range_in_order():
    assert chunked(10, 4) == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert chunked(8, 4) == [slice(0, 4), slice(4, 8)]
    assert chunked(0, 3) == []
    with pytest.raises(SimulationError, match="chunk size must be a positive integer"):
        chunked(10, 0)


def test_chunk_seeds_are_the_seedsequence_children():
    seeds = chunk_seeds(42, 3)
    expected = np.random.SeedSequence(42).spawn(3)
    assert [s.generate_state(2).tolist() for s in seeds] == [
        s.generate_state(2).tolist() for s in expected
    ]
    # distinct children give distinct streams
    assert len({int(s.generate_state(1)[0]) for s in seeds}) == 3


def test_run_batched_concatenates_in_row_order_and_uses_chunk_seeds():
    x = np.arange(10.0)[:, None]
    y = run_batched(_rows_plus_seed, x, chunk=4, seed=7)
    seeds = chunk_seeds(7, 3)
    noise = np.concatenate(
        [np.random.default_rng(s).uniform(size=n) for s, n in zip(seeds, (4, 4, 2), strict=True)]
    )
    np.testing.assert_array_equal(y, np.arange(10.0) + noise)
    # another seed, other numbers
    assert not np.array_equal(y, run_batched(_rows_plus_seed, x, chunk=4, seed=8))


def test_run_batched_rejects_bad_shapes():
    with pytest.raises(SimulationError, match=r"shape \(N, P\)"):
        run_batched(_rows_plus_seed, np.arange(3.0), chunk=2)
    with pytest.raises(SimulationError, match="one row per parameter row"):
        run_batched(lambda r, s: r.sum(), np.ones((4, 2)), chunk=2)


def test_serial_retries_a_failing_chunk_then_gives_up():
    calls = []

    def flaky(chunk, seed):
        calls.append(chunk)
        if len(calls) == 1:
            raise RuntimeError("transient")
        return chunk * 2

    assert SerialExecutor(retries=1).map_chunks(flaky, [1, 2], seed=0) == [2, 4]
    assert calls == [1, 1, 2]
    with pytest.raises(RuntimeError, match="always"):
        SerialExecutor(retries=2).map_chunks(
            lambda c, s: (_ for _ in ()).throw(RuntimeError("always")), [1], seed=0
        )


@pytest.mark.slow
def test_process_executor_survives_a_killed_worker(tmp_path):
    chunks = [(float(v), str(tmp_path)) for v in range(6)]
    out = ProcessExecutor(2, retries=2).map_chunks(die_once, chunks, seed=0)
    assert out == [float(v) ** 2 for v in range(6)]
    assert (tmp_path / "3.died").exists()  # the worker did die once
    with pytest.raises(Exception, match="terminated abruptly"):
        (tmp_path / "3.died").unlink()
        ProcessExecutor(2, retries=0).map_chunks(die_once, chunks, seed=0)


@pytest.fixture(scope="module")
def cohort():
    return np.asarray(load_virtual_patients())


@pytest.fixture(scope="module")
def serial_bg(cohort):
    return run_batched(cohort_bg, cohort, chunk=10, executor=SerialExecutor(), seed=2024)


def test_serial_cohort_is_physiological(serial_bg):
    assert serial_bg.shape == (30, 73)
    assert np.all(np.isfinite(serial_bg))
    # the lunch raises every patient's glucose above where they started
    assert np.all(serial_bg.max(axis=1) > serial_bg[:, 0])
    assert 50.0 < np.median(serial_bg) < 300.0


@pytest.mark.slow
def test_process_executor_is_bit_identical_to_serial(cohort, serial_bg):
    bg = run_batched(cohort_bg, cohort, chunk=10, executor=ProcessExecutor(2), seed=2024)
    np.testing.assert_array_equal(bg, serial_bg)


def test_dask_executor_is_bit_identical_to_serial(cohort, serial_bg, dask_executor):
    bg = run_batched(cohort_bg, cohort, chunk=10, executor=dask_executor, seed=2024)
    np.testing.assert_array_equal(bg, serial_bg)
    other = run_batched(cohort_bg, cohort, chunk=10, executor=dask_executor, seed=2025)
    assert not np.array_equal(other, serial_bg)


def test_dask_executor_starts_nothing_in_constructor():
    ex = DaskExecutor(n_workers=2)
    assert ex.client is None
    with pytest.raises(SimulationError, match="n_workers >= 1"):
        DaskExecutor(n_workers=0)
