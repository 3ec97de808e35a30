"""What a sweep runs: a scenario file with fields overridden, or a function.

A target is called as ``target(params, seed) -> dict`` once per run, in a
worker that may be another process or another machine, so it carries
everything it needs: a scenario target holds the file's text (a Dask worker
need not see the file), a callable target holds the function, pickled with
cloudpickle by joblib and Dask.
"""

from __future__ import annotations

import json
import os
import shlex
import threading
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagasim.sweeps.errors import SweepError
from sagasim.sweeps.grid import format_value, plain, points
from sagasim.sweeps.overrides import apply_overrides, dump_toml, key_path

__all__ = [
    "SCENARIO_METRICS",
    "CallableTarget",
    "ScenarioTarget",
    "as_target",
    "run_one",
]

# The columns a scenario run yields, in order; ``violations.<check>`` columns
# (one per check that found something anywhere in the sweep) follow
# ``violations``.
SCENARIO_METRICS = (
    "instances",
    "complete",
    "errored",
    "terminated",
    "unfinished",
    "rollbacks",
    "violations",
    "sim_time",
)
VIOLATIONS_PREFIX = "violations."

# NOTE: the engine keeps the coroutine it is running in a module global, so
# two simulations must not run at once in one process. Runs in one process
# (a Dask worker with several threads) take this lock in turn; a worker
# process runs one simulation at a time. Once the engine keeps that state per
# simulation (a context variable), the lock can go.
RUN_LOCK = threading.Lock()


@dataclass(frozen=True)
class ScenarioTarget:
    """A scenario file, run with some of its fields overridden.

    ``params`` maps dotted scenario fields (``simulation.max_concurrent``,
    ``faults.0.probability``) to the value each takes in this run; ``seed``
    replaces the file's ``simulation.seed``. Each call builds a fresh
    simulation, runs it to the end, runs the checks, and returns
    :data:`SCENARIO_METRICS` plus one ``violations.<check>`` count per check
    that found something.
    """

    path: str
    text: str

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ScenarioTarget:
        """The scenario file at ``path``, read and validated.

        Raises:
            ScenarioError: the file cannot be read or is not a valid scenario.
        """
        from sagasim.scenarios import load_scenario

        load_scenario(path)
        return cls(str(path), Path(path).read_text(encoding="utf-8"))

    @property
    def name(self) -> str:
        return Path(self.path).stem

    def scenario(self, params: Mapping[str, Any]) -> Any:
        """The validated scenario with ``params`` set.

        Raises:
            SweepError: a key goes through a value that is no table or array.
            ScenarioError: the overridden document is not a valid scenario.
        """
        from sagasim.scenarios import parse_scenario

        document = apply_overrides(tomllib.loads(self.text), params)
        return parse_scenario(dump_toml(document), self.path)

    def validate(self, grid: Mapping[str, tuple]) -> None:
        """Check every key and value of ``grid``, then every point.

        Each value is tried alone first, so the error names the key and
        value at fault; points are tried after, for values that are only
        wrong together (a ``min`` above a ``max``).

        Raises:
            SweepError: naming the key and value, or the point, at fault.
        """
        from sagasim.scenarios import ScenarioError

        for key, values in grid.items():
            if key_path(key) == ["simulation", "seed"]:
                raise SweepError(
                    f"grid {key}: the sweep sets each run's seed; give the "
                    "base seed and the number of seeds instead"
                )
            for value in values:
                try:
                    self.scenario({key: value})
                except ScenarioError as exc:
                    raise SweepError(
                        f"grid {key}={format_value(value)}: {exc}"
                    ) from None
        if len(grid) > 1:
            for point in points(grid):
                try:
                    self.scenario(point)
                except ScenarioError as exc:
                    raise SweepError(
                        f"grid point {_show_point(point)}: {exc}"
                    ) from None

    def __call__(self, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
        from sagasim.scenarios import build

        scenario_run = build(self.scenario(params), seed=seed)
        scenario_run.run()
        return scenario_metrics(scenario_run)

    def columns(self, seen: list[str]) -> list[str]:
        """The metric columns in order, given every key the runs returned."""
        checks = sorted(key for key in seen if key.startswith(VIOLATIONS_PREFIX))
        at = SCENARIO_METRICS.index("violations") + 1
        return [*SCENARIO_METRICS[:at], *checks, *SCENARIO_METRICS[at:]]

    def fill(self, column: str) -> Any:
        """The value of a metric a run did not return: a check that found
        nothing in that run found zero violations."""
        return 0

    def rerun(self, params: Mapping[str, Any], seed: int) -> str:
        """The shell command that re-runs this one run and prints its metrics;
        the scenario path is as the sweep was given it, so run the command
        from the same folder."""
        # NOTE: `sagasim run` cannot override scenario fields (it has no
        # --set option), so the command calls run_one from Python. With
        # --set it would read: sagasim run PATH --seed SEED --set key=value.
        code = (
            "from sagasim.sweeps import run_one; "
            f"print(run_one({_py(self.path)}, {_py(dict(params))}, {seed}))"
        )
        return f"python -c {shlex.quote(code)}"


def scenario_metrics(scenario_run: Any) -> dict[str, Any]:
    """The numbers of one finished scenario run, as :class:`ScenarioTarget`
    returns them.

    ``rollbacks`` counts the instances whose rollback started (once each,
    however often a crash made it start again); ``violations`` every row
    of :meth:`~sagasim.scenarios.ScenarioRun.violations`, and
    ``violations.<check>`` those of one check; ``sim_time`` is the simulated
    second the run ended at.
    """
    sim = scenario_run.sim
    statuses = Counter(instance.status()["status"] for instance in sim.instances)
    trace = sim.trace
    rolled_back = trace.loc[trace["event"] == "ROLLBACK_START", "instance"]
    checks = Counter(scenario_run.violations()["check"])
    ended = statuses["complete"] + statuses["errored"] + statuses["terminated"]
    metrics: dict[str, Any] = {
        "instances": len(sim.instances),
        "complete": statuses["complete"],
        "errored": statuses["errored"],
        "terminated": statuses["terminated"],
        "unfinished": len(sim.instances) - ended,
        "rollbacks": rolled_back.nunique(),
        "violations": sum(checks.values()),
    }
    for check in sorted(checks):
        metrics[VIOLATIONS_PREFIX + check] = checks[check]
    metrics["sim_time"] = sim.now
    return metrics


@dataclass(frozen=True)
class CallableTarget:
    """A function ``fn(params: dict, seed: int) -> dict`` run once per run.

    It must be picklable for workers in other processes (a module-level
    function is; joblib and Dask also pickle lambdas and closures by value)
    and must depend on nothing but its arguments, so that a row re-runs
    alone. Every key it returns becomes a column.
    """

    fn: Callable[[dict[str, Any], int], Mapping[str, Any]]

    @property
    def name(self) -> str:
        return getattr(self.fn, "__name__", type(self.fn).__name__)

    def validate(self, grid: Mapping[str, tuple]) -> None:
        """Any key and value may be given to a function."""

    def __call__(self, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
        result = self.fn(dict(params), seed)
        if not isinstance(result, Mapping):
            raise TypeError(
                f"{self.name} returned {type(result).__name__}, expected a dict"
            )
        return dict(result)

    def columns(self, seen: list[str]) -> list[str]:
        return seen

    def fill(self, column: str) -> Any:
        return None

    def rerun(self, params: Mapping[str, Any], seed: int) -> str:
        """A shell command that re-runs this run, when the function can be
        imported by name; otherwise the Python call itself."""
        module = getattr(self.fn, "__module__", None)
        qualname = getattr(self.fn, "__qualname__", "")
        call = f"{qualname or self.name}({_py(dict(params))}, {seed})"
        if not module or module == "__main__" or not qualname.isidentifier():
            return call
        code = f"from {module} import {qualname}; print({call})"
        return f"python -c {shlex.quote(code)}"


def as_target(target: Any) -> ScenarioTarget | CallableTarget:
    """A scenario path (``str`` or path) or a callable, as a target.

    Raises:
        ScenarioError: a path that is not a valid scenario file.
        SweepError: anything else.
    """
    if isinstance(target, ScenarioTarget | CallableTarget):
        return target
    if isinstance(target, str | os.PathLike):
        return ScenarioTarget.load(target)
    if callable(target):
        return CallableTarget(target)
    raise SweepError(
        f"target: expected a scenario file or a function fn(params, seed), "
        f"got {target!r}"
    )


def run_one(target: Any, params: Mapping[str, Any] | None, seed: int) -> dict:
    """Run ``target`` once with ``params`` and ``seed``; return what the
    sweep puts in that run's row (its metrics, without the grid, seed and
    wall-time columns). This is what a row's ``rerun`` command calls.

    Raises:
        SweepError: ``params`` has a bad key or value.
        ScenarioError: the scenario file is not valid.
    """
    target = as_target(target)
    params = {key: plain(value) for key, value in (params or {}).items()}
    target.validate({key: (value,) for key, value in params.items()})
    with RUN_LOCK:
        return target(params, seed)


def _show_point(point: Mapping[str, Any]) -> str:
    return " ".join(f"{key}={format_value(value)}" for key, value in point.items())


def _py(value: Any) -> str:
    """``value`` as a Python literal that uses no single quotes, so that it
    sits inside a single-quoted shell word unchanged."""
    value = plain(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool | int | float) or value is None:
        return repr(value)
    if isinstance(value, list | tuple):
        items = ", ".join(_py(item) for item in value)
        if isinstance(value, list):
            return f"[{items}]"
        return f"({items},)" if items else "()"
    if isinstance(value, Mapping):
        items = ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items())
        return "{" + items + "}"
    return repr(value)
