"""Operations the generated tests hold back because they hit known engine bugs.

Each rule here would hide an engine bug that ``sagasim check`` still finds,
pinned at its smallest in ``test_known_engine_bugs.py``; there are none at
present, so the generated tests cover all ground. The hooks stay so that a
newly found bug can be held back here while it is fixed.
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
    """Whether ``operation``, performed now, could hit a known engine bug.

    None is known: every operation is performed.
    """
    return False


def without_known_bug_faults(faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``faults`` less those that hit a known engine bug; none is known."""
    return list(faults)


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
