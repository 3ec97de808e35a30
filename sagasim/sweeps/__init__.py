"""Sweeps: many seeded runs over a parameter grid, locally or on Dask.

:func:`sweep` runs a target, a scenario file or a function
``fn(params, seed) -> dict``, once per (grid point, seed index) pair, each
run an independent simulation, and returns one tidy row per run::

    from sagasim.sweeps import sweep

    frame = sweep(
        "scenarios/bank_transfer.toml",
        {"simulation.max_concurrent": [10, 100]},
        seeds=20,
        jobs=2,
    )
    frame.groupby("simulation.max_concurrent")["errored"].mean()

Local worker processes come from joblib (loky); with ``scheduler=`` a Dask
distributed cluster runs the batches instead (the ``dask`` extra; sagasim
itself never imports Dask unless asked to). Each run's seed is
:func:`derive_seed` of the base seed and the seed index, so any row re-runs
alone: its ``rerun`` column is the command, and :func:`run_one` the call.
"""

from sagasim.sweeps.errors import RunFailedError, SweepError
from sagasim.sweeps.grid import parse_grid_option, parse_value
from sagasim.sweeps.output import check_output, save
from sagasim.sweeps.seeds import derive_seed
from sagasim.sweeps.sweep import sweep
from sagasim.sweeps.targets import SCENARIO_METRICS, run_one

__all__ = [
    "SCENARIO_METRICS",
    "RunFailedError",
    "SweepError",
    "check_output",
    "derive_seed",
    "parse_grid_option",
    "parse_value",
    "run_one",
    "save",
    "sweep",
]
