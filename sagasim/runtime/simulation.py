"""The SimPy bridge: a seeded simulation that runs workflow instances.

SimPy's environment keeps the clock, in integer milliseconds so that sums of
durations stay exact, and orders all work on its event queue. Each engine
wake-up is a SimPy event scheduled with one of the engine's priorities, so
that at one instant completions run before deadlines and both before
crashes. Coroutines are driven by :class:`~sagasim.engine.futures.Task`
rather than by SimPy processes, which keeps user exceptions off SimPy's
failure path and lets cancellation close a coroutine instead of
interrupting it.
"""

from __future__ import annotations

import gc
import random
import re
from collections import deque
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pandas as pd
import simpy
from simpy.core import EmptySchedule

from sagasim.engine.clock import COMPLETION
from sagasim.engine.futures import Future
from sagasim.engine.instance import Instance
from sagasim.engine.workflow import Workflow
from sagasim.runtime.trace import TraceRecorder

__all__ = ["DEFAULT_START", "Simulation", "wait"]

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
MAX_STEP_LIMIT = 25_000
INFLIGHT_POLICIES = ("cancel", "drain", "race")
ROLLBACK_FAILURE_POLICIES = ("halt", "continue")
_ID = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9\-_]*$")
MAX_ID_LENGTH = 100


class _Wakeup(simpy.Event):
    """A SimPy event that runs one engine callback unless cancelled."""

    def __init__(
        self,
        sim: Simulation,
        delay: int,
        callback: Callable[[], None],
        priority: int,
    ) -> None:
        # NOTE: this sets up a triggered event the way simpy.Timeout does,
        # but with the engine's own priority, which Timeout does not take.
        # ``_ok`` and ``_value`` are class attributes, to keep this cheap.
        env = sim.env
        self.env = env
        self.callbacks = [self._fire]
        self.sim = sim
        self.callback: Callable[[], None] | None = callback
        self.when = env._now + delay
        env.schedule(self, priority, delay)

    _ok = True
    _value = None

    def _fire(self, _: simpy.Event) -> None:
        callback = self.callback
        if callback is not None:
            self.callback = None
            self.sim._live -= 1
            callback()

    def cancel(self) -> None:
        """Disarm: the event stays queued but does nothing and keeps nothing
        alive; :meth:`Simulation.run` does not wait for it."""
        if self.callback is not None:
            self.callback = None
            self.sim._live -= 1


class Simulation:
    """A seeded run of workflow instances in simulated time.

    Args:
        seed: the seed of every random stream; the same seed gives the same
            trace, byte for byte.
        start: the wall-clock time at simulated time 0 (timezone-aware).
        max_concurrent: instances running at once; beyond it, new and
            resumed instances wait ``queued``, first come first served.
        step_limit: ``step.do`` calls allowed per instance (at most 25,000).
        inflight: what happens to steps still running when ``run()`` fails
            terminally: ``"cancel"`` them at once, ``"drain"`` (wait for them
            to settle before rolling back), or ``"race"`` (roll back while
            they run, so a compensation can overtake its action).
        on_rollback_failure: ``"halt"`` the chain at the first handler that
            still fails after its retries, or ``"continue"`` with the rest.
        bindings: the services workflows reach as ``self.env``.
        faults: a :class:`~sagasim.faults.FaultPlan` (or a list of faults) to
            inject; ``sim.faults.report()`` then says what fired.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        start: datetime = DEFAULT_START,
        max_concurrent: int = 50_000,
        step_limit: int = 10_000,
        inflight: str = "cancel",
        on_rollback_failure: str = "halt",
        bindings: dict[str, Any] | None = None,
        faults: Any = None,
    ) -> None:
        if not isinstance(start, datetime) or start.tzinfo is None:
            raise ValueError(f"start must be a timezone-aware datetime, got {start!r}")
        if not _positive_int(max_concurrent):
            raise ValueError(
                f"max_concurrent must be a positive integer, got {max_concurrent!r}"
            )
        if not _positive_int(step_limit) or step_limit > MAX_STEP_LIMIT:
            raise ValueError(
                f"step_limit must be an integer from 1 to {MAX_STEP_LIMIT}, "
                f"got {step_limit!r}"
            )
        if inflight not in INFLIGHT_POLICIES:
            raise ValueError(
                f"inflight must be one of {', '.join(INFLIGHT_POLICIES)}, "
                f"got {inflight!r}"
            )
        if on_rollback_failure not in ROLLBACK_FAILURE_POLICIES:
            raise ValueError(
                "on_rollback_failure must be one of "
                f"{', '.join(ROLLBACK_FAILURE_POLICIES)}, got {on_rollback_failure!r}"
            )
        self.seed = seed
        self.start = start
        self.epoch_ms = round(start.timestamp() * 1000)
        self.max_concurrent = max_concurrent
        self.step_limit = step_limit
        self.inflight = inflight
        self.on_rollback_failure = on_rollback_failure
        self.bindings: dict[str, Any] = dict(bindings or {})
        self.env = simpy.Environment()
        self.env._sagasim = self
        self.clock = self
        self.recorder = TraceRecorder()
        self.instances: list[Instance] = []
        self._by_id: dict[str, Instance] = {}
        self._live = 0
        self._seq = 0
        self._running = 0
        self._queue: deque[Instance] = deque()
        self.faults = None
        if faults is not None:
            from sagasim.faults import FaultPlan, Injector

            plan = faults if isinstance(faults, FaultPlan) else FaultPlan(faults)
            self.faults = Injector(self, plan)

    # The presentation layer renders a simulation for Jupyter (see
    # sagasim.report.html); the runtime only holds the hook.
    html_renderer: ClassVar[Callable[[Simulation], str] | None] = None

    def _repr_html_(self) -> str | None:
        render = Simulation.html_renderer
        return None if render is None else render(self)

    # -- the clock the engine runs on ------------------------------------------

    def now_ms(self) -> int:
        return self.env._now

    def call_later(
        self, delay: int, callback: Callable[[], None], priority: int = COMPLETION
    ) -> _Wakeup:
        self._live += 1
        return _Wakeup(self, delay, callback, priority)

    # -- what users call -------------------------------------------------------

    @property
    def now(self) -> float:
        """Simulated seconds since the start."""
        return self.env.now / 1000

    @property
    def trace(self) -> pd.DataFrame:
        """Every engine event so far, one row each, as a DataFrame whose
        columns are :data:`sagasim.runtime.trace.COLUMNS`."""
        return self.recorder.frame()

    def rng(self, name: str) -> random.Random:
        """A random stream of its own for ``name``, derived from the seed, so
        that adding a stream or an instance does not reshuffle the others."""
        return random.Random(f"{self.seed}:{name}")

    def create(
        self,
        workflow: type[Workflow],
        params: Any = None,
        id: str | None = None,
        at: float | None = None,
    ) -> Instance:
        """Create an instance of ``workflow`` with ``params`` as its payload.

        It is queued at simulated time ``at`` (seconds; now by default) and
        starts as soon as a concurrency slot is free.

        Raises:
            ValueError: for a bad or duplicate id, or a time in the past.
        """
        if not (isinstance(workflow, type) and issubclass(workflow, Workflow)):
            raise TypeError(f"expected a Workflow subclass, got {workflow!r}")
        if id is None:
            id = f"inst-{len(self.instances) + 1}"
        if not isinstance(id, str) or len(id) > MAX_ID_LENGTH or not _ID.match(id):
            raise ValueError(
                f"instance id must match {_ID.pattern} and be at most "
                f"{MAX_ID_LENGTH} characters, got {id!r}"
            )
        if id in self._by_id:
            raise ValueError(f"an instance with id {id!r} already exists")
        delay = 0
        if at is not None:
            delay = round(at * 1000) - self.env.now
            if delay < 0:
                raise ValueError(f"at={at} is before the current time {self.now}")
        instance = Instance(self, workflow, params, id, self.env.now + delay)
        self.instances.append(instance)
        self._by_id[id] = instance
        self.call_later(delay, instance.enqueue)
        return instance

    def get(self, id: str) -> Instance:
        """The instance with ``id``; ``KeyError`` if there is none."""
        return self._by_id[id]

    def run(self, until: float | None = None) -> None:
        """Run until no live work is left, or until simulated time ``until``.

        With ``until``, everything due before it is processed and ``now`` is
        left at ``until``. Without it, the run stops at the last event that
        did something: disarmed timers (a finished attempt's timeout, a
        satisfied wait's deadline) neither move the clock nor keep it going.
        """
        env = self.env
        target = None if until is None else round(until * 1000)
        if target is not None and target < env.now:
            raise ValueError(f"until={until} is before the current time {self.now}")
        if self.faults is not None:
            self.faults.arm_outages()
        with _fewer_collections():
            if target is None:
                while self._live > 0 or env.peek() == env.now:
                    try:
                        env.step()
                    except EmptySchedule:
                        break
            elif target > env.now:
                env.run(until=target)

    def process(self, generator: Generator[simpy.Event, Any, Any]) -> simpy.Process:
        """Start a plain SimPy process; :meth:`run` keeps going while it lives."""
        process = self.env.process(generator)
        self._live += 1
        process.callbacks.append(self._process_ended)
        return process

    def _process_ended(self, _: simpy.Event) -> None:
        self._live -= 1

    # -- what the engine asks of its host --------------------------------------

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def datetime_at(self, ms: int) -> datetime:
        return self.start + timedelta(milliseconds=ms)

    def request_slot(self, instance: Instance) -> None:
        if self._running < self.max_concurrent:
            self._running += 1
            instance.start()
        else:
            self._queue.append(instance)

    def release_slot(self, instance: Instance) -> None:
        self._running -= 1
        self._fill_slots()

    def _fill_slots(self) -> None:
        while self._queue and self._running < self.max_concurrent:
            waiting = self._queue.popleft()
            self._running += 1
            self.call_later(0, lambda waiting=waiting: self._grant(waiting))

    def _grant(self, instance: Instance) -> None:
        # The instance may have been terminated or restarted since the slot
        # was promised to it.
        if instance.store.status == "queued" and not instance.holds_slot:
            instance.start()
        else:
            self._running -= 1
            self._fill_slots()

    def withdraw(self, instance: Instance) -> None:
        try:
            self._queue.remove(instance)
        except ValueError:
            pass


def wait(event: simpy.Event) -> Future:
    """Await a SimPy event from a coroutine: ``await sagasim.wait(ev)``.

    The future settles with the event's value, or its error, when SimPy
    processes it; a failed event is defused so that it does not crash the
    simulation. A simulation keeps running while something waits this way.
    """
    future = Future()
    env = event.env
    sim = getattr(env, "_sagasim", None)
    if event.callbacks is None:
        if event.ok:
            future.set_result(event.value)
        else:
            event.defused = True
            future.set_exception(event.value)
        return future

    def settled(event: simpy.Event) -> None:
        if sim is not None:
            sim._live -= 1
        if event.ok:
            future.set_result(event.value)
        else:
            event.defused = True
            future.set_exception(event.value)

    if sim is not None:
        sim._live += 1
    event.callbacks.append(settled)
    return future


@contextmanager
def _fewer_collections() -> Iterator[None]:
    # NOTE: with tens of thousands of live coroutines, CPython's cyclic
    # collector spends more time scanning young objects than the engine
    # spends running, and the cost grows faster than the run. The engine
    # leaves no reference cycles behind once an instance ends, so automatic
    # collection is paused for the run and resumed after it; garbage cycles
    # made by user code wait until then.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
