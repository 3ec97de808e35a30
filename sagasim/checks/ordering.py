"""Rollback ordering invariants, read from the trace alone.

DESIGN rules 6, 7 and 12 say when a rollback may run and in which order its
handlers go. :func:`rollback_ordering` checks them on any trace, so an engine
that undoes steps in the order they *completed*, or front to back, or twice,
or two at a time, is caught without knowing how it was written.

The trace cannot see which steps registered a handler, so the steps that
were rolled back are taken as the ones with a handler row
(``ROLLBACK_STEP_START``, or the lone ``ROLLBACK_STEP_FAILURE`` of a handler
that could not be rebuilt). Each instance is read epoch by epoch (a
``WORKFLOW_RESTARTED`` begins a new one); a step's start is its latest
``STEP_START`` before its handler ran, which for a restart from a step may
lie in an earlier epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sagasim.checks.episodes import (
    ENDS,
    Row,
    detail_of,
    rolled_back_ids,
    rows_by_instance,
)
from sagasim.checks.frame import Violation, evidence, frame

__all__ = ["ROLLBACK_FAILURE_POLICIES", "rollback_ordering"]

ROLLBACK_FAILURE_POLICIES = ("halt", "continue")

_HANDLER_EVENTS = frozenset(
    {
        "ROLLBACK_STEP_START",
        "ROLLBACK_ATTEMPT_START",
        "ROLLBACK_ATTEMPT_SUCCESS",
        "ROLLBACK_ATTEMPT_FAILURE",
        "ROLLBACK_STEP_SUCCESS",
        "ROLLBACK_STEP_FAILURE",
    }
)
# Rows that show a handler running; after its final outcome, a second run.
_RUN_EVENTS = frozenset(
    {
        "ROLLBACK_STEP_START",
        "ROLLBACK_ATTEMPT_START",
        "ROLLBACK_STEP_SUCCESS",
        "ROLLBACK_STEP_FAILURE",
    }
)
_CHAIN_ENDS = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED"})
_EVENTS = (
    _HANDLER_EVENTS
    | _CHAIN_ENDS
    | ENDS
    | {
        "ROLLBACK_START",
        "WORKFLOW_RESTARTED",
        "STEP_START",
        "ATTEMPT_START",
        "ENGINE_CRASH",
    }
)


def rollback_ordering(
    trace: pd.DataFrame, *, on_rollback_failure: str | None = None
) -> pd.DataFrame:
    """Check that every rollback in ``trace`` ran when, how and in the order
    the engine rules allow.

    Only instances with a ``ROLLBACK_*`` row are examined. Each row of the
    result names one of these checks:

    - ``rollback_order``: handlers run in reverse order of their steps'
      start (``STEP_START`` seq), so in a sequential flow the failing step
      is undone first. Each pair of consecutively run handlers whose steps
      started oldest first is reported; evidence is both handlers' first
      rollback rows and both steps' ``STEP_START`` rows.
    - ``rollback_unstarted``: a step was rolled back although it had no
      ``STEP_START``, or no ``ATTEMPT_START`` after it (a handler is
      registered when the first attempt starts). Evidence: the handler's
      first row, and the ``STEP_START`` when there is one.
    - ``rollback_repeated``: a step was rolled back twice in one epoch: a
      second ``ROLLBACK_STEP_SUCCESS`` for the same ``(step, count)``, or
      its handler running again after it had succeeded or failed for good
      (a crash may cut a handler off and rerun it; it must not rerun a
      finished one). Evidence: the first final row and the second success,
      or else the first row of the second run.
    - ``rollback_overlap``: an instance started a handler attempt while
      another handler attempt was still running (an ``ENGINE_CRASH`` ends
      the running ones). Evidence: both ``ROLLBACK_ATTEMPT_START`` rows.
    - ``rollback_after_halt``: with ``on_rollback_failure="halt"``, a
      handler ran after another one had failed for good. Evidence: the
      ``ROLLBACK_STEP_FAILURE`` and the later handler's first row. Not
      checked when the policy is not given.
    - ``rollback_incomplete``: ``ROLLBACK_COMPLETE`` although a handler
      failed (evidence: that ``ROLLBACK_STEP_FAILURE`` and the
      ``ROLLBACK_COMPLETE``), or with fewer distinct handlers succeeded than
      the ``totalSteps`` its ``ROLLBACK_START`` planned (evidence: the
      ``ROLLBACK_START`` and the ``ROLLBACK_COMPLETE``).
    - ``rollback_unprompted``: a rollback ran although ``run()`` had not
      failed terminally: rollback rows before any ``ROLLBACK_START``
      (evidence: the first such row); after the epoch ended (evidence: the
      end row and the first rollback row after it); in an epoch that ended
      ``WORKFLOW_SUCCESS`` (evidence: ``ROLLBACK_START`` and the success);
      while ``run()`` went on starting steps (evidence: ``ROLLBACK_START``
      and the later ``STEP_START``); or triggered by a
      ``WorkflowFatalError``, which never rolls back (evidence: the
      ``ROLLBACK_START``). At most one row per reason per epoch.
    - ``rollback_trigger``: the epoch ended ``WORKFLOW_FAILURE`` with an
      error other than the ``triggerError`` of its last ``ROLLBACK_START``;
      the instance's error must stay the failure that started the rollback.
      Evidence: that ``ROLLBACK_START`` and the ``WORKFLOW_FAILURE``.

    Args:
        trace: a trace DataFrame with the columns of ``sim.trace``.
        on_rollback_failure: the simulation's policy, ``"halt"`` or
            ``"continue"``, when known; ``None`` skips
            ``rollback_after_halt``.

    Returns:
        The violations (see :mod:`sagasim.checks.frame`); evidence is trace
        ``seq`` numbers. Rows come instance by instance, in order of their
        evidence.
    """
    if on_rollback_failure not in (None, *ROLLBACK_FAILURE_POLICIES):
        raise ValueError(
            "on_rollback_failure must be 'halt', 'continue' or None, "
            f"got {on_rollback_failure!r}"
        )
    grouped = rows_by_instance(trace, events=_EVENTS, instances=rolled_back_ids(trace))
    violations: list[Violation] = []
    for instance, rows in grouped.items():
        violations.extend(_check_instance(instance, rows, on_rollback_failure))
    return frame(violations)


def _check_instance(
    instance: str, rows: list[Row], policy: str | None
) -> list[Violation]:
    starts: dict[tuple[str, int], int] = {}
    attempted: dict[tuple[str, int], int] = {}
    found: list[Violation] = []
    epoch = _Epoch(instance, policy)
    for row in rows:
        event = row.event
        if event == "WORKFLOW_RESTARTED":
            found.extend(epoch.finish())
            epoch = _Epoch(instance, policy)
        elif event == "STEP_START":
            starts[row.key] = row.seq
            attempted.pop(row.key, None)
            epoch.step_started(row)
        elif event == "ATTEMPT_START":
            attempted.setdefault(row.key, row.seq)
        elif event == "ENGINE_CRASH":
            epoch.open.clear()
        elif event in ENDS:
            epoch.end = epoch.end or row
        else:
            epoch.rollback_row(row, starts, attempted)
    found.extend(epoch.finish())
    found.sort(key=lambda v: v.evidence)
    return found


@dataclass
class _Handler:
    """What one epoch's trace says about one step's handler."""

    key: tuple[str, int]
    first: Row
    start: int | None
    done: Row | None = None
    again: Row | None = None
    second: Row | None = None


class _Epoch:
    """The rollback of one epoch of one instance, fed row by row."""

    def __init__(self, instance: str, policy: str | None) -> None:
        self.instance = instance
        self.policy = policy
        self.found: list[Violation] = []
        self.reported: set[str] = set()
        self.rollback: Row | None = None
        self.latest: Row | None = None
        self.end: Row | None = None
        self.handlers: dict[tuple[str, int], _Handler] = {}
        self.last: _Handler | None = None
        self.failure: Row | None = None
        self.open: dict[tuple[str, int], int] = {}

    def report(self, check: str, subject: str, message: str, *ids: int) -> None:
        self.found.append(
            Violation(check, self.instance, subject, message, evidence(*ids))
        )

    def unprompted(self, reason: str, subject: str, message: str, *ids: int) -> None:
        if reason not in self.reported:
            self.reported.add(reason)
            self.report("rollback_unprompted", subject, message, *ids)

    def step_started(self, row: Row) -> None:
        if self.rollback is not None and self.end is None:
            self.unprompted(
                "went on",
                row.step,
                f"run() started {_name(row.key)} after its rollback began, so "
                "its failure was not terminal",
                self.rollback.seq,
                row.seq,
            )

    def rollback_row(
        self,
        row: Row,
        starts: dict[tuple[str, int], int],
        attempted: dict[tuple[str, int], int],
    ) -> None:
        if self.end is not None:
            self.unprompted(
                "after end",
                row.step,
                f"a rollback ran after the instance ended with {self.end.event}",
                self.end.seq,
                row.seq,
            )
        if row.event == "ROLLBACK_START":
            self.rollback_started(row)
            return
        if self.rollback is None:
            self.unprompted(
                "before start",
                row.step,
                f"{row.event} came before any ROLLBACK_START",
                row.seq,
            )
        if row.event in _CHAIN_ENDS:
            if row.event == "ROLLBACK_COMPLETE":
                self.chain_completed(row)
            return
        if not row.step:
            return

        handler = self.handlers.get(row.key)
        if handler is None:
            handler = self.handler_appeared(row, starts, attempted)
        if handler.done is not None and row.event in _RUN_EVENTS:
            handler.again = handler.again or row
            if (
                row.event == "ROLLBACK_STEP_SUCCESS"
                and handler.done.event == "ROLLBACK_STEP_SUCCESS"
            ):
                handler.second = handler.second or row
            return

        event = row.event
        if event == "ROLLBACK_ATTEMPT_START":
            self.attempt_started(row)
        elif event in ("ROLLBACK_ATTEMPT_SUCCESS", "ROLLBACK_ATTEMPT_FAILURE"):
            self.open.pop(row.key, None)
        elif event in ("ROLLBACK_STEP_SUCCESS", "ROLLBACK_STEP_FAILURE"):
            self.open.pop(row.key, None)
            handler.done = row
            if event == "ROLLBACK_STEP_FAILURE" and self.failure is None:
                self.failure = row

    def rollback_started(self, row: Row) -> None:
        self.rollback = self.rollback or row
        if self.end is None:
            self.latest = row
        trigger = detail_of(row).get("triggerError") or {}
        if trigger.get("name") == "WorkflowFatalError":
            self.unprompted(
                "fatal",
                "",
                "a rollback was triggered by a WorkflowFatalError, which ends "
                "the instance without one",
                row.seq,
            )

    def handler_appeared(
        self,
        row: Row,
        starts: dict[tuple[str, int], int],
        attempted: dict[tuple[str, int], int],
    ) -> _Handler:
        key = row.key
        start = starts.get(key)
        handler = _Handler(key, row, start)
        self.handlers[key] = handler

        if start is None:
            self.report(
                "rollback_unstarted",
                row.step,
                f"{_name(key)} was rolled back though it never started",
                row.seq,
            )
        elif key not in attempted:
            self.report(
                "rollback_unstarted",
                row.step,
                f"{_name(key)} was rolled back though its first attempt never "
                "started, so it registered no handler",
                start,
                row.seq,
            )
        else:
            last = self.last
            if last is not None and last.start < start:
                self.report(
                    "rollback_order",
                    row.step,
                    f"the handler of {_name(key)} ran after the handler of "
                    f"{_name(last.key)}, though {_name(key)} started later; "
                    "handlers must run newest start first",
                    last.start,
                    start,
                    last.first.seq,
                    row.seq,
                )
            self.last = handler

        if self.policy == "halt" and self.failure is not None:
            self.report(
                "rollback_after_halt",
                row.step,
                f"the handler of {_name(key)} ran after the handler of "
                f"{_name(self.failure.key)} failed, though a failed handler "
                "halts the rollback",
                self.failure.seq,
                row.seq,
            )
        return handler

    def attempt_started(self, row: Row) -> None:
        if self.open:
            other, seq = next(iter(self.open.items()))
            self.report(
                "rollback_overlap",
                row.step,
                f"the handler of {_name(row.key)} started attempt {row.attempt} "
                f"while an attempt of the handler of {_name(other)} was still "
                "running; handlers run one at a time",
                seq,
                row.seq,
            )
        self.open[row.key] = row.seq

    def chain_completed(self, row: Row) -> None:
        if self.failure is not None:
            self.report(
                "rollback_incomplete",
                self.failure.step,
                "the rollback was reported complete although the handler of "
                f"{_name(self.failure.key)} failed",
                self.failure.seq,
                row.seq,
            )
            return
        planned = self.latest or self.rollback
        total = detail_of(planned).get("totalSteps") if planned else None
        succeeded = sum(
            1
            for handler in self.handlers.values()
            if handler.done is not None
            and handler.done.event == "ROLLBACK_STEP_SUCCESS"
        )
        if isinstance(total, int) and succeeded < total:
            self.report(
                "rollback_incomplete",
                "",
                f"the rollback was reported complete with {succeeded} of the "
                f"{total} planned handlers succeeded",
                planned.seq,
                row.seq,
            )

    def finish(self) -> list[Violation]:
        rollback, end = self.rollback, self.end
        if rollback is not None and end is not None and end.seq > rollback.seq:
            if end.event == "WORKFLOW_SUCCESS":
                self.unprompted(
                    "success",
                    "",
                    "a rollback ran in a run that ended WORKFLOW_SUCCESS, so "
                    "run() never failed terminally",
                    rollback.seq,
                    end.seq,
                )
            elif end.event == "WORKFLOW_FAILURE" and not detail_of(end).get("fatal"):
                self.check_trigger(end)

        for handler in self.handlers.values():
            if handler.done is None or handler.again is None:
                continue
            second = handler.second or handler.again
            self.report(
                "rollback_repeated",
                handler.key[0],
                f"{_name(handler.key)} was rolled back twice: its handler ran "
                f"again after {handler.done.event}",
                handler.done.seq,
                second.seq,
            )
        return self.found

    def check_trigger(self, end: Row) -> None:
        latest = self.latest
        trigger = detail_of(latest).get("triggerError") if latest else None
        if not isinstance(trigger, dict):
            return
        expected = (trigger.get("name", ""), trigger.get("message", ""))
        if expected != (end.error_name, end.error_message):
            self.report(
                "rollback_trigger",
                "",
                f"the rollback ran for {expected[0]}: {expected[1]!s} but the "
                f"instance ended with {end.error_name}: {end.error_message}; "
                "its error must stay the failure that triggered the rollback",
                latest.seq,
                end.seq,
            )


def _name(key: tuple[str, int]) -> str:
    name, count = key
    return f"step {name!r}" if count <= 1 else f"step {name!r} (count {count})"
