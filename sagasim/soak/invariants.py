"""Lifecycle invariants of an instance, read from the trace.

:func:`lifecycle` complements :func:`sagasim.checks.rollback_ordering`: it
follows each instance through its statuses the way the trace records them
(``WORKFLOW_QUEUED``, ``_START``, ``_PAUSED``, ``_RESUMED``, ``_RESTARTED``
and the three ends) and reports, with the checks' violation columns:

- ``lifecycle_transition``: a lifecycle row that its status does not allow,
  such as ``WORKFLOW_PAUSED`` of an instance that is not running, a second
  ``WORKFLOW_QUEUED``, or ``ENGINE_REPLAY`` of one that is not running.
- ``lifecycle_after_end``: any row of an instance after it ended, but for
  an ``ENGINE_CRASH`` that found nothing live, an ``EVENT_SENT`` (an event
  sent in the instant the instance ended is recorded, not delivered), and
  what was in flight when it ended: under ``inflight="race"`` a step runs
  on to its own end, retries included, and a sleep or wait to its end.
- ``lifecycle_idle_work``: a step, attempt, sleep or wait row while the
  instance is queued or paused, or a rollback row then that no
  ``terminate(rollback=True)`` (a ``ROLLBACK_START`` triggered by
  ``Terminated``) started.
- ``attempt_after_success``: an ``ATTEMPT_START`` of a step after its
  ``STEP_SUCCESS`` in the same epoch: a completed body ran again.
- ``rollback_started_twice``: a second ``ROLLBACK_START`` for the same
  trigger in one epoch with no ``ENGINE_CRASH`` between them (a replay
  after a crash starts the rollback again; nothing else should).

Evidence is trace ``seq`` numbers.
"""

from __future__ import annotations

import pandas as pd

from sagasim.checks.episodes import ROLLBACK_EVENTS, Row, detail_of, rows_by_instance
from sagasim.checks.frame import Violation, evidence, frame

__all__ = ["lifecycle", "lifecycle_of"]

_WORK = frozenset(
    {
        "STEP_START",
        "STEP_SUCCESS",
        "STEP_FAILURE",
        "STEP_REPLAYED",
        "ATTEMPT_START",
        "ATTEMPT_SUCCESS",
        "ATTEMPT_FAILURE",
        "SLEEP_START",
        "SLEEP_COMPLETE",
        "WAIT_START",
        "WAIT_COMPLETE",
        "WAIT_TIMED_OUT",
    }
)
_ENDS = {
    "WORKFLOW_SUCCESS": "complete",
    "WORKFLOW_FAILURE": "errored",
    "WORKFLOW_TERMINATED": "terminated",
}
_QUIET_AFTER_END = frozenset({"EVENT_SENT", "EFFECT_APPLIED"})
_SETTLING = frozenset(
    {
        "ATTEMPT_START",
        "ATTEMPT_SUCCESS",
        "ATTEMPT_FAILURE",
        "STEP_SUCCESS",
        "STEP_FAILURE",
        "STEP_CANCELLED",
        "FAULT_INJECTED",
        "SLEEP_COMPLETE",
        "WAIT_COMPLETE",
        "WAIT_TIMED_OUT",
    }
)
# What starts and what ends a step, sleep or wait, keyed by its kind.
_STARTS = {"STEP_START": "do", "SLEEP_START": "sleep", "WAIT_START": "wait"}
_ENDS_OF = {
    "STEP_SUCCESS": "do",
    "STEP_FAILURE": "do",
    "STEP_CANCELLED": "do",
    "SLEEP_COMPLETE": "sleep",
    "WAIT_COMPLETE": "wait",
    "WAIT_TIMED_OUT": "wait",
}
_KIND_OF = {
    "ATTEMPT_START": "do",
    "ATTEMPT_SUCCESS": "do",
    "ATTEMPT_FAILURE": "do",
    "FAULT_INJECTED": "do",
    **_STARTS,
    **_ENDS_OF,
}


class _Follower:
    """One instance's rows, fed in seq order."""

    def __init__(self, instance: str) -> None:
        self.instance = instance
        self.state: str | None = None  # None, queued, running, paused, ended
        self.end: Row | None = None
        self.terminating = False
        self.rollback: tuple[dict, int] | None = None
        self.succeeded: dict[tuple[str, int], int] = {}
        self.in_flight: set[tuple[str, str, int]] = set()
        self.settling: set[tuple[str, str, int]] = set()
        self.settled: set[tuple[str, str, int]] = set()
        self.found: list[Violation] = []
        self.reported: set[tuple[str, str]] = set()

    def report(self, check: str, subject: str, message: str, *ids: int) -> None:
        key = (check, subject)
        if key in self.reported:
            return
        self.reported.add(key)
        self.found.append(
            Violation(check, self.instance, subject, message, evidence(*ids))
        )

    def feed(self, row: Row) -> None:
        event = row.event
        restart = event == "WORKFLOW_RESTARTED"
        if self.state == "ended" and not restart and not self.quiet_after_end(row):
            self.report(
                "lifecycle_after_end",
                row.step,
                f"{event} came after the instance ended with {self.end.event}; "
                "a terminal status is final",
                self.end.seq,
                row.seq,
            )
            return
        if event in _STARTS:
            self.in_flight.add((_STARTS[event], *row.key))
        elif event == "ATTEMPT_START":
            # A step that failed with a NonRetryableError runs again on
            # replay with no new STEP_START: it is in flight once more.
            self.in_flight.add(("do", *row.key))
        elif event in _ENDS_OF:
            key = (_ENDS_OF[event], *row.key)
            self.in_flight.discard(key)
            if key in self.settling:
                self.settling.discard(key)
                self.settled.add(key)
        if event.startswith("WORKFLOW_") or event == "ENGINE_REPLAY":
            self.lifecycle_row(row)
        elif event == "STEP_SUCCESS":
            self.succeeded.setdefault(row.key, row.seq)
        elif event == "ATTEMPT_START" and row.key in self.succeeded:
            self.report(
                "attempt_after_success",
                row.step,
                f"step {row.step!r} (count {row.count}) started attempt "
                f"{row.attempt} after it had succeeded: a completed body ran again",
                self.succeeded[row.key],
                row.seq,
            )
        if event == "ENGINE_CRASH":
            self.rollback = None
        elif event == "ROLLBACK_START":
            trigger = detail_of(row).get("triggerError") or {}
            if trigger.get("name") == "Terminated":
                self.terminating = True
            if self.rollback is not None and self.rollback[0] == trigger:
                self.report(
                    "rollback_started_twice",
                    "",
                    "the rollback started again with no engine crash since it "
                    "first started, so two rollbacks ran at once",
                    self.rollback[1],
                    row.seq,
                )
            self.rollback = (trigger, row.seq)
        if self.state in ("queued", "paused"):
            idle = event in _WORK or (event in ROLLBACK_EVENTS and not self.terminating)
            if idle:
                self.report(
                    "lifecycle_idle_work",
                    row.step,
                    f"{event} while the instance was {self.state}",
                    row.seq,
                )

    def quiet_after_end(self, row: Row) -> bool:
        if row.event in _QUIET_AFTER_END:
            return True
        if row.event in _SETTLING:
            key = (_KIND_OF[row.event], *row.key)
            if row.event == "FAULT_INJECTED" and key in self.settled:
                # A crash_after_persist fault fires once the output is stored.
                return True
            return key in self.settling
        return row.event == "ENGINE_CRASH" and detail_of(row).get("live") is False

    def lifecycle_row(self, row: Row) -> None:
        event, state = row.event, self.state
        allowed = {
            "WORKFLOW_QUEUED": (None,),
            "WORKFLOW_START": ("queued",),
            "WORKFLOW_PAUSED": ("running",),
            "WORKFLOW_SUCCESS": ("running",),
            "WORKFLOW_FAILURE": ("running",),
            "WORKFLOW_TERMINATED": ("queued", "running", "paused"),
            "WORKFLOW_RESTARTED": ("queued", "running", "paused", "ended"),
            "ENGINE_REPLAY": ("running",),
        }
        if event == "WORKFLOW_RESUMED" and detail_of(row).get("for") == "rollback":
            # terminate(rollback=True) of a paused instance: its handlers run
            # at once, without waiting for a concurrency slot.
            ok, after = state == "paused", "running"
        elif event == "WORKFLOW_RESUMED":
            # From paused (with the time spent paused) it queues again; from
            # waitingForPause it simply carries on running.
            paused = "pausedMs" in detail_of(row)
            expected = "paused" if paused else "running"
            ok, after = state == expected, "queued" if paused else "running"
        elif event in allowed:
            ok = state in allowed[event]
            after = {
                "WORKFLOW_QUEUED": "queued",
                "WORKFLOW_START": "running",
                "WORKFLOW_PAUSED": "paused",
                "WORKFLOW_RESTARTED": "queued",
                "ENGINE_REPLAY": "running",
            }.get(event, "ended")
        else:
            return
        if not ok:
            self.report(
                "lifecycle_transition",
                event,
                f"{event} while the instance was {state or 'not yet created'}",
                row.seq,
            )
        if event == "WORKFLOW_RESTARTED":
            self.succeeded.clear()
            self.terminating = False
            self.rollback = None
            self.end = None
        self.state = after
        if after == "ended":
            self.end = row
            self.settling = set(self.in_flight)


def lifecycle(trace: pd.DataFrame) -> pd.DataFrame:
    """The lifecycle violations of every instance in ``trace`` (see the
    module docstring), instance by instance in order of evidence."""
    found: list[Violation] = []
    for instance, rows in rows_by_instance(trace).items():
        if instance:
            found.extend(lifecycle_of(instance, rows))
    return frame(found)


def lifecycle_of(instance: str, rows: list[Row]) -> list[Violation]:
    """The lifecycle violations of one instance, given its rows in seq
    order (as :func:`sagasim.checks.episodes.rows_by_instance` gives them)."""
    follower = _Follower(instance)
    for row in rows:
        follower.feed(row)
    return sorted(follower.found, key=lambda v: v.evidence)
