"""sweep(): rows, their order, backends that agree, rows that re-run alone."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pandas as pd
import pytest

from sagasim.sweeps import RunFailedError, SweepError, derive_seed, run_one, sweep

from .targets import TINY_GRID, draws, fails_on_odd_n

DRAWS_GRID = {"n": [1, 4, 2], "scale": [1, 10]}


def without_wall_time(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="wall_seconds")


@pytest.fixture(scope="module")
def scenario_rows(tiny_scenario) -> pd.DataFrame:
    """The tiny transfer sweep, run in this process."""
    return sweep(tiny_scenario, TINY_GRID, 2, base_seed=7, progress=False)


def test_one_row_per_point_and_seed_in_grid_then_seed_order():
    """Rows follow the grid's points, last key fastest, then seed index."""
    frame = sweep(draws, DRAWS_GRID, 3, progress=False)

    assert 18 == len(frame)
    assert [1] * 6 + [4] * 6 + [2] * 6 == list(frame["n"])
    assert ([1] * 3 + [10] * 3) * 3 == list(frame["scale"])
    assert [point for point in range(6) for _ in range(3)] == list(frame["point"])
    assert [0, 1, 2] * 6 == list(frame["seed_index"])
    assert [derive_seed(0, index) for index in (0, 1, 2)] * 6 == list(frame["seed"])
    assert [
        "n",
        "scale",
        "point",
        "seed_index",
        "seed",
        "total",
        "first",
        "rerun",
        "wall_seconds",
    ] == list(frame.columns)


def test_a_callable_sweep_is_the_same_on_every_backend(dask_scheduler):
    """In-process, two joblib workers and Dask give equal rows."""
    sequential = sweep(draws, DRAWS_GRID, 3, progress=False)
    local = sweep(draws, DRAWS_GRID, 3, jobs=2, progress=False)
    dask = sweep(draws, DRAWS_GRID, 3, scheduler=dask_scheduler, progress=False)

    pd.testing.assert_frame_equal(
        without_wall_time(sequential), without_wall_time(local)
    )
    pd.testing.assert_frame_equal(
        without_wall_time(sequential), without_wall_time(dask)
    )


def test_a_scenario_sweep_is_the_same_on_every_backend(
    tiny_scenario, scenario_rows, dask_scheduler
):
    """The transfer sweep gives equal rows on joblib and on Dask."""
    local = sweep(tiny_scenario, TINY_GRID, 2, base_seed=7, jobs=2, progress=False)
    dask = sweep(
        tiny_scenario,
        TINY_GRID,
        2,
        base_seed=7,
        scheduler=dask_scheduler,
        progress=False,
    )

    expected = without_wall_time(scenario_rows)
    pd.testing.assert_frame_equal(expected, without_wall_time(local))
    pd.testing.assert_frame_equal(expected, without_wall_time(dask))


def test_batch_size_does_not_change_the_rows():
    """One batch, batches of two, or one run per batch: the same rows."""
    frames = [
        without_wall_time(sweep(draws, DRAWS_GRID, 2, batch_size=size, progress=False))
        for size in (1, 2, 100)
    ]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    pd.testing.assert_frame_equal(frames[0], frames[2])


def test_a_scenario_row_holds_the_run_outcomes(scenario_rows):
    """Statuses, rollbacks and violations per check follow the faults."""
    frame = scenario_rows
    assert [
        "faults.0.probability",
        "faults.1.probability",
        "point",
        "seed_index",
        "seed",
        "instances",
        "complete",
        "errored",
        "terminated",
        "unfinished",
        "rollbacks",
        "violations",
        "violations.conservation",
        "violations.double_effect",
        "violations.money_leak",
        "sim_time",
        "rerun",
        "wall_seconds",
    ] == list(frame.columns)
    assert [20] * 8 == list(frame["instances"])
    assert list(frame["instances"]) == list(
        frame["complete"] + frame["errored"] + frame["terminated"] + frame["unfinished"]
    )
    assert list(frame["errored"]) == list(frame["rollbacks"])
    checks = [column for column in frame.columns if column.startswith("violations.")]
    assert list(frame["violations"]) == list(frame[checks].sum(axis=1))

    clean = frame[frame["point"] == 0]
    assert [0, 0] == list(clean["errored"]) == list(clean["violations"])
    refused = frame[frame["faults.1.probability"] > 0]
    assert (refused["errored"] > 0).all()
    lost = frame[frame["faults.0.probability"] > 0]
    assert (lost["violations.double_effect"] > 0).all()


def test_a_scenario_row_reruns_alone(tiny_scenario, scenario_rows):
    """run_one with a row's parameters and seed gives that row's numbers."""
    row = scenario_rows.iloc[7]
    params = {key: row[key] for key in TINY_GRID}
    again = run_one(tiny_scenario, params, int(row["seed"]))

    assert {key: row[key] for key in again} == again


def test_a_scenario_rows_rerun_command_prints_its_numbers(scenario_rows):
    """The rerun column is a shell command that reproduces the row."""
    row = scenario_rows.iloc[6]
    command = shlex.split(row["rerun"])
    assert "python" == command[0]
    out = subprocess.run(
        [sys.executable, *command[1:]], capture_output=True, text=True, check=True
    ).stdout
    again = eval(out)  # noqa: S307 - the command prints a dict literal
    assert {key: row[key] for key in again} == again


def test_a_callable_rows_rerun_command_names_the_function():
    """A module-level function's row re-runs with an import and one call."""
    frame = sweep(draws, {"n": [2]}, 1, base_seed=5, progress=False)
    seed = derive_seed(5, 0)
    assert (
        f"python -c 'from {draws.__module__} import draws; "
        f'print(draws({{"n": 2}}, {seed}))\''
    ) == frame["rerun"][0]
    assert {"total": frame["total"][0], "first": frame["first"][0]} == run_one(
        draws, {"n": 2}, seed
    )


def test_seeds_are_shared_by_grid_points_and_follow_the_base_seed():
    """Every point uses seeds derive_seed(base, 0..N-1)."""
    frame = sweep(draws, {"n": [1, 2]}, 2, base_seed=11, progress=False)
    assert [derive_seed(11, 0), derive_seed(11, 1)] * 2 == list(frame["seed"])


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (
            {"simulation.max_concurent": [5]},
            "grid simulation.max_concurent=5: .*simulation.max_concurent: "
            "unknown field",
        ),
        ({"nonsense": [1]}, "grid nonsense=1: .*nonsense: unknown field"),
        (
            {"simulation.max_concurrent": ["ten"]},
            'grid simulation.max_concurrent="ten": .*expected a positive integer',
        ),
        (
            {"simulation.max_concurrent": [10, 0]},
            "grid simulation.max_concurrent=0: .*expected a positive integer",
        ),
        ({"simulation.seed": [1]}, "grid simulation.seed: the sweep sets"),
        (
            {"faults.2.probability": [0.5]},
            "grid faults.2.probability: faults is an array of 2",
        ),
        (
            {"faults.0.probability": [1.5]},
            r"grid faults.0.probability=1.5: .*faults\[0\].probability: ",
        ),
        ({"seed": [1]}, "grid seed: the sweep uses that name for a column"),
    ],
)
def test_bad_grid_keys_and_values_are_one_line_errors(tiny_scenario, grid, message):
    """An unknown field or a value of the wrong type names the key."""
    with pytest.raises(SweepError, match=message) as info:
        sweep(tiny_scenario, grid, 1, progress=False)
    assert "\n" not in str(info.value)


def test_values_wrong_only_together_name_the_point(tiny_scenario):
    """A min above a max, each fine alone, is reported with its point."""
    grid = {"payload.amount.min": [100, 4000], "payload.amount.max": [3000]}
    with pytest.raises(SweepError) as info:
        sweep(tiny_scenario, grid, 1, progress=False)
    assert str(info.value).startswith(
        f"grid point payload.amount.min=4000 payload.amount.max=3000: {tiny_scenario}: "
        "payload.amount.max: "
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seeds": 0}, "seeds: expected a positive integer, got 0"),
        ({"jobs": 0}, "jobs: expected a positive integer, got 0"),
        ({"jobs": 1.5}, "jobs: expected a positive integer, got 1.5"),
        ({"batch_size": 0}, "batch_size: expected a positive integer, got 0"),
        ({"base_seed": -1}, "base seed: expected a non-negative integer, got -1"),
    ],
)
def test_bad_counts_are_errors(kwargs, message):
    """Seeds and jobs below one, or a negative base seed, are refused."""
    with pytest.raises(SweepError, match=message):
        sweep(draws, {"n": [1]}, **{"seeds": 1, **kwargs}, progress=False)


def test_a_run_that_raises_names_its_point_and_seed():
    """The error says which run failed, so it can be re-run alone."""
    with pytest.raises(RunFailedError) as info:
        sweep(fails_on_odd_n, {"n": [2, 3]}, 2, progress=False)
    assert (
        "run failed at point 1 (n=3), seed index 0 "
        f"(seed {derive_seed(0, 0)}): ValueError: odd n: 3"
    ) == str(info.value)


def test_a_run_that_raises_on_a_worker_names_it_too():
    """The same error comes back from a joblib worker."""
    with pytest.raises(RunFailedError, match=r"point 1 \(n=3\)"):
        sweep(fails_on_odd_n, {"n": [2, 3]}, 2, jobs=2, progress=False)


def test_a_function_must_return_a_dict():
    """A target returning something else fails its run."""
    with pytest.raises(RunFailedError, match="returned int, expected a dict"):
        sweep(lambda params, seed: 1, None, 1, progress=False)


def test_a_metric_may_not_take_a_column_name():
    """A function returning 'seed' would hide the sweep's own column."""
    with pytest.raises(SweepError, match="returned 'seed'"):
        sweep(lambda params, seed: {"seed": seed}, None, 1, progress=False)


def test_a_missing_dask_is_a_one_line_error(monkeypatch):
    """Without Dask, a scheduler address is a SweepError naming the extra."""
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(SweepError, match=r"Dask is not installed: .*sagasim\[dask\]"):
        sweep(draws, None, 1, scheduler="tcp://127.0.0.1:1", progress=False)
