"""One real Dask LocalCluster (2 worker processes) shared by this folder's Dask tests."""

from __future__ import annotations

import pytest

from medtwin.cohorts import DaskExecutor


@pytest.fixture(scope="session")
def dask_executor():
    pytest.importorskip("distributed")
    with DaskExecutor(n_workers=2) as ex:
        yield ex
