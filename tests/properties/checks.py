"""Assertions comparing one engine run with the model's prediction."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sagasim import UNDEFINED
from sagasim.strategies import ShapeLog

from .model import Prediction


def same_output(seen: Any, allowed: tuple[Any, ...]) -> bool:
    """Whether ``seen`` is one of ``allowed``; ``UNDEFINED`` only matches itself."""
    for value in allowed:
        if value is UNDEFINED or seen is UNDEFINED:
            if value is seen:
                return True
        elif value == seen:
            return True
    return False


def assert_status(expected: Prediction, inst, sim, *, crash: int | None = None) -> None:
    """status() and the end instant match the model; a run stopped at
    ``crash`` to inject it stands at least there."""
    status = inst.status()
    if expected.status == "complete":
        assert status == {
            "status": "complete",
            "output": expected.output,
            "error": None,
        }
    else:
        name, message = expected.error
        assert status["status"] == "errored"
        assert status["output"] is None
        assert status["error"]["name"] == name
        if message is not None:
            assert status["error"]["message"] == message
        total = len(expected.rollback)
        if total:
            assert status["rollback"] == {
                "status": "complete",
                "total": total,
                "completed": total,
            }
        else:
            assert "rollback" not in status
    assert sim.now == max(expected.end, crash or 0) / 1000


def assert_handlers(expected: Prediction, inst, log: ShapeLog) -> None:
    """The handlers that ran are the model's plan, each once, with what it
    says they saw."""
    keys = [entry.key for entry in expected.rollback]
    assert [run.key for run in log.handler_runs] == keys
    assert Counter(log.handler_calls) == Counter(
        {entry.key: entry.handler_attempts for entry in expected.rollback}
    )

    error = inst.status()["error"]
    for run, entry in zip(log.handler_runs, expected.rollback, strict=True):
        assert same_output(run.output, entry.outputs), (run, entry)
        low, high = entry.step_attempts
        assert low <= run.attempt <= high, (run, entry)
        assert run.error == (error["name"], error["message"])

    records = inst.rollbacks
    assert [(r["step"], r["count"]) for r in records] == keys
    for record, run, entry in zip(
        records, log.handler_runs, expected.rollback, strict=True
    ):
        assert record["status"] == "success"
        assert record["error"] is None
        assert record["attempts"] == entry.handler_attempts
        assert record["output_undefined"] == (run.output is UNDEFINED)
        assert (record["start"], record["end"]) == (
            entry.start / 1000,
            entry.end / 1000,
        )


def assert_bodies(expected: Prediction, log: ShapeLog) -> None:
    """Body invocations and returns per (name, count) match the model, and no
    body runs again once it has returned."""
    invoked = Counter(key for what, key, _, _ in log.bodies if what == "call")
    returned = Counter(key for what, key, _, _ in log.bodies if what == "return")
    assert set(invoked) == set(expected.invocations)
    for key, (low, high) in expected.invocations.items():
        assert low <= invoked[key] <= high, (key, invoked[key], (low, high))
        assert returned[key] in expected.completions[key], (key, returned[key])

    done: set[tuple[str, int]] = set()
    for what, key, attempt, _ in log.bodies:
        if what == "call":
            assert key not in done, f"body {key} ran again (attempt {attempt})"
        else:
            done.add(key)
