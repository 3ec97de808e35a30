"""The ``sagasim sweep`` command: results files, the summary, errors."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from sagasim.cli import main
from sagasim.sweeps import sweep

from .targets import TINY_GRID


def run(argv: list[str]) -> int:
    """``sagasim sweep ARGV``."""
    return main(["sweep", *argv])


GRID = ["--grid", "faults.0.probability=0,0.5", "--grid", "faults.1.probability=0,0.3"]


def test_sweep_writes_one_row_per_run_and_prints_means(tiny_scenario, tmp_path, capsys):
    """The CSV holds the same rows as sweep(); stdout has a mean per point."""
    output = tmp_path / "out" / "results.csv"
    status = run(
        [str(tiny_scenario), *GRID, "--seeds", "2", "--seed", "3", "-o", str(output)]
    )

    assert 0 == status
    saved = pd.read_csv(output)
    expected = sweep(tiny_scenario, TINY_GRID, 2, base_seed=3, progress=False)
    assert list(expected.columns) == list(saved.columns)
    columns = [column for column in expected.columns if column != "wall_seconds"]
    pd.testing.assert_frame_equal(expected[columns], saved[columns], check_dtype=False)

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(
        "tiny: 8 runs (4 points x 2 seeds, base seed 3) on this process in "
    )
    assert "mean per point" == out[1]
    assert out[2].split() == [
        "faults.0.probability",
        "faults.1.probability",
        "complete",
        "errored",
        "terminated",
        "rollbacks",
        "violations",
    ]
    assert ["0.00", "0.00", "20.00", "0.00"] == out[3].split()[:4]
    assert 4 == len(out[3:-1])
    assert f"results: {output} (8 rows)" == out[-1]


def test_a_scheduler_address_runs_on_dask(tiny_scenario, dask_scheduler, tmp_path):
    """--scheduler sends the runs to the cluster; the rows are the same."""
    local, remote = tmp_path / "local.csv", tmp_path / "dask.csv"
    assert 0 == run([str(tiny_scenario), *GRID, "--seeds", "2", "-o", str(local)])
    assert 0 == run(
        [str(tiny_scenario), *GRID, "--seeds", "2", "-o", str(remote)]
        + ["--scheduler", dask_scheduler]
    )
    expected = pd.read_csv(local).drop(columns="wall_seconds")
    pd.testing.assert_frame_equal(
        expected, pd.read_csv(remote).drop(columns="wall_seconds")
    )


def test_a_function_target_sweeps_by_module_and_name(tmp_path):
    """SCENARIO may be package.module:function."""
    output = tmp_path / "draws.csv"
    target = f"{__package__}.targets:draws"
    assert 0 == run([target, "--grid", "n=1,2", "--seeds", "3", "-o", str(output)])
    assert [1, 1, 1, 2, 2, 2] == list(pd.read_csv(output)["n"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [*GRID, "--grid", "simulation.max_concurent=5"],
            "grid simulation.max_concurent=5: ",
        ),
        (["--grid", "simulation.max_concurrent=ten"], "expected a positive integer"),
        (["--grid", "simulation.instances"], "--grid simulation.instances: expected"),
        (["--grid", "a=1", "--grid", "a=2"], "--grid a: given twice"),
        (["-o", "results.json"], "results.json: expected a file name ending in .csv"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tiny_scenario, argv, message, capsys):
    """A bad grid key, value or output name is one line on stderr, exit 2."""
    assert 2 == run([str(tiny_scenario), *argv])
    err = capsys.readouterr().err
    assert 1 == len(err.splitlines())
    assert err.startswith("sagasim: error: ")
    assert message in err


@pytest.mark.parametrize("option", ["--seeds", "--jobs"])
@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_seeds_and_jobs_below_one_exit_2(tiny_scenario, option, value, capsys):
    """--seeds and --jobs take positive integers only."""
    assert 2 == run([str(tiny_scenario), option, value])
    err = capsys.readouterr().err
    assert f"{option}: expected a positive integer, got {value!r}" in err


def test_a_missing_scenario_file_exits_2(tmp_path, capsys):
    """A file that cannot be read is the loader's one-line error."""
    assert 2 == run([str(tmp_path / "nope.toml")])
    assert "cannot read file" in capsys.readouterr().err


def test_parquet_without_pyarrow_exits_2(tiny_scenario, tmp_path, monkeypatch, capsys):
    """Asking for Parquet without pyarrow fails before any run."""
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert 2 == run([str(tiny_scenario), "-o", str(tmp_path / "r.parquet")])
    assert "writing Parquet needs pyarrow" in capsys.readouterr().err
    assert not (tmp_path / "r.parquet").exists()


def test_parquet_results_read_back_equal(tiny_scenario, tmp_path):
    """With pyarrow, a .parquet output holds the same rows as a .csv one."""
    pytest.importorskip("pyarrow")
    csv, parquet = tmp_path / "r.csv", tmp_path / "r.parquet"
    assert 0 == run([str(tiny_scenario), *GRID, "-o", str(csv)])
    assert 0 == run([str(tiny_scenario), *GRID, "-o", str(parquet)])
    pd.testing.assert_frame_equal(
        pd.read_csv(csv).drop(columns="wall_seconds"),
        pd.read_parquet(parquet).drop(columns="wall_seconds"),
        check_dtype=False,
    )


def test_a_scheduler_without_dask_exits_2(tiny_scenario, monkeypatch, capsys):
    """--scheduler without Dask installed is one line naming the extra."""
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert 2 == run([str(tiny_scenario), "--scheduler", "tcp://127.0.0.1:1"])
    err = capsys.readouterr().err
    assert 1 == len(err.splitlines())
    assert "Dask is not installed: pip install 'sagasim[dask]'" in err


def test_a_run_that_raises_exits_1(tmp_path, capsys):
    """A failing run is one line naming the run, exit 1, nothing written."""
    output = tmp_path / "r.csv"
    target = f"{__package__}.targets:fails_on_odd_n"
    assert 1 == run([target, "--grid", "n=2,3", "-o", str(output)])
    assert "run failed at point 1 (n=3)" in capsys.readouterr().err
    assert not output.exists()
