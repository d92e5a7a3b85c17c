"""Cohorts: many virtual patients at once -- executors (serial, processes, Dask) and batching.

Virtual populations, selection and trials come later (issue 7).
"""

from ._executors import DaskExecutor as DaskExecutor
from ._executors import Executor as Executor
from ._executors import ProcessExecutor as ProcessExecutor
from ._executors import SerialExecutor as SerialExecutor
from ._executors import chunk_seeds as chunk_seeds
from ._executors import chunked as chunked
from ._executors import run_batched as run_batched

__all__ = [
    "DaskExecutor",
    "Executor",
    "ProcessExecutor",
    "SerialExecutor",
    "chunk_seeds",
    "chunked",
    "run_batched",
]
