"""What user code sees: the :class:`Workflow` base class and the ``step`` object."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sagasim.engine.futures import Future

if TYPE_CHECKING:
    from sagasim.engine.instance import Lifetime

__all__ = ["Step", "Workflow"]


class Workflow:
    """Subclass this and write ``async def run(self, event, step)``.

    ``event`` is ``{"payload": params, "timestamp": datetime, "instance_id":
    id}``. ``run()`` is called again from the top after every engine crash and
    on resume; completed steps then return their cached outputs, so code
    outside steps must do the same thing each time.

    Inside ``run()``, ``self.env`` is the simulation's bindings (the services
    a workflow talks to, as a Cloudflare Worker's ``env``) and ``self.sim``
    the simulation. ``name`` names the workflow in traces and reports; it
    defaults to the class name.
    """

    name: ClassVar[str | None] = None
    env: dict[str, Any]
    sim: Any

    @classmethod
    def workflow_name(cls) -> str:
        return cls.name or cls.__name__

    async def run(self, event: dict[str, Any], step: Step) -> Any:
        raise NotImplementedError("a Workflow subclass must define async run()")


class Step:
    """The ``step`` argument of ``run()``.

    Each call takes its count (the occurrence of that name, from 1) and its
    start sequence when it is made, and returns an awaitable that is already
    running: the order of calls is the order of starts, whatever order the
    awaitables are later awaited in.
    """

    __slots__ = ("_life",)

    def __init__(self, life: Lifetime) -> None:
        self._life = life

    def do(
        self,
        name: str,
        body: Callable[..., Any],
        *,
        config: dict[str, Any] | None = None,
        rollback: Callable[..., Any] | None = None,
        rollback_config: dict[str, Any] | None = None,
    ) -> Future:
        """Run ``body(ctx)`` as a durable step and return its output.

        The body is retried under ``config`` (``{"retries": {"limit", "delay",
        "backoff"}, "timeout"}``; 5 retries, 10 s, exponential and 10 minutes
        by default), each attempt under its own timeout. A step that
        completed returns its cached output on replay without running its
        body; one that failed for good raises the same error again.

        ``rollback(output, error, ctx)`` is registered when the first attempt
        starts. It runs only if ``run()`` fails terminally, in reverse order
        of step start, with ``output`` :data:`~sagasim.UNDEFINED` if the step
        has none, under ``rollback_config`` or the engine defaults.

        Raises:
            WorkflowFatalError: (ending the instance at once) for a bad name
                or config, or when the instance's step limit is exceeded.
        """
        return self._life.do(name, body, config, rollback, rollback_config)

    def sleep(self, name: str, duration: Any) -> Future:
        """Sleep for ``duration`` (ms, ``"<n> <unit>"`` or a timedelta; at most
        365 days). The wake time is durable: after a crash the sleep waits only
        what is left, and a completed sleep is a no-op on replay."""
        return self._life.sleep(name, duration)

    def sleep_until(self, name: str, when: datetime | int | float) -> Future:
        """Sleep until ``when``, a timezone-aware datetime or epoch ms.

        A time already past raises ``ValueError`` the first time the sleep is
        reached; on replay a sleep that started in time never raises."""
        return self._life.sleep_until(name, when)

    def wait_for_event(
        self, name: str, *, type: str, timeout: Any = "24 hours"
    ) -> Future:
        """Wait for an event of ``type`` sent with ``Instance.send_event``.

        Returns ``{"payload", "timestamp", "type"}``. Events sent before
        anyone waits are buffered, first in first out per type. After
        ``timeout`` (24 hours when falsy) it raises
        :class:`~sagasim.errors.WorkflowTimeoutError`, which is cached and can
        be caught."""
        return self._life.wait_for_event(name, type, timeout)
