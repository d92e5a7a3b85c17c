"""Executors: where the chunks of a cohort, trial or sensitivity sample run.

A workload is a list of *chunks* (e.g. slices of a parameter matrix ``[N, P]``), each evaluated
by one vmapped call ``fn(chunk, seed)``. Every executor hands chunk ``i`` the same seed, the
``i``-th child of ``numpy.random.SeedSequence(seed).spawn(len(chunks))``, and returns the results
in chunk order, so serial, process and Dask runs give bit-identical numbers for the same chunking
(a different chunk size changes which seed a row's randomness comes from, not its distribution).

* :class:`SerialExecutor` -- in this process, one chunk after another.
* :class:`ProcessExecutor` -- a pool of local worker processes (``spawn`` start method: JAX is
  multithreaded and must not be forked).
* :class:`DaskExecutor` -- a Dask ``distributed`` cluster: an existing scheduler by address, or a
  ``LocalCluster`` it starts, owns and closes.

``fn`` and the chunks are pickled for the process and Dask executors, so ``fn`` must be a
module-level function (not a lambda or closure) importable by the workers.

Failures: a chunk whose task fails (its worker died, or ``fn`` raised) is run again, up to
``retries`` more times (default 2; Dask's own ``retries=2``); a chunk is never run twice once it
succeeded, so no subject is lost or duplicated. When the retries are spent the last error is
raised.

Progress: every ``map_chunks`` (and :func:`run_batched`) takes an optional
``progress(done, total)`` callback, called in the calling process after each chunk finishes (in
completion order); the core stays free of any display library (the CLI draws a rich bar with it).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np
from jaxtyping import ArrayLike

from .errors import MedtwinError, SimulationError

__all__ = [
    "DaskExecutor",
    "Executor",
    "ProcessExecutor",
    "SerialExecutor",
    "chunk_seeds",
    "chunked",
    "run_batched",
]

T = TypeVar("T")
ChunkFn = Callable[[Any, np.random.SeedSequence], T]
Progress = Callable[[int, int], None]  # (chunks done, chunks in all)
_DASK_HINT = "pip install 'medtwin[cohorts]'"


class Executor(Protocol):
    """Anything with ``map_chunks(fn, chunks, *, seed) -> list`` (results in chunk order)."""

    def map_chunks(
        self,
        fn: ChunkFn[T],
        chunks: Sequence[Any],
        *,
        seed: int,
        progress: Progress | None = None,
    ) -> list[T]: ...


def chunk_seeds(seed: int | np.random.SeedSequence, n: int) -> list[np.random.SeedSequence]:
    """The ``n`` independent child seeds every executor hands its chunks, in order."""
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return root.spawn(n)


def chunked(n: int, size: int) -> list[slice]:
    """Slices ``[0:size], [size:2*size], ...`` covering ``range(n)``; the last may be shorter."""
    if int(n) != n or n < 0:
        raise SimulationError(f"chunked() needs a count n >= 0. Got n = {n!r}.")
    if int(size) != size or size < 1:
        raise SimulationError(
            f"The chunk size must be a positive integer (rows per vmapped batch). Got {size!r}."
        )
    n, size = int(n), int(size)
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def _check_retries(retries: int) -> int:
    if int(retries) != retries or retries < 0:
        raise SimulationError(f"'retries' must be an integer >= 0. Got {retries!r}.")
    return int(retries)


class SerialExecutor:
    """Runs every chunk in this process, in order. A chunk that raises is retried ``retries``
    times (useful only for transient failures) before the error propagates."""

    def __init__(self, retries: int = 0) -> None:
        self.retries = _check_retries(retries)

    def __repr__(self) -> str:
        return f"SerialExecutor(retries={self.retries})"

    def map_chunks(
        self,
        fn: ChunkFn[T],
        chunks: Sequence[Any],
        *,
        seed: int,
        progress: Progress | None = None,
    ) -> list[T]:
        """``[fn(chunk_i, seed_i) for i]`` with seeds from :func:`chunk_seeds`."""
        out: list[T] = []
        for chunk, s in zip(chunks, chunk_seeds(seed, len(chunks)), strict=True):
            for attempt in range(self.retries + 1):
                try:
                    out.append(fn(chunk, s))
                    break
                except Exception:
                    if attempt == self.retries:
                        raise
            if progress is not None:
                progress(len(out), len(chunks))
        return out


class ProcessExecutor:
    """Runs chunks in ``workers`` local processes (started with ``spawn``; each imports JAX and
    compiles the model once). If a worker dies the pool is rebuilt and the chunks without a
    result are resubmitted, up to ``retries`` times."""

    def __init__(self, workers: int = 2, *, retries: int = 2) -> None:
        if int(workers) != workers or workers < 1:
            raise SimulationError(f"ProcessExecutor needs workers >= 1. Got {workers!r}.")
        self.workers = int(workers)
        self.retries = _check_retries(retries)

    def __repr__(self) -> str:
        return f"ProcessExecutor(workers={self.workers}, retries={self.retries})"

    def map_chunks(
        self,
        fn: ChunkFn[T],
        chunks: Sequence[Any],
        *,
        seed: int,
        progress: Progress | None = None,
    ) -> list[T]:
        """Like :meth:`SerialExecutor.map_chunks`, in parallel; results in chunk order."""
        seeds = chunk_seeds(seed, len(chunks))
        results: dict[int, T] = {}
        ctx = multiprocessing.get_context("spawn")
        for attempt in range(self.retries + 1):
            todo = [i for i in range(len(chunks)) if i not in results]
            if not todo:
                break
            errors: list[BaseException] = []
            with cf.ProcessPoolExecutor(min(self.workers, len(todo)), mp_context=ctx) as pool:
                futures = {pool.submit(fn, chunks[i], seeds[i]): i for i in todo}
                for fut in cf.as_completed(futures):
                    try:
                        results[futures[fut]] = fut.result()
                        if progress is not None:
                            progress(len(results), len(chunks))
                    except Exception as exc:  # retried below; re-raised when retries are spent
                        errors.append(exc)
            if errors and attempt == self.retries:
                raise errors[0]
        return [results[i] for i in range(len(chunks))]


class DaskExecutor:
    """Runs chunks on a Dask ``distributed`` cluster, each as one task with ``retries``.

    With ``address`` it connects to that scheduler (e.g. ``"tcp://10.0.0.5:8786"``); without, it
    starts a ``LocalCluster(n_workers, threads_per_worker=1, processes=True,
    dashboard_address=None)`` (its metrics server on a free loopback port, not 8787) that it owns
    and closes. Nothing starts in the constructor: use it as a context manager (``with
    DaskExecutor() as ex:``) to keep one cluster for many calls, or call :meth:`map_chunks`
    directly to start and close one for that call. Scripts that start a
    LocalCluster need the ``if __name__ == "__main__":`` guard (worker processes are spawned).
    Requires ``pip install 'medtwin[cohorts]'``.
    """

    def __init__(self, address: str | None = None, n_workers: int = 2, *, retries: int = 2) -> None:
        if int(n_workers) != n_workers or n_workers < 1:
            raise SimulationError(f"DaskExecutor needs n_workers >= 1. Got {n_workers!r}.")
        self.address = address
        self.n_workers = int(n_workers)
        self.retries = _check_retries(retries)
        self._client: Any = None
        self._cluster: Any = None

    def __repr__(self) -> str:
        return f"DaskExecutor(address={self.address!r}, n_workers={self.n_workers})"

    def __enter__(self) -> DaskExecutor:
        self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        if self._client is not None:
            return
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - depends on the environment
            raise MedtwinError(
                f"DaskExecutor needs the 'distributed' package. Install it with: {_DASK_HINT}"
            ) from None
        if self.address is None:
            self._cluster = LocalCluster(
                n_workers=self.n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # No dashboard; the scheduler's small HTTP server (metrics) would still take the
                # fixed port 8787, so two clusters at once (two test workers, two users) clash.
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            )
            self._client = Client(self._cluster)
        else:
            self._client = Client(self.address)

    def close(self) -> None:
        """Close the client and, if this executor started it, the LocalCluster."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (None outside a ``with`` block)."""
        return self._client

    def map_chunks(
        self,
        fn: ChunkFn[T],
        chunks: Sequence[Any],
        *,
        seed: int,
        progress: Progress | None = None,
    ) -> list[T]:
        """One task per chunk (``pure=False``, ``retries``); results gathered in chunk order."""
        owned = self._client is None
        self._start()
        try:
            seeds = chunk_seeds(seed, len(chunks))
            futures = [
                self._client.submit(fn, c, s, retries=self.retries, pure=False)
                for c, s in zip(chunks, seeds, strict=True)
            ]
            if progress is not None:
                from distributed import as_completed

                for done, _ in enumerate(as_completed(futures), 1):
                    progress(done, len(futures))
            return list(self._client.gather(futures))
        finally:
            if owned:
                self.close()


def run_batched(
    fn: Callable[[np.ndarray, np.random.SeedSequence], ArrayLike],
    params: ArrayLike,
    *,
    chunk: int,
    executor: Executor | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> np.ndarray:
    """Evaluate ``fn`` over the rows of ``params`` ``[N, P]`` in vmapped batches of ``chunk`` rows.

    ``fn(rows, seed)`` gets a ``[n, P]`` float64 block and its chunk's ``SeedSequence`` and
    returns an array whose leading axis is ``n``; the blocks are mapped by ``executor`` (serial by
    default) and concatenated in row order. ``progress(done, total)`` is called per finished
    chunk (see the module docstring).
    """
    x = np.asarray(params, dtype=np.float64)
    if x.ndim != 2:
        raise SimulationError(
            f"run_batched() needs a parameter matrix of shape (N, P). Got shape {x.shape}."
        )
    slices = chunked(x.shape[0], chunk)
    ex = executor if executor is not None else SerialExecutor()
    blocks = [x[s] for s in slices]
    if progress is None:
        outs = ex.map_chunks(fn, blocks, seed=seed)
    else:
        outs = ex.map_chunks(fn, blocks, seed=seed, progress=progress)
    arrays = [np.asarray(o) for o in outs]
    for s, a in zip(slices, arrays, strict=True):
        if a.ndim == 0 or a.shape[0] != s.stop - s.start:
            raise SimulationError(
                f"The function given to run_batched() must return one row per parameter row. "
                f"For rows {s.start}:{s.stop} it returned shape {a.shape}."
            )
    if not arrays:
        return np.empty((0,), dtype=np.float64)
    return np.concatenate(arrays, axis=0)
