"""The request model every simulated service shares.

A :class:`Service` stands for an external system a workflow talks to over a
network. Each operation call goes through the same stages, in simulated
time:

1. **Invocation.** The call is recorded in :attr:`Service.history` with
   outcome ``"pending"``, together with who made it
   (:func:`sagasim.current_attempt`). Its latencies and its error roll are
   drawn now, in that order, from the service's own stream
   ``sim.rng("service:" + name)``: the request latency, the response latency,
   then, only when ``error_rate`` is above 0, one ``random()`` for the
   error. A :class:`~sagasim.services.latency.Fixed` latency draws nothing.
   So the n-th call always gets the n-th draws, however the calls are timed
   or cancelled.
2. **Queueing.** With a ``capacity``, at most that many calls are served at
   once; later calls wait in first-come, first-served order and start the
   instant a slot frees. A waiting call that is cancelled leaves the queue.
   With a ``queue_timeout``, a call still waiting that long after it was
   made leaves the queue at that instant and fails with the retryable
   :class:`~sagasim.services.base.QueueTimeout` (a
   :class:`~sagasim.services.errors.ServiceError`), history outcome
   ``"failed"``; it never reached the service and applied nothing. A slot
   that frees at the very instant the timeout falls goes to the waiting
   call, which is then served (completions before deadlines).
3. **Request latency.** The request travels to the service. With a
   ``load_factor``, the latency drawn at invocation is stretched when the
   call gets its slot: multiplied by ``1 + load_factor * n / capacity``,
   where ``n`` counts the calls holding a slot at that instant, this one
   included, and rounded to the nearest millisecond (halves up). A lone
   call on a capacity-10 service with ``load_factor`` 2 takes 1.2 times its
   drawn latency; a call that takes the last free slot takes 3 times. The
   stretch is fixed when the call starts; later arrivals do not change it.
4. **Arrival.** At one instant: if the instant is in an outage window the
   call fails with :class:`~sagasim.services.errors.ServiceUnavailable`;
   else if the error roll came up it fails with
   :class:`~sagasim.services.errors.ServiceError`; else the operation runs
   and applies its effects atomically, each one appended to
   :attr:`Service.effects` and written to the trace as an
   ``EFFECT_APPLIED`` row. An operation may also refuse (a non-retryable
   business error); then nothing is applied.
5. **Response latency.** The answer (result or error) travels back. The
   slot is held until then.
6. **Return.** The history row becomes ``"ok"`` (with the result) or
   ``"failed"`` (with the error's name), and the caller gets the result or
   the error.

If the calling coroutine is cancelled at any stage (its step attempt timed
out, the instance failed or was terminated, the engine crashed), the call
stops where it waits, frees its slot, and its history row becomes
``"unknown"``: the caller never heard back. Cancelled before arrival, the
call applied nothing; cancelled during the response latency, its effects
stand. That second case is how a timed-out attempt's work still lands.

The service sees every attempt as a fresh call. A retry calls again; a
replay after a crash calls again only for the attempt the crash cut off,
since a completed step returns its cached output without running its body.
So a retried or replayed call whose first try landed lands twice, unless
the operation deduplicates on an idempotency ``key``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

import sagasim
from sagasim.durations import DurationError, parse_duration
from sagasim.engine.clock import DEADLINE
from sagasim.errors import error_name
from sagasim.services.errors import ServiceError, ServiceUnavailable
from sagasim.services.latency import LatencyModel, parse_latency

if TYPE_CHECKING:
    from sagasim import Simulation

__all__ = ["QueueTimeout", "Service"]


class QueueTimeout(ServiceError):
    """The call waited for a slot longer than the service's ``queue_timeout``.

    A :class:`~sagasim.services.errors.ServiceError`, so retryable: the call
    never reached the service and applied nothing. Its message starts with
    ``"queue timeout"``.
    """


Call = dict[str, Any]
"""One row of :attr:`Service.history`; see the contract in the class docstring."""


class Service:
    """A simulated external system: latency, capacity, outages, errors.

    Args:
        sim: the simulation whose clock, random streams and trace it uses.
        name: the service's name, unique in the simulation: it names the
            random stream, the errors and the rows it records.
        latency: the request latency (see
            :func:`~sagasim.services.latency.parse_latency`): an ``int`` of
            milliseconds, ``{"min", "max"}`` or ``(min, max)`` for uniform
            whole milliseconds, ``{"median", "sigma"}`` for log-normal, or a
            latency model.
        response_latency: the latency of the answer, in the same forms;
            0 by default.
        capacity: how many calls are served at once; ``None`` (the default)
            for no limit.
        outages: windows ``(start, end)`` in simulated seconds during which
            every arriving request fails; ``start`` is included, ``end`` is
            not; ``end`` may be ``math.inf``. More can be added while the
            simulation runs with :meth:`add_outage`.
        error_rate: the probability, from 0 to 1, that a request fails with a
            retryable :class:`~sagasim.services.errors.ServiceError` at
            arrival, without effect.
        queue_timeout: how long a call may wait for a slot (a duration:
            milliseconds, ``"<n> <unit>"`` or a ``timedelta``) before it
            fails with :class:`~sagasim.services.base.QueueTimeout`;
            ``None`` (the default) to wait for ever. It needs a
            ``capacity``. Settable later as an attribute.
        load_factor: how much the request latency grows with load, a number
            >= 0 (see stage 3); 0 (the default) for none. Above 0 it needs a
            ``capacity``. Settable later as an attribute.

    Attributes:
        history: one dict per operation call, in call order, with keys
            ``op_id`` (1-based), ``service``, ``op``, ``instance``, ``step``,
            ``count``, ``attempt``, ``rollback`` (the caller, or
            ``None``/``""``/``0``/``0``/``False`` outside a step),
            ``key``, ``args``, ``invoked``, ``started`` (when it got a slot,
            ``None`` until then) and ``ended`` (simulated seconds; ``None``
            while pending), ``outcome`` (``"pending"``,
            ``"ok"``, ``"failed"`` or ``"unknown"``), ``error`` (the error's
            name or ``""``) and ``result``.
        effects: one dict per applied state change, in the order applied,
            with keys ``effect_id`` (1-based), ``op_id``, ``time``,
            ``service``, ``op``, ``kind``, ``entity``, ``resource``,
            ``delta``, ``amount``, ``key``, the caller's ``instance``,
            ``step``, ``count``, ``attempt``, ``rollback``, then
            ``compensates`` (the effect id undone, or ``None``) and
            ``irreversible``.

    Writing a service: an operation validates its arguments, then returns
    ``await self._request(op, args, apply, key=key)``, where ``apply(call)``
    runs at arrival, checks the state, calls :meth:`_apply_effect` for each
    change and returns the JSON-able result. ``apply`` must not await.
    """

    kind: ClassVar[str] = "service"
    """The word for this kind of service in error messages ("bank", ...)."""

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        latency: Any = 0,
        response_latency: Any = 0,
        capacity: int | None = None,
        outages: Iterable[tuple[float, float]] = (),
        error_rate: float = 0.0,
        queue_timeout: Any = None,
        load_factor: float = 0.0,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a service name must be a non-empty string, got {name!r}")
        self.sim = sim
        self.name = name
        self.latency: LatencyModel = parse_latency(latency)
        self.response_latency: LatencyModel = parse_latency(response_latency)
        self.capacity = _check_capacity(capacity)
        self.error_rate = _check_rate(error_rate)
        self._queue_timeout_ms: int | None = None
        self._load_factor = 0.0
        self.queue_timeout = queue_timeout
        self.load_factor = load_factor
        self.history: list[Call] = []
        self.effects: list[dict[str, Any]] = []

        self._outages: list[tuple[float, float]] = []
        self._outages_ms: list[tuple[int, float]] = []
        for start, end in outages:
            self.add_outage(start, end)

        self._rng = sim.rng("service:" + name)
        self._active = 0
        self._waiting: deque[sagasim.Future] = deque()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # -- outages and load --------------------------------------------------

    @property
    def outages(self) -> tuple[tuple[float, float], ...]:
        """The outage windows ``(start, end)`` in seconds, in the order added."""
        return tuple(self._outages)

    def add_outage(self, start: float, end: float) -> None:
        """Reject every request that arrives in ``[start, end)`` seconds.

        It may be called while the simulation runs; a window that has already
        passed changes nothing, and requests already applied stay applied.
        """
        if not (
            _is_seconds(start)
            and _is_seconds(end)
            and 0 <= start < end
            and not math.isinf(start)
        ):
            raise ValueError(
                f"an outage window must satisfy 0 <= start < end, got "
                f"({start!r}, {end!r})"
            )
        end_ms = end if math.isinf(end) else round(end * 1000)
        self._outages.append((float(start), float(end)))
        self._outages_ms.append((round(start * 1000), end_ms))

    def is_down(self, at: float | None = None) -> bool:
        """Whether simulated second ``at`` (default: now) is in an outage."""
        time_ms = self.sim.env.now if at is None else round(at * 1000)
        return self._down_at(time_ms)

    @property
    def queue_timeout(self) -> int | None:
        """The longest wait for a slot in milliseconds, or ``None``.

        Set it to a duration (or ``None``); the change applies to calls that
        join the queue afterwards.
        """
        return self._queue_timeout_ms

    @queue_timeout.setter
    def queue_timeout(self, value: Any) -> None:
        if value is None:
            self._queue_timeout_ms = None
            return
        try:
            ms = parse_duration(value)
        except DurationError as exc:
            raise ValueError(f"queue_timeout: {exc}") from None
        if self.capacity is None:
            raise ValueError(
                "queue_timeout needs a capacity; without one nothing waits"
            )
        self._queue_timeout_ms = ms

    @property
    def load_factor(self) -> float:
        """How much the request latency grows with the calls in service."""
        return self._load_factor

    @load_factor.setter
    def load_factor(self, value: float) -> None:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (number and math.isfinite(value) and value >= 0):
            raise ValueError(f"load_factor must be a number >= 0, got {value!r}")
        if value and self.capacity is None:
            raise ValueError("load_factor needs a capacity to measure load against")
        self._load_factor = float(value)

    @property
    def active(self) -> int:
        """How many calls hold a slot now (travelling or being answered)."""
        return self._active

    @property
    def queued(self) -> int:
        """How many calls wait for a slot now."""
        return len(self._waiting)

    def snapshot(self) -> dict[str, int]:
        """The conserved state now: total by resource (``"money:north"``)."""
        return {}

    # -- the request model, for subclasses ---------------------------------

    async def _request(
        self,
        op: str,
        args: dict[str, Any],
        apply: Callable[[Call], Any],
        *,
        key: str | None = None,
    ) -> Any:
        """Run one call of ``op`` through the request model; see the module.

        Returns what ``apply`` returned; raises what arrival raised.
        """
        call = self._open(op, args, key)
        request_ms = self.latency.draw(self._rng)
        response_ms = self.response_latency.draw(self._rng)
        fails = self.error_rate > 0 and self._rng.random() < self.error_rate

        try:
            try:
                await self._acquire()
            except QueueTimeout as exc:
                self._close(call, "failed", error=error_name(exc))
                raise
            call["started"] = self.sim.now
            if self._load_factor and request_ms:
                stretch = 1 + self._load_factor * self._active / self.capacity
                request_ms = math.floor(request_ms * stretch + 0.5)
            error: Exception | None = None
            result: Any = None
            try:
                if request_ms:
                    await sagasim.sleep(request_ms)
                try:
                    result = self._arrive(apply, call, fails)
                except Exception as exc:  # noqa: BLE001 - sent back to the caller
                    error = exc
                if response_ms:
                    await sagasim.sleep(response_ms)
            finally:
                self._release()

            if error is not None:
                self._close(call, "failed", error=error_name(error))
                raise error
            self._close(call, "ok", result=result)
            return result
        finally:
            if call["outcome"] == "pending":
                self._close(call, "unknown")

    def _apply_effect(
        self,
        call: Call,
        kind: str,
        entity: str,
        resource: str,
        delta: int,
        amount: int,
        *,
        compensates: int | None = None,
        irreversible: bool = False,
    ) -> int:
        """Record one applied state change of ``call``; return its effect id.

        Call it from ``apply`` only, after the state has changed. It appends
        to :attr:`effects` and writes an ``EFFECT_APPLIED`` trace row.
        """
        effect_id = len(self.effects) + 1
        now_ms = self.sim.env.now
        self.effects.append(
            {
                "effect_id": effect_id,
                "op_id": call["op_id"],
                "time": now_ms / 1000,
                "service": self.name,
                "op": call["op"],
                "kind": kind,
                "entity": entity,
                "resource": resource,
                "delta": delta,
                "amount": amount,
                "key": call["key"],
                "instance": call["instance"],
                "step": call["step"],
                "count": call["count"],
                "attempt": call["attempt"],
                "rollback": call["rollback"],
                "compensates": compensates,
                "irreversible": irreversible,
            }
        )
        self.sim.recorder.record(
            now_ms,
            call["instance"] or "",
            "EFFECT_APPLIED",
            call["step"],
            call["count"],
            call["attempt"],
            None,
            {
                "service": self.name,
                "op": call["op"],
                "kind": kind,
                "entity": entity,
                "amount": amount,
                "effect_id": effect_id,
            },
        )
        return effect_id

    # -- the stages ----------------------------------------------------------

    def _open(self, op: str, args: dict[str, Any], key: str | None) -> Call:
        caller = sagasim.current_attempt()
        call: Call = {
            "op_id": len(self.history) + 1,
            "service": self.name,
            "op": op,
            "instance": None if caller is None else caller.instance,
            "step": "" if caller is None else caller.step,
            "count": 0 if caller is None else caller.count,
            "attempt": 0 if caller is None else caller.attempt,
            "rollback": False if caller is None else caller.rollback,
            "key": key,
            "args": args,
            "invoked": self.sim.now,
            "started": None,
            "ended": None,
            "outcome": "pending",
            "error": "",
            "result": None,
        }
        self.history.append(call)
        return call

    def _close(
        self, call: Call, outcome: str, *, error: str = "", result: Any = None
    ) -> None:
        call["ended"] = self.sim.now
        call["outcome"] = outcome
        call["error"] = error
        call["result"] = dict(result) if isinstance(result, dict) else result

    async def _acquire(self) -> None:
        if self.capacity is None or self._active < self.capacity:
            self._active += 1
            return

        ticket = sagasim.Future()
        self._waiting.append(ticket)
        timer = None
        limit = self._queue_timeout_ms
        if limit is not None:
            timer = self.sim.call_later(
                limit, lambda: self._expire(ticket, limit), DEADLINE
            )
        try:
            await ticket
        except QueueTimeout:
            raise
        except BaseException:
            # Cancelled while waiting. A slot already handed over is passed on.
            if ticket.done():
                self._release()
            else:
                self._waiting.remove(ticket)
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _expire(self, ticket: sagasim.Future, limit: int) -> None:
        # The queue timeout fell while the call still waits: it leaves the
        # queue and fails. A call granted its slot at this instant is served.
        if ticket.done():
            return
        self._waiting.remove(ticket)
        ticket.set_exception(
            QueueTimeout(
                f"queue timeout: {self.kind} {self.name!r} kept the request "
                f"waiting {limit} ms"
            )
        )

    def _release(self) -> None:
        # The slot passes straight to the first waiter, which resumes at once,
        # at this instant; only with nobody waiting does it become free.
        if self._waiting:
            self._waiting.popleft().set_result(None)
        else:
            self._active -= 1

    def _arrive(self, apply: Callable[[Call], Any], call: Call, fails: bool) -> Any:
        now_ms = self.sim.env.now
        if self._down_at(now_ms):
            raise ServiceUnavailable(
                f"{self.kind} {self.name!r} is unavailable at {now_ms / 1000:g}s"
            )
        if fails:
            raise ServiceError(
                f"{self.kind} {self.name!r} failed the request at {now_ms / 1000:g}s"
            )
        return apply(call)

    def _down_at(self, time_ms: int) -> bool:
        return any(start <= time_ms < end for start, end in self._outages_ms)


def _check_capacity(capacity: object) -> int | None:
    if capacity is None:
        return None
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ValueError(
            f"capacity must be a positive integer or None, got {capacity!r}"
        )
    return capacity


def _check_rate(rate: object) -> float:
    number = isinstance(rate, (int, float)) and not isinstance(rate, bool)
    if not (number and 0 <= rate <= 1):
        raise ValueError(f"error_rate must be a number from 0 to 1, got {rate!r}")
    return float(rate)


def _is_seconds(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not math.isnan(value)
    )
