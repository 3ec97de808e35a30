"""``sagasim check``: soak the engine with generated cases.

``sagasim check [--examples N] [--seed S] [--workers K] [--determinism]``
generates N cases (shapes, fault schedules and instance operations; see
:mod:`sagasim.strategies`), runs each as one instance and checks every
invariant of :mod:`sagasim.soak.case`. It prints the cases per second and
a coverage table of the shapes, outcomes, operations and fault kinds it
covered. On a violation it prints the shrunk case as a runnable Python
script. ``--determinism`` runs every case twice and compares the traces'
sha256; ``--workers K`` spreads the cases over K joblib processes.

Exit status: 0 when every case held, 1 on a violation, 2 for a bad
argument or a missing Hypothesis (one line on stderr, ``sagasim: error:
...``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from tqdm import tqdm

if TYPE_CHECKING:
    from sagasim.soak.runner import SoakReport

__all__ = ["handle", "register"]

PROG = "sagasim"
DEFAULT_EXAMPLES = 1_000
VIOLATION_ROWS = 10


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            kind = "a positive" if minimum > 0 else "a non-negative"
            raise argparse.ArgumentTypeError(f"expected {kind} integer, got {text!r}")
        return value

    return parse


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``check`` command to ``subparsers``; the parsed arguments
    carry ``handler=handle``."""
    parser = subparsers.add_parser(
        "check",
        help="soak the engine with generated workflows, faults and operations",
        description=(
            "Run generated cases against the engine's ordering and lifecycle "
            "invariants; print the shrunk case as a script on a violation."
        ),
    )
    parser.add_argument(
        "--examples",
        metavar="N",
        type=_count(1),
        default=DEFAULT_EXAMPLES,
        help=f"cases to generate (default {DEFAULT_EXAMPLES:,})",
    )
    parser.add_argument(
        "--seed",
        metavar="S",
        type=_count(0),
        default=0,
        help="the seed the cases are drawn from (default 0)",
    )
    parser.add_argument(
        "--workers",
        metavar="K",
        type=_count(1),
        default=1,
        help="joblib worker processes (default 1: in this process)",
    )
    parser.add_argument(
        "--determinism",
        action="store_true",
        help="run every case twice and compare the traces' sha256",
    )
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace) -> int:
    """Run ``sagasim check`` with parsed ``args``; return the exit status."""
    try:
        from sagasim.soak.runner import soak
    except ModuleNotFoundError as exc:
        if exc.name != "hypothesis":
            raise
        print(
            f"{PROG}: error: sagasim check needs Hypothesis: "
            "pip install 'sagasim[check]'",
            file=sys.stderr,
        )
        return 2
    with tqdm(
        total=args.examples,
        desc="checking cases",
        unit="case",
        disable=None,
        leave=False,
        file=sys.stderr,
    ) as bar:
        report = soak(
            args.examples,
            seed=args.seed,
            workers=args.workers,
            determinism=args.determinism,
            progress=bar.update,
        )
    try:
        print_report(report, args, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`sagasim check | head`): stop quietly, and
        # point stdout at /dev/null so the interpreter's final flush is silent.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0 if report.failure is None else 1


def print_report(report: SoakReport, args: argparse.Namespace, out: TextIO) -> None:
    """Write the soak's summary (and its failure, if any) to ``out``."""

    def say(line: str = "") -> None:
        print(line, file=out)

    workers = f"{args.workers} worker" + ("s" if args.workers != 1 else "")
    mode = ", each run twice" if args.determinism else ""
    shrinking = (
        f", then {report.shrink_seconds:.1f} s shrinking"
        if report.failure is not None
        else ""
    )
    say(
        f"sagasim check: {report.cases:,} cases in "
        f"{report.seconds - report.shrink_seconds:.1f} s"
        f"{shrinking} ({report.rate:,.1f} cases/s checked; "
        f"{report.rate * 60:,.0f} a minute), seed {args.seed}, {workers}{mode}"
    )
    say()
    say("coverage (cases per feature)")
    say(report.coverage.table())
    say()
    failure = report.failure
    if failure is None:
        say("violations: none")
        return
    violations = failure.violations
    say(
        f"violations: {len(violations):,} in the shrunk case (chunk seed "
        f"{failure.seed}, after {report.shrinks:,} shrinking runs)"
    )
    for row in violations.head(VIOLATION_ROWS).itertuples(index=False):
        say(f"  {row.check}: {row.subject + ': ' if row.subject else ''}{row.message}")
    say()
    say("the shrunk case, as a runnable script:")
    say()
    out.write(failure.snippet)
    out.flush()
