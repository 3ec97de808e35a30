"""The ``sagasim`` command line.

``sagasim run SCENARIO [-o OUTDIR] [--seed N]`` loads and validates a
scenario file, simulates it, prints a summary (statuses, steps, attempts
and rollbacks, the fault report, the violations the checks found, the
conserved totals before and after), and writes the run's tables as CSV into
OUTDIR, ``runs/<scenario stem>`` by default: ``trace.csv``,
``effects.csv``, ``history.csv``, ``violations.csv`` and ``faults.csv``.
The files are written to temporary names first and renamed into place only
once all are written, so a failed run leaves the folder as it was.

Exit status: 0 when the run completed (whatever happened to its instances),
2 for a bad argument or scenario file, 1 when the output cannot be written.
Every error is one line on stderr, ``sagasim: error: ...``.

It also writes the run's charts as PNG files beside them
(:func:`sagasim.report.write_run_charts`), unless given ``--no-charts``.

``sagasim sweep`` is defined by :mod:`sagasim.sweeps.cli`, ``sagasim
report`` by :mod:`sagasim.report.cli` and ``sagasim check`` by
:mod:`sagasim.soak.cli`; they are only wired in here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import pandas as pd
from tqdm import tqdm

from sagasim.durations import format_ms
from sagasim.scenarios import ScenarioError, ScenarioRun, build, load_scenario

__all__ = ["OUTPUTS", "main", "print_summary", "write_outputs"]

PROG = "sagasim"
OUTPUTS = ("trace", "effects", "history", "violations", "faults")
VIOLATION_ROWS = 5


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
        description=(
            "Simulate a scenario file, print a summary, write the trace, the "
            "services' effects and history, the violations and the fault report."
        ),
    )
    run.add_argument("scenario", metavar="SCENARIO", help="a scenario TOML file")
    run.add_argument(
        "-o",
        "--outdir",
        metavar="OUTDIR",
        type=Path,
        help="where to write the CSV files (default: runs/<scenario stem>)",
    )
    run.add_argument(
        "--seed",
        metavar="N",
        type=_seed,
        help="override the scenario's seed",
    )
    run.add_argument(
        "--charts",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write the run's charts as PNG files beside the CSV files "
        "(the default; --no-charts skips them)",
    )

    from sagasim.report import cli as report_cli
    from sagasim.soak import cli as soak_cli
    from sagasim.sweeps import cli as sweep_cli

    sweep_cli.register(commands)
    report_cli.register(commands)
    soak_cli.register(commands)
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

    if args.command == "sweep":
        from sagasim.sweeps import cli as sweep_cli

        return sweep_cli.main(args)
    if args.command == "report":
        from sagasim.report import cli as report_cli

        return report_cli.handle(args)
    if args.command == "check":
        return args.handler(args)
    return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    """``sagasim run`` with parsed ``args``; returns the exit status."""
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

    tables = {
        "trace": scenario_run.sim.trace,
        "effects": scenario_run.effects(),
        "history": scenario_run.history(),
        "violations": scenario_run.violations(),
        "faults": scenario_run.fault_report(),
    }
    try:
        paths = write_outputs(tables, outdir)
    except OSError as exc:
        return _error(f"cannot write {exc.filename or outdir}: {exc.strerror}", 1)
    charts: list[Path] = []
    if args.charts:
        from sagasim.report import write_run_charts

        try:
            charts = write_run_charts(scenario_run.sim, outdir)
        except OSError as exc:
            return _error(f"cannot write {exc.filename or outdir}: {exc.strerror}", 1)

    try:
        print_summary(scenario_run, tables, sys.stdout)
        print("files")
        for name, path in paths.items():
            print(f"  {path} ({_rows(len(tables[name]))})")
        for path in charts:
            print(f"  {path}")
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


def write_outputs(tables: dict[str, pd.DataFrame], outdir: Path) -> dict[str, Path]:
    """Write each table to ``outdir/<name>.csv``; return the paths by name.

    Every table is first written to a temporary file in ``outdir``; only
    when all are written are they renamed into place, so on an error no
    file of the run is left half-written and the old files stay.

    Raises:
        OSError: ``outdir`` cannot be made or a file cannot be written.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    mode = 0o666 & ~_umask()
    written: list[tuple[str, Path]] = []
    try:
        for name, frame in tables.items():
            fd, tmp = tempfile.mkstemp(dir=outdir, prefix=f".{name}.", suffix=".tmp")
            os.close(fd)
            written.append((tmp, outdir / f"{name}.csv"))
            frame.to_csv(tmp, index=False)
            os.chmod(tmp, mode)
        for tmp, path in written:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in written:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    return {name: outdir / f"{name}.csv" for name in tables}


def _umask() -> int:
    # NOTE: the only portable way to read the umask is to set it and put it
    # back; mkstemp makes files 0600, and CSV files should be as open as any.
    mask = os.umask(0)
    os.umask(mask)
    return mask


def print_summary(
    scenario_run: ScenarioRun, tables: dict[str, pd.DataFrame], out: TextIO
) -> None:
    """Write the human summary of a finished run to ``out``."""
    scenario = scenario_run.scenario
    sim = scenario_run.sim
    spec = scenario.simulation

    def say(line: str = "") -> None:
        print(line, file=out)

    arrival = spec.arrival
    if arrival.process == "times":
        arrivals = "at listed times"
    elif arrival.process == "poisson":
        arrivals = f"poisson arrivals every {format_ms(arrival.interval_ms)} on average"
    elif arrival.interval_ms:
        arrivals = f"one every {format_ms(arrival.interval_ms)}"
    else:
        arrivals = "all at once"
    workflow = scenario.workflow_ref or scenario_run.workflow.workflow_name()
    say(
        f"{scenario.name}: {spec.instances:,} instances of {workflow}, {arrivals}, "
        f"seed {scenario_run.seed}"
    )
    if scenario.description:
        say(f"  {scenario.description}")
    say(f"simulated time: {_clock(sim.now)}")
    say()

    statuses = Counter(inst.status()["status"] for inst in sim.instances)
    say("instances")
    for status, count in sorted(statuses.items(), key=lambda kv: (-kv[1], kv[0])):
        say(f"  {status:<12}{count:>8,}")
    say()

    _say_counts(tables["trace"], say)
    _say_events(scenario_run, say)
    _say_rollback_order(scenario_run, say)
    say()
    _say_faults(tables["faults"], say)
    say()
    _say_violations(tables["violations"], say)
    say()
    _say_totals(scenario_run, say)
    say()


def _say_counts(trace: pd.DataFrame, say: Callable[[str], None]) -> None:
    events = Counter(trace["event"])
    cancelled = events["STEP_CANCELLED"]
    say(
        f"steps      {events['STEP_START']:,} started, "
        f"{events['STEP_SUCCESS']:,} succeeded, {events['STEP_FAILURE']:,} failed"
        + (f", {cancelled:,} cancelled" if cancelled else "")
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
    if events["ENGINE_CRASH"]:
        say(
            f"engine     {events['ENGINE_CRASH']:,} crashes, "
            f"{events['ENGINE_REPLAY']:,} replays"
        )


def _say_rollback_order(scenario_run: ScenarioRun, say: Callable[[str], None]) -> None:
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
            f"  {number}. {step:<{width}}  {_clock(record['start'])} -> "
            f"{_clock(record['end'])}  {record['status']}{note}"
        )


def _say_events(scenario_run: ScenarioRun, say: Callable[[str], None]) -> None:
    if not scenario_run.scenario.events:
        return
    deliveries = scenario_run.deliveries
    delivered = sum(1 for d in deliveries if d["delivered"])
    instances = len({d["instance"] for d in deliveries})
    missed = Counter(d["reason"] for d in deliveries if not d["delivered"])
    why = {"finished": "had finished", "not created yet": "not created yet"}
    notes = ", ".join(f"{n:,} {why[reason]}" for reason, n in sorted(missed.items()))
    say(
        f"events     {len(scenario_run.scenario.events):,} scheduled for "
        f"{instances:,} instances: {delivered:,} delivered"
        + (f", {sum(missed.values()):,} not ({notes})" if missed else "")
    )


def _say_faults(report: pd.DataFrame, say: Callable[[str], None]) -> None:
    if report.empty:
        say("faults: none armed")
        return
    say(f"faults: {len(report)} armed, {int(report['fired'].sum()):,} fired")
    targets = [
        str(t) + (f" [{lb}]" if lb else "")
        for t, lb in zip(report["target"], report["label"], strict=True)
    ]
    kind_width = max(len(str(kind)) for kind in report["kind"])
    target_width = max(len(t) for t in targets)
    for index, kind, target, fired in zip(
        report["fault"], report["kind"], targets, report["fired"], strict=True
    ):
        say(
            f"  {index:>2}  {kind:<{kind_width}}  {target:<{target_width}}"
            f"  {int(fired):>6,} fired"
        )


def _say_violations(violations: pd.DataFrame, say: Callable[[str], None]) -> None:
    if violations.empty:
        say("violations: none")
        return
    counts = Counter(violations["check"])
    say(f"violations: {len(violations):,}")
    width = max(len(check) for check in counts)
    for check, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        say(f"  {check:<{width}}  {count:>6,}")
    say(f"first {min(VIOLATION_ROWS, len(violations))}:")
    for row in violations.head(VIOLATION_ROWS).itertuples(index=False):
        who = f"{row.instance} " if row.instance else ""
        say(f"  {row.check}: {who}{row.subject}: {row.message}")


def _say_totals(scenario_run: ScenarioRun, say: Callable[[str], None]) -> None:
    opening = scenario_run.opening
    closing = scenario_run.closing()
    rows = []
    for service, totals in opening.items():
        for resource, before in totals.items():
            after = closing[service].get(resource, 0)
            rows.append((resource, before, after))
    if not rows:
        say("conserved totals: the services hold nothing that is counted")
        return
    pools = scenario_run.conserved()
    by_resource = {resource: (before, after) for resource, before, after in rows}
    pool_rows = []
    for pool, members in pools.items():
        before = sum(by_resource[m][0] for m in members if m in by_resource)
        after = sum(by_resource[m][1] for m in members if m in by_resource)
        pool_rows.append((f"{pool} (conserved)", before, after))

    width = max(len(name) for name, _, _ in rows + pool_rows)
    say(f"{'totals':<{width + 2}}{'before':>14}{'after':>14}{'change':>12}")
    for name, before, after in rows + pool_rows:
        change = after - before
        shown = f"{change:+,}" if change else "0"
        say(f"  {name:<{width}}{before:>14,}{after:>14,}{shown:>12}")
    for (_, before, after), pool in zip(pool_rows, pools, strict=True):
        if before == after:
            say(f"  {pool}: balanced, nothing created or lost")
        else:
            say(f"  {pool}: DOES NOT BALANCE, {after - before:+,} unaccounted for")


def _rows(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def _clock(seconds: float) -> str:
    """Simulated seconds as ``12.345s``; from a day on, as ``14d 05:03:00.468``."""
    if seconds < 86_400:
        return f"{seconds:.3f}s"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, rest = divmod(rest, 60)
    return f"{int(days)}d {int(hours):02}:{int(minutes):02}:{rest:06.3f}"
