"""The ``sagasim run`` command: errors, the summary, the trace CSV."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sagasim.cli import main

# Three transfers of 1,000 cents, one a second. north answers in 50 ms,
# south in 100 ms and is down during [1, 2.5) s; one retry after 500 ms.
#   inst-1 at 0 s: debit lands 0.05, credit 0.15: complete.
#   inst-2 at 1 s: debit 1.05; credit fails at 1.15 and 1.75; rolled back:
#     the credit's handler has no output, the refund lands at 1.80.
#   inst-3 at 2 s: debit 2.05; credit fails at 2.15, lands 2.75: complete.
SMALL = """\
[simulation]
seed = 5
instances = 3
arrival_interval = "1 second"

[[banks]]
name = "north"
latency = 50
accounts = { alice = 10_000 }

[[banks]]
name = "south"
latency = 100
accounts = { bob = 0 }
outages = [[1, 2.5]]

[transfer]
amount = 1_000
from = { bank = "north", account = "alice" }
to = { bank = "south", account = "bob" }
retries = { limit = 1, delay = 500, backoff = "constant" }
timeout = "5 seconds"
"""

SMALL_SUMMARY = """\
small: 3 transfers, one every 1s, seed 5
simulated time: 2.750s

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

money (cents)      before         after
  north            10,000         8,000
  south                 0         2,000
  all banks        10,000        10,000
  in flight             0             0
  the books balance: nothing is left in flight
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


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def test_run_prints_the_summary(small, tmp_path, capsys):
    """A small deterministic run prints exact counts, rollback order and money."""
    outdir = tmp_path / "out"

    status = main(["run", str(small), "-o", str(outdir)])

    out, err = capsys.readouterr()
    assert 0 == status
    assert "" == err
    assert (
        SMALL_SUMMARY
        + f"trace: {outdir / 'trace.csv'} ({_rows(outdir / 'trace.csv'):,} rows)\n"
        + f"ledger: {outdir / 'ledger.csv'} (6 effects)\n"
    ) == out


def test_run_writes_the_trace_and_ledger_csv(small, tmp_path, capsys):
    """The trace CSV has the trace columns and the ledger every applied effect."""
    outdir = tmp_path / "out"

    assert 0 == main(["run", str(small), "-o", str(outdir)])

    trace = pd.read_csv(outdir / "trace.csv", keep_default_na=False)
    assert TRACE_COLUMNS == list(trace.columns)
    assert list(range(len(trace))) == sorted(trace["seq"] - trace["seq"].min())
    assert ["inst-1", "inst-2", "inst-3"] == sorted(set(trace["instance"]))
    assert 1 == (trace["event"] == "ROLLBACK_COMPLETE").sum()

    ledger = pd.read_csv(outdir / "ledger.csv", keep_default_na=False)
    assert [
        ("north", 0.05, "debit", "inst-1:debit"),
        ("south", 0.15, "credit", "inst-1:credit"),
        ("north", 1.05, "debit", "inst-2:debit"),
        ("north", 1.8, "credit", "inst-2:debit:refund"),
        ("north", 2.05, "debit", "inst-3:debit"),
        ("south", 2.75, "credit", "inst-3:credit"),
    ] == list(
        zip(ledger["bank"], ledger["time"], ledger["op"], ledger["ref"], strict=True)
    )
    assert ["ledger.csv", "trace.csv"] == sorted(p.name for p in outdir.iterdir())


def test_run_defaults_outdir_to_runs_and_the_scenario_stem(
    small, tmp_path, monkeypatch, capsys
):
    """Without -o the files go to runs/<scenario stem> under the working directory."""
    monkeypatch.chdir(tmp_path)

    assert 0 == main(["run", str(small)])

    out = capsys.readouterr().out
    assert (tmp_path / "runs" / "small" / "trace.csv").is_file()
    assert f"trace: {Path('runs') / 'small' / 'trace.csv'} (" in out


def test_seed_option_overrides_the_scenario_seed(small, tmp_path, capsys):
    """--seed replaces the file's seed, and the summary says which was used."""
    assert 0 == main(["run", str(small), "-o", str(tmp_path), "--seed", "11"])

    first_line = capsys.readouterr().out.splitlines()[0]
    assert "small: 3 transfers, one every 1s, seed 11" == first_line


def test_same_seed_gives_a_byte_identical_trace(small, tmp_path, capsys):
    """Two runs of one scenario and seed write the same trace file."""
    assert 0 == main(["run", str(small), "-o", str(tmp_path / "a")])
    assert 0 == main(["run", str(small), "-o", str(tmp_path / "b")])

    first = (tmp_path / "a" / "trace.csv").read_bytes()
    second = (tmp_path / "b" / "trace.csv").read_bytes()
    assert first == second


def test_bundled_demo_compensates_failed_credits_and_balances(tmp_path, capsys):
    """The demo's outage fails 28 credits; each debit is refunded; money is kept."""
    demo = Path(__file__).resolve().parent.parent / "scenarios" / "bank_transfer.toml"

    assert 0 == main(["run", str(demo), "-o", str(tmp_path)])

    out = capsys.readouterr().out
    assert "  complete         372\n  errored           28\n" in out
    assert (
        "rollbacks  28 started, 28 complete, 0 failed; "
        "56 handlers run, 56 succeeded, 0 failed\n"
    ) in out
    assert "  all banks     5,000,000     5,000,000\n" in out
    assert "  the books balance: nothing is left in flight\n" in out

    ledger = pd.read_csv(tmp_path / "ledger.csv", keep_default_na=False)
    refunds = ledger[ledger["ref"].str.endswith(":debit:refund")]
    assert 28 == len(refunds)
    assert 400 + 28 == (ledger["bank"] == "north").sum()


def test_bad_scenario_is_one_error_line_and_exit_2(tmp_path, capsys):
    """A scenario error prints `sagasim: error: <file>: <field>: ...` only."""
    path = tmp_path / "bad.toml"
    path.write_text(SMALL.replace("instances = 3", 'instances = "ten"'))

    status = main(["run", str(path)])

    out, err = capsys.readouterr()
    assert 2 == status
    assert "" == out
    assert (
        f"sagasim: error: {path}: simulation.instances: expected a positive "
        f'integer, got "ten"\n'
    ) == err


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
        f"sagasim: error: {path}: banks[0].latency: expected milliseconds "
        "(a non-negative integer) or { min, max }, got -5"
    ] == done.stderr.splitlines()


def test_unwritable_outdir_is_one_error_line_and_exit_1(small, tmp_path, capsys):
    """An output directory that cannot be created is reported, not raised."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    status = main(["run", str(small), "-o", str(blocker / "out")])

    err = capsys.readouterr().err
    assert 1 == status
    assert err.startswith("sagasim: error: cannot write ")
    assert 1 == err.count("\n")


def _rows(path: Path) -> int:
    return len(pd.read_csv(path))
