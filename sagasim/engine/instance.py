"""Instances: their lifecycle, and the engine's memory of them.

An :class:`Instance` is the handle users hold, and it owns the durable
:class:`~sagasim.engine.store.InstanceStore`. A :class:`Lifetime` is what the
engine keeps in memory while it runs the instance: the ``run()`` coroutine,
live steps and timers, the rollback handler registry. A crash throws the
lifetime away; the next lifetime replays ``run()`` from the top against the
store.

Statuses: ``queued`` (waiting for a concurrency slot), ``running``,
``waiting`` (only sleeps or event waits pending), ``waitingForPause``,
``paused``, and the terminal ``complete``, ``errored`` and ``terminated``.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from sagasim.durations import DurationError, parse_duration
from sagasim.engine.attempts import StepRun, decode_output, encode_output
from sagasim.engine.clock import COMPLETION, CRASH, DEADLINE
from sagasim.engine.config import StepConfig, resolve_config, validate_name
from sagasim.engine.futures import Future, Scope, Task, _Abort
from sagasim.engine.rollback import run_rollbacks
from sagasim.engine.store import (
    CANCELLED,
    DO,
    FAILURE,
    RUNNING,
    SLEEP,
    SUCCESS,
    UNCACHED,
    WAIT,
    InstanceStore,
    StepRecord,
)
from sagasim.engine.workflow import Step, Workflow
from sagasim.errors import (
    Terminated,
    WorkflowFatalError,
    WorkflowTimeoutError,
    error_info,
)

__all__ = ["TERMINAL", "Instance", "Lifetime"]

TERMINAL = frozenset({"complete", "errored", "terminated"})
MAX_SLEEP_MS = 365 * 86_400_000
DEFAULT_WAIT_TIMEOUT_MS = 86_400_000
_KINDS = {"do": DO, "sleep": SLEEP, "waitForEvent": WAIT}


def _settled(value: Any = None, error: BaseException | None = None) -> Future:
    future = Future()
    if error is None:
        future.set_result(value)
    else:
        future.set_exception(error)
    return future


class Lifetime:
    """The engine's memory of one instance from a (re)start to a crash.

    In ``rebuild`` mode it replays ``run()`` only to collect rollback
    handlers: completed steps return their cached outputs, failed ones raise
    their errors, and anything unfinished never resolves, so nothing runs and
    no time passes.
    """

    __slots__ = (
        "instance",
        "store",
        "host",
        "clock",
        "_now",
        "_record",
        "scope",
        "rollback_scope",
        "counts",
        "registry",
        "pending_handlers",
        "runs",
        "timers",
        "waiters",
        "blocked",
        "step_calls",
        "attempts_in_flight",
        "waits_pending",
        "pausing",
        "closing",
        "rebuild",
        "resume_in_flight",
        "dead",
        "run_task",
    )

    def __init__(self, instance: Instance, *, rebuild: bool = False) -> None:
        self.instance = instance
        self.store = instance.store
        self.host = instance.host
        self.clock = instance.host.clock
        self._now = self.clock.now_ms
        self._record = instance.host.recorder.record
        self.scope = Scope()
        self.rollback_scope = Scope()
        self.counts: dict[tuple[str, str], int] = {}
        self.registry: dict[
            tuple[str, str, int], tuple[Callable, StepConfig | None]
        ] = {}
        self.pending_handlers: dict[
            tuple[str, str, int], tuple[Callable, StepConfig | None]
        ] = {}
        self.runs: dict[tuple[str, str, int], StepRun] = {}
        self.timers: dict[tuple[str, str, int], tuple[Any, Callable[[], None]]] = {}
        self.waiters: dict[str, list[tuple[StepRecord, Future]]] = {}
        self.blocked: list[Callable[[], None]] = []
        self.step_calls = 0
        self.attempts_in_flight = 0
        self.waits_pending = 0
        self.pausing = False
        self.closing = False
        self.rebuild = rebuild
        self.resume_in_flight = False
        self.dead = False
        self.run_task: Task | None = None

    # -- trace -------------------------------------------------------------

    def trace(
        self,
        event: str,
        record: StepRecord,
        attempt: int = 0,
        error: BaseException | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self._record(
            self._now(),
            self.instance.id,
            event,
            record.name,
            record.count,
            attempt,
            error,
            detail,
        )

    def trace_instance(
        self,
        event: str,
        error: BaseException | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.instance.trace(event, error, detail)

    # -- running run() -------------------------------------------------------

    def start_run(self) -> None:
        """Call ``run()`` from the top; its outcome ends the instance."""
        instance = self.instance
        workflow = instance.workflow()
        workflow.env = self.host.bindings
        workflow.sim = self.host
        event = {
            "payload": instance.params,
            "timestamp": self.host.datetime_at(instance.created_ms),
            "instance_id": instance.id,
        }
        coro = workflow.run(event, Step(self))
        if not inspect.iscoroutine(coro):
            instance.fail_fatally(
                WorkflowFatalError(
                    f"{instance.workflow.__name__}.run() must be an async def method"
                )
            )
            return
        self.run_task = Task(coro, self.clock, self.scope)
        if not self.rebuild:
            self.run_task.add_done_callback(self._run_settled)

    def rebuild_registry(self) -> None:
        """Replay ``run()`` without running anything, to collect handlers."""
        self.start_run()
        self.scope.cancel()
        self.rebuild = False

    def _run_settled(self, task: Future) -> None:
        if self.dead or self.closing:
            # The engine itself ended run(): a crash, a terminate, a fatal error.
            return
        instance = self.instance
        if task._error is None:
            try:
                encode_output(task._result)
            except WorkflowFatalError as exc:
                instance.fail_fatally(exc)
                return
            instance.complete(task._result)
        else:
            instance.fail_terminally(task._error)

    def start_rollback(self) -> None:
        """Start the rollback executor; new steps are refused from now on."""
        self.closing = True
        Task(run_rollbacks(self), self.clock, self.rollback_scope)

    def drain_then_roll_back(self) -> None:
        """Wait for the steps still in flight to settle, then roll back."""
        pending = [run.future for run in self.runs.values() if run.record.kind == DO]
        self.closing = True
        remaining = len(pending)
        if remaining == 0:
            self.start_rollback()
            return

        def settled(_: Future) -> None:
            nonlocal remaining
            remaining -= 1
            if remaining == 0 and not self.dead:
                self.start_rollback()

        for future in pending:
            future.add_done_callback(settled)

    def cancel_in_flight(self) -> None:
        """Cancel the tasks of ``run()`` and every forward step still running;
        the steps' handlers will see no output."""
        self.closing = True
        self.scope.cancel()
        for run in list(self.runs.values()):
            if run.record.kind == DO:
                run.cancel()
        self._drop_timers()
        self.waiters.clear()

    def abort(self) -> None:
        """Forget everything live, as a crash does; the store is untouched."""
        self.dead = True
        for run in list(self.runs.values()):
            run.abort()
        self.runs.clear()
        self.scope.cancel()
        self.rollback_scope.cancel()
        self._drop_timers()
        self.waiters.clear()
        self.blocked.clear()

    def _drop_timers(self) -> None:
        for handle, _ in self.timers.values():
            handle.cancel()
        self.timers.clear()

    # -- bookkeeping used by StepRun -----------------------------------------

    def track(self, run: StepRun) -> None:
        """Keep ``run`` among the live steps until it settles."""
        self.runs[run.record.key] = run

    def untrack(self, run: StepRun) -> None:
        key = run.record.key
        if self.runs.get(key) is run:
            del self.runs[key]

    def attempt_started(self, run: StepRun) -> None:
        self.attempts_in_flight += 1
        key = run.record.key
        handler = self.pending_handlers.pop(key, None)
        if handler is not None:
            self.registry[key] = handler
            run.record.has_rollback = True

    def attempt_ended(self, run: StepRun) -> None:
        self.attempts_in_flight -= 1
        if self.pausing and self.attempts_in_flight == 0 and not self.dead:
            self.clock.call_later(0, self.instance.complete_pause)

    def _next_count(self, kind: str, name: str) -> int:
        key = (kind, name)
        count = self.counts.get(key, 0) + 1
        self.counts[key] = count
        return count

    def _refuse_if_dead(self) -> None:
        if self.dead:
            raise _Abort()

    def _fatal(self, error: WorkflowFatalError) -> None:
        self.instance.fail_fatally(error)
        raise _Abort() from None

    # -- step.do ---------------------------------------------------------------

    def do(
        self,
        name: str,
        body: Callable[..., Any],
        config: Any,
        rollback: Callable[..., Any] | None,
        rollback_config: Any,
    ) -> Future:
        self._refuse_if_dead()
        try:
            validate_name(name)
            if not callable(body):
                raise WorkflowFatalError(
                    f"step {name!r}: the body must be callable, got {body!r}"
                )
            if rollback is not None and not callable(rollback):
                raise WorkflowFatalError(
                    f"step {name!r}: rollback must be callable, got {rollback!r}"
                )
            config = resolve_config(config, name=name)
            handler_config = (
                None
                if rollback_config is None
                else resolve_config(rollback_config, name=name, rollback=True)
            )
            self.step_calls += 1
            limit = self.host.step_limit
            if self.step_calls > limit:
                raise WorkflowFatalError(
                    f"step {name!r} is step {self.step_calls}; the instance's "
                    f"step limit is {limit}"
                )
        except WorkflowFatalError as exc:
            self._fatal(exc)

        count = self._next_count(DO, name)
        key = (DO, name, count)
        if self.closing:
            return _settled(
                error=RuntimeError(
                    f"step {name!r} was called after the workflow failed; "
                    "it did not run"
                )
            )
        store = self.store
        record = store.records.get(key)
        if self.rebuild:
            return self._rebuild_do(record, body, rollback, handler_config)

        if record is not None:
            if rollback is not None and record.attempts > 0:
                self.registry[key] = (rollback, handler_config)
                record.has_rollback = True
            elif rollback is not None:
                self.pending_handlers[key] = (rollback, handler_config)
            if record.status == SUCCESS:
                self.trace("STEP_REPLAYED", record)
                return _settled(decode_output(record.output_json))
            if record.status == FAILURE:
                self.trace("STEP_REPLAYED", record, 0, record.error)
                return _settled(error=record.error)
            if record.status == UNCACHED:
                record.status = RUNNING
                record.error = None
            config = record.config
        else:
            # The start sequence is taken now, at call time, even if a pause
            # holds the start back.
            record = StepRecord(
                DO, name, count, self.host.next_seq(), self.clock.now_ms(), config
            )
            run = StepRun(self, record, body, config)
            self.track(run)

            def start() -> None:
                record.start_ms = self.clock.now_ms()
                store.records[key] = record
                self.trace("STEP_START", record)
                if rollback is not None:
                    self.pending_handlers[key] = (rollback, handler_config)
                run.begin()

            if self.pausing:
                self.blocked.append(start)
            else:
                start()
            return run.future

        run = StepRun(self, record, body, config)
        self.track(run)
        run.begin()
        return run.future

    def _rebuild_do(
        self,
        record: StepRecord | None,
        body: Callable[..., Any],
        rollback: Callable[..., Any] | None,
        handler_config: StepConfig | None,
    ) -> Future:
        if record is None or record.attempts == 0:
            return Future()
        if rollback is not None:
            self.registry[record.key] = (rollback, handler_config)
        if record.status == SUCCESS:
            return _settled(decode_output(record.output_json))
        if record.status in (FAILURE, UNCACHED):
            return _settled(error=record.error)
        if record.status == RUNNING and self.resume_in_flight:
            # A step that was still running when run() failed, under the
            # "drain" or "race" policy: it goes on from its record, its
            # interrupted attempt counted as failed.
            run = StepRun(self, record, body, record.config)
            self.track(run)
            run.begin()
            return run.future
        return Future()

    # -- sleeps ----------------------------------------------------------------

    def sleep(self, name: str, duration: Any) -> Future:
        self._refuse_if_dead()
        try:
            validate_name(name)
            try:
                ms = parse_duration(duration)
            except DurationError as exc:
                raise WorkflowFatalError(f"sleep {name!r}: {exc}") from None
            if ms > MAX_SLEEP_MS:
                raise WorkflowFatalError(
                    f"sleep {name!r}: {ms}ms is longer than the 365-day limit"
                )
        except WorkflowFatalError as exc:
            self._fatal(exc)
        return self._sleep(name, lambda now: now + ms, ms)

    def sleep_until(self, name: str, when: Any) -> Future:
        self._refuse_if_dead()
        try:
            validate_name(name)
            epoch_ms = _epoch_ms(when)
        except WorkflowFatalError as exc:
            self._fatal(WorkflowFatalError(f"sleep_until {name!r}: {exc}"))
        target = epoch_ms - self.host.epoch_ms
        return self._sleep(name, lambda now: target, None, when)

    def _sleep(
        self,
        name: str,
        wake_at: Callable[[int], int],
        duration_ms: int | None,
        when: Any = None,
    ) -> Future:
        count = self._next_count(SLEEP, name)
        key = (SLEEP, name, count)
        record = self.store.records.get(key)
        if record is not None and record.status == SUCCESS:
            return _settled(None)
        if self.rebuild or self.closing:
            return Future()
        now = self.clock.now_ms()
        if record is None:
            wake = wake_at(now)
            faults = self.host.faults
            if faults is not None and faults.sleep_disabled(self.instance, name, count):
                wake = now
            if wake < now:
                return _settled(
                    error=ValueError(
                        f"sleep_until {name!r}: {when!r} is already in the past"
                    )
                )
            record = StepRecord(SLEEP, name, count, self.host.next_seq(), now)
            record.wake_ms = wake
            self.store.records[key] = record
            self.trace("SLEEP_START", record, detail={"durationMs": wake - now})
        future = Future()
        self._arm_sleep(record, future)
        return future

    def _arm_sleep(self, record: StepRecord, future: Future) -> None:
        if self.pausing:
            self.blocked.append(lambda: self._arm_sleep(record, future))
            return
        key = record.key
        self.waits_pending += 1

        def wake() -> None:
            del self.timers[key]
            self.waits_pending -= 1
            record.status = SUCCESS
            self.trace("SLEEP_COMPLETE", record)
            future.set_result(None)

        delay = max(0, record.wake_ms - self.clock.now_ms())
        handle = self.clock.call_later(delay, wake)
        self.timers[key] = (handle, lambda: self._rearm(record, future))

    def _rearm(self, record: StepRecord, future: Future) -> None:
        if record.status != RUNNING:
            # Settled while it was held back (an event delivered from the
            # buffer); there is nothing left to wait for.
            return
        self.waits_pending -= 1
        if record.kind == SLEEP:
            self._arm_sleep(record, future)
            return
        waiters = self.waiters.get(record.event_type)
        if waiters and (record, future) in waiters:
            waiters.remove((record, future))
        self._arm_wait(record, future)

    # -- events ------------------------------------------------------------------

    def wait_for_event(self, name: str, event_type: str, timeout: Any) -> Future:
        self._refuse_if_dead()
        try:
            validate_name(name)
            if not isinstance(event_type, str):
                raise WorkflowFatalError(
                    f"wait_for_event {name!r}: type must be a string, "
                    f"got {event_type!r}"
                )
            if not timeout:
                timeout_ms = DEFAULT_WAIT_TIMEOUT_MS
            else:
                try:
                    timeout_ms = parse_duration(timeout)
                except DurationError as exc:
                    raise WorkflowFatalError(
                        f"wait_for_event {name!r}: timeout: {exc}"
                    ) from None
        except WorkflowFatalError as exc:
            self._fatal(exc)

        count = self._next_count(WAIT, name)
        key = (WAIT, name, count)
        store = self.store
        record = store.records.get(key)
        if record is not None and record.status == SUCCESS:
            return _settled(record.result)
        if record is not None and record.status == FAILURE:
            return _settled(error=record.error)
        if self.rebuild:
            return Future()
        if self.closing:
            return _settled(
                error=RuntimeError(
                    f"wait_for_event {name!r} was called after the workflow failed"
                )
            )
        if record is None:
            now = self.clock.now_ms()
            record = StepRecord(WAIT, name, count, self.host.next_seq(), now)
            record.wake_ms = now + timeout_ms
            record.event_type = event_type
            store.records[key] = record
            self.trace(
                "WAIT_START",
                record,
                detail={"type": event_type, "timeoutMs": timeout_ms},
            )
        future = Future()
        faults = self.host.faults
        mocked = None if faults is None else faults.on_wait(self.instance, record)
        if mocked is not None:
            what, payload = mocked
            if what == "event":
                event = {
                    "payload": payload,
                    "timestamp": self.host.datetime_at(self.clock.now_ms()),
                    "type": record.event_type,
                }
                self._deliver(record, future, event)
            else:
                self._time_out(record, future)
            return future
        buffered = store.events.get(record.event_type)
        if buffered:
            self._deliver(record, future, buffered.popleft())
            return future
        self._arm_wait(record, future)
        return future

    def _arm_wait(self, record: StepRecord, future: Future) -> None:
        if self.pausing:
            self.blocked.append(lambda: self._arm_wait(record, future))
            return
        buffered = self.store.events.get(record.event_type)
        if buffered:
            self._deliver(record, future, buffered.popleft())
            return
        key = record.key
        waiters = self.waiters.setdefault(record.event_type, [])
        waiters.append((record, future))
        self.waits_pending += 1

        def time_out() -> None:
            del self.timers[key]
            self.waits_pending -= 1
            waiters.remove((record, future))
            self._time_out(record, future)

        delay = max(0, record.wake_ms - self.clock.now_ms())
        handle = self.clock.call_later(delay, time_out, DEADLINE)
        self.timers[key] = (handle, lambda: self._rearm(record, future))

    def _time_out(self, record: StepRecord, future: Future) -> None:
        error = WorkflowTimeoutError(
            f"waitForEvent {record.name!r} timed out after "
            f"{record.wake_ms - record.start_ms}ms"
        )
        record.status = FAILURE
        record.error = error
        self.trace("WAIT_TIMED_OUT", record, 0, error)
        future.set_exception(error)

    def offer_event(self, event: dict[str, Any]) -> bool:
        """Hand ``event`` to the oldest live waiter of its type, if any.

        While a pause is coming, waits are held, so the event is buffered
        and the wait takes it when the pause lifts."""
        if self.dead or self.rebuild or self.pausing or self.closing:
            return False
        waiters = self.waiters.get(event["type"])
        if not waiters:
            return False
        record, future = waiters.pop(0)
        handle, _ = self.timers.pop(record.key)
        handle.cancel()
        self.waits_pending -= 1
        self._deliver(record, future, event)
        return True

    def _deliver(
        self, record: StepRecord, future: Future, event: dict[str, Any]
    ) -> None:
        record.status = SUCCESS
        record.result = event
        self.trace("WAIT_COMPLETE", record)
        future.set_result(event)

    # -- pause -----------------------------------------------------------------

    def interrupt_timers(self) -> None:
        """Stop sleeps, event waits and retry delays now; they resume where
        they were, by their durable wake times, when the block lifts."""
        for handle, rearm in list(self.timers.values()):
            handle.cancel()
            self.blocked.append(rearm)
        self.timers.clear()
        for run in self.runs.values():
            run.interrupt_wait()


def _epoch_ms(when: Any) -> int:
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise WorkflowFatalError(
                "expected a timezone-aware datetime or epoch milliseconds, "
                f"got {when!r}"
            )
        return round(when.timestamp() * 1000)
    if isinstance(when, bool) or not isinstance(when, (int, float)):
        raise WorkflowFatalError(
            f"expected a timezone-aware datetime or epoch milliseconds, got {when!r}"
        )
    return round(when)


class Instance:
    """One workflow instance, as ``Simulation.create`` returns it.

    Operations (``pause``, ``resume``, ``terminate``, ``restart``,
    ``send_event``, ``crash``) take effect when the simulation processes
    them, at the current simulated instant; ``crash`` comes after that
    instant's completions and deadlines.
    """

    def __init__(
        self,
        host: Any,
        workflow: type[Workflow],
        params: Any,
        instance_id: str,
        created_ms: int,
    ) -> None:
        self.host = host
        self.workflow = workflow
        self.params = params
        self.id = instance_id
        self.created_ms = created_ms
        self.store = InstanceStore()
        self.life: Lifetime | None = None
        self.holds_slot = False

    # The presentation layer renders instances for Jupyter; the engine only
    # holds the hook, so that it imports nothing from above it.
    html_renderer: ClassVar[Callable[[Instance], str] | None] = None

    def __repr__(self) -> str:
        return f"<Instance {self.id} {self.workflow.workflow_name()} {self.state}>"

    def _repr_html_(self) -> str | None:
        render = Instance.html_renderer
        return None if render is None else render(self)

    # -- what users read ---------------------------------------------------------

    @property
    def state(self) -> str:
        """The status name alone."""
        status = self.store.status
        life = self.life
        if (
            status == "running"
            and life is not None
            and life.waits_pending > 0
            and life.attempts_in_flight == 0
            and not life.runs
        ):
            return "waiting"
        return status

    def status(self) -> dict[str, Any]:
        """``{"status", "output", "error"}``, and ``"rollback"`` with the
        handlers' outcome (``status``, ``total``, ``completed``) once a
        rollback ran. ``error`` is the failure that ended ``run()``, never a
        handler's."""
        store = self.store
        result: dict[str, Any] = {
            "status": self.state,
            "output": store.output,
            "error": error_info(store.error) if store.error is not None else None,
        }
        if store.rollback_summary is not None:
            result["rollback"] = dict(store.rollback_summary)
        return result

    @property
    def rollbacks(self) -> list[dict[str, Any]]:
        """One record per handler run, in the order they ran: ``step``,
        ``count``, ``status`` (success, failure or missing), ``attempts``,
        ``error``, ``output_undefined``, ``start`` and ``end`` (seconds)."""
        return [dict(entry) for entry in self.store.rollback_log]

    # -- operations ----------------------------------------------------------------

    def pause(self) -> None:
        """Pause: no new steps start, sleeps, waits and retry delays stop at
        once, and the instance is ``paused`` as soon as no attempt is in
        flight (``waitingForPause`` until then). Does nothing unless running."""
        self._soon(self._pause)

    def resume(self) -> None:
        """Resume a paused instance; its timers are shifted by the time it
        spent paused. From ``waitingForPause`` it simply carries on."""
        self._soon(self._resume)

    def terminate(self, rollback: bool = False) -> None:
        """End the instance as ``terminated``, after running its rollback
        handlers with an error named ``Terminated`` if ``rollback``.

        Raises:
            ValueError: at once, if the instance has already ended.
        """
        if self.store.status in TERMINAL:
            raise ValueError(
                f"instance {self.id} is {self.store.status}; it cannot be terminated"
            )
        self._soon(lambda: self._terminate(rollback))

    def restart(self, from_step: str | dict[str, Any] | None = None) -> None:
        """Start again: from scratch, or from ``from_step`` (a name, or
        ``{"name", "count": 1, "type": "do" | "sleep" | "waitForEvent"}``),
        keeping what ran before that step cached.

        Raises:
            ValueError: at once, if ``from_step`` is not in the history.
        """
        seq = None if from_step is None else self._find_step(from_step)
        self._soon(lambda: self._restart(seq))

    def send_event(self, type: str, payload: Any = None) -> None:
        """Deliver an event to a ``wait_for_event`` of this ``type``, or buffer
        it, first in first out, until one waits."""
        if not isinstance(type, str):
            raise TypeError(f"an event type must be a string, got {type!r}")
        try:
            encode_output(payload)
        except WorkflowFatalError as exc:
            raise ValueError(f"event payload: {exc}") from None
        if self.store.status in TERMINAL:
            raise ValueError(f"instance {self.id} is {self.store.status}")
        self._soon(lambda: self._send_event(type, payload))

    def crash(self, restart_after: Any = 0) -> None:
        """Crash the engine under this instance: all it holds in memory is
        lost, durable state survives, and ``run()`` replays after
        ``restart_after`` (ms or a duration string)."""
        delay = parse_duration(restart_after)
        self.host.clock.call_later(0, lambda: self._crash(delay), CRASH)

    # -- internals: transitions ----------------------------------------------------

    def trace(
        self,
        event: str,
        error: BaseException | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.host.recorder.record(
            self.host.clock.now_ms(), self.id, event, "", 0, 0, error, detail
        )

    def _soon(self, action: Callable[[], None]) -> None:
        self.host.clock.call_later(0, action, COMPLETION)

    def enqueue(self) -> None:
        """Called once at creation: queue for a concurrency slot."""
        self.trace(
            "WORKFLOW_QUEUED", detail={"workflow": self.workflow.workflow_name()}
        )
        self.host.request_slot(self)

    def start(self) -> None:
        """Called by the host when this instance gets a concurrency slot."""
        store = self.store
        self.holds_slot = True
        store.status = "running"
        self.trace("WORKFLOW_START")
        if store.phase == "rollback":
            self._start_rollback_lifetime(None)
            return
        life = self.life = Lifetime(self)
        life.start_run()

    def _release(self) -> None:
        if self.holds_slot:
            self.holds_slot = False
            self.host.release_slot(self)
        else:
            self.host.withdraw(self)

    def _end(self, status: str) -> None:
        store = self.store
        store.status = status
        store.phase = "ended"
        # Dropping the lifetime breaks the instance <-> lifetime cycle, so an
        # ended instance's memory is freed without the cyclic collector.
        self.life = None
        self._release()

    def complete(self, output: Any) -> None:
        life = self.life
        if life is not None:
            life.cancel_in_flight()
            life.abort()
        store = self.store
        store.output = output
        self.trace("WORKFLOW_SUCCESS")
        self._end("complete")

    def fail_fatally(self, error: WorkflowFatalError) -> None:
        """End errored at once, with no rollback."""
        if self.store.phase == "ended":
            return
        if self.life is not None:
            self.life.abort()
        self.store.error = error
        self.trace("WORKFLOW_FAILURE", error, {"fatal": True})
        self._end("errored")

    def fail_terminally(self, error: BaseException) -> None:
        """``run()`` failed: roll back by the in-flight policy, then end."""
        store = self.store
        life = self.life
        store.phase = "rollback"
        store.terminal_error = error
        if life.pausing:
            # A pause that was coming does not hold up the rollback: what it
            # held back goes on as if it had never come, then the in-flight
            # policy applies to it like to any other step.
            life.pausing = False
            store.status = "running"
            blocked, life.blocked = life.blocked, []
            for action in blocked:
                action()
        policy = self.host.inflight
        if policy == "cancel":
            life.cancel_in_flight()
            life.start_rollback()
        elif policy == "drain":
            life.drain_then_roll_back()
        else:
            life.start_rollback()

    def end_after_rollback(self) -> None:
        store = self.store
        life = self.life
        if life is not None and self.host.inflight != "race":
            life.abort()
        if store.terminating:
            self.trace("WORKFLOW_TERMINATED")
            self._end("terminated")
        else:
            store.error = store.terminal_error
            self.trace("WORKFLOW_FAILURE", store.error)
            self._end("errored")

    def _start_rollback_lifetime(self, registry: dict | None) -> None:
        """Roll back in a fresh lifetime, rebuilding the handlers by replay
        when ``registry`` is not at hand (after a crash)."""
        life = self.life = Lifetime(self, rebuild=registry is None)
        policy = self.host.inflight
        resume = policy in ("drain", "race") and not self.store.terminating
        if registry is None:
            life.resume_in_flight = resume
            life.rebuild_registry()
        else:
            life.registry = registry
        if resume and policy == "drain":
            life.drain_then_roll_back()
        else:
            life.start_rollback()

    def _pause(self) -> None:
        store = self.store
        life = self.life
        if store.status != "running" or store.phase != "run" or life is None:
            return
        life.pausing = True
        life.interrupt_timers()
        if life.attempts_in_flight == 0:
            self.complete_pause()
        else:
            store.status = "waitingForPause"

    def complete_pause(self) -> None:
        store = self.store
        life = self.life
        if (
            life is None
            or not life.pausing
            or store.status
            not in (
                "running",
                "waitingForPause",
            )
        ):
            return
        life.abort()
        self.life = None
        store.status = "paused"
        store.paused_at = self.host.clock.now_ms()
        self.trace("WORKFLOW_PAUSED")
        self._release()

    def _resume(self) -> None:
        store = self.store
        if store.status == "waitingForPause":
            life = self.life
            life.pausing = False
            store.status = "running"
            self.trace("WORKFLOW_RESUMED")
            blocked, life.blocked = life.blocked, []
            for action in blocked:
                action()
        elif store.status == "paused":
            shift = self.host.clock.now_ms() - store.paused_at
            for record in store.records.values():
                if record.status == RUNNING and record.wake_ms is not None:
                    record.wake_ms += shift
            store.paused_at = None
            store.status = "queued"
            self.trace("WORKFLOW_RESUMED", detail={"pausedMs": shift})
            self.host.request_slot(self)

    def _terminate(self, rollback: bool) -> None:
        store = self.store
        if store.phase == "ended":
            return
        if store.phase == "rollback" and rollback:
            # Handlers are already running: let them finish, and end the
            # instance terminated rather than run any handler twice.
            store.terminating = True
            return
        summary = store.rollback_summary
        if summary is not None and summary["status"] == "running":
            # The rollback is cut off before its end.
            summary["status"] = "failed"
        registry = None
        life = self.life
        if life is not None:
            registry = None if life.rebuild else life.registry
            # Marked dead first, so that nothing the cancellations set off
            # (a drain that was waiting for them) acts for this lifetime.
            life.dead = True
            life.cancel_in_flight()
            life.abort()
            self.life = None
        for record in store.records.values():
            if record.kind == DO and record.status == RUNNING:
                record.status = CANCELLED
                record.in_flight = False
        if not rollback:
            self.trace("WORKFLOW_TERMINATED")
            self._end("terminated")
            return
        store.phase = "rollback"
        store.terminating = True
        store.terminal_error = Terminated("Instance terminated during rollback")
        # The handlers run now, whatever the instance was doing: a paused or
        # queued instance is running its rollback, so that a crash replays
        # it and a resume does not start it twice.
        if store.status == "paused":
            store.paused_at = None
            self.trace("WORKFLOW_RESUMED", detail={"for": "rollback"})
        store.status = "running"
        self._start_rollback_lifetime(registry)

    def _restart(self, seq: int | None) -> None:
        if self.life is not None:
            self.life.abort()
            self.life = None
        if self.holds_slot:
            self.holds_slot = False
            self.host.release_slot(self)
        else:
            self.host.withdraw(self)
        store = self.store
        if seq is None:
            store.wipe()
        else:
            store.forget_from(seq)
        store.status = "queued"
        self.trace("WORKFLOW_RESTARTED")
        self.host.request_slot(self)

    def _find_step(self, from_step: str | dict[str, Any]) -> int:
        if isinstance(from_step, str):
            name, count, kind = from_step, 1, "do"
        else:
            name = from_step.get("name")
            count = from_step.get("count", 1)
            kind = from_step.get("type", "do")
        record = self.store.records.get((_KINDS.get(kind, kind), name, count))
        if record is None:
            raise ValueError(
                f"step {name!r} (count {count}, type {kind}) not found in "
                f"execution history of instance {self.id}"
            )
        return record.seq

    def _send_event(self, event_type: str, payload: Any) -> None:
        event = {
            "payload": payload,
            "timestamp": self.host.datetime_at(self.host.clock.now_ms()),
            "type": event_type,
        }
        self.trace("EVENT_SENT", detail={"type": event_type})
        life = self.life
        if life is not None and life.offer_event(event):
            return
        self.store.events.setdefault(event_type, deque()).append(event)

    def _crash(self, restart_delay: int) -> None:
        store = self.store
        life = self.life
        if life is None or store.phase == "ended":
            # Nothing is in the engine's memory to lose; the crash is still
            # recorded, so that a fault that hit nothing shows.
            self.trace("ENGINE_CRASH", detail={"live": False})
            return
        life.abort()
        self.life = None
        self.trace("ENGINE_CRASH")
        if store.status == "waitingForPause":
            store.status = "paused"
            store.paused_at = self.host.clock.now_ms()
            self.trace("WORKFLOW_PAUSED")
            self._release()
            return
        self.host.clock.call_later(restart_delay, self._replay)

    def _replay(self) -> None:
        store = self.store
        if self.life is not None or store.phase == "ended" or store.status != "running":
            return
        self.trace("ENGINE_REPLAY")
        if store.phase == "rollback":
            self._start_rollback_lifetime(None)
            return
        life = self.life = Lifetime(self)
        life.start_run()
