"""Promises and the coroutine driver that the engine and the runtime share.

Workflows, step bodies and rollback handlers are ``async def`` coroutines. A
:class:`Task` drives one: it runs the coroutine until it awaits a
:class:`Future`, and resumes it, synchronously, when that future settles.
Nothing here waits on real time; timers come from a :class:`Clock`.

Outcomes are carried as values. A future that fails and that nobody awaits
stays a failed future: it never crashes the simulation.

A task starts running as soon as it is made, like a JavaScript promise, so
the order in which tasks are made is the order in which they start.

Cancellation closes the coroutine: the coroutine sees ``GeneratorExit`` at the
``await`` where it waits, its ``finally`` blocks run, and an ``except
Exception`` in it cannot swallow the cancellation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from sagasim.engine.clock import Clock, TimerHandle
from sagasim.errors import AggregateError, Cancelled

__all__ = [
    "Future",
    "Scope",
    "Task",
    "TimerFuture",
    "any_",
    "current_owner",
    "current_task",
    "gather",
    "race",
    "sleep_ms",
]

_current: Task | None = None


def current_task() -> Task | None:
    """The task whose coroutine is running now, or ``None`` outside of one."""
    return _current


def current_owner() -> Any:
    """The owner of the running task's scope, or ``None``."""
    task = _current
    if task is None or task.scope is None:
        return None
    return task.scope.owner


class Future:
    """A promise: pending, then settled once with a result or an error.

    Callbacks run synchronously, in the order they were added, when it
    settles. Awaiting a settled future returns at once without yielding.
    """

    __slots__ = ("_done", "_result", "_error", "_callbacks")

    def __init__(self) -> None:
        self._done = False
        self._result: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Future], None]] | None = []

    def done(self) -> bool:
        return self._done

    def failed(self) -> bool:
        return self._done and self._error is not None

    def result(self) -> Any:
        """The result; raises the error of a failed future."""
        if not self._done:
            raise RuntimeError("the future is still pending")
        if self._error is not None:
            raise self._error
        return self._result

    def exception(self) -> BaseException | None:
        return self._error

    def set_result(self, value: Any) -> bool:
        """Settle with ``value``; a second settlement is ignored."""
        if self._done:
            return False
        self._done = True
        self._result = value
        self._settled()
        return True

    def set_exception(self, error: BaseException) -> bool:
        """Settle with ``error``; a second settlement is ignored."""
        if self._done:
            return False
        self._done = True
        self._error = error
        self._settled()
        return True

    def add_done_callback(self, callback: Callable[[Future], None]) -> None:
        """Call ``callback(self)`` once settled; at once if already settled."""
        if self._done:
            callback(self)
        else:
            self._callbacks.append(callback)

    def remove_done_callback(self, callback: Callable[[Future], None]) -> None:
        callbacks = self._callbacks
        if callbacks:
            try:
                callbacks.remove(callback)
            except ValueError:
                pass

    def _settled(self) -> None:
        callbacks = self._callbacks
        self._callbacks = None
        for callback in callbacks:
            callback(self)

    def __await__(self) -> Generator[Future, None, Any]:
        if not self._done:
            yield self
        if self._error is not None:
            raise self._error
        return self._result


class TimerFuture(Future):
    """A future that settles with ``None`` at a given time.

    Its timer is armed only while something waits on it. A sleep that lost a
    race, or whose task was cancelled, leaves no timer behind, so it neither
    moves the clock nor keeps the simulation running. Awaiting it again
    re-arms it for the same wake time.
    """

    __slots__ = ("_clock", "when", "_handle")

    def __init__(self, clock: Clock, when: int) -> None:
        super().__init__()
        self._clock = clock
        self.when = when
        self._handle: TimerHandle | None = None

    def add_done_callback(self, callback: Callable[[Future], None]) -> None:
        super().add_done_callback(callback)
        if not self._done and self._handle is None:
            delay = max(0, self.when - self._clock.now_ms())
            self._handle = self._clock.call_later(delay, self._fire)

    def remove_done_callback(self, callback: Callable[[Future], None]) -> None:
        super().remove_done_callback(callback)
        if not self._done and not self._callbacks and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self.set_result(None)


class Scope:
    """The live tasks of one piece of work, so they can be cancelled together.

    A task belongs to the scope current when it was made: the scope of the
    task that made it, or one given explicitly. Step attempts, rollback
    handlers and an instance's lifetime each have a scope.

    ``owner`` says whose work it is (an :class:`AttemptInfo` for a step
    attempt), so that code deep inside a body, such as a simulated service,
    can tell which instance, step and attempt called it.
    """

    __slots__ = ("tasks", "closed", "owner")

    def __init__(self, owner: Any = None) -> None:
        self.tasks: dict[Task, None] = {}
        self.closed = False
        self.owner = owner

    def cancel(self) -> None:
        """Cancel every live task in the scope, oldest first."""
        self.closed = True
        for task in list(self.tasks):
            task.cancel()
        self.tasks.clear()


class Task(Future):
    """Drives a coroutine to completion; the future settles with its outcome.

    The coroutine may await only sagasim awaitables (futures, tasks, steps,
    ``sagasim.sleep`` and the services built on them).
    """

    __slots__ = ("_coro", "_waiting", "clock", "scope", "_running", "_cancelling")

    def __init__(
        self,
        coro: Coroutine[Any, Any, Any],
        clock: Clock | None = None,
        scope: Scope | None = None,
    ) -> None:
        super().__init__()
        parent = _current
        if clock is None:
            if parent is None:
                raise RuntimeError(
                    "a task outside the simulation needs an explicit clock"
                )
            clock = parent.clock
        if scope is None and parent is not None:
            scope = parent.scope
        self._coro = coro
        self._waiting: Future | None = None
        self.clock = clock
        self.scope = scope
        self._running = False
        self._cancelling = False
        if scope is not None:
            if scope.closed:
                coro.close()
                self._done = True
                self._error = Cancelled("the work this task belonged to has ended")
                self._callbacks = None
                return
            scope.tasks[self] = None
        self._step(None, None)

    def _step(self, value: Any, error: BaseException | None) -> None:
        global _current
        previous = _current
        _current = self
        self._running = True
        finished: tuple[Any, BaseException | None] | None = None
        try:
            if error is None:
                awaited = self._coro.send(value)
            else:
                awaited = self._coro.throw(error)
        except StopIteration as stop:
            finished = (stop.value, None)
        except _Abort:
            finished = (None, Cancelled("the instance ended"))
        except Exception as exc:  # noqa: BLE001 - the outcome is the error
            finished = (None, exc)
        finally:
            self._running = False
            _current = previous
        if finished is not None:
            self._finish(*finished)
            return

        if self._cancelling:
            self.cancel()
            return
        if not isinstance(awaited, Future):
            self._step(
                None,
                TypeError(
                    f"a sagasim coroutine awaited {awaited!r}; only sagasim "
                    "awaitables (steps, sagasim.sleep, futures) can be awaited"
                ),
            )
            return
        self._waiting = awaited
        awaited.add_done_callback(self._wakeup)

    def _wakeup(self, future: Future) -> None:
        self._waiting = None
        if future._error is not None:
            self._step(None, future._error)
        else:
            self._step(future._result, None)

    def _finish(self, value: Any, error: BaseException | None) -> None:
        scope = self.scope
        if scope is not None:
            scope.tasks.pop(self, None)
        if error is None:
            self.set_result(value)
        else:
            self.set_exception(error)

    def cancel(self) -> bool:
        """Stop the coroutine where it waits; the task fails with ``Cancelled``.

        A task cannot stop itself while its own code runs; cancelling the
        running task takes effect at its next ``await``.
        """
        if self._done:
            return False
        if self._running:
            self._cancelling = True
            return True
        waiting = self._waiting
        if waiting is not None:
            self._waiting = None
            waiting.remove_done_callback(self._wakeup)
        try:
            self._coro.close()
        except RuntimeError:
            # The coroutine awaited inside a ``finally`` while being closed;
            # there is nothing more to run.
            pass
        self._finish(None, Cancelled("cancelled"))
        return True


class _Abort(BaseException):
    """Unwinds a coroutine whose instance has ended; never seen by users.

    It derives from ``BaseException`` so that ``except Exception`` in user
    code does not catch it.
    """


def sleep_ms(ms: int) -> TimerFuture:
    """A future that settles ``ms`` milliseconds from now, on the running
    task's clock."""
    task = _current
    if task is None:
        raise RuntimeError(
            "sagasim.sleep() must be awaited inside a workflow, a step body "
            "or a rollback handler"
        )
    clock = task.clock
    return TimerFuture(clock, clock.now_ms() + ms)


def _as_future(awaitable: Awaitable[Any]) -> Future:
    if isinstance(awaitable, Future):
        return awaitable
    if isinstance(awaitable, Coroutine):
        return Task(awaitable)
    raise TypeError(f"expected a sagasim awaitable or a coroutine, got {awaitable!r}")


def gather(*awaitables: Awaitable[Any]) -> Future:
    """``Promise.all``: a list of the results, in order, once all succeed.

    It fails with the first failure, at the instant it happens; the others
    run on, and their failures stay in their own futures. Coroutines are
    started as tasks.
    """
    children = [_as_future(a) for a in awaitables]
    result = Future()
    pending = len(children)
    if pending == 0:
        result.set_result([])
        return result
    values: list[Any] = [None] * pending

    def settle(index: int, child: Future) -> None:
        nonlocal pending
        if child._error is not None:
            result.set_exception(child._error)
            return
        values[index] = child._result
        pending -= 1
        if pending == 0:
            result.set_result(values)

    for index, child in enumerate(children):
        child.add_done_callback(lambda child, index=index: settle(index, child))
    return result


def race(*awaitables: Awaitable[Any]) -> Future:
    """``Promise.race``: settles like the first awaitable to settle.

    The losers are no longer waited on; a timer among them is disarmed.
    """
    children = [_as_future(a) for a in awaitables]
    result = Future()

    def settle(child: Future) -> None:
        if child._error is not None:
            result.set_exception(child._error)
        else:
            result.set_result(child._result)
        for other in children:
            other.remove_done_callback(settle)

    for child in children:
        if result._done:
            break
        child.add_done_callback(settle)
    return result


def any_(*awaitables: Awaitable[Any]) -> Future:
    """``Promise.any``: the first success; :class:`AggregateError` if all fail."""
    children = [_as_future(a) for a in awaitables]
    result = Future()
    errors: list[BaseException | None] = [None] * len(children)
    pending = len(children)
    if pending == 0:
        result.set_exception(AggregateError([]))
        return result

    def settle(index: int, child: Future) -> None:
        nonlocal pending
        if child._error is None:
            if result.set_result(child._result):
                for other, callback in zip(children, callbacks, strict=True):
                    other.remove_done_callback(callback)
            return
        errors[index] = child._error
        pending -= 1
        if pending == 0:
            result.set_exception(AggregateError(list(errors)))

    callbacks = [
        (lambda child, index=index: settle(index, child))
        for index in range(len(children))
    ]
    for child, callback in zip(children, callbacks, strict=True):
        if result._done:
            break
        child.add_done_callback(callback)
    return result
