"""The durable state of an instance: what survives an engine crash.

Every step, sleep, event wait and rollback handler that has started has a
:class:`StepRecord`, keyed by ``(kind, name, count)``. The engine's memory of
an instance (its coroutines, timers and handler registry) can be lost at any
moment; the records, the buffered events and the rollback log cannot.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from sagasim.engine.config import StepConfig

__all__ = ["DO", "ROLLBACK", "SLEEP", "WAIT", "InstanceStore", "StepRecord"]

DO = "do"
SLEEP = "sleep"
WAIT = "wait"
ROLLBACK = "rollback"

# Record states. A record is created when its step starts, so it is never
# "not started".
RUNNING = "running"
SUCCESS = "success"
FAILURE = "failure"
CANCELLED = "cancelled"
UNCACHED = "uncached"
"""A step that failed with a non-retryable error: it counts as started, but
a replay runs it again rather than raising the error from the cache."""


class StepRecord:
    """One step's durable entry.

    ``seq`` is the global start sequence taken when ``step.do`` (or the sleep
    or wait) was called. ``attempts`` counts attempts started; ``in_flight``
    is true between an attempt's start and its end, so a replay can tell an
    attempt that a crash cut off. ``wake_ms`` is a durable timer: the retry
    time of a step between attempts, the end of a sleep, the deadline of an
    event wait. ``output_json`` holds a successful step's output as JSON text.
    """

    __slots__ = (
        "kind",
        "name",
        "count",
        "seq",
        "start_ms",
        "status",
        "attempts",
        "in_flight",
        "wake_ms",
        "config",
        "has_rollback",
        "output_json",
        "error",
        "result",
        "event_type",
        "last_delay",
    )

    def __init__(
        self,
        kind: str,
        name: str,
        count: int,
        seq: int,
        start_ms: int,
        config: StepConfig | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.count = count
        self.seq = seq
        self.start_ms = start_ms
        self.status = RUNNING
        self.attempts = 0
        self.in_flight = False
        self.wake_ms: int | None = None
        self.config = config
        self.has_rollback = False
        self.output_json: str | None = None
        self.error: BaseException | None = None
        self.result: Any = None
        self.event_type: str | None = None
        self.last_delay: int | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.kind, self.name, self.count)

    @property
    def settled(self) -> bool:
        return self.status != RUNNING


class InstanceStore:
    """Everything durable about one instance.

    ``phase`` is ``"run"`` while ``run()`` is live, ``"rollback"`` from a
    terminal failure (or a terminate with rollback) until the handlers are
    done, and ``"ended"`` once the instance is in a terminal state.
    """

    __slots__ = (
        "records",
        "events",
        "phase",
        "status",
        "output",
        "error",
        "terminal_error",
        "terminating",
        "rollback_summary",
        "rollback_log",
        "paused_at",
    )

    def __init__(self) -> None:
        self.records: dict[tuple[str, str, int], StepRecord] = {}
        self.events: dict[str, deque[dict[str, Any]]] = {}
        self.phase = "run"
        self.status = "queued"
        self.output: Any = None
        self.error: BaseException | None = None
        self.terminal_error: BaseException | None = None
        self.terminating = False
        self.rollback_summary: dict[str, Any] | None = None
        self.rollback_log: list[dict[str, Any]] = []
        self.paused_at: int | None = None

    def wipe(self) -> None:
        """Forget everything, for a restart from the beginning."""
        self.__init__()

    def forget_from(self, seq: int) -> None:
        """Forget every record that started at or after start sequence ``seq``,
        and every rollback record, for a restart from a step."""
        self.records = {
            key: record
            for key, record in self.records.items()
            if record.seq < seq and record.kind != ROLLBACK
        }
        self.phase = "run"
        self.output = None
        self.error = None
        self.terminal_error = None
        self.terminating = False
        self.rollback_summary = None
        self.rollback_log = []
        self.paused_at = None
