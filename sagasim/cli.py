"""The ``sagasim`` command line.

``sagasim run SCENARIO [-o OUTDIR] [--seed N]`` loads and validates a
scenario file, simulates it, prints a summary, and writes the run's trace
(and the banks' ledger) as CSV into OUTDIR, ``runs/<scenario stem>`` by
default.

Exit status: 0 when the run completed (whatever happened to its instances),
2 for a bad argument or scenario file, 1 when the output cannot be written.
Every error is one line on stderr, ``sagasim: error: ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import pandas as pd
from tqdm import tqdm

from sagasim.durations import format_ms
from sagasim.scenarios import ScenarioError, ScenarioRun, build, load_scenario

__all__ = ["main"]

PROG = "sagasim"


class UsageError(Exception):
    """A bad command line; the message is argparse's, one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected a non-negative integer, got {text!r}"
        )
    return value


def make_parser() -> argparse.ArgumentParser:
    """The argument parser; its errors raise :class:`UsageError`."""
    parser = _Parser(
        prog=PROG,
        description="Simulate saga workflows under faults, in simulated time.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    run = commands.add_parser(
        "run",
        help="simulate a scenario file and summarise the run",
        description="Simulate a scenario file, print a summary, write the trace.",
    )
    run.add_argument("scenario", metavar="SCENARIO", help="a scenario TOML file")
    run.add_argument(
        "-o",
        "--outdir",
        metavar="OUTDIR",
        type=Path,
        help="where to write trace.csv and ledger.csv (default: runs/<scenario stem>)",
    )
    run.add_argument(
        "--seed",
        metavar="N",
        type=_seed,
        help="override the scenario's seed",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``).

    Returns the exit status instead of exiting.
    """
    try:
        args = make_parser().parse_args(argv)
    except UsageError as exc:
        return _error(str(exc), 2)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        return _error(str(exc), 2)

    outdir = args.outdir or Path("runs") / scenario.name
    scenario_run = build(scenario, seed=args.seed)
    with tqdm(
        total=scenario.simulation.instances,
        desc="creating instances",
        unit="inst",
        disable=None,
        leave=False,
        file=sys.stderr,
    ) as bar:
        scenario_run.run(progress=bar.update)

    trace = scenario_run.sim.trace
    ledger = _ledger_frame(scenario_run)
    trace_path = outdir / "trace.csv"
    ledger_path = outdir / "ledger.csv"
    try:
        _write_csv(trace, trace_path)
        _write_csv(ledger, ledger_path)
    except OSError as exc:
        return _error(f"cannot write {exc.filename or outdir}: {exc.strerror}", 1)

    try:
        print_summary(scenario_run, trace, sys.stdout)
        print(f"trace: {trace_path} ({len(trace):,} rows)")
        print(f"ledger: {ledger_path} ({len(ledger):,} effects)")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`sagasim run ... | head`): stop quietly, and
        # point stdout at /dev/null so the interpreter's final flush is silent.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0


def _error(message: str, status: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` via a temporary file and a rename.

    A reader never sees a half-written file: either the old file or the new.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _ledger_frame(scenario_run: ScenarioRun) -> pd.DataFrame:
    rows = [
        {"bank": name, **entry}
        for name, bank in scenario_run.banks.items()
        for entry in bank.ledger
    ]
    columns = ["bank", "time", "op", "account", "amount", "ref", "instance"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["time", "bank"], kind="stable", ignore_index=True)


def print_summary(scenario_run: ScenarioRun, trace: pd.DataFrame, out: TextIO) -> None:
    """Write the human summary of a finished run to ``out``."""
    scenario = scenario_run.scenario
    sim = scenario_run.sim
    spec = scenario.simulation

    def say(line: str = "") -> None:
        print(line, file=out)

    if spec.arrival_interval_ms:
        arrivals = f"one every {format_ms(spec.arrival_interval_ms)}"
    else:
        arrivals = "all at once"
    say(
        f"{scenario.name}: {spec.instances:,} transfers, {arrivals}, "
        f"seed {scenario_run.seed}"
    )
    say(f"simulated time: {sim.now:.3f}s")
    say()

    statuses = Counter(inst.status()["status"] for inst in sim.instances)
    say("instances")
    for status, count in sorted(statuses.items(), key=lambda kv: (-kv[1], kv[0])):
        say(f"  {status:<12}{count:>8,}")
    say()

    events = Counter(trace["event"])
    say(
        f"steps      {events['STEP_START']:,} started, "
        f"{events['STEP_SUCCESS']:,} succeeded, {events['STEP_FAILURE']:,} failed"
    )
    say(
        f"attempts   {events['ATTEMPT_START']:,} started, "
        f"{events['ATTEMPT_FAILURE']:,} failed"
    )
    say(
        f"rollbacks  {events['ROLLBACK_START']:,} started, "
        f"{events['ROLLBACK_COMPLETE']:,} complete, "
        f"{events['ROLLBACK_FAILED']:,} failed; "
        f"{events['ROLLBACK_STEP_START']:,} handlers run, "
        f"{events['ROLLBACK_STEP_SUCCESS']:,} succeeded, "
        f"{events['ROLLBACK_STEP_FAILURE']:,} failed"
    )
    _say_rollback_order(scenario_run, say)
    say()
    _say_money(scenario_run, say)


def _say_rollback_order(scenario_run: ScenarioRun, say) -> None:
    failed = next((inst for inst in scenario_run.sim.instances if inst.rollbacks), None)
    if failed is None:
        return
    status = failed.status()
    error = status["error"] or {}
    say()
    say(
        f"rollback order of {failed.id} ({status['status']}: "
        f"{error.get('name', '?')}: {error.get('message', '')})"
    )
    width = max(len(f"{r['step']}#{r['count']}") for r in failed.rollbacks)
    for number, record in enumerate(failed.rollbacks, start=1):
        step = f"{record['step']}#{record['count']}"
        note = "  (no output)" if record["output_undefined"] else ""
        say(
            f"  {number}. {step:<{width}}  {record['start']:.3f}s -> "
            f"{record['end']:.3f}s  {record['status']}{note}"
        )


def _say_money(scenario_run: ScenarioRun, say) -> None:
    opening = scenario_run.opening
    closing = scenario_run.closing()
    before = sum(opening.values())
    after = sum(closing.values())
    rows = [(name, opening[name], closing[name]) for name in opening]
    rows.append(("all banks", before, after))
    rows.append(("in flight", 0, before - after))
    width = max(len(name) for name, _, _ in rows)

    say(f"money (cents){'before':>{width + 14 - 11}}{'after':>14}")
    for name, then, now in rows:
        say(f"  {name:<{width}}{then:>14,}{now:>14,}")
    if before == after:
        say("  the books balance: nothing is left in flight")
    else:
        say(f"  THE BOOKS DO NOT BALANCE: {before - after:,} cents unaccounted for")
