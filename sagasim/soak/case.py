"""Running one generated case and checking everything it must hold.

A case (see :mod:`sagasim.strategies.cases`) is one instance of a shape,
under a fault schedule, with instance operations at set times.
:class:`CaseRun` runs it step by step, so that a Hypothesis state machine
can check it between operations, and :func:`run_case` runs it to the end.

:meth:`CaseRun.violations` reports, with the checks' violation columns:

- what :func:`sagasim.checks.check_run` finds in the trace (rollback order,
  repeats, overlaps, unprompted rollbacks, ...);
- what :func:`sagasim.soak.invariants.lifecycle` finds (statuses, terminal
  finality, idle work, a completed body running again);
- and what needs the case and the workflow's own log to see:

  ``status_transition``
      an observed status that cannot follow the one before it (``queued``
      only comes first; a terminal status never changes, nor its output
      or error).
  ``body_without_attempt`` / ``handler_without_attempt``
      a body (or handler) invoked more often than the trace started
      attempts of it.
  ``handler_unprompted``
      a rollback that neither a terminal failure of ``run()`` nor an
      accepted ``terminate(rollback=True)`` explains: its trigger is not an
      error the trace shows reaching ``run()``, or the shape catches every
      error, or a handler ran with no ``ROLLBACK_START`` at all.
  ``rollback_log_order``
      ``inst.rollbacks`` not in reverse order of step start.
  ``status_mismatch``
      ``status()`` that disagrees with how the trace says the instance
      ended, a rollback summary still ``running`` once it ended, or
      rollback totals that disagree with ``inst.rollbacks``.
  ``unfinished``
      at the end, an instance that is neither in a terminal state nor
      paused by the last pause, or that an accepted ``terminate`` did not
      end.
  ``engine_raised``
      an exception that escaped the engine.
  ``nondeterministic_trace``
      (with ``determinism``) a second run of the case with a different
      trace.
"""

from __future__ import annotations

import hashlib
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sagasim.checks import check_run, ledgers, rollback_ordering, services
from sagasim.checks.episodes import Row, detail_of, normalize, rows_by_instance
from sagasim.checks.frame import Violation, concat, evidence, frame
from sagasim.engine.instance import TERMINAL
from sagasim.faults import Fault
from sagasim.runtime import Simulation
from sagasim.soak.invariants import lifecycle_of
from sagasim.strategies.interpret import ShapeLog, workflow_from_shape
from sagasim.strategies.operations import apply_operation
from sagasim.strategies.shapes import can_fail
from sagasim.strategies.snippet import case_snippet

__all__ = ["HORIZON", "CaseResult", "CaseRun", "case_source", "run_case"]

#: How long (simulated seconds) a case may run on before it counts as stuck.
HORIZON = 30 * 86_400.0

_ERROR_ROWS = frozenset(
    {"STEP_FAILURE", "STEP_REPLAYED", "WAIT_TIMED_OUT", "ATTEMPT_FAILURE"}
)


def _status_key(status: dict[str, Any]) -> tuple:
    error = status["error"]
    return (
        status["status"],
        repr(status["output"]),
        None if error is None else (error["name"], error["message"]),
    )


class CaseRun:
    """One case's simulation, run operation by operation.

    Attributes:
        case: the case.
        sim, instance: the simulation and its one instance.
        log: what the workflow's user code saw.
        applied: ``(operation, accepted)`` for every operation performed.
        finished: whether :meth:`finish` ran since the last operation.
    """

    def __init__(self, case: dict[str, Any]) -> None:
        self.case = case
        self.log = ShapeLog()
        faults = [Fault(**entry) for entry in case.get("faults", ())]
        self.sim = Simulation(
            seed=case.get("seed", 0),
            inflight=case.get("inflight", "cancel"),
            on_rollback_failure=case.get("on_rollback_failure", "halt"),
            faults=faults or None,
        )
        workflow = workflow_from_shape(
            case["shape"], log=self.log, jitter=case.get("jitter", False)
        )
        self.instance = self.sim.create(workflow)
        self.applied: list[tuple[dict[str, Any], bool]] = []
        self.finished = False
        self._observed: list[Violation] = []
        self._last = self.instance.status()

    # -- driving ---------------------------------------------------------------

    def apply(self, operation: dict[str, Any]) -> bool:
        """Perform ``operation`` now; whether the instance accepted it."""
        accepted = apply_operation(self.instance, operation)
        self.applied.append((operation, accepted))
        self.finished = False
        return accepted

    def advance(self, ms: int) -> None:
        """Run the simulation ``ms`` simulated milliseconds further."""
        self.sim.run(until=self.sim.now + ms / 1000)
        self.finished = False
        self.observe()

    def play(self) -> None:
        """Perform every operation of the case at its time, then finish."""
        for operation in sorted(self.case.get("operations", ()), key=lambda o: o["at"]):
            at = operation["at"] / 1000
            if at > self.sim.now:
                self.sim.run(until=at)
                self.observe()
            self.apply(operation)
        self.finish()

    def finish(self) -> None:
        """Run until nothing is left to do, for at most :data:`HORIZON`
        more simulated seconds."""
        self.sim.run(until=self.sim.now + HORIZON)
        self.finished = True
        self.observe()

    def observe(self) -> None:
        """Compare the instance's status with the one last observed."""
        status = self.instance.status()
        before, now = self._last["status"], status["status"]
        if before in TERMINAL and _status_key(status) != _status_key(self._last):
            self._note(
                "status_transition",
                f"the instance was {before} and is now {now}: "
                f"{status!r}; a terminal status is final",
            )
        elif now == "queued" and before != "queued":
            self._note(
                "status_transition",
                f"the instance went back from {before} to queued",
            )
        self._last = status

    def _note(self, check: str, message: str) -> None:
        self._observed.append(Violation(check, self.instance.id, "", message, ()))

    # -- reading -----------------------------------------------------------------

    def digest(self) -> str:
        """The sha256 of the trace as CSV."""
        csv = self.sim.trace.to_csv(index=False)
        return hashlib.sha256(csv.encode()).hexdigest()

    def violations(self) -> pd.DataFrame:
        """Everything the run breaks so far (see the module docstring); the
        ``unfinished`` check only once :meth:`finish` ran."""
        trace = normalize(self.sim.trace)
        policy = self.sim.on_rollback_failure
        if services(self.sim):
            history, effects = ledgers(self.sim)
            ordering = check_run(trace, effects, history, on_rollback_failure=policy)
        else:
            # NOTE: without services there are no ledgers, so the rest of
            # check_run() has nothing to read; this is what it would run.
            ordering = rollback_ordering(trace, on_rollback_failure=policy)
        rows = rows_by_instance(trace).get(self.instance.id, [])
        found = list(self._observed)
        found += lifecycle_of(self.instance.id, rows)
        found += self._attempt_counts(rows)
        found += self._handler_prompts(rows)
        found += self._rollback_log_order(rows)
        found += self._status_against_trace(rows)
        if self.finished:
            found += self._liveness()
        return concat([ordering, frame(found)])

    def _violation(self, check: str, subject: str, message: str, *ids: int):
        return Violation(check, self.instance.id, subject, message, evidence(*ids))

    def _attempt_counts(self, rows: list[Row]) -> list[Violation]:
        attempts = Counter(r.key for r in rows if r.event == "ATTEMPT_START")
        handler_attempts = Counter(
            r.key for r in rows if r.event == "ROLLBACK_ATTEMPT_START"
        )
        bodies = Counter(key for what, key, _, _ in self.log.bodies if what == "call")
        handlers = Counter(self.log.handler_calls)
        found = []
        for key, calls in sorted(bodies.items()):
            if calls > attempts[key]:
                found.append(
                    self._violation(
                        "body_without_attempt",
                        key[0],
                        f"the body of {_name(key)} ran {calls} times but the "
                        f"trace shows {attempts[key]} attempts",
                    )
                )
        for key, calls in sorted(handlers.items()):
            if calls > handler_attempts[key]:
                found.append(
                    self._violation(
                        "handler_without_attempt",
                        key[0],
                        f"the handler of {_name(key)} ran {calls} times but the "
                        f"trace shows {handler_attempts[key]} handler attempts",
                    )
                )
        return found

    def _handler_prompts(self, rows: list[Row]) -> list[Violation]:
        found = []
        terminated = any(
            accepted and op["op"] == "terminate" and op["rollback"]
            for op, accepted in self.applied
        )
        uncaught = can_fail(self.case["shape"])
        errors: set[tuple[str, str]] = set()
        started = False
        for row in rows:
            if row.event in _ERROR_ROWS and row.error_name:
                errors.add((row.error_name, row.error_message))
            if row.event != "ROLLBACK_START":
                continue
            started = True
            trigger = detail_of(row).get("triggerError") or {}
            cause = (trigger.get("name", ""), trigger.get("message", ""))
            if cause[0] == "Terminated":
                if not terminated:
                    found.append(
                        self._violation(
                            "handler_unprompted",
                            "",
                            "a rollback for Terminated ran, though no "
                            "terminate(rollback=True) was accepted",
                            row.seq,
                        )
                    )
            elif not uncaught:
                found.append(
                    self._violation(
                        "handler_unprompted",
                        "",
                        f"a rollback for {cause[0]}: {cause[1]} ran, though the "
                        "workflow catches every error its steps and waits raise",
                        row.seq,
                    )
                )
            elif cause not in errors:
                found.append(
                    self._violation(
                        "handler_unprompted",
                        "",
                        f"a rollback for {cause[0]}: {cause[1]} ran, though no "
                        "step or wait failed with that error before it",
                        row.seq,
                    )
                )
        if self.log.handler_calls and not started:
            key = self.log.handler_calls[0]
            found.append(
                self._violation(
                    "handler_unprompted",
                    key[0],
                    f"the handler of {_name(key)} ran without any ROLLBACK_START",
                )
            )
        return found

    def _rollback_log_order(self, rows: list[Row]) -> list[Violation]:
        starts: dict[tuple[str, int], int] = {}
        for row in rows:
            if row.event == "STEP_START":
                starts[row.key] = row.seq
        records = self.instance.rollbacks
        found = []
        seen: set[tuple[str, int]] = set()
        last: tuple[tuple[str, int], int] | None = None
        for record in records:
            key = (record["step"], record["count"])
            if key in seen:
                found.append(
                    self._violation(
                        "rollback_log_order",
                        key[0],
                        f"inst.rollbacks holds {_name(key)} twice",
                    )
                )
            seen.add(key)
            seq = starts.get(key)
            if seq is None:
                continue
            if last is not None and seq > last[1]:
                found.append(
                    self._violation(
                        "rollback_log_order",
                        key[0],
                        f"inst.rollbacks has {_name(key)} after {_name(last[0])}, "
                        "though it started later",
                        last[1],
                        seq,
                    )
                )
            last = (key, seq)
        return found

    def _status_against_trace(self, rows: list[Row]) -> list[Violation]:
        status = self.instance.status()
        ends = [r for r in rows if r.event in _END_STATUS]
        found = []
        state = status["status"]
        if state in TERMINAL:
            end = ends[-1] if ends else None
            if end is None or _END_STATUS[end.event] != state:
                found.append(
                    self._violation(
                        "status_mismatch",
                        "",
                        f"status() says {state} but the trace ends with "
                        f"{end.event if end else 'no end row'}",
                    )
                )
            elif state == "errored":
                error = status["error"] or {}
                if (error.get("name"), error.get("message")) != (
                    end.error_name,
                    end.error_message,
                ):
                    found.append(
                        self._violation(
                            "status_mismatch",
                            "",
                            f"status() reports the error {error!r} but the trace "
                            f"ended with {end.error_name}: {end.error_message}",
                            end.seq,
                        )
                    )
        elif ends:
            found.append(
                self._violation(
                    "status_mismatch",
                    "",
                    f"status() says {state} though the trace shows {ends[-1].event}",
                    ends[-1].seq,
                )
            )
        summary = status.get("rollback")
        if summary is not None and summary["status"] == "running" and state in TERMINAL:
            found.append(
                self._violation(
                    "status_mismatch",
                    "",
                    f"the instance is {state} but its rollback summary says the "
                    "rollback is still running",
                )
            )
        elif summary is not None and summary["status"] != "running":
            succeeded = sum(r["status"] == "success" for r in self.instance.rollbacks)
            if summary["completed"] != succeeded:
                found.append(
                    self._violation(
                        "status_mismatch",
                        "",
                        f"the rollback summary counts {summary['completed']} "
                        f"handlers completed but inst.rollbacks has {succeeded} "
                        "successes",
                    )
                )
        return found

    def _liveness(self) -> list[Violation]:
        state = self.instance.status()["status"]
        if state in TERMINAL:
            return []
        accepted = [op["op"] for op, ok in self.applied if ok]
        if any(op == "terminate" for op in accepted):
            return [
                self._violation(
                    "unfinished",
                    "",
                    f"a terminate was accepted but the instance ended {state}",
                )
            ]
        switches = [op for op in accepted if op in ("pause", "resume")]
        if state == "paused" and switches and switches[-1] == "pause":
            return []
        return [
            self._violation(
                "unfinished",
                "",
                f"the instance is {state} with nothing left to run",
            )
        ]


_END_STATUS = {
    "WORKFLOW_SUCCESS": "complete",
    "WORKFLOW_FAILURE": "errored",
    "WORKFLOW_TERMINATED": "terminated",
}


def _name(key: tuple[str, int]) -> str:
    name, count = key
    return f"step {name!r}" if count <= 1 else f"step {name!r} (count {count})"


@dataclass
class CaseResult:
    """The outcome of :func:`run_case`.

    Attributes:
        violations: every violation found (the checks' columns).
        digest: the sha256 of the trace CSV, with ``determinism`` ("" if
            not asked for, or if the engine raised).
        status: the instance's final status name.
        events: how many trace rows of each event the run left.
        fired: how many times faults of each kind fired.
        accepted: the operations the instance accepted, by name
            (``terminate(rollback)`` for a terminate with rollback).
    """

    violations: pd.DataFrame
    digest: str = ""
    status: str = ""
    events: Counter = field(default_factory=Counter)
    fired: Counter = field(default_factory=Counter)
    accepted: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return self.violations.empty


def _raised(case_run: CaseRun | None, exc: BaseException) -> pd.DataFrame:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    instance = case_run.instance.id if case_run is not None else ""
    return frame(
        [
            Violation(
                "engine_raised",
                instance,
                type(exc).__name__,
                f"{type(exc).__name__}: {exc}{where}",
                (),
            )
        ]
    )


def run_case(case: dict[str, Any], *, determinism: bool = False) -> CaseResult:
    """Run ``case`` to the end and check it; with ``determinism``, run it a
    second time and compare the traces' sha256."""
    case_run = None
    try:
        case_run = CaseRun(case)
        case_run.play()
        violations = case_run.violations()
        digest = case_run.digest() if determinism else ""
    except Exception as exc:  # noqa: BLE001 - an escaped error is a finding
        return CaseResult(_raised(case_run, exc))

    if determinism:
        again = None
        try:
            again = CaseRun(case)
            again.play()
            second = again.digest()
        except Exception as exc:  # noqa: BLE001 - likewise
            return CaseResult(_raised(again, exc), digest)
        if second != digest:
            mismatch = frame(
                [
                    Violation(
                        "nondeterministic_trace",
                        case_run.instance.id,
                        "",
                        f"two runs of the case left different traces "
                        f"(sha256 {digest[:12]} and {second[:12]})",
                        (),
                    )
                ]
            )
            violations = concat([violations, mismatch])

    fired: Counter = Counter()
    injector = case_run.sim.faults
    if injector is not None:
        for fault, count in zip(injector.plan, injector.fired, strict=True):
            fired[fault.kind] += count
    accepted: Counter = Counter()
    for op, ok in case_run.applied:
        if ok:
            name = op["op"]
            if name == "terminate" and op["rollback"]:
                name = "terminate(rollback)"
            accepted[name] += 1
    return CaseResult(
        violations,
        digest,
        case_run.instance.status()["status"],
        Counter(case_run.sim.trace["event"].tolist()),
        fired,
        accepted,
    )


def case_source(case: dict[str, Any], comment: str = "") -> str:
    """``case`` as a runnable script (:func:`sagasim.strategies.case_snippet`)."""
    return case_snippet(
        case["shape"],
        faults=[Fault(**entry) for entry in case.get("faults", ())],
        operations=case.get("operations", ()),
        seed=case.get("seed", 0),
        inflight=case.get("inflight", "cancel"),
        on_rollback_failure=case.get("on_rollback_failure", "halt"),
        jitter=case.get("jitter", False),
        comment=comment,
    )
