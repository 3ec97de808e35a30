"""The attempt loop of one step or rollback handler.

A :class:`StepRun` runs a body once per attempt, each attempt under its own
timeout, until it succeeds, fails for good, or is cancelled. It is a small
state machine driven by clock callbacks rather than a coroutine of its own:

- an attempt starts (``ATTEMPT_START``), the body runs as a task, and a
  deadline is set ``timeout`` ms ahead;
- the body settles first: success ends the step; a failure schedules the next
  attempt after the backoff delay, measured from the failure instant, unless
  retries are used up or the error is non-retryable;
- the deadline comes first: the body is cancelled where it waits, its result
  can never be recorded, and the attempt fails with
  :class:`~sagasim.errors.WorkflowTimeoutError`, which is retried like any
  other failure.

Every state change is written to the step's durable record before anything
else can happen, so that a crash at any instant leaves a record that a replay
can continue from.
"""

from __future__ import annotations

import inspect
import json
import math
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from sagasim.durations import DurationError, parse_duration
from sagasim.engine.clock import DEADLINE
from sagasim.engine.config import StepConfig
from sagasim.engine.futures import Future, Scope, Task
from sagasim.engine.store import (
    CANCELLED,
    FAILURE,
    ROLLBACK,
    SUCCESS,
    UNCACHED,
    StepRecord,
)
from sagasim.errors import (
    UNDEFINED,
    Cancelled,
    NonRetryableDelayError,
    WorkflowFatalError,
    WorkflowInternalError,
    WorkflowTimeoutError,
    error_name,
    is_non_retryable,
)

if TYPE_CHECKING:
    from sagasim.engine.instance import Lifetime

__all__ = [
    "MAX_OUTPUT_BYTES",
    "AttemptInfo",
    "StepContext",
    "StepInfo",
    "StepRun",
    "encode_output",
]

MAX_OUTPUT_BYTES = 1024 * 1024
DYNAMIC_DELAY_TIMEOUT_MS = 5_000


class StepInfo:
    """``ctx.step``: the step's ``name`` and ``count`` (1-based occurrence)."""

    __slots__ = ("name", "count")

    def __init__(self, name: str, count: int) -> None:
        self.name = name
        self.count = count

    def __repr__(self) -> str:
        return f"StepInfo(name={self.name!r}, count={self.count})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StepInfo):
            return (self.name, self.count) == (other.name, other.count)
        if isinstance(other, dict):
            return other == {"name": self.name, "count": self.count}
        return NotImplemented


class AttemptInfo(NamedTuple):
    """Which attempt is running: what ``sagasim.current_attempt()`` returns.

    For a rollback handler, ``step`` and ``count`` are the forward step's and
    ``rollback`` is true.
    """

    instance: str
    step: str
    count: int
    attempt: int
    rollback: bool


class StepContext:
    """What a step body receives.

    ``step`` (name and count), ``attempt`` (1-based), ``config`` (the resolved
    config as a fresh dict on each access, so changing it has no effect) and
    ``instance_id``, for building idempotency keys.
    """

    __slots__ = ("step", "attempt", "_config", "instance_id")

    def __init__(
        self, step: StepInfo, attempt: int, config: StepConfig, instance_id: str
    ) -> None:
        self.step = step
        self.attempt = attempt
        self._config = config
        self.instance_id = instance_id

    @property
    def config(self) -> dict[str, Any]:
        return self._config.as_dict()

    def __repr__(self) -> str:
        return (
            f"StepContext(step={self.step!r}, attempt={self.attempt}, "
            f"instance_id={self.instance_id!r})"
        )


_ARITY: dict[object, bool] = {}


def takes_ctx(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` takes a positional argument; remembered per code object."""
    code = getattr(fn, "__code__", None)
    key = code if code is not None else fn
    known = _ARITY.get(key)
    if known is not None:
        return known
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        takes = True
    else:
        takes = any(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
            for p in params
        )
    if code is not None:
        _ARITY[key] = takes
    return takes


def encode_output(value: Any) -> str:
    """The JSON text of a step output; raises fatally if it cannot be stored.

    ``UNDEFINED`` is stored as an empty string, which no JSON text is.
    """
    if value is None:
        return "null"
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str and len(value) < 1024:
        return json.dumps(value, ensure_ascii=False)
    if value is UNDEFINED:
        return ""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise WorkflowFatalError(
            f"step output is not serialisable as JSON: {exc}"
        ) from None
    if len(text) > MAX_OUTPUT_BYTES // 4 and len(text.encode()) > MAX_OUTPUT_BYTES:
        raise WorkflowFatalError(
            f"step output is {len(text.encode())} bytes of JSON; the limit is 1 MiB"
        )
    return text


def decode_output(text: str | None) -> Any:
    if text is None or text == "":
        return UNDEFINED
    if text == "null":
        return None
    return json.loads(text)


class StepRun:
    """The live attempt loop of one step or rollback handler in one lifetime.

    ``future`` settles with the output or the final error. ``body`` is called
    as ``body(ctx)`` (or ``body()`` if it takes no argument); for a rollback
    handler it is a closure over the handler's arguments.
    """

    __slots__ = (
        "life",
        "record",
        "body",
        "config",
        "future",
        "events",
        "_scope",
        "_task",
        "_deadline",
        "_timer",
        "active",
    )

    def __init__(
        self,
        life: Lifetime,
        record: StepRecord,
        body: Callable[..., Any],
        config: StepConfig,
    ) -> None:
        self.life = life
        self.record = record
        self.body = body
        self.config = config
        self.future = Future()
        self.events = _ROLLBACK_EVENTS if record.kind == ROLLBACK else _STEP_EVENTS
        self._scope: Scope | None = None
        self._task: Future | None = None
        self._deadline = None
        self._timer = None
        self.active = True

    def begin(self) -> None:
        """Start, or continue from what the durable record says."""
        record = self.record
        if record.in_flight:
            # The engine crashed during this attempt: it counts as failed and
            # the next one follows the backoff from now.
            record.in_flight = False
            self._failed(
                WorkflowInternalError(
                    f"attempt {record.attempts} was interrupted by an engine crash"
                )
            )
        elif record.wake_ms is not None:
            self._wait_until(record.wake_ms)
        else:
            self._attempt()

    def _wait_until(self, wake_ms: int) -> None:
        clock = self.life.clock
        self._timer = clock.call_later(max(0, wake_ms - clock.now_ms()), self._attempt)

    def _attempt(self) -> None:
        self._timer = None
        life = self.life
        if life.pausing:
            life.blocked.append(self._attempt)
            return
        record = self.record
        record.attempts += 1
        record.in_flight = True
        record.wake_ms = None
        attempt = record.attempts
        life.attempt_started(self)
        life.trace(self.events[0], record, attempt)

        ctx = StepContext(
            StepInfo(record.name, record.count), attempt, self.config, life.instance.id
        )
        body = self.body
        faults = life.host.faults
        if faults is not None:
            body = faults.wrap_attempt(
                life.instance, record, attempt, self.config.timeout_ms, body
            )
        scope = self._scope = Scope(
            AttemptInfo(
                life.instance.id,
                record.name,
                record.count,
                attempt,
                record.kind == ROLLBACK,
            )
        )
        try:
            value = body(ctx) if takes_ctx(body) else body()
        except Exception as exc:  # noqa: BLE001 - a failed attempt
            self._settle_attempt(None, exc)
            return
        if not inspect.iscoroutine(value):
            self._settle_attempt(value, None)
            return
        task = Task(value, life.clock, scope)
        if task.done():
            self._settle_attempt(task._result, task._error)
            return
        self._task = task
        self._deadline = life.clock.call_later(
            self.config.timeout_ms, self._on_deadline, DEADLINE
        )
        task.add_done_callback(self._on_body_done)

    def _on_body_done(self, task: Future) -> None:
        if task is not self._task:
            return
        self._task = None
        self._deadline.cancel()
        self._deadline = None
        self._settle_attempt(task._result, task._error)

    def _on_deadline(self) -> None:
        task = self._task
        self._task = None
        self._deadline = None
        task.remove_done_callback(self._on_body_done)
        self._scope.cancel()
        self._settle_attempt(
            None,
            WorkflowTimeoutError(
                f"Execution timed out after {self.config.timeout_ms}ms"
            ),
        )

    def _settle_attempt(self, value: Any, error: BaseException | None) -> None:
        self.record.in_flight = False
        self._scope = None
        self.life.attempt_ended(self)
        if error is None:
            self._succeeded(value)
        else:
            self._failed(error)

    def _succeeded(self, value: Any) -> None:
        record = self.record
        life = self.life
        if record.kind != ROLLBACK:
            try:
                record.output_json = encode_output(value)
            except WorkflowFatalError as exc:
                self.active = False
                life.instance.fail_fatally(exc)
                return
        record.status = SUCCESS
        self.active = False
        life.untrack(self)
        life.trace(self.events[1], record, record.attempts)
        life.trace(self.events[3], record)
        faults = life.host.faults
        if faults is not None and record.kind != ROLLBACK:
            faults.after_persist(life.instance, record)
        self.future.set_result(value)

    def _failed(self, error: BaseException) -> None:
        record = self.record
        config = self.config
        attempts = record.attempts
        if is_non_retryable(error) or attempts > config.limit:
            self._give_up(error)
        elif config.delay_fn is not None:
            self._dynamic_delay(error)
        else:
            self._retry_after(self._delay(None), error)

    def _delay(self, base: int | None) -> int:
        record = self.record
        config = self.config
        if config.jitter == "none":
            return config.retry_delay(record.attempts, base)
        # One draw per attempt, seeded by where it is, so that a replay after
        # a crash draws the same wait.
        life = self.life
        draw = random.Random(
            f"{life.host.seed}:jitter:{life.instance.id}:{record.kind}:"
            f"{record.name}:{record.count}:{record.attempts}"
        ).random()
        delay = config.retry_delay(record.attempts, base, draw, record.last_delay)
        record.last_delay = delay
        return delay

    def _retry_after(self, delay: int, error: BaseException) -> None:
        record = self.record
        life = self.life
        faults = life.host.faults
        if faults is not None:
            delay = faults.retry_delay(life.instance, record, delay)
        record.wake_ms = life.clock.now_ms() + delay
        life.trace(
            self.events[2], record, record.attempts, error, {"retryDelayMs": delay}
        )
        self._wait_until(record.wake_ms)

    def _give_up(self, error: BaseException) -> None:
        record = self.record
        life = self.life
        self.active = False
        life.untrack(self)
        life.trace(self.events[2], record, record.attempts, error)
        life.trace(self.events[4], record, 0, error)
        # A step's non-retryable error is not cached, as in the reference: a
        # replay runs the step again. A handler that failed for good stays
        # failed.
        uncached = is_non_retryable(error) and record.kind != ROLLBACK
        record.status = UNCACHED if uncached else FAILURE
        record.error = error
        self.future.set_exception(error)

    def _dynamic_delay(self, error: BaseException) -> None:
        """Ask the config's delay function for the base of the next wait.

        It runs once per failure, with a 5 s timeout; an error, a timeout or
        a value that is not a non-negative duration ends the retries with
        :class:`~sagasim.errors.NonRetryableDelayError`.
        """
        record = self.record
        life = self.life
        ctx = StepContext(
            StepInfo(record.name, record.count),
            record.attempts,
            self.config,
            life.instance.id,
        )
        state = {"done": False}

        def give_up(message: str) -> None:
            self._timer = None
            state["done"] = True
            self._give_up(NonRetryableDelayError(message))

        def use(value: Any) -> None:
            if state["done"]:
                return
            state["done"] = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            try:
                base = _delay_value(value)
            except DurationError as exc:
                self._give_up(NonRetryableDelayError(f"dynamic delay: {exc}"))
                return
            self._retry_after(self._delay(base), error)

        try:
            value = self.config.delay_fn({"ctx": ctx, "error": error})
        except Exception as exc:  # noqa: BLE001
            give_up(f"dynamic delay raised {error_name(exc)}: {exc}")
            return
        if not inspect.iscoroutine(value):
            use(value)
            return
        task = Task(value, life.clock, Scope())
        if task.done():
            if task._error is not None:
                give_up(f"dynamic delay raised {error_name(task._error)}")
            else:
                use(task._result)
            return

        def settled(task: Future) -> None:
            if task._error is not None:
                if not state["done"]:
                    if self._timer is not None:
                        self._timer.cancel()
                    give_up(f"dynamic delay raised {error_name(task._error)}")
            else:
                use(task._result)

        def timed_out() -> None:
            task.remove_done_callback(settled)
            task.cancel()
            give_up("dynamic delay timed out after 5000ms")

        self._timer = life.clock.call_later(
            DYNAMIC_DELAY_TIMEOUT_MS, timed_out, DEADLINE
        )
        task.add_done_callback(settled)

    def interrupt_wait(self) -> None:
        """Stop a retry delay now; it goes on, to the same durable wake time,
        when the instance's block on new work lifts."""
        if self._timer is not None and self.record.wake_ms is not None:
            self._timer.cancel()
            self._timer = None
            self.life.blocked.append(lambda: self._wait_until(self.record.wake_ms))

    def abort(self) -> None:
        """Drop all live work, leaving the durable record as it is (a crash)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        task = self._task
        if task is not None:
            self._task = None
            task.remove_done_callback(self._on_body_done)
        if self._scope is not None:
            self._scope.cancel()
            self._scope = None
        self.active = False

    def cancel(self) -> None:
        """Stop the step for good: no more attempts, its handler sees no output.

        The side effects its attempts already made stay where they landed.
        """
        if not self.active:
            return
        in_flight = self.record.in_flight
        self.abort()
        record = self.record
        record.in_flight = False
        record.wake_ms = None
        record.status = CANCELLED
        self.life.untrack(self)
        self.life.trace("STEP_CANCELLED", record)
        if in_flight:
            self.life.attempt_ended(self)
        self.future.set_exception(Cancelled(f"step {record.name!r} was cancelled"))


def _delay_value(value: Any) -> int:
    if isinstance(value, float) and math.isnan(value):
        raise DurationError("expected a non-negative duration, got nan")
    return parse_duration(value)


_STEP_EVENTS = (
    "ATTEMPT_START",
    "ATTEMPT_SUCCESS",
    "ATTEMPT_FAILURE",
    "STEP_SUCCESS",
    "STEP_FAILURE",
)
_ROLLBACK_EVENTS = (
    "ROLLBACK_ATTEMPT_START",
    "ROLLBACK_ATTEMPT_SUCCESS",
    "ROLLBACK_ATTEMPT_FAILURE",
    "ROLLBACK_STEP_SUCCESS",
    "ROLLBACK_STEP_FAILURE",
)
