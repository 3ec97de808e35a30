"""The tiny scenario file, and a Dask cluster when Dask is installed."""

from __future__ import annotations

import pytest

from .targets import TINY_SCENARIO


@pytest.fixture(scope="session")
def tiny_scenario(tmp_path_factory):
    """The path of the tiny transfer scenario, written once per session."""
    path = tmp_path_factory.mktemp("scenarios") / "tiny.toml"
    path.write_text(TINY_SCENARIO, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
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
