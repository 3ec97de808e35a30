"""The ``sagasim run`` command: the summary, the CSV files, errors and exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import sagasim.cli
from sagasim.cli import main

# Three transfers of 1,000 cents, one a second. north answers in 50 ms,
# south in 100 ms and is down during [1, 2.5) s; one retry after 500 ms.
#   inst-1 at 0 s: debit lands 0.05, credit 0.15: complete.
#   inst-2 at 1 s: debit 1.05; credit fails at 1.15 and 1.75; rolled back:
#     the credit's handler has no output, the refund lands at 1.80.
#   inst-3 at 2 s: a latency fault adds 10 ms to its debit: 2.06; its credit
#     fails at 2.16, lands at 2.76: complete.
REPO = Path(__file__).resolve().parent.parent

SMALL = """\
[simulation]
seed = 5
instances = 3
arrival = { process = "fixed", interval = "1 second" }

[[services]]
name = "north"
kind = "bank"
latency = 50
accounts = { alice = 10_000 }

[[services]]
name = "south"
kind = "bank"
latency = 100
accounts = { bob = 0 }
outages = [[1, 2.5]]

[payload]
amount = 1_000

[workflow]
name = "transfer"
config.retries = { limit = 1, delay = 500, backoff = "constant" }
config.timeout = "5 seconds"

[[workflow.steps]]
name = "debit"
call = "north.debit"
args = { account = "alice", amount = "{payload.amount}" }
key = "{instance}:debit"
compensation.call = "north.credit"
compensation.args = { account = "alice", amount = "{payload.amount}" }
compensation.key = "{instance}:debit:refund"

[[workflow.steps]]
name = "credit"
call = "south.credit"
args = { account = "bob", amount = "{payload.amount}" }
key = "{instance}:credit"
compensation.call = "south.debit"
compensation.args = { account = "bob", amount = "{payload.amount}" }
compensation.key = "{instance}:credit:reverse"

[[faults]]
kind = "latency"
step = "debit"
instance = "inst-3"
extra = 10

[checks]
conserved = { money = ["money:north", "money:south"] }
"""

SMALL_SUMMARY = """\
small: 3 instances of transfer, one every 1s, seed 5
simulated time: 2.760s

instances
  complete           2
  errored            1

steps      6 started, 5 succeeded, 1 failed
attempts   8 started, 3 failed
rollbacks  1 started, 1 complete, 0 failed; 2 handlers run, 2 succeeded, 0 failed

rollback order of inst-2 (errored: ServiceUnavailable: bank 'south' is \
unavailable at 1.75s)
  1. credit#1  1.750s -> 1.750s  success  (no output)
  2. debit#1   1.750s -> 1.800s  success

faults: 1 armed, 1 fired
   0  latency  instance=inst-3 step=debit       1 fired

violations: none

totals                     before         after      change
  money:north              10,000         8,000      -2,000
  money:south                   0         2,000      +2,000
  money (conserved)        10,000        10,000           0
  money: balanced, nothing created or lost

"""

TRACE_COLUMNS = [
    "seq",
    "time",
    "instance",
    "event",
    "step",
    "count",
    "attempt",
    "error_name",
    "error_message",
    "detail",
]
OUTPUTS = ["effects.csv", "faults.csv", "history.csv", "trace.csv", "violations.csv"]


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def test_run_prints_the_summary(small, tmp_path, capsys):
    """A small deterministic run prints exact counts, order, faults and money."""
    outdir = tmp_path / "out"

    status = main(["run", str(small), "-o", str(outdir), "--no-charts"])

    out, err = capsys.readouterr()
    assert 0 == status
    assert "" == err
    trace_rows = len(pd.read_csv(outdir / "trace.csv"))
    assert (
        SMALL_SUMMARY
        + "files\n"
        + f"  {outdir / 'trace.csv'} ({trace_rows:,} rows)\n"
        + f"  {outdir / 'effects.csv'} (6 rows)\n"
        + f"  {outdir / 'history.csv'} (9 rows)\n"
        + f"  {outdir / 'violations.csv'} (0 rows)\n"
        + f"  {outdir / 'faults.csv'} (1 row)\n"
    ) == out


def test_run_writes_the_five_tables(small, tmp_path, capsys):
    """trace, effects, history, violations and faults land as CSV files."""
    outdir = tmp_path / "out"

    assert 0 == main(["run", str(small), "-o", str(outdir), "--no-charts"])

    assert OUTPUTS == sorted(p.name for p in outdir.iterdir())
    trace = pd.read_csv(outdir / "trace.csv", keep_default_na=False)
    assert TRACE_COLUMNS == list(trace.columns)
    assert ["inst-1", "inst-2", "inst-3"] == sorted(set(trace["instance"]))
    assert 1 == (trace["event"] == "ROLLBACK_COMPLETE").sum()

    effects = pd.read_csv(outdir / "effects.csv", keep_default_na=False)
    assert [
        ("north", 0.05, "debit", "inst-1:debit"),
        ("south", 0.15, "credit", "inst-1:credit"),
        ("north", 1.05, "debit", "inst-2:debit"),
        ("north", 1.8, "credit", "inst-2:debit:refund"),
        ("north", 2.06, "debit", "inst-3:debit"),
        ("south", 2.76, "credit", "inst-3:credit"),
    ] == list(
        zip(
            effects["service"],
            effects["time"],
            effects["kind"],
            effects["key"],
            strict=True,
        )
    )

    history = pd.read_csv(outdir / "history.csv", keep_default_na=False)
    assert {"ok": 6, "failed": 3} == history["outcome"].value_counts().to_dict()
    assert 3 == (history["error"] == "ServiceUnavailable").sum()

    faults = pd.read_csv(outdir / "faults.csv", keep_default_na=False)
    assert [(0, "latency", 1)] == list(
        zip(faults["fault"], faults["kind"], faults["fired"], strict=True)
    )
    violations = pd.read_csv(outdir / "violations.csv")
    assert ["check", "instance", "subject", "message", "evidence"] == list(
        violations.columns
    )
    assert 0 == len(violations)


def test_output_files_are_readable_like_any_new_file(small, tmp_path, capsys):
    """The CSV files get the usual permissions, not a temporary file's 0600."""
    outdir = tmp_path / "out"
    mask = os.umask(0o022)
    try:
        assert 0 == main(["run", str(small), "-o", str(outdir)])
    finally:
        os.umask(mask)

    assert 0o644 == (outdir / "trace.csv").stat().st_mode & 0o777


def test_a_failed_write_leaves_the_old_files_and_no_temporaries(
    small, tmp_path, capsys, monkeypatch
):
    """If one table cannot be written, none is replaced and nothing is left."""
    outdir = tmp_path / "out"
    assert 0 == main(["run", str(small), "-o", str(outdir)])
    before = {p.name: p.read_bytes() for p in outdir.iterdir()}
    capsys.readouterr()

    calls = []
    original = pd.DataFrame.to_csv

    def flaky(self, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(path))
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", flaky)
    status = main(["run", str(small), "-o", str(outdir), "--seed", "9"])

    out, err = capsys.readouterr()
    assert 1 == status
    assert "" == out
    assert err.startswith("sagasim: error: cannot write ")
    assert err.endswith(": No space left on device\n")
    assert before == {p.name: p.read_bytes() for p in outdir.iterdir()}


def test_run_defaults_outdir_to_runs_and_the_scenario_stem(
    small, tmp_path, monkeypatch, capsys
):
    """Without -o the files go to runs/<scenario stem> under the working directory."""
    monkeypatch.chdir(tmp_path)

    assert 0 == main(["run", str(small)])

    out = capsys.readouterr().out
    assert (tmp_path / "runs" / "small" / "trace.csv").is_file()
    assert f"  {Path('runs') / 'small' / 'trace.csv'} (" in out


def test_seed_option_overrides_the_scenario_seed(small, tmp_path, capsys):
    """--seed replaces the file's seed, and the summary says which was used."""
    assert 0 == main(["run", str(small), "-o", str(tmp_path), "--seed", "11"])

    first_line = capsys.readouterr().out.splitlines()[0]
    assert "small: 3 instances of transfer, one every 1s, seed 11" == first_line


def test_same_seed_gives_byte_identical_files(small, tmp_path, capsys):
    """Two runs of one scenario and seed write the same five files."""
    assert 0 == main(["run", str(small), "-o", str(tmp_path / "a")])
    assert 0 == main(["run", str(small), "-o", str(tmp_path / "b")])

    for name in OUTPUTS:
        first = (tmp_path / "a" / name).read_bytes()
        assert first == (tmp_path / "b" / name).read_bytes(), name


def test_bad_scenario_is_one_error_line_and_exit_2(tmp_path, capsys):
    """A scenario error prints `sagasim: error: <file>: <field>: ...` only."""
    path = tmp_path / "bad.toml"
    path.write_text(SMALL.replace("instances = 3", 'instances = "ten"'))

    status = main(["run", str(path), "-o", str(tmp_path / "out")])

    out, err = capsys.readouterr()
    assert 2 == status
    assert "" == out
    assert (
        f"sagasim: error: {path}: simulation.instances: expected a positive "
        f'integer, got "ten"\n'
    ) == err
    assert not (tmp_path / "out").exists()


def test_missing_scenario_file_is_exit_2(tmp_path, capsys):
    """A file that does not exist is reported on one line."""
    path = tmp_path / "missing.toml"

    assert 2 == main(["run", str(path)])

    err = capsys.readouterr().err
    assert (
        f"sagasim: error: {path}: cannot read file: No such file or directory\n"
    ) == err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["run"], "the following arguments are required: SCENARIO"),
        (
            ["run", "x.toml", "--seed", "abc"],
            "argument --seed: expected a non-negative integer, got 'abc'",
        ),
        (
            ["run", "x.toml", "--seed", "-3"],
            "argument --seed: expected a non-negative integer, got '-3'",
        ),
        (["run", "x.toml", "--colour"], "unrecognized arguments: --colour"),
    ],
)
def test_bad_arguments_are_one_error_line_and_exit_2(argv, message, capsys):
    """argparse's complaint is printed as a single `sagasim: error:` line."""
    status = main(argv)

    out, err = capsys.readouterr()
    assert 2 == status
    assert "" == out
    assert f"sagasim: error: {message}\n" == err


def test_unknown_command_is_exit_2(capsys):
    """An unknown command is a usage error, one line."""
    assert 2 == main(["frobnicate"])

    err = capsys.readouterr().err
    assert err.startswith("sagasim: error: argument COMMAND: invalid choice:")
    assert 1 == err.count("\n")


def test_help_exits_0(capsys):
    """--help prints usage and returns 0."""
    assert 0 == main(["run", "--help"])

    assert "usage: sagasim run" in capsys.readouterr().out


def test_subprocess_error_has_no_traceback(tmp_path):
    """Run as a program, a bad scenario exits 2 with one stderr line."""
    path = tmp_path / "bad.toml"
    path.write_text(SMALL.replace("latency = 50", "latency = -5"))

    done = subprocess.run(
        [sys.executable, "-m", "sagasim", "run", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )

    assert 2 == done.returncode
    assert "" == done.stdout
    assert "Traceback" not in done.stderr
    assert [
        f"sagasim: error: {path}: services[0].latency: expected milliseconds, "
        "a duration, { min, max } or { median, sigma }, got -5"
    ] == done.stderr.splitlines()
    assert not (tmp_path / "runs").exists()


def test_unwritable_outdir_is_one_error_line_and_exit_1(small, tmp_path, capsys):
    """An output directory that cannot be created is reported, not raised."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    status = main(["run", str(small), "-o", str(blocker / "out")])

    err = capsys.readouterr().err
    assert 1 == status
    assert err.startswith("sagasim: error: cannot write ")
    assert 1 == err.count("\n")


def test_sweep_is_a_command_of_the_same_program(small, tmp_path, capsys):
    """`sagasim sweep` runs the scenario per seed and writes its results."""
    output = tmp_path / "sweep.csv"

    status = main(
        ["sweep", str(small), "--grid", "simulation.max_concurrent=1,2"]
        + ["--seeds", "1", "-o", str(output)]
    )

    assert 0 == status
    assert [1, 2] == list(pd.read_csv(output)["simulation.max_concurrent"])


def test_the_outputs_are_the_documented_five():
    """The module's list of tables matches the files a run writes."""
    assert ("trace", "effects", "history", "violations", "faults") == (
        sagasim.cli.OUTPUTS
    )


def test_run_writes_its_charts_beside_the_tables_by_default(tmp_path, capsys):
    """Without --no-charts, sagasim run writes one PNG per chart and lists it."""
    outdir = tmp_path / "out"

    assert 0 == main(
        ["run", str(REPO / "scenarios" / "bank_transfer.toml"), "-o", str(outdir)]
    )

    out = capsys.readouterr().out
    charts = sorted(p.name for p in outdir.glob("*.png"))
    assert charts == [
        "instances.png",
        "load-north.png",
        "load-south.png",
        "rollback-order.png",
        "timeline.png",
    ]
    for name in charts:
        assert (outdir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"  {outdir / name}\n" in out
