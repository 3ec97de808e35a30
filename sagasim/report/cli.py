"""``sagasim report``: the HTML report of a scenario or of a saved run.

``sagasim report SCENARIO_OR_RUN_FOLDER [-o report.html] [--seed N]
[--instance ID]`` simulates a scenario file (or reads a folder that
``sagasim run`` wrote) and writes one self-contained HTML file.

The command line adds it with two calls: :func:`register` on its
subparsers, and :func:`handle` for the parsed arguments, which returns the
exit status: 0 when the report was written, 2 for a source that cannot be
reported on, 1 when the file cannot be written. Errors are one line on
stderr, ``sagasim: error: ...``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sagasim.report.document import ReportError, write_report

__all__ = ["handle", "register"]

PROG = "sagasim"


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


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``report`` command to ``subparsers``; return its parser.

    The parsed arguments carry ``handler=handle``, so a command line that
    dispatches on it needs nothing else.
    """
    parser = subparsers.add_parser(
        "report",
        help="write an HTML report of a scenario or a saved run",
        description=(
            "Write one self-contained HTML file with the run's summary tables, "
            "charts and violations. A scenario file is simulated first; a run "
            "folder is read as `sagasim run` wrote it."
        ),
    )
    parser.add_argument(
        "source",
        metavar="SCENARIO_OR_RUN_FOLDER",
        help="a scenario TOML file, or a folder holding trace.csv",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=Path,
        default=Path("report.html"),
        help="where to write the report (default: report.html)",
    )
    parser.add_argument(
        "--seed", metavar="N", type=_seed, help="override the scenario's seed"
    )
    parser.add_argument(
        "--instance",
        metavar="ID",
        help="the instance whose timeline and rollback order are drawn",
    )
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace) -> int:
    """Write the report the parsed ``args`` ask for; return the exit status."""
    try:
        path = write_report(
            args.source, args.output, instance=args.instance, seed=args.seed
        )
    except ReportError as exc:
        return _error(str(exc), 2)
    except OSError as exc:
        where = exc.filename or args.output
        return _error(f"cannot write {where}: {exc.strerror or exc}", 1)
    try:
        print(f"report: {path}")
        sys.stdout.flush()
    except BrokenPipeError:
        return 1
    return 0


def _error(message: str, status: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status
