"""Many seeded runs over a parameter grid, one tidy row per run."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from tqdm import tqdm

from sagasim.sweeps.backends import (
    Run,
    RunResult,
    batches,
    dask_client,
    dask_threads,
    run_dask,
    run_local,
    run_sequential,
)
from sagasim.sweeps.errors import SweepError
from sagasim.sweeps.grid import format_value, normalise_grid, points
from sagasim.sweeps.seeds import derive_seed
from sagasim.sweeps.targets import as_target

__all__ = ["RESERVED", "sweep"]

# The sweep's own columns, which no grid key or metric may take.
RESERVED = ("point", "seed_index", "seed", "rerun", "wall_seconds")

# Batches per worker when the batch size is not given: a few each, so that
# a slow batch does not leave the other workers idle at the end.
BATCHES_PER_WORKER = 4


def sweep(
    target: Any,
    grid: Mapping[str, Iterable[Any]] | None = None,
    seeds: int = 1,
    *,
    base_seed: int = 0,
    jobs: int = 1,
    scheduler: Any = None,
    batch_size: int | None = None,
    progress: bool | None = True,
) -> pd.DataFrame:
    """Run ``target`` at every point of ``grid`` under ``seeds`` seeds.

    Every (grid point, seed index) pair is an independent simulation. The
    seed of seed index ``i`` is :func:`~sagasim.sweeps.derive_seed`
    ``(base_seed, i)``, the same at every grid point. Runs are dealt into
    batches; a batch runs in this process (``jobs=1``), on ``jobs`` local
    worker processes (joblib), or, when ``scheduler`` is given, as one task
    on a Dask distributed cluster (``jobs`` is then not used).

    Args:
        target: a scenario file path, whose dotted fields the grid keys name
            (``simulation.max_concurrent``, ``faults.0.probability``), or a
            picklable function ``fn(params: dict, seed: int) -> dict``.
        grid: each parameter and its values; points are their product, the
            first key varying slowest. ``None`` or ``{}`` is one point.
        seeds: how many seeds per point, at least 1.
        base_seed: the seed the run seeds are derived from.
        jobs: local worker processes, at least 1.
        scheduler: a Dask scheduler address (``"tcp://host:8786"``) or a
            ``distributed.Client``; needs the ``dask`` extra.
        batch_size: runs per batch; by default one run per batch in this
            process, else enough for four batches per worker.
        progress: show a progress bar on stderr; ``None`` shows it only on
            a terminal.

    Returns:
        One row per run, sorted by grid point then seed index, the same
        whatever the backend and the number of workers but for
        ``wall_seconds``. Columns: one per grid key, ``point`` (the grid
        point's index), ``seed_index``, ``seed``, the target's metrics (for
        a scenario: ``instances``, ``complete``, ``errored``,
        ``terminated``, ``unfinished``, ``rollbacks``, ``violations``, one
        ``violations.<check>`` per check that found something in some run,
        ``sim_time`` in simulated seconds), ``rerun`` (a shell command that
        re-runs the row alone) and, last, ``wall_seconds``.

    Raises:
        SweepError: a bad grid key or value, seeds, jobs, base seed or batch
            size; Dask missing or unreachable with ``scheduler``.
        ScenarioError: ``target`` is not a valid scenario file.
        RunFailedError: a run raised; the message names its point and seed.
    """
    _check_count("seeds", seeds)
    _check_count("jobs", jobs)
    if batch_size is not None:
        _check_count("batch_size", batch_size)
    if not _is_int(base_seed) or base_seed < 0:
        raise SweepError(
            f"base seed: expected a non-negative integer, got {base_seed!r}"
        )
    grid = normalise_grid(grid)
    for key in grid:
        if key in RESERVED:
            raise SweepError(f"grid {key}: the sweep uses that name for a column")
    target = as_target(target)
    target.validate(grid)

    grid_points = points(grid)
    run_seeds = [derive_seed(base_seed, index) for index in range(seeds)]
    runs = [
        Run(point, index, run_seeds[index], params)
        for point, params in enumerate(grid_points)
        for index in range(seeds)
    ]

    client = None
    owned = False
    if scheduler is not None:
        client, owned = dask_client(scheduler)
    try:
        with tqdm(
            total=len(runs),
            desc=f"sweep {target.name}",
            unit="run",
            file=sys.stderr,
            disable=None if progress is None else not progress,
            leave=False,
        ) as bar:
            if client is not None:
                size = batch_size or _default_size(len(runs), dask_threads(client))
                flow = run_dask(target, batches(runs, size), client, bar.update)
            elif jobs > 1:
                size = batch_size or _default_size(len(runs), jobs)
                flow = run_local(target, batches(runs, size), jobs, bar.update)
            else:
                flow = run_sequential(
                    target, batches(runs, batch_size or 1), bar.update
                )
            results = [result for batch in flow for result in batch]
    finally:
        if owned:
            client.close()

    return _frame(target, grid, grid_points, run_seeds, results)


def _frame(
    target: Any,
    grid: Mapping[str, tuple],
    grid_points: list[dict[str, Any]],
    run_seeds: list[int],
    results: list[RunResult],
) -> pd.DataFrame:
    results = sorted(results, key=lambda result: (result.point, result.seed_index))
    seen: dict[str, None] = {}
    for result in results:
        for key in result.metrics:
            if key in RESERVED or key in grid:
                raise SweepError(
                    f"{target.name} returned {key!r}, which is also the name of "
                    "a grid key or of one of the sweep's columns"
                )
            seen.setdefault(key, None)
    metrics = target.columns(list(seen))

    rows = []
    for result in results:
        params = grid_points[result.point]
        seed = run_seeds[result.seed_index]
        row: dict[str, Any] = {key: _cell(params[key]) for key in grid}
        row["point"] = result.point
        row["seed_index"] = result.seed_index
        row["seed"] = seed
        for column in metrics:
            row[column] = result.metrics.get(column, target.fill(column))
        row["rerun"] = target.rerun(params, seed)
        row["wall_seconds"] = result.wall_seconds
        rows.append(row)
    columns = [*grid, "point", "seed_index", "seed", *metrics, "rerun", "wall_seconds"]
    return pd.DataFrame(rows, columns=columns)


def _cell(value: Any) -> Any:
    """A grid value as a table cell: scalars as they are, tables and arrays
    as their TOML text, so a column holds one type and saves as Parquet."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return format_value(value)


def _default_size(runs: int, workers: int) -> int:
    return max(1, -(-runs // (workers * BATCHES_PER_WORKER)))


def _check_count(name: str, value: Any) -> None:
    if not _is_int(value) or value < 1:
        raise SweepError(f"{name}: expected a positive integer, got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
