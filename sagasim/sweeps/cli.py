"""The ``sagasim sweep`` command.

``sagasim sweep SCENARIO --grid key=v1,v2,... [--grid ...] --seeds N
--jobs K [--scheduler ADDRESS] [-o results.csv|.parquet] [--seed BASE]``
runs the scenario file at every grid point under N seeds, on K local worker
processes or on the Dask cluster at ADDRESS, writes one row per run
(``runs/<scenario stem>/sweep.csv`` by default) and prints the mean of each
outcome per grid point. SCENARIO may also be ``package.module:function``, a
function ``fn(params, seed) -> dict``.

Exit status: 0 when every run finished, 2 for a bad argument, grid key or
value, or scenario file (and for a missing Dask or pyarrow when asked to
use them), 1 when a run raised or the results cannot be written. Every
error is one line on stderr, ``sagasim: error: ...``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from sagasim.sweeps.errors import RunFailedError, SweepError
from sagasim.sweeps.grid import parse_grid_option
from sagasim.sweeps.output import check_output, save
from sagasim.sweeps.sweep import sweep

__all__ = ["main", "register"]

PROG = "sagasim"
_FUNCTION_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
# The outcomes whose mean per grid point the summary prints, when present.
SUMMARY_COLUMNS = ("complete", "errored", "terminated", "rollbacks", "violations")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sweep`` command to the ``sagasim`` sub-command parsers."""
    parser = subparsers.add_parser(
        "sweep",
        help="run a scenario over a grid of parameters and many seeds",
        description=(
            "Run a scenario once per grid point and seed, on local worker "
            "processes or a Dask cluster; write one row per run."
        ),
    )
    parser.add_argument(
        "scenario",
        metavar="SCENARIO",
        help="a scenario TOML file, or package.module:function",
    )
    parser.add_argument(
        "--grid",
        metavar="KEY=V1,V2,...",
        action="append",
        default=[],
        help="a dotted scenario field and its values; repeat for more keys",
    )
    parser.add_argument(
        "--seeds",
        metavar="N",
        type=_positive,
        default=1,
        help="seeds per grid point (default 1)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        metavar="K",
        type=_positive,
        default=1,
        help="local worker processes (default 1: in this process)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask cluster at ADDRESS (needs sagasim[dask])",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=Path,
        help="results file, .csv or .parquet (default: runs/<stem>/sweep.csv)",
    )
    parser.add_argument(
        "--seed",
        metavar="BASE",
        type=_natural,
        default=0,
        help="the base seed run seeds are derived from (default 0)",
    )
    parser.add_argument(
        "--batch-size",
        metavar="B",
        type=_positive,
        help="runs per batch (default: four batches per worker, or one run)",
    )
    return parser


def main(args: argparse.Namespace) -> int:
    """Run ``sagasim sweep`` with parsed ``args``; return the exit status."""
    from sagasim.scenarios import ScenarioError

    try:
        grid = _grid(args.grid)
        target, name = _target(args.scenario)
        output = check_output(args.output or Path("runs") / name / "sweep.csv")
        started = time.perf_counter()
        frame = sweep(
            target,
            grid,
            args.seeds,
            base_seed=args.seed,
            jobs=args.jobs,
            scheduler=args.scheduler,
            batch_size=args.batch_size,
            progress=None,
        )
        elapsed = time.perf_counter() - started
    except (SweepError, ScenarioError) as exc:
        return _error(str(exc), 2)
    except RunFailedError as exc:
        return _error(str(exc), 1)

    try:
        save(frame, output)
    except OSError as exc:
        return _error(f"cannot write {exc.filename or output}: {exc.strerror}", 1)

    where = f"Dask at {args.scheduler}" if args.scheduler else _jobs(args.jobs)
    try:
        print(
            f"{name}: {len(frame):,} runs ({frame['point'].nunique():,} points x "
            f"{args.seeds:,} seeds, base seed {args.seed}) on {where} "
            f"in {elapsed:.2f}s"
        )
        print_means(frame, list(grid), sys.stdout)
        print(f"results: {output} ({len(frame):,} rows)")
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0


def print_means(frame: pd.DataFrame, keys: list[str], out: TextIO) -> None:
    """Write the mean of each outcome per grid point to ``out``."""
    columns = [column for column in SUMMARY_COLUMNS if column in frame]
    if not columns:
        return
    means = frame.groupby("point", sort=True)[columns].mean()
    if keys:
        firsts = frame.groupby("point", sort=True)[keys].first()
        means = firsts.join(means)
    text = means.to_string(index=False, float_format=lambda x: f"{x:.2f}")
    print("mean per point", file=out)
    for line in text.splitlines():
        print(f"  {line}", file=out)


def _grid(options: list[str]) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for option in options:
        key, values = parse_grid_option(option)
        if key in grid:
            raise SweepError(f"--grid {key}: given twice; list every value once")
        grid[key] = values
    return grid


def _target(text: str) -> tuple[Any, str]:
    """A scenario path, or the function ``package.module:function`` names
    when no such file exists."""
    if Path(text).exists() or not _FUNCTION_REF.match(text):
        return text, Path(text).stem
    module_name, function = text.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is reported
        message = " ".join(str(exc).split())
        raise SweepError(
            f"{text}: cannot import {module_name}: {type(exc).__name__}: {message}"
        ) from None
    fn = getattr(module, function, None)
    if not callable(fn):
        raise SweepError(f"{text}: {module_name} has no function {function!r}")
    return fn, function


def _jobs(jobs: int) -> str:
    return "this process" if jobs == 1 else f"{jobs} local workers"


def _positive(text: str) -> int:
    return _integer(text, 1, "a positive integer")


def _natural(text: str) -> int:
    return _integer(text, 0, "a non-negative integer")


def _integer(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _error(message: str, status: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status
