"""The fault injector: the engine's hooks, driven by a :class:`FaultPlan`.

The engine asks the injector at a few points (an attempt starting, a retry
being scheduled, a step output just stored, a sleep or an event wait
starting) whether a fault applies, and the injector answers by wrapping the
attempt's body, changing a delay, or scheduling a crash. Every injection is
a ``FAULT_INJECTED`` trace row naming the fault by its index in the plan.
"""

from __future__ import annotations

import fnmatch
import inspect
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from sagasim.engine.attempts import AttemptInfo, takes_ctx
from sagasim.engine.futures import Future, Scope, Task, sleep_ms
from sagasim.engine.store import ROLLBACK, StepRecord
from sagasim.errors import NonRetryableError, WorkflowTimeoutError
from sagasim.faults.plan import (
    STEP_KINDS,
    Fault,
    FaultPlan,
    FaultPlanError,
    InjectedError,
)

if TYPE_CHECKING:
    from sagasim.engine.instance import Instance
    from sagasim.runtime.simulation import Simulation

__all__ = ["Injector"]


class Injector:
    """Arms a plan on one simulation and counts what fires."""

    def __init__(self, sim: Simulation, plan: FaultPlan) -> None:
        self.sim = sim
        self.plan = plan
        self.fired = [0] * len(plan)
        self._step = [(i, f) for i, f in enumerate(plan) if f.kind in STEP_KINDS]
        self._after_persist = [
            (i, f) for i, f in self._step if f.kind == "crash_after_persist"
        ]
        self._sleeps = [
            (i, f) for i, f in enumerate(plan) if f.kind == "disable_sleeps"
        ]
        self._delays = [
            (i, f) for i, f in enumerate(plan) if f.kind == "disable_retry_delays"
        ]
        self._waits = [
            (i, f)
            for i, f in enumerate(plan)
            if f.kind in ("mock_event", "force_event_timeout")
        ]
        self._outages_armed = False

    # -- set-up --------------------------------------------------------------

    def arm_outages(self) -> None:
        """Add the plan's outage windows to the bound services.

        Raises:
            FaultPlanError: if a fault names a service that is not bound or
                cannot have outages.
        """
        if self._outages_armed:
            return
        self._outages_armed = True
        for index, fault in enumerate(self.plan):
            if fault.kind != "outage":
                continue
            service = self.sim.bindings.get(fault.service)
            if service is None or not hasattr(service, "add_outage"):
                raise FaultPlanError(
                    f"faults[{index}].service",
                    f"no bound service {fault.service!r} that can have outages",
                )
            start_ms = fault.ms("start")
            service.add_outage(start_ms / 1000, fault.ms("end") / 1000)
            self.sim.call_later(
                max(0, start_ms - self.sim.now_ms()),
                lambda index=index: self._note(index, "", "", 0, 0),
            )

    # -- bookkeeping -------------------------------------------------------------

    def _note(self, index: int, instance: str, step: str, count: int, attempt: int):
        self.fired[index] += 1
        fault = self.plan.faults[index]
        self.sim.recorder.record(
            self.sim.now_ms(),
            instance,
            "FAULT_INJECTED",
            step,
            count,
            attempt,
            None,
            {"fault": index, "kind": fault.kind, "label": fault.label}
            if fault.label
            else {"fault": index, "kind": fault.kind},
        )

    def _draw(self, index: int, fault: Fault, *where: Any) -> bool:
        if fault.limit is not None and self.fired[index] >= fault.limit:
            return False
        if fault.probability >= 1:
            return True
        if fault.probability <= 0:
            return False
        key = ":".join(str(part) for part in (self.sim.seed, "fault", index, *where))
        return random.Random(key).random() < fault.probability

    def _matches_instance(self, fault: Fault, instance: Instance) -> bool:
        return (
            fault.instance == "*" or fnmatch.fnmatchcase(instance.id, fault.instance)
        ) and (
            fault.workflow == "*"
            or fnmatch.fnmatchcase(instance.workflow.workflow_name(), fault.workflow)
        )

    def _matches(
        self, fault: Fault, instance: Instance, record: StepRecord, attempt: int
    ) -> bool:
        rollback = record.kind == ROLLBACK
        if fault.phase == "forward" and rollback:
            return False
        if fault.phase == "rollback" and not rollback:
            return False
        if fault.occurrence is not None and record.count != fault.occurrence:
            return False
        if fault.attempt is not None and attempt != fault.attempt:
            return False
        if fault.step != "*" and not fnmatch.fnmatchcase(record.name, fault.step):
            return False
        return self._matches_instance(fault, instance)

    # -- engine hooks ------------------------------------------------------------

    def wrap_attempt(
        self,
        instance: Instance,
        record: StepRecord,
        attempt: int,
        timeout_ms: int,
        body: Callable[..., Any],
    ) -> Callable[..., Any]:
        """The body this attempt should run: ``body`` itself, or a wrapper that
        carries out the first fault that fires here."""
        for index, fault in self._step:
            if fault.kind == "crash_after_persist":
                continue
            if not self._matches(fault, instance, record, attempt):
                continue
            where = (instance.id, record.kind, record.name, record.count, attempt)
            if not self._draw(index, fault, *where):
                continue
            self._note(index, instance.id, record.name, record.count, attempt)
            return self._wrapper(fault, instance, record, attempt, timeout_ms, body)
        return body

    def _wrapper(
        self,
        fault: Fault,
        instance: Instance,
        record: StepRecord,
        attempt: int,
        timeout_ms: int,
        body: Callable[..., Any],
    ) -> Callable[..., Any]:
        kind = fault.kind
        sim = self.sim

        if kind == "mock_result":
            return lambda: fault.value
        if kind in ("mock_error", "fail_before"):
            return lambda: _raise(_error(fault))
        if kind == "force_timeout":
            return lambda: _raise(
                WorkflowTimeoutError(f"Execution timed out after {timeout_ms}ms")
            )
        if kind == "latency":

            async def slowed(ctx):
                await sleep_ms(fault.ms("extra"))
                return await _call(body, ctx)

            return slowed
        if kind == "lose_output":

            async def lost(ctx):
                await _call(body, ctx)
                raise _error(fault, "the response was lost after the effect")

            return lost
        if kind == "hang":
            lands_after = fault.ms("lands_after")
            if lands_after is None:
                lands_after = timeout_ms + 1000
            owner = AttemptInfo(
                instance.id, record.name, record.count, attempt, record.kind == ROLLBACK
            )

            async def late(ctx):
                await sleep_ms(lands_after)
                return await _call(body, ctx)

            async def hung(ctx):
                # The work goes on outside the attempt, so the attempt's
                # timeout does not cancel it; nothing will ever answer.
                Task(late(ctx), sim.clock, Scope(owner))
                await Future()

            return hung
        if kind == "crash_during":

            async def crashed(ctx):
                sim.call_later(
                    fault.ms("after"),
                    lambda: instance.crash(fault.ms("restart_after")),
                )
                return await _call(body, ctx)

            return crashed
        if kind == "crash_before_persist":

            async def crashed_before(ctx):
                await _call(body, ctx)
                instance.crash(fault.ms("restart_after"))
                await Future()

            return crashed_before
        raise AssertionError(f"unhandled fault kind {kind}")

    def after_persist(self, instance: Instance, record: StepRecord) -> None:
        """Called once a step's output is stored."""
        for index, fault in self._after_persist:
            if not self._matches(fault, instance, record, record.attempts):
                continue
            where = (instance.id, "persist", record.name, record.count)
            if not self._draw(index, fault, *where):
                continue
            self._note(index, instance.id, record.name, record.count, record.attempts)
            instance.crash(fault.ms("restart_after"))
            return

    def retry_delay(self, instance: Instance, record: StepRecord, delay: int) -> int:
        """The wait before the next attempt."""
        for index, fault in self._delays:
            if self._matches_instance(fault, instance) and (
                fault.step == "*" or fnmatch.fnmatchcase(record.name, fault.step)
            ):
                self._note(
                    index, instance.id, record.name, record.count, record.attempts
                )
                return 0
        return delay

    def sleep_disabled(self, instance: Instance, name: str, count: int) -> bool:
        """Whether a sleep ends at once."""
        for index, fault in self._sleeps:
            if self._matches_instance(fault, instance) and (
                fault.step == "*" or fnmatch.fnmatchcase(name, fault.step)
            ):
                self._note(index, instance.id, name, count, 0)
                return True
        return False

    def on_wait(self, instance: Instance, record: StepRecord) -> tuple[str, Any] | None:
        """``("event", payload)`` or ``("timeout", None)`` for a mocked wait."""
        for index, fault in self._waits:
            if not self._matches_instance(fault, instance):
                continue
            if fault.step != "*" and not fnmatch.fnmatchcase(record.name, fault.step):
                continue
            if fault.type is not None and fault.type != record.event_type:
                continue
            if fault.occurrence is not None and fault.occurrence != record.count:
                continue
            where = (instance.id, "wait", record.name, record.count)
            if not self._draw(index, fault, *where):
                continue
            self._note(index, instance.id, record.name, record.count, 0)
            if fault.kind == "mock_event":
                return ("event", fault.payload)
            return ("timeout", None)
        return None

    # -- reports -----------------------------------------------------------------

    def report(self) -> pd.DataFrame:
        """One row per fault in the plan: ``fault`` (index), ``kind``,
        ``target``, ``label`` and ``fired`` (how many times it fired), so a
        plan that never fired shows as ``fired == 0``."""
        return pd.DataFrame(
            {
                "fault": list(range(len(self.plan))),
                "kind": [f.kind for f in self.plan],
                "target": [f.describe() for f in self.plan],
                "label": [f.label for f in self.plan],
                "fired": list(self.fired),
            },
            columns=["fault", "kind", "target", "label", "fired"],
        )


class _InjectedNonRetryable(NonRetryableError):
    pass


def _error(fault: Fault, message: str | None = None) -> Exception:
    text = fault.error if message is None else message
    if not fault.retryable:
        return _InjectedNonRetryable(text, name=fault.error_name)
    error = InjectedError(text)
    error.name = fault.error_name
    return error


def _raise(error: BaseException) -> Any:
    raise error


async def _call(body: Callable[..., Any], ctx: Any) -> Any:
    value = body(ctx) if takes_ctx(body) else body()
    if inspect.iscoroutine(value):
        return await value
    return value
