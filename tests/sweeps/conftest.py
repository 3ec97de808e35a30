"""A Dask cluster for the sweep tests, when Dask is installed."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def dask_scheduler():
    """The address of an in-process Dask cluster with one single-threaded
    worker; the tests that use it are skipped without Dask."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        processes=False,
        n_workers=1,
        threads_per_worker=1,
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address
