"""Operations the generated tests hold back because they hit known engine bugs.

XXX: each rule here hides an engine bug that ``sagasim check`` still
finds; ``test_known_engine_bugs.py`` pins each one at its smallest. When a
test there starts passing, delete its rule here so that the generated
tests cover that ground again.
"""

from __future__ import annotations

from typing import Any

from sagasim.soak import CaseRun
from sagasim.strategies import can_fail, iter_items, shape_steps


def run_may_fail(case_run: CaseRun) -> bool:
    """Whether ``run()`` may yet fail terminally: the shape has a failure
    point or a wait it does not catch, or an uncaught step could run out of
    retries under the case's faults or the crashes performed so far."""
    shape = case_run.case["shape"]
    if not can_fail(shape):
        return False
    uncaught = [spec for spec in shape_steps(shape) if not spec["caught"]]
    if any(spec["kind"] != "ok" for spec in uncaught):
        return True
    if any(
        item["type"] == "wait" and not item["caught"]
        for item in iter_items(shape["items"])
    ):
        return True
    crashed = any(op["op"] == "crash" and ok for op, ok in case_run.applied)
    return bool(case_run.case.get("faults")) or crashed


def operation_hits_known_bug(case_run: CaseRun, operation: dict[str, Any]) -> bool:
    """Whether ``operation``, performed now, could hit a known engine bug."""
    op = operation["op"]
    if (
        op == "terminate"
        and operation["rollback"]
        and any(
            done["op"] == "terminate" and done["rollback"] and ok
            for done, ok in case_run.applied
        )
    ):
        # A second terminate while the first one's handlers run cuts the
        # running handler off and runs it again
        # (test_a_second_terminate_does_not_run_a_handler_again).
        return True
    if op in ("pause", "send_event") or (
        op == "terminate" and not operation["rollback"]
    ):
        # A pause that is coming when run() fails pauses the rollback, which
        # starts again on resume
        # (test_a_pause_coming_when_run_fails_does_not_pause_the_rollback);
        # an event sent while the instance rolls back with a wait pending
        # raises KeyError
        # (test_an_event_sent_during_a_rollback_is_not_delivered); a
        # terminate() during the rollback leaves its summary running
        # (test_terminating_during_a_rollback_ends_its_summary).
        return run_may_fail(case_run)
    return False


def without_known_bug_faults(faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``faults`` with handler faults made retryable: a handler that failed
    for good with a non-retryable error runs again after a crash
    (test_a_handler_that_failed_for_good_does_not_run_again_after_a_crash)."""
    kept = []
    for entry in faults:
        if entry.get("phase") in ("rollback", "any") and "retryable" in entry:
            entry = {k: v for k, v in entry.items() if k != "retryable"}
        kept.append(entry)
    return kept


class AvoidingCaseRun(CaseRun):
    """A :class:`CaseRun` that leaves out the faults and skips the
    operations that hit known engine bugs, and keeps the operations it did
    perform as ``performed``."""

    def __init__(self, case: dict[str, Any]) -> None:
        case = dict(case, faults=without_known_bug_faults(case.get("faults", [])))
        super().__init__(case)
        self.performed: list[dict[str, Any]] = []

    def apply(self, operation: dict[str, Any]) -> bool:
        if operation_hits_known_bug(self, operation):
            return False
        at = round(self.sim.now * 1000)
        self.performed.append(dict(operation, at=at))
        return super().apply(operation)

    def effective_case(self) -> dict[str, Any]:
        """The case with only the operations performed."""
        return dict(self.case, operations=list(self.performed))
