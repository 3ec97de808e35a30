"""Where the runs of a sweep execute: in this process, in local worker
processes (joblib's loky backend), or on a Dask distributed cluster.

Every backend is handed the same batches and returns the same results; only
the order in which batches finish differs, and the sweep sorts rows after.
Each backend calls ``done(n)`` as batches of ``n`` runs finish, for the
progress bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

from sagasim.sweeps.errors import RunFailedError, SweepError
from sagasim.sweeps.grid import format_value
from sagasim.sweeps.targets import RUN_LOCK

__all__ = [
    "Run",
    "RunResult",
    "batches",
    "run_batch",
    "run_dask",
    "run_local",
    "run_sequential",
]

DASK_HINT = "pip install 'sagasim[dask]'"


class Run(NamedTuple):
    """One simulation of a sweep: grid point, seed index, seed, parameters."""

    point: int
    seed_index: int
    seed: int
    params: dict[str, Any]


class RunResult(NamedTuple):
    """What one run returned, and how long it took in wall-clock seconds."""

    point: int
    seed_index: int
    metrics: dict[str, Any]
    wall_seconds: float


def batches(runs: Sequence[Run], size: int) -> list[list[Run]]:
    """``runs`` dealt into batches of at most ``size``, round robin: batch
    ``b`` of ``n`` holds runs ``b, b + n, b + 2n, ...``, so that the slow
    corner of a grid is spread over all the batches rather than in one."""
    count = max(1, -(-len(runs) // size))
    return [list(runs[start::count]) for start in range(count) if runs[start::count]]


def run_batch(target: Callable[[dict, int], dict], batch: list[Run]) -> list[RunResult]:
    """Run each run of ``batch`` in turn, in this process.

    Raises:
        RunFailedError: a run raised; the message names the run.
    """
    results = []
    for run in batch:
        start = time.perf_counter()
        with RUN_LOCK:
            try:
                metrics = target(run.params, run.seed)
            except Exception as exc:  # noqa: BLE001 - reported with the run
                raise RunFailedError(_failure(run, exc)) from None
        results.append(
            RunResult(run.point, run.seed_index, metrics, time.perf_counter() - start)
        )
    return results


def run_sequential(
    target: Callable, work: list[list[Run]], done: Callable[[int], None]
) -> Iterator[list[RunResult]]:
    """Every batch in this process, one after the other."""
    for batch in work:
        results = run_batch(target, batch)
        done(len(results))
        yield results


def run_local(
    target: Callable, work: list[list[Run]], jobs: int, done: Callable[[int], None]
) -> Iterator[list[RunResult]]:
    """Every batch on ``jobs`` local worker processes (joblib, loky backend).

    Workers are started on first use and kept for the next sweep, as loky
    does; batches are yielded as they finish.
    """
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered")
    for results in parallel(delayed(run_batch)(target, batch) for batch in work):
        done(len(results))
        yield results


def dask_client(scheduler: Any) -> tuple[Any, bool]:
    """A Dask client for ``scheduler`` (an address or a client), and whether
    it was opened here (and so must be closed here).

    Raises:
        SweepError: Dask is not installed, or the scheduler cannot be reached.
    """
    try:
        from distributed import Client
    except ImportError:
        raise SweepError(
            f"a Dask scheduler was given but Dask is not installed: {DASK_HINT}"
        ) from None
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(scheduler, set_as_default=False, timeout="10s"), True
    except (OSError, TimeoutError, ValueError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise SweepError(
            f"cannot reach the Dask scheduler at {scheduler}: {message}"
        ) from None


def dask_threads(client: Any) -> int:
    """How many tasks the cluster behind ``client`` runs at once."""
    return max(1, sum(client.nthreads().values()))


def run_dask(
    target: Callable, work: list[list[Run]], client: Any, done: Callable[[int], None]
) -> Iterator[list[RunResult]]:
    """Every batch as one task on the Dask cluster behind ``client``.

    Workers need sagasim installed; they do not need the scenario file.
    Batches are yielded as they finish; on an error, the tasks not yet
    finished are cancelled.
    """
    from distributed import as_completed

    futures = [client.submit(run_batch, target, batch, pure=False) for batch in work]
    try:
        for future in as_completed(futures, loop=client.loop):
            results = future.result()
            done(len(results))
            yield results
    finally:
        client.cancel([future for future in futures if not future.done()])


def _failure(run: Run, exc: BaseException) -> str:
    params = " ".join(f"{k}={format_value(v)}" for k, v in run.params.items())
    where = f"point {run.point}" + (f" ({params})" if params else "")
    message = " ".join(str(exc).split())
    return (
        f"run failed at {where}, seed index {run.seed_index} (seed {run.seed}): "
        f"{type(exc).__name__}: {message}"
    )
